//! The store's behaviour against SPEC §2–7, on a real SQLite file.

use std::collections::BTreeMap;
use std::sync::Arc;

use runqy_vault::cipher::{Cipher, EntryRef};
use runqy_vault::{
    ErrorKind, ExportDocument, Format, KeySet, KeySource, MasterKey, Store, VaultSummary,
};
use rusqlite::Connection;
use tempfile::TempDir;

fn key(byte: u8) -> MasterKey {
    MasterKey::from_bytes([byte; 32])
}

fn key_text(byte: u8) -> String {
    key(byte).to_base64().expose().to_owned()
}

struct Fixture {
    dir: TempDir,
    store: Store,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("v.db"), Some(&key_text(1))).unwrap();
        Fixture { dir, store }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("v.db")
    }

    fn reopen(&self, key_byte: u8) -> runqy_vault::Result<Store> {
        Store::open(self.db(), Some(&key_text(key_byte)))
    }

    fn raw(&self) -> Connection {
        Connection::open(self.db()).unwrap()
    }

    /// Closes the store, keeping the directory (and so the database).
    fn close(self) -> Closed {
        drop(self.store);
        Closed { dir: self.dir }
    }
}

struct Closed {
    dir: TempDir,
}

impl Closed {
    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("v.db")
    }

    fn raw(&self) -> Connection {
        Connection::open(self.db()).unwrap()
    }
}

fn kind<T: std::fmt::Debug>(r: runqy_vault::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn new_store_has_upstream_tables_and_meta_v2() {
    let f = Fixture::new();
    let conn = f.raw();
    let objects: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        objects,
        [
            "idx_vault_entries_key",
            "idx_vault_entries_vault_id",
            "idx_vaults_name",
            "runqy_vault_meta",
            "vault_entries",
            "vaults"
        ]
    );
    let meta = |name: &str| -> String {
        conn.query_row(
            "SELECT value FROM runqy_vault_meta WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(meta("format"), "v2");
    assert_eq!(meta("key_id"), key(1).key_id().to_string());
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(f.store.format(), Some(Format::V2));
}

#[test]
fn set_get_round_trip_with_awkward_values() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    for (k, v) in [
        ("EMPTY", ""),
        ("MULTI", "line1\nline2\r\n"),
        ("SHELL", "a=b \"q\" 'q' $HOME ${X} `x`"),
        ("UNICODE", "pässwörd 🔑"),
    ] {
        f.store.set("v", k, v, true).unwrap();
        assert_eq!(f.store.get("v", k).unwrap().expose(), v);
    }
    let big = "x".repeat(65_536);
    f.store.set("v", "BIG", &big, true).unwrap();
    assert_eq!(f.store.get("v", "BIG").unwrap().expose(), big);
}

#[test]
fn set_updates_value_and_flips_is_secret() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "first-value", true).unwrap();
    f.store.set("v", "K", "second-value", false).unwrap();
    assert_eq!(f.store.get("v", "K").unwrap().expose(), "second-value");
    let entries = f.store.entries("v").unwrap();
    assert_eq!(entries.len(), 1);
    assert!(!entries[0].is_secret);
    assert_eq!(entries[0].value, "second-value"); // not secret: shown in full
    f.store.set("v", "K", "third-value", true).unwrap();
    let entries = f.store.entries("v").unwrap();
    assert!(entries[0].is_secret);
    assert_eq!(entries[0].value, "th****ue");
}

#[test]
fn list_is_sorted_with_entry_counts() {
    let f = Fixture::new();
    assert!(f.store.list_vaults().unwrap().is_empty());
    f.store.create_vault("zeta", "last").unwrap();
    f.store.create_vault("alpha", "first").unwrap();
    f.store.create_vault("Mid", "").unwrap();
    f.store.set("alpha", "A", "1", true).unwrap();
    f.store.set("alpha", "B", "2", true).unwrap();
    f.store.set("zeta", "A", "1", false).unwrap();
    let list = f.store.list_vaults().unwrap();
    let summary = |n: &str, d: &str, c: u64| VaultSummary {
        name: n.into(),
        description: d.into(),
        entry_count: c,
    };
    assert_eq!(
        list,
        [
            summary("Mid", "", 0),
            summary("alpha", "first", 2),
            summary("zeta", "last", 1)
        ]
    );
}

#[test]
fn show_sorts_entries_masks_secrets_and_formats_timestamps() {
    let f = Fixture::new();
    f.store.create_vault("api-keys", "model keys").unwrap();
    f.store
        .set("api-keys", "ZED", "sk-proj-abc123xx", true)
        .unwrap();
    f.store.set("api-keys", "ALPHA", "abc", true).unwrap();
    f.store
        .set("api-keys", "PLAIN", "visible-value", false)
        .unwrap();
    let d = f.store.show("api-keys").unwrap();
    assert_eq!(d.name, "api-keys");
    assert_eq!(d.description, "model keys");
    let got: Vec<(&str, &str, bool)> = d
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str(), e.is_secret))
        .collect();
    assert_eq!(
        got,
        [
            ("ALPHA", "****", true),
            ("PLAIN", "visible-value", false),
            ("ZED", "sk****xx", true)
        ]
    );
    for ts in [
        &d.created_at,
        &d.updated_at,
        &d.entries[0].created_at,
        &d.entries[0].updated_at,
    ] {
        // RFC 3339 UTC: 2024-01-15T10:30:00Z
        assert_eq!(ts.len(), 20, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }
}

#[test]
fn set_bumps_vault_updated_at() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.raw()
        .execute("UPDATE vaults SET updated_at = '2020-01-01 00:00:00'", [])
        .unwrap();
    assert_eq!(
        f.store.show("v").unwrap().updated_at,
        "2020-01-01T00:00:00Z"
    );
    f.store.set("v", "K", "x", true).unwrap();
    assert_ne!(
        f.store.show("v").unwrap().updated_at,
        "2020-01-01T00:00:00Z"
    );
}

#[test]
fn timestamps_written_by_the_go_driver_are_shown_in_utc() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.raw()
        .execute(
            "UPDATE vaults SET created_at = '2024-01-15 12:30:00.123456789+02:00'",
            [],
        )
        .unwrap();
    assert_eq!(
        f.store.show("v").unwrap().created_at,
        "2024-01-15T10:30:00Z"
    );
}

#[test]
fn create_existing_vault_is_vault_exists() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    let err = f.store.create_vault("v", "again").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultExists);
    assert_eq!(err.http_status(), 409);
    assert_eq!(err.to_string(), "vault 'v' already exists");
}

#[test]
fn delete_vault_deletes_its_entries() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.create_vault("keep", "").unwrap();
    f.store.set("v", "A", "1", true).unwrap();
    f.store.set("keep", "A", "1", true).unwrap();
    f.store.delete_vault("v").unwrap();
    let rows: i64 = f
        .raw()
        .query_row("SELECT COUNT(*) FROM vault_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    assert!(!f.store.vault_exists("v").unwrap());
    assert_eq!(kind(f.store.delete_vault("v")), ErrorKind::VaultNotFound);
    // A vault made again under the same name starts empty.
    f.store.create_vault("v", "").unwrap();
    assert!(f.store.entries("v").unwrap().is_empty());
}

#[test]
fn missing_vault_and_entry_errors_name_them_with_404() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    let err = f.store.get("nope", "K").unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::VaultNotFound, 404)
    );
    assert_eq!(err.to_string(), "vault 'nope' not found");
    let err = f.store.get("v", "K").unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::EntryNotFound, 404)
    );
    assert_eq!(err.to_string(), "entry 'K' not found in vault 'v'");
    assert_eq!(kind(f.store.unset("v", "K")), ErrorKind::EntryNotFound);
    assert_eq!(kind(f.store.unset("nope", "K")), ErrorKind::VaultNotFound);
    assert_eq!(
        kind(f.store.set("nope", "K", "x", true)),
        ErrorKind::VaultNotFound
    );
    assert_eq!(kind(f.store.show("nope")), ErrorKind::VaultNotFound);
    assert_eq!(kind(f.store.entries("nope")), ErrorKind::VaultNotFound);
}

#[test]
fn unset_removes_only_that_entry() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "A", "1", true).unwrap();
    f.store.set("v", "B", "2", true).unwrap();
    f.store.unset("v", "A").unwrap();
    assert_eq!(kind(f.store.get("v", "A")), ErrorKind::EntryNotFound);
    assert_eq!(f.store.get("v", "B").unwrap().expose(), "2");
}

#[test]
fn bad_names_and_values_are_refused_before_anything_is_written() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    for (name, want) in [
        ("", ErrorKind::InvalidName),
        ("bad name", ErrorKind::InvalidName),
        (&"x".repeat(65) as &str, ErrorKind::InvalidName),
        ("Path", ErrorKind::ReservedName),
    ] {
        assert_eq!(kind(f.store.create_vault(name, "")), want, "{name}");
    }
    for (k, want) in [
        ("", ErrorKind::InvalidName),
        ("1ABC", ErrorKind::InvalidName),
        (&"K".repeat(257) as &str, ErrorKind::InvalidName),
        ("ld_preload", ErrorKind::ReservedName),
        ("RUNQY_X", ErrorKind::ReservedName),
        ("DYLD_X", ErrorKind::ReservedName),
    ] {
        let err = f.store.set("v", k, "x", true).unwrap_err();
        assert_eq!(err.kind(), want, "{k}");
        assert_eq!(err.http_status(), 400);
    }
    let err = f.store.set("v", "K", "top\0secret", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(!err.to_string().contains("secret"), "{err}");
    assert_eq!(
        kind(f.store.set("v", "K", &"x".repeat(65_537), true)),
        ErrorKind::InvalidValue
    );
    let rows: i64 = f
        .raw()
        .query_row("SELECT COUNT(*) FROM vault_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(f.store.list_vaults().unwrap().len(), 1);
}

#[test]
fn resolve_later_vaults_win_with_provenance() {
    let f = Fixture::new();
    for v in ["base", "team", "queue"] {
        f.store.create_vault(v, "").unwrap();
    }
    f.store.set("base", "SHARED", "from-base", true).unwrap();
    f.store.set("base", "ONLY_BASE", "b", true).unwrap();
    f.store.set("team", "SHARED", "from-team", true).unwrap();
    f.store.set("queue", "SHARED", "from-queue", true).unwrap();
    f.store.set("queue", "ONLY_QUEUE", "q", false).unwrap();
    let r = f.store.resolve(&["base", "team", "queue"]).unwrap();
    let values: BTreeMap<&str, &str> = r
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    assert_eq!(
        values,
        BTreeMap::from([
            ("ONLY_BASE", "b"),
            ("ONLY_QUEUE", "q"),
            ("SHARED", "from-queue")
        ])
    );
    assert_eq!(r.sources["SHARED"].vault, "queue");
    assert_eq!(r.sources["SHARED"].shadowed, ["base", "team"]);
    assert_eq!(r.sources["ONLY_BASE"].vault, "base");
    assert!(r.sources["ONLY_BASE"].shadowed.is_empty());
    // Order matters: reversed, base wins.
    let r = f.store.resolve(&["queue", "team", "base"]).unwrap();
    assert_eq!(r.values["SHARED"].expose(), "from-base");
}

#[test]
fn resolve_names_every_missing_vault_at_once() {
    let f = Fixture::new();
    f.store.create_vault("here", "").unwrap();
    let err = f.store.resolve(&["gone1", "here", "gone2"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultNotFound);
    assert_eq!(err.to_string(), "vaults 'gone1', 'gone2' not found");
}

#[test]
fn registration_payload_json_and_git_token() {
    let f = Fixture::new();
    f.store.create_vault("api-keys", "").unwrap();
    f.store.create_vault("model-credentials", "").unwrap();
    f.store.create_vault("ci", "").unwrap();
    f.store
        .set("api-keys", "OPENAI_API_KEY", "sk-old", true)
        .unwrap();
    f.store
        .set("model-credentials", "OPENAI_API_KEY", "sk-new", true)
        .unwrap();
    f.store
        .set("model-credentials", "HF_TOKEN", "hf_x", true)
        .unwrap();
    f.store.set("ci", "GITHUB_TOKEN", "ghp_abc", true).unwrap();
    let p = f
        .store
        .registration_payload(
            &["api-keys", "model-credentials"],
            Some("vault://ci/GITHUB_TOKEN"),
        )
        .unwrap();
    assert_eq!(
        p.to_json().expose(),
        r#"{"git_token":"ghp_abc","vaults":{"HF_TOKEN":"hf_x","OPENAI_API_KEY":"sk-new"}}"#
    );
    assert!(p.warnings.is_empty());
}

#[test]
fn registration_payload_bad_git_token_reference_warns_instead_of_failing() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "A", "1", true).unwrap();
    for (reference, says) in [
        ("ci/GITHUB_TOKEN", "vault://"),
        ("vault://nope/TOKEN", "vault 'nope' not found"),
        (
            "vault://v/MISSING",
            "entry 'MISSING' not found in vault 'v'",
        ),
        ("vault://v", "'/'"),
    ] {
        let p = f
            .store
            .registration_payload(&["v"], Some(reference))
            .unwrap();
        assert_eq!(p.to_json().expose(), r#"{"vaults":{"A":"1"}}"#);
        assert_eq!(p.warnings.len(), 1, "{reference}");
        assert!(
            p.warnings[0].contains(says),
            "{reference}: {}",
            p.warnings[0]
        );
        assert_eq!(
            p.to_json_with_warnings().expose(),
            serde_json::json!({"vaults": {"A": "1"}, "warnings": [p.warnings[0].clone()]})
                .to_string()
        );
    }
}

#[test]
fn registration_payload_of_nothing_is_empty_object() {
    let f = Fixture::new();
    let p = f.store.registration_payload::<&str>(&[], None).unwrap();
    assert_eq!(p.to_json().expose(), "{}");
    f.store.create_vault("empty", "").unwrap();
    let p = f.store.registration_payload(&["empty"], None).unwrap();
    assert_eq!(p.to_json().expose(), "{}");
}

#[test]
fn disabled_store_refuses_every_operation_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("v.db"), KeySource::None).unwrap();
    assert!(!store.is_enabled());
    let err = store.list_vaults().unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Disabled, 503));
    let msg = err.to_string();
    assert!(msg.contains("vaults not configured") && msg.contains("openssl rand -base64 32"));
    assert_eq!(kind(store.create_vault("v", "")), ErrorKind::Disabled);
    assert_eq!(kind(store.get("v", "K")), ErrorKind::Disabled);
    assert_eq!(
        kind(store.registration_payload(&["v"], None)),
        ErrorKind::Disabled
    );
    assert_eq!(kind(store.export()), ErrorKind::Disabled);
    // Nothing was created on disk.
    assert!(!dir.path().join("v.db").exists());
}

#[test]
fn wrong_key_is_key_mismatch_at_open_naming_both_ids() {
    let f = Fixture::new();
    let err = f.reopen(2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
    let msg = err.to_string();
    assert!(msg.contains(&key(1).key_id().to_string()), "{msg}");
    assert!(msg.contains(&key(2).key_id().to_string()), "{msg}");
    assert!(!msg.contains(&key_text(2)), "{msg}");
}

#[test]
fn previous_key_opens_store_and_new_values_use_current_key() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "OLD", "under-key-1", true).unwrap();
    let f = f.close();
    let keys = KeySet {
        current: key(2),
        previous: vec![key(1)],
    };
    let store = Store::open_with(f.dir.path().join("v.db"), KeySource::Explicit(keys)).unwrap();
    assert_eq!(store.get("v", "OLD").unwrap().expose(), "under-key-1");
    store.set("v", "NEW", "under-key-2", true).unwrap();
    let blob: Vec<u8> = Connection::open(f.dir.path().join("v.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM vault_entries WHERE key = 'NEW'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(&blob[4..12], &key(2).key_id().0);
}

#[test]
fn invalid_master_key_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path().join("v.db"), Some("dG9vIHNob3J0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
    assert!(err.to_string().contains("9 bytes"), "{err}");
    assert!(!dir.path().join("v.db").exists());
}

#[test]
fn blob_copied_to_another_entry_fails_decryption_naming_vault_and_key() {
    let f = Fixture::new();
    f.store.create_vault("a", "").unwrap();
    f.store.create_vault("b", "").unwrap();
    f.store.set("a", "SRC", "secret-a", true).unwrap();
    f.store.set("b", "DST", "secret-b", true).unwrap();
    f.raw()
        .execute(
            "UPDATE vault_entries SET value = (SELECT value FROM vault_entries WHERE key = 'SRC')
             WHERE key = 'DST'",
            [],
        )
        .unwrap();
    let err = f.store.get("b", "DST").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for key 'DST' in vault 'b'"
    );
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn flipping_is_secret_in_the_database_fails_decryption() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    f.raw()
        .execute("UPDATE vault_entries SET is_secret = 0", [])
        .unwrap();
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::DecryptionFailed);
}

#[test]
fn corrupted_blob_fails_decryption() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    f.raw()
        .execute(
            "UPDATE vault_entries SET value = substr(value, 1, length(value) - 1) || x'00'",
            [],
        )
        .unwrap();
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::DecryptionFailed);
    assert_eq!(kind(f.store.show("v")), ErrorKind::DecryptionFailed);
}

#[test]
fn file_that_is_not_sqlite_is_a_clear_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Store::open(&path, Some(&key_text(1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let msg = err.to_string();
    assert!(
        msg.contains("notes.txt") && msg.contains("not a SQLite database"),
        "{msg}"
    );
}

#[test]
fn read_only_database_is_a_clear_storage_error_and_unchanged() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    let f = f.close();
    // A database without our meta table needs a write at open, which a read-only file refuses.
    f.raw()
        .execute_batch("DROP TABLE runqy_vault_meta; PRAGMA journal_mode = DELETE;")
        .unwrap();
    let before = std::fs::read(f.db()).unwrap();
    // Root ignores file modes, so read-only is asked of SQLite itself through a URI.
    let uri = format!("file:{}?mode=ro", f.db().display());
    let err = Store::open(&uri, Some(&key_text(1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let msg = err.to_string();
    assert!(msg.contains("read-only") && msg.contains("v.db"), "{msg}");
    assert_eq!(std::fs::read(f.db()).unwrap(), before);
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
        let err = Store::open(f.db(), Some(&key_text(1))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert_eq!(std::fs::read(f.db()).unwrap(), before);
    }
}

#[test]
fn upstream_database_opens_as_legacy_and_stays_readable_by_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runqy.db");
    let upstream = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    });
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
                 description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                 updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
             CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
                 key TEXT NOT NULL, value BLOB NOT NULL, is_secret INTEGER DEFAULT 1,
                 created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                 updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(vault_id, key));
             INSERT INTO vaults (name, description) VALUES ('prod', 'from the Go server');",
        )
        .unwrap();
        let e = EntryRef {
            vault: "prod",
            key: "DB_PASSWORD",
            is_secret: true,
        };
        let blob = upstream.encrypt(Format::Legacy, e, b"hunter2-long");
        conn.execute(
            "INSERT INTO vault_entries (vault_id, key, value, is_secret) VALUES (1, 'DB_PASSWORD', ?1, 1)",
            [blob],
        )
        .unwrap();
    }
    let store = Store::open(&path, Some(&key_text(1))).unwrap();
    assert_eq!(store.format(), Some(Format::Legacy));
    assert_eq!(
        store.get("prod", "DB_PASSWORD").unwrap().expose(),
        "hunter2-long"
    );
    store.set("prod", "NEW", "written-by-us", true).unwrap();
    // The new blob is legacy: no magic, decryptable without associated data.
    let blob: Vec<u8> = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM vault_entries WHERE key = 'NEW'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(blob.len(), 12 + "written-by-us".len() + 16);
    let as_upstream = EntryRef {
        vault: "x",
        key: "y",
        is_secret: false,
    };
    assert_eq!(
        upstream.decrypt(as_upstream, &blob).unwrap().0.expose(),
        "written-by-us"
    );
    drop(store);
    // The key id was recorded from the entry that decrypted; another key is refused.
    assert_eq!(
        kind(Store::open(&path, Some(&key_text(2)))),
        ErrorKind::KeyMismatch
    );

    // migrate rewrites to v2 in one go; afterwards the store says v2 and values still read.
    let store = Store::open(&path, Some(&key_text(1))).unwrap();
    assert_eq!(store.migrate().unwrap(), 2);
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(
        store.get("prod", "DB_PASSWORD").unwrap().expose(),
        "hunter2-long"
    );
    drop(store);
    let store = Store::open(&path, Some(&key_text(1))).unwrap();
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(store.migrate().unwrap(), 0);
    let blob: Vec<u8> = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM vault_entries WHERE key = 'DB_PASSWORD'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(&blob[..4], b"RQV\x02");
}

#[test]
fn legacy_store_with_undecryptable_entries_is_key_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runqy.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
             description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
             updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
         CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
             vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
             key TEXT NOT NULL, value BLOB NOT NULL, is_secret INTEGER DEFAULT 1,
             created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
             updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(vault_id, key));
         INSERT INTO vaults (name) VALUES ('prod');",
    )
    .unwrap();
    let other = Cipher::new(&KeySet {
        current: key(9),
        previous: vec![],
    });
    let blob = other.encrypt(
        Format::Legacy,
        EntryRef {
            vault: "",
            key: "",
            is_secret: true,
        },
        b"x",
    );
    conn.execute(
        "INSERT INTO vault_entries (vault_id, key, value) VALUES (1, 'K', ?1)",
        [blob],
    )
    .unwrap();
    drop(conn);
    let err = Store::open(&path, Some(&key_text(1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
}

#[test]
fn rotate_key_reencrypts_everything_and_retires_the_old_key() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    for i in 0..50 {
        f.store
            .set("v", &format!("K{i}"), &format!("value-{i}"), i % 2 == 0)
            .unwrap();
    }
    assert_eq!(f.store.rotate_key(&key(2)).unwrap(), 50);
    assert_eq!(f.store.get("v", "K7").unwrap().expose(), "value-7");
    assert_eq!(f.store.key_id(), Some(key(2).key_id()));
    let f = f.close();
    assert_eq!(
        kind(Store::open(f.dir.path().join("v.db"), Some(&key_text(1)))),
        ErrorKind::KeyMismatch
    );
    let store = Store::open(f.dir.path().join("v.db"), Some(&key_text(2))).unwrap();
    for i in 0..50 {
        assert_eq!(
            store.get("v", &format!("K{i}")).unwrap().expose(),
            format!("value-{i}")
        );
    }
}

#[test]
fn rotate_key_to_the_current_key_is_refused() {
    let f = Fixture::new();
    let err = f.store.rotate_key(&key(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("current key"));
}

#[test]
fn rotate_key_with_an_undecryptable_entry_changes_nothing() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "GOOD", "good-value", true).unwrap();
    f.store.set("v", "BAD", "bad-value", true).unwrap();
    f.raw()
        .execute(
            "UPDATE vault_entries SET value = x'00112233' WHERE key = 'BAD'",
            [],
        )
        .unwrap();
    let err = f.store.rotate_key(&key(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert!(err.to_string().contains("'BAD'"));
    // Still wholly under key 1.
    assert_eq!(f.store.get("v", "GOOD").unwrap().expose(), "good-value");
    let f = f.close();
    assert!(Store::open(f.dir.path().join("v.db"), Some(&key_text(1))).is_ok());
}

#[test]
fn export_import_round_trip_merges_and_replaces() {
    let f = Fixture::new();
    f.store.create_vault("a", "desc a").unwrap();
    f.store.set("a", "X", "x-value", true).unwrap();
    f.store.set("a", "Y", "y-value", false).unwrap();
    f.store.create_vault("empty", "").unwrap();
    let doc = f.store.export().unwrap();
    let json = doc.to_json();
    let parsed = ExportDocument::from_json(json.expose()).unwrap();
    assert_eq!(parsed, doc);
    let value: serde_json::Value = serde_json::from_str(json.expose()).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"format": 1, "vaults": [
            {"name": "a", "description": "desc a", "entries": [
                {"key": "X", "value": "x-value", "is_secret": true},
                {"key": "Y", "value": "y-value", "is_secret": false}]},
            {"name": "empty", "description": "", "entries": []}]})
    );

    let other = Fixture::new();
    other.store.create_vault("a", "old desc").unwrap();
    other.store.set("a", "X", "old-x", true).unwrap();
    other.store.set("a", "KEEP", "kept", true).unwrap();
    assert_eq!(other.store.import(&parsed).unwrap(), 2);
    assert_eq!(other.store.get("a", "X").unwrap().expose(), "x-value");
    assert_eq!(other.store.get("a", "KEEP").unwrap().expose(), "kept");
    assert_eq!(other.store.show("a").unwrap().description, "desc a");
    assert!(other.store.vault_exists("empty").unwrap());
}

#[test]
fn import_with_one_bad_entry_writes_nothing() {
    let f = Fixture::new();
    let doc = r#"{"format": 1, "vaults": [
        {"name": "good", "description": "", "entries": [{"key": "A", "value": "1", "is_secret": true}]},
        {"name": "also", "description": "", "entries": [
            {"key": "B", "value": "2", "is_secret": true},
            {"key": "LD_PRELOAD", "value": "/evil.so", "is_secret": true}]}]}"#;
    let err = ExportDocument::from_json(doc).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReservedName);
    assert!(err.to_string().contains("LD_PRELOAD"));
    for bad in [
        "not json",
        r#"{"format": 2, "vaults": []}"#,
        r#"{"format": 1}"#,
        r#"{"format": 1, "vaults": [{"name": "v", "entries": [{"key": "K", "value": 5}]}]}"#,
        r#"{"format": 1, "vaults": [{"name": "v", "entries": [{"key": "K", "value": "a\u0000b"}]}]}"#,
        r#"{"format": 1, "vaults": [{"name": "v"}, {"name": "v"}]}"#,
    ] {
        assert!(ExportDocument::from_json(bad).is_err(), "{bad}");
    }
    let msg = ExportDocument::from_json(
        r#"{"format": 1, "vaults": [{"name": "v", "entries": [{"key": "K", "value": "s3cr3t", "is_secret": "s3cr3t"}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(!msg.contains("s3cr3t"), "{msg}");
    assert!(f.store.list_vaults().unwrap().is_empty());
}

#[test]
fn store_is_usable_from_many_threads_at_once() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    let store = Arc::new(f.store);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..20 {
                    let k = format!("T{t}_{i}");
                    store.set("v", &k, &format!("v{t}-{i}"), true).unwrap();
                    assert_eq!(store.get("v", &k).unwrap().expose(), format!("v{t}-{i}"));
                    store.registration_payload(&["v"], None).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.list_vaults().unwrap()[0].entry_count, 160);
}

#[test]
fn two_connections_setting_the_same_new_key_both_succeed() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    let second = f.reopen(1).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    std::thread::scope(|s| {
        for (store, value) in [(&f.store, "one"), (&second, "two")] {
            let barrier = Arc::clone(&barrier);
            s.spawn(move || {
                for i in 0..50 {
                    barrier.wait();
                    store.set("v", &format!("K{i}"), value, true).unwrap();
                }
            });
        }
    });
    assert_eq!(f.store.list_vaults().unwrap()[0].entry_count, 50);
}

#[test]
fn debug_output_of_store_and_secrets_hides_values() {
    let f = Fixture::new();
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "super-secret-value", true).unwrap();
    let value = f.store.get("v", "K").unwrap();
    let payload = f.store.registration_payload(&["v"], None).unwrap();
    let doc = f.store.export().unwrap();
    let dbg = format!("{:?} {:?} {:?} {:?}", f.store, value, payload, doc);
    assert!(!dbg.contains("super-secret-value"), "{dbg}");
    assert!(dbg.contains("[REDACTED]"));
}
