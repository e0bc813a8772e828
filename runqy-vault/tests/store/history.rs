//! History (SPEC §12) on both backends: versions, `get --version`,
//! `history_limit`, rollback, restore, purge, check-and-set, and versions
//! covered by rotation, migration, the key check and the blob binding.
//! Run alone with `cargo test -p runqy-vault --test store history::`.

use super::*;
use runqy_vault::{HistoryEntry, VersionState};

/// `(version, value as listed, state)` of each line of `history`, newest first.
fn lines(store: &Store, vault: &str, key: &str) -> Vec<(Option<i64>, String, VersionState)> {
    store
        .history(vault, key)
        .unwrap()
        .into_iter()
        .map(|h| (h.version, h.value, h.state))
        .collect()
}

fn line(version: i64, value: &str, state: VersionState) -> (Option<i64>, String, VersionState) {
    (Some(version), value.to_owned(), state)
}

use VersionState::{Current, Removed, Replaced};

impl Db {
    /// The stored blob of version `version` of `key` (keys are unique in these tests).
    fn version_blob(&self, key: &str, version: i64) -> Vec<u8> {
        let sql = "SELECT value FROM runqy_vault_versions WHERE key = ";
        match self.backend {
            Backend::Sqlite => Connection::open(self.location())
                .unwrap()
                .query_row(
                    &format!("{sql}?1 AND version = ?2"),
                    rusqlite::params![key, version],
                    |r| r.get(0),
                )
                .unwrap(),
            #[cfg(feature = "postgres")]
            Backend::Postgres => self
                .pg()
                .query_one(&format!("{sql}$1 AND version = $2"), &[&key, &version])
                .unwrap()
                .get(0),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// The version numbers kept for `key`, ascending.
    fn kept_versions(&self, key: &str) -> Vec<i64> {
        let n = self.count(&format!(
            "SELECT COUNT(*) FROM runqy_vault_versions WHERE key = '{key}'"
        ));
        (0..n)
            .map(|i| {
                self.count(&format!(
                    "SELECT version FROM runqy_vault_versions WHERE key = '{key}' \
                     ORDER BY version LIMIT 1 OFFSET {i}"
                ))
            })
            .collect()
    }
}

fn set_makes_versions_and_history_lists_them_newest_first_masked(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "sk-first-value", true).unwrap();
    f.store.set("v", "K", "plain-second", false).unwrap();
    f.store.set("v", "K", "sk-third-value", true).unwrap();
    let history: Vec<HistoryEntry> = f.store.history("v", "K").unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.value.as_str(), h.is_secret, h.state))
            .collect::<Vec<_>>(),
        [
            (Some(3), "sk****ue", true, Current),
            (Some(2), "plain-second", false, Replaced),
            (Some(1), "sk****ue", true, Replaced),
        ]
    );
    for h in &history {
        assert_eq!(h.created_at.len(), 20, "{}", h.created_at);
        assert!(h.created_at.ends_with('Z'), "{}", h.created_at);
        // Who wrote it: the store's actor (RUNQY_VAULT_ACTOR, else user@host).
        assert_eq!(h.actor.as_deref(), Some(f.store.actor()));
    }
    // The upstream tables hold only the current value.
    assert_eq!(f.db.count("SELECT COUNT(*) FROM vault_entries"), 1);
    assert_eq!(f.db.kept_versions("K"), [1, 2, 3]);
    assert_eq!(kind(f.store.history("v", "NOPE")), ErrorKind::EntryNotFound);
    assert_eq!(kind(f.store.history("nope", "K")), ErrorKind::VaultNotFound);
}

fn get_version_returns_every_kept_version_and_names_the_missing_ones(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    for value in ["one", "two", "three"] {
        f.store.set("v", "K", value, true).unwrap();
    }
    for (n, value) in [(1, "one"), (2, "two"), (3, "three")] {
        assert_eq!(f.store.get_version("v", "K", n).unwrap().expose(), value);
    }
    let missing = |version: i64| {
        let err = f.store.get_version("v", "K", version).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::VersionNotFound, "{err}");
        assert_eq!(err.http_status(), 404);
        err.to_string()
    };
    assert_eq!(
        missing(0),
        "version 0 of key 'K' in vault 'v' not found: versions count from 1"
    );
    assert_eq!(
        missing(-1),
        "version -1 of key 'K' in vault 'v' not found: versions count from 1"
    );
    assert_eq!(
        missing(4),
        "version 4 of key 'K' in vault 'v' not found: the newest version is 3"
    );
    f.store.set_history_limit(2).unwrap();
    assert_eq!(
        missing(1),
        "version 1 of key 'K' in vault 'v' not found: it was pruned (the store keeps the \
         last 2 versions of each key; the oldest kept is 2)"
    );
    assert_eq!(
        kind(f.store.get_version("v", "NOPE", 1)),
        ErrorKind::EntryNotFound
    );
    assert_eq!(
        kind(f.store.get_version("nope", "K", 1)),
        ErrorKind::VaultNotFound
    );
}

fn history_limit_prunes_on_each_write_and_lowering_it_prunes_every_key(b: Backend) {
    let f = Fixture::new(b);
    assert_eq!(f.store.history_limit().unwrap(), 10);
    f.store.create_vault("v", "").unwrap();
    for i in 1..=12 {
        f.store.set("v", "A", &format!("a{i}"), true).unwrap();
        f.store.set("v", "B", &format!("b{i}"), true).unwrap();
    }
    assert_eq!(f.db.kept_versions("A"), (3..=12).collect::<Vec<_>>());
    // Lowering prunes both keys at once and says how many went.
    assert_eq!(f.store.set_history_limit(3).unwrap(), 14);
    assert_eq!(f.store.history_limit().unwrap(), 3);
    assert_eq!(f.db.kept_versions("A"), [10, 11, 12]);
    assert_eq!(f.db.kept_versions("B"), [10, 11, 12]);
    // 1 keeps only the current value; numbering goes on.
    f.store.set_history_limit(1).unwrap();
    f.store.set("v", "A", "a13", true).unwrap();
    assert_eq!(f.db.kept_versions("A"), [13]);
    assert_eq!(lines(&f.store, "v", "A"), [line(13, "****", Current)]);
    // Raising it prunes nothing and keeps what is there.
    assert_eq!(f.store.set_history_limit(50).unwrap(), 0);
    assert_eq!(f.db.kept_versions("B"), [12]);
    // Bad limits are refused, nothing changed.
    for bad in [0, -1, i64::from(u32::MAX) + 1] {
        let err = f.store.set_history_limit(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(
            err.to_string().contains(&format!("history limit {bad}")),
            "{err}"
        );
    }
    assert_eq!(f.store.history_limit().unwrap(), 50);
    // Another store on the database sees the limit.
    assert_eq!(f.reopen(1).unwrap().history_limit().unwrap(), 50);
}

fn unset_keeps_the_versions_and_restore_brings_the_last_back_as_a_new_version(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "old-value", true).unwrap();
    f.store.set("v", "K", "kept-value", false).unwrap();
    f.store.unset("v", "K").unwrap();
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::EntryNotFound);
    assert_eq!(
        lines(&f.store, "v", "K"),
        [
            line(2, "kept-value", Removed),
            line(1, "ol****ue", Replaced)
        ]
    );
    assert_eq!(f.store.restore("v", "K").unwrap(), 3);
    assert_eq!(f.store.get("v", "K").unwrap().expose(), "kept-value");
    assert!(
        !f.store.entries("v").unwrap()[0].is_secret,
        "flag restored too"
    );
    assert_eq!(lines(&f.store, "v", "K")[0], line(3, "kept-value", Current));
    // A current entry has nothing to restore: 409, nothing written.
    let err = f.store.restore("v", "K").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VersionConflict);
    assert_eq!(err.http_status(), 409);
    assert!(
        err.to_string()
            .starts_with("entry 'K' in vault 'v' is current (version 3)"),
        "{err}"
    );
    assert_eq!(f.db.kept_versions("K"), [1, 2, 3]);
    assert_eq!(
        kind(f.store.restore("v", "NEVER")),
        ErrorKind::EntryNotFound
    );
    assert_eq!(kind(f.store.restore("nope", "K")), ErrorKind::VaultNotFound);
}

fn numbering_goes_on_after_unset_and_set_and_is_never_reused(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "1", true).unwrap();
    f.store.unset("v", "K").unwrap();
    f.store.set("v", "K", "2", true).unwrap();
    f.store.set_history_limit(1).unwrap();
    f.store.unset("v", "K").unwrap();
    f.store.set("v", "K", "3", true).unwrap();
    assert_eq!(f.db.kept_versions("K"), [3]);
    assert_eq!(f.store.get_version("v", "K", 3).unwrap().expose(), "3");
}

fn rollback_makes_an_older_version_current_as_a_new_one(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "good-value", false).unwrap();
    f.store.set("v", "K", "broken-value", true).unwrap();
    assert_eq!(f.store.rollback("v", "K", 1).unwrap(), 3);
    assert_eq!(f.store.get("v", "K").unwrap().expose(), "good-value");
    assert_eq!(
        lines(&f.store, "v", "K"),
        [
            line(3, "good-value", Current),
            line(2, "br****ue", Replaced),
            line(1, "good-value", Replaced),
        ]
    );
    // Bad versions: named, nothing written.
    for (version, reason) in [
        (0, "versions count from 1"),
        (-3, "versions count from 1"),
        (9, "the newest version is 3"),
    ] {
        let err = f.store.rollback("v", "K", version).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::VersionNotFound, "{err}");
        assert_eq!(
            err.to_string(),
            format!("version {version} of key 'K' in vault 'v' not found: {reason}")
        );
    }
    f.store.set_history_limit(2).unwrap();
    let err = f.store.rollback("v", "K", 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VersionNotFound);
    assert!(err.to_string().contains("pruned"), "{err}");
    assert_eq!(f.db.kept_versions("K"), [2, 3]);
    // A removed entry is restored, not rolled back.
    f.store.unset("v", "K").unwrap();
    let err = f.store.rollback("v", "K", 2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EntryNotFound);
    assert_eq!(
        err.to_string(),
        "entry 'K' not found in vault 'v': it was removed (its last version is 3); restore \
         brings it back"
    );
    assert_eq!(f.db.kept_versions("K"), [2, 3]);
    assert_eq!(
        kind(f.store.rollback("nope", "K", 1)),
        ErrorKind::VaultNotFound
    );
    assert_eq!(
        kind(f.store.rollback("v", "NEVER", 1)),
        ErrorKind::EntryNotFound
    );
    assert_eq!(
        kind(f.store.rollback("v", "PYTHONPATH", 1)),
        ErrorKind::ReservedName
    );
}

fn deleting_a_vault_keeps_its_history_by_name_until_purge(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "TOKEN", "ghp-first", true).unwrap();
    f.store.set("ci", "TOKEN", "ghp-second", true).unwrap();
    f.store.set("ci", "OTHER", "x", true).unwrap();
    f.store.delete_vault("ci").unwrap();
    assert_eq!(
        lines(&f.store, "ci", "TOKEN"),
        [line(2, "gh****nd", Removed), line(1, "gh****st", Replaced)]
    );
    assert_eq!(
        f.store.get_version("ci", "TOKEN", 1).unwrap().expose(),
        "ghp-first"
    );
    assert_eq!(f.store.history_keys("ci").unwrap(), ["OTHER", "TOKEN"]);
    // Restoring needs the vault; creating it brings nothing back by itself.
    assert_eq!(
        kind(f.store.restore("ci", "TOKEN")),
        ErrorKind::VaultNotFound
    );
    f.store.create_vault("ci", "").unwrap();
    assert!(f.store.entries("ci").unwrap().is_empty());
    assert_eq!(f.store.restore("ci", "TOKEN").unwrap(), 3);
    assert_eq!(f.store.get("ci", "TOKEN").unwrap().expose(), "ghp-second");
}

fn purge_destroys_an_entry_and_every_version_of_it(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    for value in ["1", "2", "3"] {
        f.store.set("v", "K", value, true).unwrap();
    }
    f.store.set("v", "KEEP", "kept", true).unwrap();
    let plan = f.store.purge_plan("v", Some("K")).unwrap();
    let report = f.store.purge("v", Some("K")).unwrap();
    assert_eq!(plan, report, "the plan says what the purge destroys");
    assert_eq!((report.versions, report.entries), (3, 1));
    assert!(!report.vault_deleted);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::EntryNotFound);
    assert_eq!(kind(f.store.history("v", "K")), ErrorKind::EntryNotFound);
    assert_eq!(f.db.kept_versions("K"), Vec::<i64>::new());
    assert_eq!(f.store.get("v", "KEEP").unwrap().expose(), "kept");
    // After a purge the key starts again from version 1.
    f.store.set("v", "K", "new", true).unwrap();
    assert_eq!(lines(&f.store, "v", "K"), [line(1, "****", Current)]);
    // A removed entry's history alone can be purged too.
    f.store.unset("v", "K").unwrap();
    let report = f.store.purge("v", Some("K")).unwrap();
    assert_eq!((report.versions, report.entries), (1, 0));
    // Nothing to purge: the error names it, nothing changed.
    assert_eq!(
        kind(f.store.purge_plan("v", Some("K"))),
        ErrorKind::EntryNotFound
    );
    assert_eq!(
        kind(f.store.purge_plan("nope", Some("K"))),
        ErrorKind::VaultNotFound
    );
    assert_eq!(
        kind(f.store.purge("v", Some("K"))),
        ErrorKind::EntryNotFound
    );
    assert_eq!(
        kind(f.store.purge("nope", Some("K"))),
        ErrorKind::VaultNotFound
    );
    assert_eq!(f.store.get("v", "KEEP").unwrap().expose(), "kept");
}

fn purge_of_a_vault_destroys_it_its_entries_and_all_their_versions(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("gone", "").unwrap();
    f.store.create_vault("live", "").unwrap();
    f.store.set("gone", "A", "1", true).unwrap();
    f.store.set("gone", "A", "2", true).unwrap();
    f.store.set("gone", "B", "1", true).unwrap();
    f.store.unset("gone", "B").unwrap();
    f.store.set("live", "A", "live", true).unwrap();
    let plan = f.store.purge_plan("gone", None).unwrap();
    let report = f.store.purge("gone", None).unwrap();
    assert_eq!(plan, report);
    assert_eq!(
        (report.versions, report.entries, report.vault_deleted),
        (3, 1, true)
    );
    assert!(!f.store.vault_exists("gone").unwrap());
    assert!(f.store.history_keys("gone").unwrap().is_empty());
    assert_eq!(kind(f.store.history("gone", "A")), ErrorKind::VaultNotFound);
    assert_eq!(lines(&f.store, "live", "A"), [line(1, "****", Current)]);
    // A deleted vault's history is purged by name.
    f.store.set("live", "A", "again", true).unwrap();
    f.store.delete_vault("live").unwrap();
    let report = f.store.purge("live", None).unwrap();
    assert_eq!(
        (report.versions, report.entries, report.vault_deleted),
        (2, 0, false)
    );
    assert_eq!(
        kind(f.store.purge_plan("live", None)),
        ErrorKind::VaultNotFound
    );
    assert_eq!(kind(f.store.purge("live", None)), ErrorKind::VaultNotFound);
    // An empty vault with no history is purged like a delete.
    f.store.create_vault("empty", "").unwrap();
    assert_eq!(
        f.store.purge_plan("empty", None).unwrap(),
        f.store.purge("empty", None).unwrap()
    );
    assert!(!f.store.vault_exists("empty").unwrap());
    assert_eq!(f.db.count("SELECT COUNT(*) FROM runqy_vault_versions"), 0);
}

fn set_cas_writes_only_over_the_expected_version(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    assert_eq!(f.store.set_cas("v", "K", "first", true, 0).unwrap(), 1);
    let conflict = |cas: i64| {
        let err = f.store.set_cas("v", "K", "lost", true, cas).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::VersionConflict, "{err}");
        assert_eq!(err.http_status(), 409);
        err.to_string()
    };
    assert_eq!(
        conflict(0),
        "version conflict on key 'K' in vault 'v': expected no entry (check-and-set 0), but \
         the current version is 1"
    );
    assert_eq!(
        conflict(7),
        "version conflict on key 'K' in vault 'v': expected version 7, but the current \
         version is 1"
    );
    assert_eq!(f.store.set_cas("v", "K", "second", true, 1).unwrap(), 2);
    assert_eq!(f.store.get("v", "K").unwrap().expose(), "second");
    f.store.unset("v", "K").unwrap();
    assert_eq!(
        conflict(2),
        "version conflict on key 'K' in vault 'v': expected version 2, but the entry does \
         not exist (current version 0)"
    );
    assert_eq!(f.store.set_cas("v", "K", "third", true, 0).unwrap(), 3);
    let err = f.store.set_cas("v", "K", "x", true, -1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("check-and-set version -1"),
        "{err}"
    );
    assert_eq!(f.db.kept_versions("K"), [1, 2, 3]);
    assert_eq!(
        kind(f.store.set_cas("nope", "K", "x", true, 0)),
        ErrorKind::VaultNotFound
    );
}

fn two_stores_racing_set_cas_on_one_version_one_wins_one_conflicts(b: Backend) {
    let f = Fixture::new(b);
    let other = f.reopen(1).unwrap();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "start", true).unwrap();
    for round in 1..=10i64 {
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<runqy_vault::Result<i64>> = std::thread::scope(|s| {
            let a = s.spawn(|| {
                barrier.wait();
                f.store.set_cas("v", "K", "from-a", true, round)
            });
            let c = s.spawn(|| {
                barrier.wait();
                other.set_cas("v", "K", "from-b", true, round)
            });
            vec![a.join().unwrap(), c.join().unwrap()]
        });
        let won: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(won, [round + 1], "round {round}: {results:?}");
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(lost.kind(), ErrorKind::VersionConflict, "{lost}");
        assert!(
            lost.to_string()
                .ends_with(&format!("the current version is {}", round + 1)),
            "{lost}"
        );
    }
    assert_eq!(f.db.kept_versions("K").last(), Some(&11));
}

fn a_version_blob_moved_or_edited_in_the_database_fails_naming_the_version(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.create_vault("w", "").unwrap();
    f.store.set("v", "K", "one", true).unwrap();
    f.store.set("v", "K", "two", true).unwrap();
    f.store.set("w", "OTHER", "x", true).unwrap();
    // Onto another version of the same key.
    f.db.exec(
        "UPDATE runqy_vault_versions SET value = (SELECT value FROM runqy_vault_versions \
         WHERE key = 'K' AND version = 2) WHERE key = 'K' AND version = 1",
    );
    let err = f.store.get_version("v", "K", 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for version 1 of key 'K' in vault 'v'"
    );
    assert_eq!(kind(f.store.history("v", "K")), ErrorKind::DecryptionFailed);
    let err = f.store.rollback("v", "K", 1).unwrap_err();
    assert!(err.to_string().contains("version 1 of key 'K'"), "{err}");
    assert_eq!(f.db.kept_versions("K"), [1, 2], "nothing written");
    // Into the current value.
    f.db.exec(
        "UPDATE vault_entries SET value = (SELECT value FROM runqy_vault_versions \
         WHERE key = 'K' AND version = 2) WHERE key = 'K'",
    );
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::DecryptionFailed);
    // Onto another key, another vault, or with its flag flipped.
    f.db.exec(
        "UPDATE runqy_vault_versions SET value = (SELECT value FROM runqy_vault_versions \
         WHERE key = 'K' AND version = 2) WHERE key = 'OTHER'",
    );
    assert_eq!(
        f.store
            .get_version("w", "OTHER", 1)
            .unwrap_err()
            .to_string(),
        "decryption failed for version 1 of key 'OTHER' in vault 'w'"
    );
    f.db.exec("UPDATE runqy_vault_versions SET vault = 'w' WHERE key = 'K' AND version = 2");
    assert_eq!(
        kind(f.store.get_version("w", "K", 2)),
        ErrorKind::DecryptionFailed
    );
    f.db.exec(
        "UPDATE runqy_vault_versions SET vault = 'v', is_secret = false \
         WHERE key = 'K' AND version = 2",
    );
    assert_eq!(
        kind(f.store.get_version("v", "K", 2)),
        ErrorKind::DecryptionFailed
    );
    // A corrupted version never fails the reads that do not use history.
    f.store.set("v", "FINE", "fine", true).unwrap();
    assert_eq!(f.store.get("v", "FINE").unwrap().expose(), "fine");
}

fn get_show_and_the_payload_never_read_the_history(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "A", "one", true).unwrap();
    f.store.set("v", "A", "two", true).unwrap();
    f.store.set("v", "B", "plain", false).unwrap();
    // The history gone from under the store: the current values do not notice.
    f.db.exec("DROP TABLE runqy_vault_versions");
    assert_eq!(f.store.get("v", "A").unwrap().expose(), "two");
    assert_eq!(f.store.show("v").unwrap().entries.len(), 2);
    assert_eq!(
        payload_values(&f.store, &["v"]),
        pairs(&[("A", "two"), ("B", "plain")])
    );
    assert_eq!(f.store.resolve(&["v"]).unwrap().values.len(), 2);
    // Only the calls on history (and the writes that make versions) need the table.
    assert_eq!(kind(f.store.history("v", "A")), ErrorKind::Storage);
}

fn rotation_reencrypts_every_version_and_the_old_key_opens_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    for i in 0..30 {
        for n in 1..=3 {
            f.store
                .set("v", &format!("K{i}"), &format!("value-{i}-{n}"), i % 2 == 0)
                .unwrap();
        }
    }
    f.store.unset("v", "K0").unwrap();
    assert_eq!(f.store.rotate_key(&key(2)).unwrap(), 29);
    for n in 1..=3 {
        assert_eq!(&f.db.version_blob("K5", n)[4..12], &key(2).key_id().0);
    }
    let f = f.close();
    assert_eq!(kind(f.open(1)), ErrorKind::KeyMismatch);
    let store = f.open(2).unwrap();
    // Current versions are still known as current: the digests followed the blobs.
    assert_eq!(
        lines(&store, "v", "K1"),
        [
            line(3, "value-1-3", Current),
            line(2, "value-1-2", Replaced),
            line(1, "value-1-1", Replaced)
        ]
    );
    assert_eq!(lines(&store, "v", "K0")[0], line(3, "va****-3", Removed));
    assert_eq!(
        store.get_version("v", "K4", 1).unwrap().expose(),
        "value-4-1"
    );
    assert_eq!(store.restore("v", "K0").unwrap(), 4);
    // No version is left under key 1, even through `_PREVIOUS`.
    let old_only = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    });
    let blob = f.version_blob("K3", 2);
    let at = Binding {
        vault: "v",
        key: "K3",
        is_secret: false,
    };
    assert!(old_only.decrypt_version(at, 2, &blob).is_err());
}

fn rotation_with_a_tampered_version_changes_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "one", true).unwrap();
    f.store.set("v", "K", "two", true).unwrap();
    f.db.exec("UPDATE runqy_vault_versions SET version = 5 WHERE key = 'K' AND version = 1");
    let err = f.store.rotate_key(&key(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for version 5 of key 'K' in vault 'v'"
    );
    let f = f.close();
    let store = f.open(1).unwrap();
    assert_eq!(store.get("v", "K").unwrap().expose(), "two");
    assert_eq!(&f.version_blob("K", 2)[4..12], &key(1).key_id().0);
}

fn a_store_with_only_history_left_is_still_refused_under_the_wrong_key(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "kept in history", true).unwrap();
    f.store.unset("v", "K").unwrap();
    let f = f.close();
    // As if the key check's record were lost: the probe must look at versions.
    f.exec("DELETE FROM runqy_vault_meta WHERE name IN ('key_id', 'key_ids')");
    let err = f.open(2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch, "{err}");
    let store = f.open(1).unwrap();
    assert_eq!(
        store.get_version("v", "K", 1).unwrap().expose(),
        "kept in history"
    );
}

fn migrate_keeps_the_history_current_and_readable(b: Backend) {
    let db = Db::new(b);
    db.create_upstream_tables();
    db.exec("INSERT INTO vaults (name) VALUES ('v')");
    let store = db.open(1).unwrap();
    assert_eq!(store.format(), Some(Format::Legacy));
    store.set("v", "K", "first", true).unwrap();
    store.set("v", "K", "second", true).unwrap();
    // The current value is legacy (the Go server reads it); versions are always v2.
    assert_ne!(&db.value_of("K")[..4], b"RQV\x02");
    assert_eq!(&db.version_blob("K", 1)[..4], b"RQV\x02");
    assert_eq!(store.migrate().unwrap(), 1);
    assert_eq!(&db.value_of("K")[..4], b"RQV\x02");
    assert_eq!(
        lines(&store, "v", "K"),
        [line(2, "se****nd", Current), line(1, "fi****st", Replaced)]
    );
    assert_eq!(store.rollback("v", "K", 1).unwrap(), 3);
}

fn a_value_written_straight_into_the_upstream_tables_has_no_version(b: Backend) {
    let db = Db::new(b);
    db.create_upstream_tables();
    db.exec("INSERT INTO vaults (name) VALUES ('v')");
    let cipher = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    });
    let at = Binding {
        vault: "v",
        key: "K",
        is_secret: true,
    };
    db.insert_upstream_entry("K", &cipher.encrypt(Format::Legacy, at, b"from-go-server"));
    let store = db.open(1).unwrap();
    let only: Vec<_> = lines(&store, "v", "K");
    assert_eq!(only, [(None, "fr****er".to_owned(), Current)]);
    let err = store.get_version("v", "K", 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VersionNotFound);
    assert!(
        err.to_string().contains("written by another program"),
        "{err}"
    );
    // Our write makes version 1; the server's next write is unversioned again.
    store.set("v", "K", "ours", true).unwrap();
    assert_eq!(lines(&store, "v", "K"), [line(1, "****", Current)]);
    db.set_value_of("K", &cipher.encrypt(Format::Legacy, at, b"server-again"));
    assert_eq!(
        lines(&store, "v", "K"),
        [
            (None, "se****in".to_owned(), Current),
            line(1, "****", Replaced)
        ]
    );
    let err = store.set_cas("v", "K", "x", true, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VersionConflict);
    assert!(
        err.to_string()
            .ends_with("the current value has no version (another program wrote it)"),
        "{err}"
    );
    assert_eq!(kind(store.restore("v", "K")), ErrorKind::VersionConflict);
    // Rolling back over it keeps working, as a new version.
    assert_eq!(store.rollback("v", "K", 1).unwrap(), 2);
    assert_eq!(store.get("v", "K").unwrap().expose(), "ours");
}

fn import_makes_new_versions_of_the_keys_it_replaces_and_export_stays_current(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("a", "").unwrap();
    f.store.set("a", "X", "before-import", true).unwrap();
    let doc = ExportDocument::from_json(
        r#"{"format": 1, "vaults": [{"name": "a", "entries": [
            {"key": "X", "value": "imported-x"}, {"key": "NEW", "value": "fresh"}]}]}"#,
    )
    .unwrap();
    assert_eq!(f.store.import(&doc).unwrap(), 2);
    assert_eq!(
        lines(&f.store, "a", "X"),
        [line(2, "im****-x", Current), line(1, "be****rt", Replaced)]
    );
    assert_eq!(lines(&f.store, "a", "NEW"), [line(1, "fr****sh", Current)]);
    let exported = f.store.export().unwrap();
    let entries = &exported.vaults[0].entries;
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.expose()))
            .collect::<Vec<_>>(),
        [("NEW", "fresh"), ("X", "imported-x")]
    );
}

/// An import writes its values in batches whose newest versions are read
/// at once (500 entries, or about 1 MiB of values): each key still goes on
/// from its own newest version, in every batch, streamed or not. Keys set
/// before sit in the first, a middle and the last batch of 1,200 small
/// values, and in both batches of 20 values of 60,000 bytes (streamed, the
/// first holds 18: 1,080,000 bytes reach the 1 MiB bound).
fn an_import_in_batches_numbers_each_key_from_its_own_newest_version(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("small", "").unwrap();
    f.store.create_vault("big", "").unwrap();
    for key in ["KEY_0000", "KEY_0600", "KEY_1199"] {
        f.store.set("small", key, "before-1", true).unwrap();
        f.store.set("small", key, "before-2", true).unwrap();
    }
    f.store.set("big", "KEY_0017", "before-1", true).unwrap();
    f.store.set("big", "KEY_0018", "before-1", true).unwrap();
    let vault = |name: &str, n: usize, len: usize| {
        let entries: Vec<serde_json::Value> = (0..n)
            .map(|k| serde_json::json!({"key": format!("KEY_{k:04}"), "value": "x".repeat(len)}))
            .collect();
        serde_json::json!({"name": name, "entries": entries})
    };
    let json = serde_json::json!({"format": 1, "vaults": [vault("small", 1_200, 8), vault("big", 20, 60_000)]})
        .to_string();
    let newest = |vault: &str, key: &str| f.store.history(vault, key).unwrap()[0].version;
    assert_eq!(
        f.store
            .import_from("doc.json", false, || Ok(json.as_bytes()))
            .unwrap(),
        1_220
    );
    for (vault, key, version) in [
        ("small", "KEY_0000", 3),
        ("small", "KEY_0001", 1),
        ("small", "KEY_0600", 3),
        ("small", "KEY_0601", 1),
        ("small", "KEY_1199", 3),
        ("big", "KEY_0016", 1),
        ("big", "KEY_0017", 2),
        ("big", "KEY_0018", 2),
        ("big", "KEY_0019", 1),
    ] {
        assert_eq!(newest(vault, key), Some(version), "{vault}/{key}");
    }
    let doc = ExportDocument::from_json(&json).unwrap();
    assert_eq!(f.store.import(&doc).unwrap(), 1_220);
    assert_eq!(newest("small", "KEY_0600"), Some(4));
    assert_eq!(newest("small", "KEY_0601"), Some(2));
    assert_eq!(newest("big", "KEY_0017"), Some(3));
    assert_eq!(newest("big", "KEY_0018"), Some(3));
    assert_eq!(
        f.store.get("big", "KEY_0019").unwrap().expose().len(),
        60_000
    );
}

fn history_calls_on_a_disabled_store_are_disabled(b: Backend) {
    let db = Db::new(b);
    let s = db.open_with(KeySource::None).unwrap();
    assert!(!s.is_enabled());
    assert_eq!(kind(s.history("v", "K")), ErrorKind::Disabled);
    assert_eq!(kind(s.get_version("v", "K", 1)), ErrorKind::Disabled);
    assert_eq!(kind(s.set_cas("v", "K", "x", true, 0)), ErrorKind::Disabled);
    assert_eq!(kind(s.rollback("v", "K", 1)), ErrorKind::Disabled);
    assert_eq!(kind(s.restore("v", "K")), ErrorKind::Disabled);
    assert_eq!(kind(s.purge("v", None)), ErrorKind::Disabled);
    assert_eq!(kind(s.history_limit()), ErrorKind::Disabled);
    assert_eq!(kind(s.set_history_limit(3)), ErrorKind::Disabled);
    assert_eq!(kind(s.history_keys("v")), ErrorKind::Disabled);
    assert!(!db.has_tables());
}

#[test]
fn sqlite_purge_leaves_no_destroyed_blob_in_the_database_files() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "KEEP", "kept", true).unwrap();
    for n in 1..=3 {
        f.store.set("v", "K", &format!("doomed-{n}"), true).unwrap();
    }
    let blobs: Vec<Vec<u8>> = (1..=3)
        .map(|n| f.db.version_blob("K", n))
        .chain([f.db.value_of("K")])
        .collect();
    let files = || -> Vec<u8> {
        let mut all = std::fs::read(f.db.db()).unwrap();
        if let Ok(wal) = std::fs::read(f.db.db().with_extension("db-wal")) {
            all.extend(wal);
        }
        all
    };
    let found = |hay: &[u8], blob: &[u8]| hay.windows(blob.len()).any(|w| w == blob);
    assert!(
        blobs.iter().all(|b| found(&files(), b)),
        "the blobs are on disk before"
    );
    let report = f.store.purge("v", Some("K")).unwrap();
    assert_eq!(report.versions, 3);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let after = files();
    for blob in &blobs {
        assert!(!found(&after, blob), "a purged blob is still in the files");
    }
    assert_eq!(
        std::fs::metadata(f.db.db().with_extension("db-wal")).map_or(0, |m| m.len()),
        0,
        "the WAL is truncated"
    );
    assert_eq!(f.store.get("v", "KEEP").unwrap().expose(), "kept");
}

#[test]
fn sqlite_pruned_versions_are_zeroed_not_left_in_the_pages() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("v", "").unwrap();
    f.store.set_history_limit(2).unwrap();
    f.store.set("v", "K", "one", true).unwrap();
    let first = f.db.version_blob("K", 1);
    f.store.set("v", "K", "two", true).unwrap();
    f.store.set("v", "K", "three", true).unwrap(); // prunes version 1
    assert_eq!(f.db.kept_versions("K"), [2, 3]);
    f.db.raw()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let file = std::fs::read(f.db.db()).unwrap();
    assert!(
        !file.windows(first.len()).any(|w| w == first),
        "secure_delete zeroes a pruned version"
    );
    let secure: i64 =
        f.db.raw()
            .query_row("PRAGMA secure_delete", [], |r| r.get(0))
            .unwrap();
    assert_eq!(
        secure, 0,
        "a plain connection has it off: the store turns it on"
    );
}

on_both_backends!(
    set_makes_versions_and_history_lists_them_newest_first_masked,
    get_version_returns_every_kept_version_and_names_the_missing_ones,
    history_limit_prunes_on_each_write_and_lowering_it_prunes_every_key,
    unset_keeps_the_versions_and_restore_brings_the_last_back_as_a_new_version,
    numbering_goes_on_after_unset_and_set_and_is_never_reused,
    rollback_makes_an_older_version_current_as_a_new_one,
    deleting_a_vault_keeps_its_history_by_name_until_purge,
    purge_destroys_an_entry_and_every_version_of_it,
    purge_of_a_vault_destroys_it_its_entries_and_all_their_versions,
    set_cas_writes_only_over_the_expected_version,
    two_stores_racing_set_cas_on_one_version_one_wins_one_conflicts,
    a_version_blob_moved_or_edited_in_the_database_fails_naming_the_version,
    get_show_and_the_payload_never_read_the_history,
    rotation_reencrypts_every_version_and_the_old_key_opens_nothing,
    rotation_with_a_tampered_version_changes_nothing,
    a_store_with_only_history_left_is_still_refused_under_the_wrong_key,
    migrate_keeps_the_history_current_and_readable,
    a_value_written_straight_into_the_upstream_tables_has_no_version,
    import_makes_new_versions_of_the_keys_it_replaces_and_export_stays_current,
    an_import_in_batches_numbers_each_key_from_its_own_newest_version,
    history_calls_on_a_disabled_store_are_disabled,
);
