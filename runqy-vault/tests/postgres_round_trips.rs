//! How many round trips to the PostgreSQL server each operation costs, counted
//! by the backend itself (`test_hooks::postgres_round_trips`: every query,
//! prepare, batch, BEGIN and COMMIT sent on the store's connections), never
//! timed. Each count is exact, after a warm-up call of the same operation that
//! filled the connection's cache of prepared statements, so a change that
//! adds a round trip fails here and must say why. And what pipelining must
//! not cost: a held-back write the server refuses fails the whole write.
//!
//! Runs only beside a server: `bash scripts/with-postgres.sh cargo test -p
//! runqy-vault --test postgres_round_trips` (otherwise reported as ignored).
#![cfg(feature = "postgres")]

mod support;

use runqy_vault::model::AuditFilter;
use runqy_vault::test_hooks::postgres_round_trips;
use runqy_vault::{
    ExportDocument, ExportEntry, ExportVault, Format, MasterKey, Store, VersionState,
};

fn key_text(byte: u8) -> String {
    MasterKey::from_bytes([byte; 32])
        .to_base64()
        .expose()
        .to_owned()
}

/// The round trips `f` sends on `store`'s connections.
fn trips<T>(store: &Store, f: impl FnOnce(&Store) -> T) -> (u64, T) {
    let before = postgres_round_trips(store).expect("a PostgreSQL store counts its round trips");
    let out = f(store);
    let after = postgres_round_trips(store).expect("a PostgreSQL store counts its round trips");
    (after - before, out)
}

/// A store on a fresh database with the vault `app` holding `A` and `B`, and
/// `other` holding `C`; each operation below was run once already.
fn warm_store(db: &support::TempDatabase) -> Store {
    let store = Store::open(db.url.as_str(), Some(&key_text(1))).unwrap();
    store.create_vault("app", "").unwrap();
    store.create_vault("other", "").unwrap();
    store.set("app", "A", "a1", true).unwrap();
    store.set("app", "B", "b1", true).unwrap();
    store.set("other", "C", "c1", false).unwrap();
    store
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn each_operation_costs_the_round_trips_pinned_here() {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = warm_store(&db);
    let mut got: Vec<(&str, u64, u64)> = Vec::new();
    let mut pin = |name: &'static str, want: u64, n: u64| got.push((name, want, n));

    // Warm-up of every statement below, on the pool's one connection.
    store.get("app", "A").unwrap();
    store.registration_payload(&["app", "other"], None).unwrap();
    store
        .registration_payload(&["app"], Some("vault://other/C"))
        .unwrap();
    store.create_vault("warm", "").unwrap();
    store.set("warm", "W", "w1", true).unwrap();
    store.set("warm", "W", "w2", true).unwrap();
    store.rollback("warm", "W", 1).unwrap();
    store.unset("warm", "W").unwrap();
    store.restore("warm", "W").unwrap();
    store.purge("warm", Some("W")).unwrap();
    store.delete_vault("warm").unwrap();
    let doc = store.export().unwrap();
    store.import(&doc).unwrap();
    store.rotate_key(&MasterKey::from_bytes([2; 32])).unwrap();

    // set of an existing key (11 before the pipelining): 1. BEGIN, key id
    // FOR SHARE, vault row locked, newest version, history_limit, audit head
    // FOR UPDATE (read ahead); 2. entry upsert, version insert, audit
    // insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.set("app", "A", "a2", true));
    r.unwrap();
    pin("set", 2, n);

    // get (audit-reads on; 8, then 5 with the flag, the entry, its newest
    // version and the record's BEGIN and head one after the other): 1.
    // BEGIN, the flag with the audit head FOR UPDATE (locked as the flag
    // is on), the entry with its newest version (for the record); 2. audit
    // insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.get("app", "A"));
    r.unwrap();
    pin("get", 2, n);

    // payload of two vaults (audit-reads on; 7, then 4): 1. BEGIN, the flag
    // with the head, one query for all vaults with their newest versions;
    // 2. as for get.
    let (n, r) = trips(&store, |s| s.registration_payload(&["app", "other"], None));
    r.unwrap();
    pin("payload", 2, n);

    // payload with a git token outside its vaults (audit-reads on; 4 while
    // the token was read by the body, its entry and then its newest version
    // each a round trip): 1. BEGIN, the flag with the head, the vaults, the
    // token's entry with its newest version (for the record); 2. as for get.
    let (n, r) = trips(&store, |s| {
        s.registration_payload(&["app"], Some("vault://other/C"))
    });
    assert_eq!(r.unwrap().git_token.unwrap().expose(), "c1");
    pin("payload with git token", 2, n);
    // The same with the token in one of its vaults (4 before too: its entry
    // is read on its own all the same), and with no vaults, the token alone
    // (5 before: nothing was said ahead, so the flag, the entry, its version
    // and the record's own transaction of 2 came one after the other).
    let (n, r) = trips(&store, |s| {
        s.registration_payload(&["app", "other"], Some("vault://other/C"))
    });
    assert_eq!(r.unwrap().git_token.unwrap().expose(), "c1");
    pin("payload with git token in its vaults", 2, n);
    let (n, r) = trips(&store, |s| {
        s.registration_payload::<&str>(&[], Some("vault://other/C"))
    });
    assert_eq!(r.unwrap().git_token.unwrap().expose(), "c1");
    pin("git token alone", 2, n);

    // create (6 before): 1. BEGIN, the INSERT; 2. audit head; 3. audit
    // insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.create_vault("fresh", "d"));
    r.unwrap();
    pin("create", 3, n);

    // delete (8 before): 1. BEGIN, vault row locked, audit head (read
    // ahead); 2. entries deleted; 3. vault deleted; 4. audit insert, head
    // update, COMMIT.
    let (n, r) = trips(&store, |s| s.delete_vault("fresh"));
    r.unwrap();
    pin("delete", 4, n);

    // unset (7 before): 1. BEGIN, vault row locked, audit head (read
    // ahead); 2. entry deleted; 3. audit insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.unset("app", "B"));
    r.unwrap();
    pin("unset", 3, n);

    // restore (14 before): 1. as set's first; 2. the entry (key state; its
    // newest version was read ahead); 3. the version's value; 4. newest
    // version again (put); 5. upsert, version insert, audit insert, head
    // update, COMMIT.
    let (n, r) = trips(&store, |s| s.restore("app", "B"));
    r.unwrap();
    pin("restore", 5, n);

    // rollback (14 before): as restore.
    let (n, r) = trips(&store, |s| s.rollback("app", "A", 1));
    r.unwrap();
    pin("rollback", 5, n);

    // purge of one key (8 before): 1. BEGIN, vault row locked, audit head
    // (read ahead); 2. entry deleted; 3. versions deleted; 4. audit insert,
    // head update, COMMIT.
    let (n, r) = trips(&store, |s| s.purge("app", Some("B")));
    r.unwrap();
    pin("purge", 4, n);

    // import of a document of 3 entries in 2 vaults (18 before, 9 with a
    // newest version read per entry): 1. BEGIN, key id FOR UPDATE; per vault
    // its merge (2) and the newest versions of its entries in one ask (2),
    // each sent with the writes before; then history_limit, audit head, and
    // the last writes with COMMIT (3).
    let (n, r) = trips(&store, |s| s.import(&doc));
    r.unwrap();
    pin("import", 8, n);

    // rotate-key of the store (60 before, 54 with one UPDATE per row): 1.
    // BEGIN, key id FOR UPDATE; 2. the entries' page (short: the last); 3.
    // the versions' page, with the entries' UPDATE ... FROM unnest of
    // values and of digests; 4. no providers table, with the versions'
    // UPDATE; 5. the audit table; 6. its page; 7. the head, with the MACs'
    // UPDATE; 8. the audit head for the record, with the new head and key
    // id; 9. the record, the head, COMMIT.
    let (n, r) = trips(&store, |s| s.rotate_key(&MasterKey::from_bytes([3; 32])));
    r.unwrap();
    pin("rotate-key", 9, n);

    // The same reads with audit-reads off (after a warm-up of each; 2
    // before too, the flag and then the read): 1. as with it on, but the
    // head is not locked (the flag the same statement read is off); 2.
    // COMMIT alone, as there is no record.
    store.set_audit_reads(false).unwrap();
    store.get("app", "A").unwrap();
    store.registration_payload(&["app", "other"], None).unwrap();
    store
        .registration_payload(&["app"], Some("vault://other/C"))
        .unwrap();
    let (n, r) = trips(&store, |s| s.get("app", "A"));
    r.unwrap();
    pin("get, audit-reads off", 2, n);
    let (n, r) = trips(&store, |s| s.registration_payload(&["app", "other"], None));
    r.unwrap();
    pin("payload, audit-reads off", 2, n);
    // (3 while the body read the token's entry after the first round trip;
    // with no record to write it reads no version.)
    let (n, r) = trips(&store, |s| {
        s.registration_payload(&["app"], Some("vault://other/C"))
    });
    assert_eq!(r.unwrap().git_token.unwrap().expose(), "c1");
    pin("payload with git token, audit-reads off", 2, n);

    let wrong: Vec<String> = got
        .iter()
        .filter(|(_, want, n)| want != n)
        .map(|(name, want, n)| format!("{name}: {n} round trips, pinned {want}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn set_with_its_version_and_audit_record_takes_at_most_four_round_trips() {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = warm_store(&db);
    // A new key (no version yet) and an existing one; both after warm-up.
    for (key, value) in [("NEW", "n1"), ("A", "a2")] {
        let (n, r) = trips(&store, |s| s.set("app", key, value, true));
        r.unwrap();
        assert!(
            n <= 4,
            "set of {key} took {n} round trips (issue 18: at most 4)"
        );
        assert_eq!(store.get("app", key).unwrap().expose(), value);
    }
    assert_eq!(
        store.history("app", "A").unwrap().len(),
        2,
        "a1 and a2 kept"
    );
    // 2 creates, 5 sets, 2 gets: each recorded, the chain unbroken.
    assert_eq!(store.audit_verify().unwrap(), 9);
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn servers_setting_at_once_keep_one_unbroken_audit_chain_and_every_version() {
    // The audit head is read ahead, with BEGIN, and locked until COMMIT:
    // four servers (stores of their own) writing at once must still append
    // one after another.
    let db = support::TempDatabase::new(&support::postgres_url());
    let first = warm_store(&db);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let store = Store::open(url.as_str(), Some(&key_text(1))).unwrap();
                for i in 0..10 {
                    let vault = if i % 2 == 0 { "app" } else { "other" };
                    store
                        .set(vault, &format!("K{t}"), &format!("v{i}"), true)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..4 {
        assert_eq!(first.get("app", &format!("K{t}")).unwrap().expose(), "v8");
        assert_eq!(first.get("other", &format!("K{t}")).unwrap().expose(), "v9");
        assert_eq!(first.history("app", &format!("K{t}")).unwrap().len(), 5);
    }
    // 2 creates and 3 sets of the warm-up, 40 sets, then 8 gets: all chained.
    assert_eq!(first.audit_verify().unwrap(), 53);
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn reads_lock_the_audit_head_only_while_audit_reads_is_on() {
    // Another session holds the head's row lock (as a write does until its
    // COMMIT). A read with audit-reads on waits for it, here until its
    // statement timeout of 2 s; one with it off reads at once, whoever
    // holds the head, so off reads never wait on each other either.
    let db = support::TempDatabase::new(&support::postgres_url());
    warm_store(&db);
    let url = support::with_params(&db.url, "options=-c%20statement_timeout%3D2s");
    let store = Store::open(url.as_str(), Some(&key_text(1))).unwrap();
    store.get("app", "A").unwrap();
    let mut holder = db.client();
    let hold = "BEGIN; SELECT value FROM runqy_vault_meta WHERE name = 'audit_head' FOR UPDATE";

    holder.batch_execute(hold).unwrap();
    let e = store.get("app", "A").unwrap_err();
    assert_eq!(e.kind(), runqy_vault::ErrorKind::Storage, "{e}");
    assert!(e.to_string().contains("statement timeout"), "{e}");
    let e = store
        .registration_payload(&["app", "other"], None)
        .unwrap_err();
    assert!(e.to_string().contains("statement timeout"), "{e}");
    holder.batch_execute("COMMIT").unwrap();

    store.set_audit_reads(false).unwrap();
    holder.batch_execute(hold).unwrap();
    assert_eq!(store.get("app", "A").unwrap().expose(), "a1");
    let payload = store.registration_payload(&["app", "other"], None).unwrap();
    assert_eq!(payload.vaults.len(), 3);
    assert_eq!(store.resolve(&["app", "other"]).unwrap().values.len(), 3);
    holder.batch_execute("COMMIT").unwrap();
    // The warm-up's records, the one read, the switch: nothing of the
    // refused or unaudited reads.
    let ops: Vec<String> = store
        .audit_log(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .map(|r| r.operation)
        .collect();
    assert_eq!(
        ops,
        [
            "create",
            "create",
            "set",
            "set",
            "set",
            "get",
            "audit-reads"
        ]
    );
    assert_eq!(store.audit_verify().unwrap(), 7);
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn reads_beside_writes_record_the_version_whose_value_they_handed_out() {
    // A server setting one key over and over while three others read it:
    // each read's record names a version, and it is the one whose value was
    // delivered (its fingerprint is that version's), because the value and
    // its newest version are read in one statement; the chain stays whole.
    let db = support::TempDatabase::new(&support::postgres_url());
    let first = warm_store(&db);
    let open = || Store::open(db.url.as_str(), Some(&key_text(1))).unwrap();
    let writer = {
        let store = open();
        std::thread::spawn(move || {
            for i in 2..=31 {
                store.set("app", "A", &format!("a{i}"), true).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let store = open();
            std::thread::spawn(move || {
                for _ in 0..30 {
                    store.get("app", "A").unwrap();
                    store.registration_payload(&["app"], None).unwrap();
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let log = first.audit_log(&AuditFilter::default()).unwrap();
    let set: std::collections::HashMap<i64, String> = log
        .iter()
        .filter(|r| r.operation == "set" && r.key.as_deref() == Some("A"))
        .map(|r| (r.version.unwrap(), r.fingerprint.clone().unwrap()))
        .collect();
    assert_eq!(set.len(), 31, "a1 to a31");
    let gets: Vec<_> = log.iter().filter(|r| r.operation == "get").collect();
    assert_eq!(gets.len(), 90);
    for r in gets {
        let version = r.version.expect("a get's record names the version read");
        assert_eq!(
            r.fingerprint.as_ref(),
            set.get(&version),
            "record {}",
            r.seq
        );
    }
    // A payload's record lists the version of each key it delivered.
    let payloads: Vec<_> = log.iter().filter(|r| r.operation == "payload").collect();
    assert_eq!(payloads.len(), 90);
    for r in payloads {
        let delivered = r.detail["delivered"].as_array().unwrap();
        let a = delivered.iter().find(|d| d["key"] == "A").unwrap();
        assert!(a["version"].as_i64().is_some(), "record {}", r.seq);
    }
    // 2 creates and 3 sets of the warm-up, 30 sets, 90 gets, 90 payloads.
    assert_eq!(first.audit_verify().unwrap(), 215);
}

/// A document of `entries` values in vaults of 500 (imported, each value has
/// its one kept version).
fn document(entries: usize) -> ExportDocument {
    ExportDocument {
        format: 1,
        vaults: (0..entries.div_ceil(500))
            .map(|v| ExportVault {
                name: format!("vault-{v:02}"),
                description: String::new(),
                entries: (0..500.min(entries - v * 500))
                    .map(|e| ExportEntry {
                        key: format!("KEY_{e:04}"),
                        value: format!("value {v}/{e}").into(),
                        is_secret: e % 7 != 0,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The round trips of a rotation of a store of `entries` imported values,
/// after a warm-up rotation of the same store; then checks under the new key
/// that every value, its kept version and the audit chain came through.
fn rotation_trips(entries: usize) -> u64 {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = Store::open(db.url.as_str(), Some(&key_text(1))).unwrap();
    let doc = document(entries);
    store.import(&doc).unwrap();
    store.rotate_key(&MasterKey::from_bytes([2; 32])).unwrap();
    let (n, r) = trips(&store, |s| s.rotate_key(&MasterKey::from_bytes([3; 32])));
    assert_eq!(r.unwrap(), entries as u64);
    drop(store);

    let rotated = Store::open(db.url.as_str(), Some(&key_text(3))).unwrap();
    assert_eq!(
        rotated.export().unwrap(),
        doc,
        "every value, under the new key"
    );
    let last = doc.vaults.last().unwrap();
    let key = &last.entries.last().unwrap().key;
    let history = rotated.history(&last.name, key).unwrap();
    assert_eq!(
        history.len(),
        1,
        "{}/{key}: its one kept version",
        last.name
    );
    // Still current: its digest followed the entry's new blob.
    assert_eq!(
        history[0].state,
        VersionState::Current,
        "{}/{key}",
        last.name
    );
    let version = history[0].version.unwrap();
    assert_eq!(
        rotated
            .get_version(&last.name, key, version)
            .unwrap()
            .expose(),
        last.entries.last().unwrap().value.expose(),
        "the kept version, under the new key"
    );
    // The import, the two rotations, the export and the version read: each
    // recorded, chained.
    assert_eq!(rotated.audit_verify().unwrap(), 5);
    n
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn rotation_over_several_pages_costs_round_trips_per_page_not_per_row() {
    // Pages of 1,000: 2,500 entries are 3 pages of entries and 3 of their
    // kept versions, 3,500 are 4 and 4. Each page is read in one round trip
    // that also carries the previous page's rewrite (one UPDATE ... FROM
    // unnest per rewritten column); a short page is the last, after a full
    // one an empty read finds the end (2,000: 2 pages and 1 empty read
    // each); the rest is as in the small store above (7). One round trip
    // per row and per digest before: 7,517 for 2,500, 10,519 for 3,500.
    let got: Vec<u64> = [2_000, 2_500, 3_500]
        .into_iter()
        .map(rotation_trips)
        .collect();
    assert_eq!(
        got,
        [7 + 3 + 3, 7 + 3 + 3, 7 + 4 + 4],
        "round trips of a rotation of 2,000, 2,500 and 3,500 entries"
    );
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn migration_over_several_pages_costs_round_trips_per_page_not_per_row() {
    // The runqy server's tables and no meta table: the store stays legacy.
    let db = support::TempDatabase::new(&support::postgres_url());
    db.client()
        .batch_execute(support::UPSTREAM_POSTGRES_TABLES)
        .unwrap();
    let store = Store::open(db.url.as_str(), Some(&key_text(1))).unwrap();
    let doc = document(2_500);
    store.import(&doc).unwrap();
    assert_eq!(store.format(), Some(Format::Legacy));
    // Warm-up: a rotation prepares every statement a migration sends.
    store.rotate_key(&MasterKey::from_bytes([2; 32])).unwrap();
    let (n, r) = trips(&store, |s| s.migrate());
    assert_eq!(r.unwrap(), 2_500);
    assert_eq!(store.format(), Some(Format::V2));
    drop(store);
    let migrated = Store::open(db.url.as_str(), Some(&key_text(2))).unwrap();
    assert_eq!(migrated.export().unwrap(), doc, "every value, now v2");
    // BEGIN with the key id FOR UPDATE; 3 pages of entries and 3 of versions,
    // each read carrying the page before's UPDATE ... FROM unnest; the audit
    // head, with the format and key id; the record, COMMIT. (One round trip
    // per row and per digest before: about 7,500.)
    assert_eq!(
        n,
        1 + 3 + 3 + 2,
        "round trips of a migration of 2,500 entries"
    );
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn rotation_re_keys_import_records_of_ten_thousand_keys_at_the_same_round_trips_per_page() {
    // 10,001 entries: the import is recorded in two parts, the first
    // listing 10,000 keys. The re-key reads such records as a stream (a page
    // of them held whole was ~150 MB on a 1M-entry import).
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = Store::open(db.url.as_str(), Some(&key_text(1))).unwrap();
    let doc = document(10_001);
    store.import(&doc).unwrap();
    store.rotate_key(&MasterKey::from_bytes([2; 32])).unwrap();
    let (n, r) = trips(&store, |s| s.rotate_key(&MasterKey::from_bytes([3; 32])));
    assert_eq!(r.unwrap(), 10_001);
    // 11 pages of entries and 11 of kept versions (the last short), and the
    // rest as in the small store (7): the audit log is still one page.
    assert_eq!(
        n,
        7 + 11 + 11,
        "round trips of a rotation of 10,001 entries"
    );
    drop(store);

    let rotated = Store::open(db.url.as_str(), Some(&key_text(3))).unwrap();
    // The two parts of the import and the two rotations, chained under the new key.
    assert_eq!(rotated.audit_verify().unwrap(), 4);
    let log = rotated.audit_log(&AuditFilter::default()).unwrap();
    let ops: Vec<&str> = log.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(ops, ["import", "import", "rotate-key", "rotate-key"]);
    let detail = log[0].detail.to_string();
    assert!(
        detail.len() > 1_000_000 && detail.contains("\"vault-19\"") && detail.contains("KEY_0499"),
        "the first part lists 10,000 keys: {} bytes of detail",
        detail.len()
    );
}

/// A write held back for a later round trip and refused there by the server
/// (a CHECK on the kept versions) fails the whole operation: in a trip in
/// the middle of an import (3,000 values in 6 vaults; the first vault's
/// writes go out in batches of 256 held-back statements, and the refusal of
/// its 301st value comes back in one of them, long before COMMIT) and in
/// the COMMIT trip of a `set`. Nothing of either is
/// written, no record is chained, and the connection goes back to the pool
/// usable: the next writes on it succeed.
#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn a_held_back_write_the_server_refuses_fails_the_whole_write_and_leaves_the_connection_usable() {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = warm_store(&db);
    let records = store.audit_verify().unwrap();
    let mut admin = db.client();
    admin
        .batch_execute(
            "ALTER TABLE runqy_vault_versions ADD CONSTRAINT refuse
             CHECK (key <> 'KEY_0300' AND key <> 'REFUSED') NOT VALID",
        )
        .unwrap();

    let (refused_trips, imported) = trips(&store, |s| s.import(&document(3_000)));
    let e = imported.unwrap_err();
    assert_eq!(e.kind(), runqy_vault::ErrorKind::Storage, "{e}");
    assert!(e.to_string().contains("refuse"), "{e}");
    assert!(!store.vault_exists("vault-00").unwrap());
    assert!(!store.vault_exists("vault-01").unwrap());

    let e = store
        .set("app", "REFUSED", "never-stored", true)
        .unwrap_err();
    assert_eq!(e.kind(), runqy_vault::ErrorKind::Storage, "{e}");
    assert_eq!(
        store.get("app", "REFUSED").unwrap_err().kind(),
        runqy_vault::ErrorKind::EntryNotFound
    );
    // The pool's connection left no transaction open: these commit.
    store.set("app", "A", "a2", true).unwrap();
    assert_eq!(store.get("app", "A").unwrap().expose(), "a2");
    admin
        .batch_execute("ALTER TABLE runqy_vault_versions DROP CONSTRAINT refuse")
        .unwrap();
    let (whole_trips, imported) = trips(&store, |s| s.import(&document(3_000)));
    assert_eq!(imported.unwrap(), 3_000);
    // The refused import stopped at the trip that carried the refused row,
    // before the trips that send the rest and COMMIT.
    assert!(
        refused_trips < whole_trips,
        "refused after {refused_trips} round trips, a whole import takes {whole_trips}"
    );
    let ops: Vec<String> = store
        .audit_log(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .skip(records as usize)
        .map(|r| r.operation)
        .collect();
    assert_eq!(ops, ["set", "get", "import"]);
    assert_eq!(store.audit_verify().unwrap(), records + 3);
}

/// A streamed import holds at most about 1 MiB of values for one read of
/// their newest versions: 20 values of 60,000 bytes into a fresh vault take
/// exactly one round trip more than 20 of 8 bytes (the second batch's read:
/// 18 values reach the bound), and the same round trips for the rest.
#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn a_streamed_import_reads_newest_versions_once_per_mebibyte_of_values() {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = warm_store(&db);
    let doc = |vault: &str, len: usize| {
        let entries: Vec<serde_json::Value> = (0..20)
            .map(|k| serde_json::json!({"key": format!("KEY_{k:02}"), "value": "x".repeat(len)}))
            .collect();
        serde_json::json!({"format": 1, "vaults": [{"name": vault, "entries": entries}]})
            .to_string()
    };
    let streamed = |json: String| {
        trips(&store, |s| {
            s.import_from("doc.json", false, || Ok(std::io::Cursor::new(json.clone())))
        })
    };
    // A warm-up of the same statements, then one of each size.
    streamed(doc("warm", 8)).1.unwrap();
    let (small, n) = streamed(doc("small", 8));
    assert_eq!(n.unwrap(), 20);
    let (big, n) = streamed(doc("big", 60_000));
    assert_eq!(n.unwrap(), 20);
    assert_eq!(
        big,
        small + 1,
        "round trips: {small} for 8-byte values, {big} for 60,000"
    );
}

/// A write whose first round trip (BEGIN and what it reads ahead) the
/// server refuses, here a `set` that waited for the audit head past its
/// statement timeout of 2 s, fails and leaves no transaction open on the
/// connection it gives back: the next calls on it succeed (they met
/// "current transaction is aborted" before).
#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn a_write_refused_in_its_first_round_trip_leaves_the_connection_usable() {
    let db = support::TempDatabase::new(&support::postgres_url());
    warm_store(&db);
    let url = support::with_params(&db.url, "options=-c%20statement_timeout%3D2s");
    let store = Store::open(url.as_str(), Some(&key_text(1))).unwrap();
    let mut holder = db.client();
    holder
        .batch_execute(
            "BEGIN; SELECT value FROM runqy_vault_meta WHERE name = 'audit_head' FOR UPDATE",
        )
        .unwrap();
    let e = store.set("app", "A", "a2", true).unwrap_err();
    assert_eq!(e.kind(), runqy_vault::ErrorKind::Storage, "{e}");
    assert!(e.to_string().contains("statement timeout"), "{e}");
    holder.batch_execute("COMMIT").unwrap();
    store.set("app", "A", "a3", true).unwrap();
    assert_eq!(store.get("app", "A").unwrap().expose(), "a3");
    assert_eq!(store.history("app", "A").unwrap().len(), 2, "a1 and a3");
}

/// A read whose first round trip the server refuses for what it names (here
/// the history table, dropped by hand after the store opened: the entry's
/// newest version is read ahead from it) still hands out its value, read the
/// way it was before the read ahead, and this store's later reads go that way
/// at once instead of paying for a refused trip each time.
#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn a_read_whose_read_ahead_the_server_refuses_runs_without_it_from_then_on() {
    let db = support::TempDatabase::new(&support::postgres_url());
    let store = warm_store(&db);
    store.set_audit_reads(false).unwrap();
    assert_eq!(store.get("app", "A").unwrap().expose(), "a1");
    db.client()
        .batch_execute("DROP TABLE runqy_vault_versions")
        .unwrap();

    // The refused trip, its ROLLBACK, then the flag and the entry the way
    // they went before, whose statement this connection prepares first.
    let (first, r) = trips(&store, |s| s.get("app", "A"));
    assert_eq!(r.unwrap().expose(), "a1");
    // The flag and the entry only.
    let (then, r) = trips(&store, |s| s.get("app", "A"));
    assert_eq!(r.unwrap().expose(), "a1");
    assert_eq!((first, then), (5, 2));
}
