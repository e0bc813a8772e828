//! The store's behaviour against SPEC §2–7, the same tests on both backends:
//! a real SQLite file, and a fresh database on the PostgreSQL server that
//! `RUNQY_VAULT_TEST_POSTGRES_URL` names (`bash scripts/with-postgres.sh cargo
//! test` starts one; without it the test runner reports the `postgres::` tests
//! as ignored, with the reason). Tests of one backend's own behaviour are named
//! `sqlite_*` / `postgres_*`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use runqy_vault::cipher::{Binding, Cipher};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
enum Backend {
    Sqlite,
    Postgres,
}

/// Instantiates each test function `fn name(b: Backend)` as `sqlite::name`
/// and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[test]
                #[cfg_attr(not(runqy_vault_pg_tests), ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)")]
                fn $name() {
                    super::$name(super::Backend::Postgres)
                }
            )*
        }
    };
}

/// A fresh, empty database on one backend, gone when dropped.
struct Db {
    backend: Backend,
    dir: TempDir,
    #[cfg(feature = "postgres")]
    pg: Option<support::TempDatabase>,
}

impl Db {
    fn new(backend: Backend) -> Db {
        Db {
            backend,
            dir: tempfile::tempdir().unwrap(),
            #[cfg(feature = "postgres")]
            pg: match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(support::TempDatabase::new(&support::postgres_url())),
            },
        }
    }

    /// What `Store::open` is given: the SQLite path or the PostgreSQL URL.
    fn location(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.dir.path().join("v.db").to_str().unwrap().to_owned(),
            #[cfg(feature = "postgres")]
            Backend::Postgres => self.pg.as_ref().unwrap().url.clone(),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// The SQLite file (SQLite tests only).
    fn db(&self) -> std::path::PathBuf {
        assert_eq!(self.backend, Backend::Sqlite);
        self.dir.path().join("v.db")
    }

    fn raw(&self) -> Connection {
        Connection::open(self.db()).unwrap()
    }

    fn open(&self, key_byte: u8) -> runqy_vault::Result<Store> {
        Store::open(self.location(), Some(&key_text(key_byte)))
    }

    fn open_with(&self, source: KeySource) -> runqy_vault::Result<Store> {
        Store::open_with(self.location(), source)
    }

    #[cfg(feature = "postgres")]
    fn pg(&self) -> ::postgres::Client {
        self.pg.as_ref().unwrap().client()
    }

    /// Runs SQL that both backends understand, straight on the database.
    fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => Connection::open(self.location())
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            #[cfg(feature = "postgres")]
            Backend::Postgres => self.pg().batch_execute(sql).unwrap(),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// The one number a query returns.
    fn count(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => Connection::open(self.location())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            #[cfg(feature = "postgres")]
            Backend::Postgres => self.pg().query_one(sql, &[]).unwrap().get(0),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// Whether the store made any table: a disabled or refused open must not.
    fn has_tables(&self) -> bool {
        match self.backend {
            Backend::Sqlite => self.dir.path().join("v.db").exists(),
            Backend::Postgres => {
                self.count(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
                ) > 0
            }
        }
    }

    /// The stored `value` of the entry `key` (keys are unique in these tests).
    fn value_of(&self, key: &str) -> Vec<u8> {
        let sql = "SELECT value FROM vault_entries WHERE key = ";
        match self.backend {
            Backend::Sqlite => Connection::open(self.location())
                .unwrap()
                .query_row(&format!("{sql}?1"), [key], |r| r.get(0))
                .unwrap(),
            #[cfg(feature = "postgres")]
            Backend::Postgres => self
                .pg()
                .query_one(&format!("{sql}$1"), &[&key])
                .unwrap()
                .get(0),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// Overwrites the stored `value` of the entry `key`, as an attacker or a bug could.
    fn set_value_of(&self, key: &str, value: &[u8]) {
        let sql = "UPDATE vault_entries SET value = ";
        match self.backend {
            Backend::Sqlite => {
                Connection::open(self.location())
                    .unwrap()
                    .execute(
                        &format!("{sql}?1 WHERE key = ?2"),
                        rusqlite::params![value, key],
                    )
                    .unwrap();
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                self.pg()
                    .execute(
                        &format!("{sql}$1 WHERE key = $2"),
                        &[&value as &(dyn ::postgres::types::ToSql + Sync), &key],
                    )
                    .unwrap();
            }
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// Inserts an entry of vault id 1 the way the runqy server would.
    fn insert_upstream_entry(&self, key: &str, value: &[u8]) {
        let sql = "INSERT INTO vault_entries (vault_id, key, value) VALUES (1, ";
        match self.backend {
            Backend::Sqlite => {
                Connection::open(self.location())
                    .unwrap()
                    .execute(&format!("{sql}?1, ?2)"), rusqlite::params![key, value])
                    .unwrap();
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                self.pg()
                    .execute(
                        &format!("{sql}$1, $2)"),
                        &[&key as &(dyn ::postgres::types::ToSql + Sync), &value],
                    )
                    .unwrap();
            }
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!(),
        }
    }

    /// Creates the runqy server's own tables, as its database has them (no meta table).
    fn create_upstream_tables(&self) {
        self.exec(match self.backend {
            Backend::Sqlite => support::UPSTREAM_SQLITE_TABLES,
            Backend::Postgres => support::UPSTREAM_POSTGRES_TABLES,
        });
    }
}

/// A store opened with key 1 on a fresh database.
struct Fixture {
    // Declared first so it is dropped (its connections closed) before the database.
    store: Store,
    db: Db,
}

impl Fixture {
    fn new(backend: Backend) -> Fixture {
        let db = Db::new(backend);
        let store = db.open(1).unwrap();
        Fixture { store, db }
    }

    fn reopen(&self, key_byte: u8) -> runqy_vault::Result<Store> {
        self.db.open(key_byte)
    }

    fn raw(&self) -> Connection {
        self.db.raw()
    }

    /// Closes the store, keeping the database.
    fn close(self) -> Db {
        drop(self.store);
        self.db
    }
}

fn kind<T: std::fmt::Debug>(r: runqy_vault::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn sqlite_new_store_has_upstream_tables_and_meta_v2() {
    let f = Fixture::new(Backend::Sqlite);
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
            "runqy_vault_audit",
            "runqy_vault_meta",
            "runqy_vault_revision_entry_delete",
            "runqy_vault_revision_entry_insert",
            "runqy_vault_revision_entry_update",
            "runqy_vault_revision_vault_delete",
            "runqy_vault_revision_vault_insert",
            "runqy_vault_revision_vault_rename",
            "runqy_vault_versions",
            "vault_entries",
            "vaults"
        ]
    );
    // The versions table: keyed by vault name and key, one row per version.
    let versions_sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'runqy_vault_versions'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        versions_sql.contains("UNIQUE(vault, key, version)"),
        "{versions_sql}"
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

fn set_get_round_trip_with_awkward_values(b: Backend) {
    let f = Fixture::new(b);
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

fn set_updates_value_and_flips_is_secret(b: Backend) {
    let f = Fixture::new(b);
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

fn list_is_sorted_with_entry_counts(b: Backend) {
    let f = Fixture::new(b);
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

fn show_of_an_empty_vault_has_its_row_and_no_entries(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("empty", "nothing yet").unwrap();
    let d = f.store.show("empty").unwrap();
    assert_eq!(
        (d.name.as_str(), d.description.as_str()),
        ("empty", "nothing yet")
    );
    assert!(d.entries.is_empty());
    assert_eq!(d.created_at.len(), 20, "{}", d.created_at);
    assert_eq!(kind(f.store.show("nope")), ErrorKind::VaultNotFound);
}

fn show_sorts_entries_masks_secrets_and_formats_timestamps(b: Backend) {
    let f = Fixture::new(b);
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

fn set_bumps_vault_updated_at(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.db.exec("UPDATE vaults SET updated_at = '2020-01-01 00:00:00+00:00'");
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

fn timestamps_written_by_the_go_driver_are_shown_in_utc(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.db.exec("UPDATE vaults SET created_at = '2024-01-15 12:30:00.123456789+02:00'");
    assert_eq!(
        f.store.show("v").unwrap().created_at,
        "2024-01-15T10:30:00Z"
    );
}

fn create_existing_vault_is_vault_exists(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    let err = f.store.create_vault("v", "again").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultExists);
    assert_eq!(err.http_status(), 409);
    assert_eq!(err.to_string(), "vault 'v' already exists");
}

fn delete_vault_deletes_its_entries(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.create_vault("keep", "").unwrap();
    f.store.set("v", "A", "1", true).unwrap();
    f.store.set("keep", "A", "1", true).unwrap();
    f.store.delete_vault("v").unwrap();
    let rows = f.db.count("SELECT COUNT(*) FROM vault_entries");
    assert_eq!(rows, 1);
    assert!(!f.store.vault_exists("v").unwrap());
    assert_eq!(kind(f.store.delete_vault("v")), ErrorKind::VaultNotFound);
    // A vault made again under the same name starts empty.
    f.store.create_vault("v", "").unwrap();
    assert!(f.store.entries("v").unwrap().is_empty());
}

fn missing_vault_and_entry_errors_name_them_with_404(b: Backend) {
    let f = Fixture::new(b);
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

fn unset_removes_only_that_entry(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "A", "1", true).unwrap();
    f.store.set("v", "B", "2", true).unwrap();
    f.store.unset("v", "A").unwrap();
    assert_eq!(kind(f.store.get("v", "A")), ErrorKind::EntryNotFound);
    assert_eq!(f.store.get("v", "B").unwrap().expose(), "2");
}

fn bad_names_and_values_are_refused_before_anything_is_written(b: Backend) {
    let f = Fixture::new(b);
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
    let rows = f.db.count("SELECT COUNT(*) FROM vault_entries");
    assert_eq!(rows, 0);
    assert_eq!(f.store.list_vaults().unwrap().len(), 1);
}

fn resolve_later_vaults_win_with_provenance(b: Backend) {
    let f = Fixture::new(b);
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

fn resolve_of_no_vaults_is_an_empty_merge(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("app", "").unwrap();
    let r = f.store.resolve::<&str>(&[]).unwrap();
    assert!(r.values.is_empty() && r.sources.is_empty());
}

fn resolve_names_every_missing_vault_at_once(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("here", "").unwrap();
    let err = f.store.resolve(&["gone1", "here", "gone2"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultNotFound);
    assert_eq!(err.to_string(), "vaults 'gone1', 'gone2' not found");
}

fn registration_payload_json_and_git_token(b: Backend) {
    let f = Fixture::new(b);
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

fn registration_payload_bad_git_token_reference_warns_instead_of_failing(b: Backend) {
    let f = Fixture::new(b);
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

fn registration_payload_of_nothing_is_empty_object(b: Backend) {
    let f = Fixture::new(b);
    let p = f.store.registration_payload::<&str>(&[], None).unwrap();
    assert_eq!(p.to_json().expose(), "{}");
    f.store.create_vault("empty", "").unwrap();
    let p = f.store.registration_payload(&["empty"], None).unwrap();
    assert_eq!(p.to_json().expose(), "{}");
}

fn disabled_store_refuses_every_operation_with_503(b: Backend) {
    let db = Db::new(b);
    let store = db.open_with(KeySource::None).unwrap();
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
    // Nothing was created.
    assert!(!db.has_tables());
}

fn wrong_key_is_key_mismatch_at_open_naming_both_ids(b: Backend) {
    let f = Fixture::new(b);
    let err = f.reopen(2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
    let msg = err.to_string();
    assert!(msg.contains(&key(1).key_id().to_string()), "{msg}");
    assert!(msg.contains(&key(2).key_id().to_string()), "{msg}");
    assert!(!msg.contains(&key_text(2)), "{msg}");
}

fn previous_key_opens_store_and_new_values_use_current_key(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "OLD", "under-key-1", true).unwrap();
    let f = f.close();
    let keys = KeySet {
        current: key(2),
        previous: vec![key(1)],
    };
    let store = f.open_with(KeySource::Explicit(keys)).unwrap();
    assert_eq!(store.get("v", "OLD").unwrap().expose(), "under-key-1");
    store.set("v", "NEW", "under-key-2", true).unwrap();
    let blob = f.value_of("NEW");
    assert_eq!(&blob[4..12], &key(2).key_id().0);
}

fn rolling_rotation_refuses_the_old_key_alone_once_a_value_is_under_the_new_one(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "OLD", "under-key-1", true).unwrap();
    let f = f.close();
    let both = || {
        KeySource::Explicit(KeySet {
            current: key(2),
            previous: vec![key(1)],
        })
    };
    // Opening with the new key and the old as previous writes nothing yet:
    // the old key alone still opens the store.
    drop(f.open_with(both()).unwrap());
    drop(f.open(1).unwrap());
    // The first value under key 2 puts it among the store's keys.
    f.open_with(both())
        .unwrap()
        .set("v", "NEW", "under-key-2", true)
        .unwrap();
    let err = f.open(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
    assert!(
        err.to_string().contains(&key(2).key_id().to_string()),
        "{err}"
    );
    // Key 2 alone cannot read the values still under key 1: refused at open too.
    assert_eq!(kind(f.open(2)), ErrorKind::KeyMismatch);
    // Rotating to key 2 re-encrypts everything; then key 2 alone is enough.
    f.open_with(both()).unwrap().rotate_key(&key(3)).unwrap();
    let store = f.open(3).unwrap();
    assert_eq!(store.get("v", "OLD").unwrap().expose(), "under-key-1");
    assert_eq!(store.get("v", "NEW").unwrap().expose(), "under-key-2");
}

fn invalid_master_key_is_refused_at_open(b: Backend) {
    let db = Db::new(b);
    let err = Store::open(db.location(), Some("dG9vIHNob3J0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
    assert!(err.to_string().contains("9 bytes"), "{err}");
    assert!(!db.has_tables());
}

fn blob_copied_to_another_entry_fails_decryption_naming_vault_and_key(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("a", "").unwrap();
    f.store.create_vault("b", "").unwrap();
    f.store.set("a", "SRC", "secret-a", true).unwrap();
    f.store.set("b", "DST", "secret-b", true).unwrap();
    f.db.set_value_of("DST", &f.db.value_of("SRC"));
    let err = f.store.get("b", "DST").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for key 'DST' in vault 'b'"
    );
    assert!(!err.to_string().contains("secret"));
}

fn flipping_is_secret_in_the_database_fails_decryption(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    f.db.exec("UPDATE vault_entries SET is_secret = false");
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::DecryptionFailed);
}

fn corrupted_blob_fails_decryption(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    let mut blob = f.db.value_of("K");
    *blob.last_mut().unwrap() ^= 1;
    f.db.set_value_of("K", &blob);
    assert_eq!(kind(f.store.get("v", "K")), ErrorKind::DecryptionFailed);
    assert_eq!(kind(f.store.show("v")), ErrorKind::DecryptionFailed);
}

#[test]
fn sqlite_file_that_is_not_sqlite_is_a_clear_storage_error() {
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
fn sqlite_read_only_database_is_a_clear_storage_error_and_unchanged() {
    let f = Fixture::new(Backend::Sqlite);
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

fn upstream_database_opens_as_legacy_and_stays_readable_by_upstream(b: Backend) {
    let db = Db::new(b);
    let upstream = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    });
    db.create_upstream_tables();
    db.exec("INSERT INTO vaults (name, description) VALUES ('prod', 'from the Go server')");
    let e = Binding {
        vault: "prod",
        key: "DB_PASSWORD",
        is_secret: true,
    };
    db.insert_upstream_entry(
        "DB_PASSWORD",
        &upstream.encrypt(Format::Legacy, e, b"hunter2-long"),
    );
    let store = db.open(1).unwrap();
    assert_eq!(store.format(), Some(Format::Legacy));
    assert_eq!(
        store.get("prod", "DB_PASSWORD").unwrap().expose(),
        "hunter2-long"
    );
    store.set("prod", "NEW", "written-by-us", true).unwrap();
    // The new blob is legacy: no magic, decryptable without associated data.
    let blob = db.value_of("NEW");
    assert_eq!(blob.len(), 12 + "written-by-us".len() + 16);
    let as_upstream = Binding {
        vault: "x",
        key: "y",
        is_secret: false,
    };
    assert_eq!(
        upstream
            .decrypt(Format::Legacy, as_upstream, &blob)
            .unwrap()
            .0
            .expose(),
        "written-by-us"
    );
    drop(store);
    // The key id was recorded from the entry that decrypted; another key is refused.
    assert_eq!(kind(db.open(2)), ErrorKind::KeyMismatch);

    // migrate rewrites to v2 in one go; afterwards the store says v2 and values still read.
    let store = db.open(1).unwrap();
    assert_eq!(store.migrate().unwrap(), 2);
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(
        store.get("prod", "DB_PASSWORD").unwrap().expose(),
        "hunter2-long"
    );
    drop(store);
    let store = db.open(1).unwrap();
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(store.migrate().unwrap(), 0);
    assert_eq!(&db.value_of("DB_PASSWORD")[..4], b"RQV\x02");
}

fn legacy_store_with_undecryptable_entries_is_key_mismatch(b: Backend) {
    let db = Db::new(b);
    db.create_upstream_tables();
    db.exec("INSERT INTO vaults (name) VALUES ('prod')");
    let other = Cipher::new(&KeySet {
        current: key(9),
        previous: vec![],
    });
    let blob = other.encrypt(
        Format::Legacy,
        Binding {
            vault: "",
            key: "",
            is_secret: true,
        },
        b"x",
    );
    db.insert_upstream_entry("K", &blob);
    let err = db.open(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
}

/// The payload's vaults as plain pairs.
fn payload_values(store: &Store, vaults: &[&str]) -> Vec<(String, String)> {
    let p = store.registration_payload(vaults, None).unwrap();
    p.vaults
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// A payload reads its rows from a cache on SQLite (see store/row_cache.rs);
// these prove every kind of write shows in the next payload.
fn payload_sees_its_own_stores_writes_between_calls(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("a", "").unwrap();
    f.store.create_vault("b", "").unwrap();
    f.store.set("a", "K", "one", true).unwrap();
    assert_eq!(
        payload_values(&f.store, &["a", "b"]),
        pairs(&[("K", "one")])
    );
    f.store.set("a", "K", "two", true).unwrap();
    f.store.set("b", "L", "new", false).unwrap();
    assert_eq!(
        payload_values(&f.store, &["a", "b"]),
        pairs(&[("K", "two"), ("L", "new")])
    );
    f.store.unset("a", "K").unwrap();
    assert_eq!(
        payload_values(&f.store, &["a", "b"]),
        pairs(&[("L", "new")])
    );
    f.store.delete_vault("b").unwrap();
    let err = f.store.registration_payload(&["a", "b"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultNotFound);
    f.store.create_vault("b", "").unwrap();
    assert_eq!(payload_values(&f.store, &["a", "b"]), pairs(&[]));
}

fn payload_sees_writes_by_another_store_on_the_same_database(b: Backend) {
    let f = Fixture::new(b);
    let other = f.reopen(1).unwrap();
    f.store.create_vault("a", "").unwrap();
    f.store.set("a", "K", "one", true).unwrap();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "one")]));
    other.set("a", "K", "two", true).unwrap();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "two")]));
    other
        .import(
            &ExportDocument::from_json(
                r#"{"format":1,"vaults":[{"name":"a","entries":[{"key":"M","value":"m"}]}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(
        payload_values(&f.store, &["a"]),
        pairs(&[("K", "two"), ("M", "m")])
    );
    other.delete_vault("a").unwrap();
    let err = f.store.registration_payload(&["a"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultNotFound);
}

/// With audit-reads off a read holds its connection for the call and reads
/// the data version once: the next call must still see what another store
/// committed in between, on the connection that served the previous one.
fn reads_with_audit_reads_off_see_writes_by_another_store_between_calls(b: Backend) {
    let f = Fixture::new(b);
    let other = f.reopen(1).unwrap();
    f.store.create_vault("a", "").unwrap();
    f.store.set("a", "K", "one", true).unwrap();
    f.store.set_audit_reads(false).unwrap();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "one")]));
    assert_eq!(f.store.get("a", "K").unwrap().expose(), "one");
    other.set("a", "K", "two", true).unwrap();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "two")]));
    other.set("a", "K", "three", true).unwrap();
    assert_eq!(f.store.get("a", "K").unwrap().expose(), "three");
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "three")]));
    // The flag turned on by the other store is seen outside a read (the
    // call's check ended with it), and honoured by the next read.
    other.set_audit_reads(true).unwrap();
    assert!(f.store.audit_reads().unwrap());
    let before = f.store.audit_log(&Default::default()).unwrap().len();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "three")]));
    let log = f.store.audit_log(&Default::default()).unwrap();
    assert_eq!(log.len(), before + 1);
    assert_eq!(log.last().unwrap().operation, "payload");
}

fn payload_decrypts_only_the_values_it_hands_out(b: Backend) {
    let f = Fixture::new(b);
    for v in ["a", "b"] {
        f.store.create_vault(v, "").unwrap();
        f.store
            .set(v, "SHARED", &format!("from-{v}"), true)
            .unwrap();
    }
    f.store.set("a", "ONLY_A", "mine", true).unwrap();
    // a's SHARED is shadowed by b's: corrupting it does not stop a worker.
    f.db.exec(
        "UPDATE vault_entries SET value = 'garbage' WHERE key = 'SHARED'
         AND vault_id = (SELECT id FROM vaults WHERE name = 'a')",
    );
    assert_eq!(
        payload_values(&f.store, &["a", "b"]),
        pairs(&[("ONLY_A", "mine"), ("SHARED", "from-b")])
    );
    // Listed the other way round, a's SHARED wins and must decrypt.
    let err = f.store.registration_payload(&["b", "a"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for key 'SHARED' in vault 'a'"
    );
    // resolve reports what every vault holds, so it still reads them all.
    assert_eq!(
        kind(f.store.resolve(&["a", "b"])),
        ErrorKind::DecryptionFailed
    );
}

fn rotate_key_reencrypts_everything_and_retires_the_old_key(b: Backend) {
    let f = Fixture::new(b);
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
    assert_eq!(kind(f.open(1)), ErrorKind::KeyMismatch);
    let store = f.open(2).unwrap();
    for i in 0..50 {
        assert_eq!(
            store.get("v", &format!("K{i}")).unwrap().expose(),
            format!("value-{i}")
        );
    }
}

fn rotate_key_to_the_current_key_is_refused(b: Backend) {
    let f = Fixture::new(b);
    let err = f.store.rotate_key(&key(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("current key"));
}

fn rotate_key_with_an_undecryptable_entry_changes_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "GOOD", "good-value", true).unwrap();
    f.store.set("v", "BAD", "bad-value", true).unwrap();
    f.db.set_value_of("BAD", &[0x00, 0x11, 0x22, 0x33]);
    let err = f.store.rotate_key(&key(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert!(err.to_string().contains("'BAD'"));
    // Still wholly under key 1.
    assert_eq!(f.store.get("v", "GOOD").unwrap().expose(), "good-value");
    let f = f.close();
    assert!(f.open(1).is_ok());
}

fn export_import_round_trip_merges_and_replaces(b: Backend) {
    let f = Fixture::new(b);
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

    let other = Fixture::new(b);
    other.store.create_vault("a", "old desc").unwrap();
    other.store.set("a", "X", "old-x", true).unwrap();
    other.store.set("a", "KEEP", "kept", true).unwrap();
    assert_eq!(other.store.import(&parsed).unwrap(), 2);
    assert_eq!(other.store.get("a", "X").unwrap().expose(), "x-value");
    assert_eq!(other.store.get("a", "KEEP").unwrap().expose(), "kept");
    assert_eq!(other.store.show("a").unwrap().description, "desc a");
    assert!(other.store.vault_exists("empty").unwrap());
}

fn import_with_one_bad_entry_writes_nothing(b: Backend) {
    let f = Fixture::new(b);
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

fn store_is_usable_from_many_threads_at_once(b: Backend) {
    let f = Fixture::new(b);
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

fn two_connections_setting_the_same_new_key_both_succeed(b: Backend) {
    let f = Fixture::new(b);
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

fn debug_output_of_store_and_secrets_hides_values(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "super-secret-value", true).unwrap();
    let value = f.store.get("v", "K").unwrap();
    let payload = f.store.registration_payload(&["v"], None).unwrap();
    let doc = f.store.export().unwrap();
    let dbg = format!("{:?} {:?} {:?} {:?}", f.store, value, payload, doc);
    assert!(!dbg.contains("super-secret-value"), "{dbg}");
    assert!(dbg.contains("[REDACTED]"));
}

fn two_servers_rotating_at_once_one_succeeds_one_gets_a_clear_key_mismatch(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    for i in 0..20 {
        f.store
            .set("v", &format!("K{i}"), &format!("value-{i}"), true)
            .unwrap();
    }
    let second = f.reopen(1).unwrap();
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<runqy_vault::Result<u64>> = std::thread::scope(|s| {
        let handles = [(&f.store, 2u8), (&second, 3u8)].map(|(store, new)| {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                store.rotate_key(&key(new))
            })
        });
        handles.map(|h| h.join().unwrap()).into()
    });
    let winner = match (&results[0], &results[1]) {
        (Ok(20), Err(e)) | (Err(e), Ok(20)) => {
            assert_eq!(e.kind(), ErrorKind::KeyMismatch, "{e}");
            assert!(e.to_string().contains("rotated by another process"), "{e}");
            if results[0].is_ok() {
                2
            } else {
                3
            }
        }
        other => panic!("want one success and one KeyMismatch, got {other:?}"),
    };
    drop(second);
    let f = f.close();
    // The whole store is under the winner's key, and only it opens the store.
    let store = f.open(winner).unwrap();
    for i in 0..20 {
        assert_eq!(
            store.get("v", &format!("K{i}")).unwrap().expose(),
            format!("value-{i}")
        );
    }
    assert_eq!(kind(f.open(5 - winner)), ErrorKind::KeyMismatch);
    assert_eq!(kind(f.open(1)), ErrorKind::KeyMismatch);
}

fn set_from_a_store_still_on_a_rotated_away_key_is_refused_and_writes_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    let stale = f.reopen(1).unwrap();
    f.store.rotate_key(&key(2)).unwrap();
    let err = stale.set("v", "K", "under-the-old-key", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
    assert!(
        err.to_string().contains("rotated by another process"),
        "{err}"
    );
    let doc = ExportDocument::from_json(
        r#"{"format": 1, "vaults": [{"name": "v", "entries": [{"key": "A", "value": "1"}]}]}"#,
    )
    .unwrap();
    assert_eq!(kind(stale.import(&doc)), ErrorKind::KeyMismatch);
    assert_eq!(f.db.count("SELECT COUNT(*) FROM vault_entries"), 0);
}

fn two_servers_creating_one_vault_at_once_one_gets_vault_exists(b: Backend) {
    let f = Fixture::new(b);
    let second = f.reopen(1).unwrap();
    let barrier = std::sync::Barrier::new(2);
    for round in 0..10 {
        let name = format!("v{round}");
        let results: Vec<runqy_vault::Result<()>> = std::thread::scope(|s| {
            let handles = [&f.store, &second].map(|store| {
                let (barrier, name) = (&barrier, &name);
                s.spawn(move || {
                    barrier.wait();
                    store.create_vault(name, "")
                })
            });
            handles.map(|h| h.join().unwrap()).into()
        });
        let kinds: Vec<Option<ErrorKind>> = results
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.kind()))
            .collect();
        assert!(
            kinds == [None, Some(ErrorKind::VaultExists)]
                || kinds == [Some(ErrorKind::VaultExists), None],
            "{results:?}"
        );
    }
    assert_eq!(f.store.list_vaults().unwrap().len(), 10);
}

fn first_opens_of_a_new_store_from_several_threads_all_succeed(b: Backend) {
    let db = Db::new(b);
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                let store = db.open(1).unwrap();
                assert_eq!(store.format(), Some(Format::V2));
            });
        }
    });
    let store = db.open(1).unwrap();
    store.create_vault("v", "").unwrap();
}

fn deleting_a_vault_while_another_server_sets_in_it_gives_only_vault_not_found(b: Backend) {
    let f = Fixture::new(b);
    let second = f.reopen(1).unwrap();
    f.store.create_vault("v", "").unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                match second.set("v", &format!("K{}", i % 5), "value", true) {
                    Ok(()) => {}
                    Err(e) => assert_eq!(e.kind(), ErrorKind::VaultNotFound, "{e}"),
                }
            }
        });
        for _ in 0..150 {
            match f.store.delete_vault("v") {
                Ok(()) => {}
                Err(e) => assert_eq!(e.kind(), ErrorKind::VaultNotFound, "{e}"),
            }
            f.store.create_vault("v", "").unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // No entry outlived its vault.
    assert_eq!(
        f.db.count("SELECT COUNT(*) FROM vault_entries e WHERE NOT EXISTS (SELECT 1 FROM vaults v WHERE v.id = e.vault_id)"),
        0
    );
}

// ---- The defects a hostile review found (issue 17), each named after it ----

/// A store of key 1 holding `("a", K1 = "one")`, `("a", K2 = "two")`, closed.
fn v2_store_with_two_entries(b: Backend) -> Db {
    let f = Fixture::new(b);
    f.store.create_vault("a", "").unwrap();
    f.store.set("a", "K1", "one", true).unwrap();
    f.store.set("a", "K2", "two", true).unwrap();
    f.close()
}

/// Swaps the stored blobs of K1 and K2 in the database, as an attacker could.
fn swap_blobs(db: &Db) {
    let (one, two) = (db.value_of("K1"), db.value_of("K2"));
    db.set_value_of("K1", &two);
    db.set_value_of("K2", &one);
}

fn plaintext_token_echoed_a_git_token_that_is_not_a_reference_is_never_printed(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    for token in [
        "ghp_0123456789abcdefSECRETsecret",
        "https://x-access-token:ghp_SECRETsecret@github.com/o/r",
        "ci/ghp_SECRETsecret",
        "vault:/ci/ghp_SECRETsecret",
    ] {
        let p = f.store.registration_payload(&["ci"], Some(token)).unwrap();
        assert_eq!(p.warnings.len(), 1, "{token}");
        let all = p.to_json_with_warnings();
        for text in [p.warnings[0].as_str(), all.expose()] {
            assert!(!text.contains("SECRET"), "{token}: {text}");
            assert!(text.contains("does not start with vault://"), "{text}");
        }
        let err = runqy_vault::EntryReference::parse(token).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

fn silent_downgrade_dropping_the_meta_table_keeps_a_v2_store_v2(b: Backend) {
    let db = v2_store_with_two_entries(b);
    db.exec("DROP TABLE runqy_vault_meta");
    let store = db.open(1).unwrap();
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(store.get("a", "K1").unwrap().expose(), "one");
    // Still bound: swapped blobs do not decrypt as each other's value.
    swap_blobs(&db);
    assert_eq!(kind(store.get("a", "K1")), ErrorKind::DecryptionFailed);
    swap_blobs(&db);
    // New values are v2, the meta table says so again, and migrate has nothing to do.
    store.set("a", "K3", "three", true).unwrap();
    assert_eq!(&db.value_of("K3")[..4], b"RQV\x02");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM runqy_vault_meta WHERE name = 'format' AND value = 'v2'"),
        1
    );
    assert_eq!(store.migrate().unwrap(), 0);
}

fn silent_downgrade_a_format_edited_to_legacy_keeps_a_v2_store_v2(b: Backend) {
    let db = v2_store_with_two_entries(b);
    db.exec("UPDATE runqy_vault_meta SET value = 'legacy' WHERE name = 'format'");
    let store = db.open(1).unwrap();
    assert_eq!(store.format(), Some(Format::V2));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM runqy_vault_meta WHERE name = 'format' AND value = 'v2'"),
        1,
        "the record is repaired at open"
    );
    swap_blobs(&db);
    assert_eq!(kind(store.get("a", "K2")), ErrorKind::DecryptionFailed);
    // migrate would have re-encrypted the swap as each other's value: it has nothing to do.
    assert_eq!(store.migrate().unwrap(), 0);
    assert_eq!(kind(store.get("a", "K1")), ErrorKind::DecryptionFailed);
}

fn silent_downgrade_a_legacy_blob_planted_in_a_v2_store_fails_decryption(b: Backend) {
    let db = v2_store_with_two_entries(b);
    let store = db.open(1).unwrap();
    // An older copy of the entry, legacy and unbound, under the same key.
    let planted = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    })
    .encrypt(
        Format::Legacy,
        Binding {
            vault: "a",
            key: "K1",
            is_secret: true,
        },
        b"an older value",
    );
    db.set_value_of("K1", &planted);
    let err = store.get("a", "K1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    assert_eq!(
        err.to_string(),
        "decryption failed for key 'K1' in vault 'a'"
    );
    assert_eq!(kind(store.show("a")), ErrorKind::DecryptionFailed);
    assert_eq!(
        kind(store.registration_payload(&["a"], None)),
        ErrorKind::DecryptionFailed
    );
    drop(store);
    assert_eq!(
        kind(db.open(1).unwrap().get("a", "K1")),
        ErrorKind::DecryptionFailed
    );
}

#[test]
fn in_memory_and_empty_paths_are_refused_at_open() {
    for bad in [
        "",
        ":memory:",
        "file::memory:",
        "file::memory:?cache=shared",
        "file:shared?mode=memory&cache=shared",
    ] {
        for source in [KeySource::explicit(&key_text(1)).unwrap(), KeySource::None] {
            let err = Store::open_with(bad, source).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert_eq!(err.http_status(), 400);
            let msg = err.to_string();
            assert!(msg.contains("in-memory") || msg.contains("empty"), "{msg}");
        }
    }
    assert_eq!(
        kind(Store::open(std::path::PathBuf::new(), Some(&key_text(1)))),
        ErrorKind::InvalidInput
    );
}

/// Puts `key` = `value` into vault `vault` straight into the database, as an
/// older server that did not reserve the name would have (v2, correctly bound).
fn plant_entry(db: &Db, vault: &str, key_name: &str, value: &str) {
    let blob = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    })
    .encrypt(
        Format::V2,
        Binding {
            vault,
            key: key_name,
            is_secret: true,
        },
        value.as_bytes(),
    );
    let vault_id = db.count(&format!(
        "SELECT CAST(id AS BIGINT) FROM vaults WHERE name = '{vault}'"
    ));
    let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
    let literal = match db.backend {
        Backend::Sqlite => format!("x'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    };
    db.exec(&format!(
        "INSERT INTO vault_entries (vault_id, key, value) VALUES ({vault_id}, '{key_name}', {literal})"
    ));
}

fn code_execution_variables_in_an_older_store_stay_readable_but_leave_the_payload(b: Backend) {
    let f = Fixture::new(b);
    for v in ["base", "app"] {
        f.store.create_vault(v, "").unwrap();
    }
    f.store.set("base", "API_KEY", "sk-1", true).unwrap();
    plant_entry(&f.db, "base", "PYTHONWARNINGS", "ignore::evil.Hook-value");
    plant_entry(&f.db, "base", "LD_PRELOAD", "/tmp/evil-base.so");
    plant_entry(&f.db, "app", "LD_PRELOAD", "/tmp/evil-app.so");
    // Readable and listable, as SPEC §4 keeps them.
    assert_eq!(
        f.store.get("base", "PYTHONWARNINGS").unwrap().expose(),
        "ignore::evil.Hook-value"
    );
    let keys: Vec<String> = f
        .store
        .entries("base")
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["API_KEY", "LD_PRELOAD", "PYTHONWARNINGS"]);
    // Left out of the payload, one warning per key naming it and its vault, never its value.
    let p = f
        .store
        .registration_payload(&["base", "app"], None)
        .unwrap();
    assert_eq!(p.to_json().expose(), r#"{"vaults":{"API_KEY":"sk-1"}}"#);
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    assert!(
        p.warnings[0].starts_with(
            "key 'LD_PRELOAD' of vault 'app' left out: names starting with LD_ are reserved"
        ),
        "{}",
        p.warnings[0]
    );
    assert!(
        p.warnings[1].starts_with("key 'PYTHONWARNINGS' of vault 'base' left out"),
        "{}",
        p.warnings[1]
    );
    assert!(!p.to_json_with_warnings().expose().contains("evil"));
    // New writes of such keys are refused.
    assert_eq!(
        kind(f.store.set("base", "PYTHONSTARTUP", "x", true)),
        ErrorKind::ReservedName
    );
}

#[test]
fn a_read_only_database_can_be_read_and_refuses_writes_clearly() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("ci", "tokens").unwrap();
    f.store.set("ci", "TOKEN", "t-123456", true).unwrap();
    let db = f.close();
    let dir_listing = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(db.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(dir_listing(), ["v.db"]);
    // Root can write any file, so the test asks SQLite itself for read-only
    // access (`mode=ro`), which takes the same path as a file or directory
    // this process cannot write (checked with access(2); see the CLI test
    // run as an unprivileged user).
    let uri = format!("file:{}?mode=ro", db.db().display());
    let store = Store::open(&uri, Some(&key_text(1))).unwrap();
    // Reads are audited by default, and a read's record cannot be written
    // here: every plaintext read is refused, saying why; listings work.
    for refused in [
        store.get("ci", "TOKEN").map(drop),
        store.registration_payload(&["ci"], None).map(drop),
        store.resolve(&["ci"]).map(drop),
        store.export().map(drop),
    ] {
        let msg = refused.unwrap_err().to_string();
        assert!(
            msg.contains("read-only") && msg.contains("audit-reads is on"),
            "{msg}"
        );
    }
    assert_eq!(store.list_vaults().unwrap()[0].entry_count, 1);
    assert_eq!(store.show("ci").unwrap().entries[0].value, "t-****56");
    drop(store);
    // With audit-reads off (set while it could be written), they work.
    let writable = Store::open(db.db(), Some(&key_text(1))).unwrap();
    writable.set_audit_reads(false).unwrap();
    drop(writable);
    let before = std::fs::read(db.db()).unwrap();
    let store = Store::open(&uri, Some(&key_text(1))).unwrap();
    assert_eq!(store.get("ci", "TOKEN").unwrap().expose(), "t-123456");
    assert_eq!(
        store
            .registration_payload(&["ci"], None)
            .unwrap()
            .to_json()
            .expose(),
        r#"{"vaults":{"TOKEN":"t-123456"}}"#
    );
    assert_eq!(store.export().unwrap().vaults.len(), 1);
    let err = store.set("ci", "TOKEN", "new-secret", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let msg = err.to_string();
    assert!(msg.contains("read-only") && msg.contains("v.db"), "{msg}");
    assert!(!msg.contains("new-secret"), "{msg}");
    assert_eq!(kind(store.create_vault("new", "")), ErrorKind::Storage);
    assert_eq!(kind(store.rotate_key(&key(2))), ErrorKind::Storage);
    // Reads left nothing behind, and the file is byte for byte as it was.
    assert_eq!(dir_listing(), ["v.db"]);
    drop(store);
    assert_eq!(dir_listing(), ["v.db"]);
    assert_eq!(std::fs::read(db.db()).unwrap(), before);
    // The wrong key is still refused at open.
    assert_eq!(
        kind(Store::open(&uri, Some(&key_text(2)))),
        ErrorKind::KeyMismatch
    );
}

#[test]
fn a_read_only_database_follows_a_writer_that_has_it_open() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "TOKEN", "first", true).unwrap();
    // The writer keeps the database open (its -wal and -shm exist): the
    // reader shares its WAL index and sees each commit.
    f.store.set_audit_reads(false).unwrap(); // a read-only reader cannot record its reads
    let uri = format!("file:{}?mode=ro", f.db.db().display());
    let reader = Store::open(&uri, Some(&key_text(1))).unwrap();
    assert_eq!(reader.get("ci", "TOKEN").unwrap().expose(), "first");
    f.store.set("ci", "TOKEN", "second", true).unwrap();
    assert_eq!(reader.get("ci", "TOKEN").unwrap().expose(), "second");
    assert_eq!(
        reader
            .registration_payload(&["ci"], None)
            .unwrap()
            .to_json()
            .expose(),
        r#"{"vaults":{"TOKEN":"second"}}"#
    );
}

fn long_lived_stores_miss_another_process_rotation_it_is_key_mismatch(b: Backend) {
    let f = Fixture::new(b);
    let other = f.reopen(1).unwrap();
    f.store.create_vault("a", "").unwrap();
    f.store.set("a", "K", "one", true).unwrap();
    assert_eq!(payload_values(&f.store, &["a"]), pairs(&[("K", "one")]));
    other.rotate_key(&key(2)).unwrap();
    let (old_id, new_id) = (key(1).key_id().to_string(), key(2).key_id().to_string());
    for err in [
        f.store.registration_payload(&["a"], None).unwrap_err(),
        f.store.get("a", "K").unwrap_err(),
        f.store.show("a").unwrap_err(),
        f.store.resolve(&["a"]).unwrap_err(),
        f.store.export().unwrap_err(),
        f.store.set("a", "K", "two", true).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::KeyMismatch, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&old_id) && msg.contains(&new_id), "{msg}");
        assert!(msg.contains("rotated by another process"), "{msg}");
    }
    assert_eq!(other.get("a", "K").unwrap().expose(), "one");
}

fn long_lived_stores_miss_another_process_migration_they_then_write_v2(b: Backend) {
    let db = Db::new(b);
    db.create_upstream_tables();
    db.exec("INSERT INTO vaults (name) VALUES ('prod')");
    let legacy = Cipher::new(&KeySet {
        current: key(1),
        previous: vec![],
    });
    let e = Binding {
        vault: "prod",
        key: "OLD",
        is_secret: true,
    };
    db.insert_upstream_entry("OLD", &legacy.encrypt(Format::Legacy, e, b"old-value"));
    let long_lived = db.open(1).unwrap();
    assert_eq!(long_lived.format(), Some(Format::Legacy));
    let migrator = db.open(1).unwrap();
    assert_eq!(migrator.migrate().unwrap(), 1);
    // The long-lived store's next write is v2, never a legacy blob a v2
    // store would refuse, and it says v2 from then on.
    long_lived.set("prod", "NEW", "new-value", true).unwrap();
    assert_eq!(&db.value_of("NEW")[..4], b"RQV\x02");
    assert_eq!(long_lived.format(), Some(Format::V2));
    assert_eq!(migrator.get("prod", "NEW").unwrap().expose(), "new-value");
    assert_eq!(long_lived.get("prod", "OLD").unwrap().expose(), "old-value");
    // And, being v2, it no longer reads a legacy blob planted in the store.
    db.set_value_of("OLD", &legacy.encrypt(Format::Legacy, e, b"planted"));
    assert_eq!(
        kind(long_lived.get("prod", "OLD")),
        ErrorKind::DecryptionFailed
    );
}

/// Creates the runqy server's `autoscale_providers` table exactly as
/// upstream's `app/models/schema.go` does, on either backend.
fn create_upstream_autoscale_table(db: &Db) {
    db.exec(match db.backend {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS autoscale_providers (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 name TEXT UNIQUE NOT NULL,
                 provider_type TEXT NOT NULL,
                 config BLOB NOT NULL,
                 enabled INTEGER DEFAULT 1,
                 created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                 updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
             );
             CREATE INDEX IF NOT EXISTS idx_autoscale_providers_name ON autoscale_providers(name);"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS autoscale_providers (
                 id SERIAL PRIMARY KEY,
                 name TEXT UNIQUE NOT NULL,
                 provider_type TEXT NOT NULL,
                 config BYTEA NOT NULL,
                 enabled BOOLEAN DEFAULT TRUE,
                 created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
                 updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
             );
             CREATE INDEX IF NOT EXISTS idx_autoscale_providers_name ON autoscale_providers(name);"
        }
    });
}

/// Inserts a provider as upstream's `Store.Create` does: the config JSON
/// sealed by the server's encryptor (legacy format, the raw master key).
fn insert_upstream_provider(db: &Db, name: &str, key_byte: u8, config: &str) {
    let blob = Cipher::new(&KeySet {
        current: key(key_byte),
        previous: vec![],
    })
    .encrypt(
        Format::Legacy,
        Binding {
            vault: "",
            key: "",
            is_secret: true,
        },
        config.as_bytes(),
    );
    let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
    let (literal, enabled) = match db.backend {
        Backend::Sqlite => (format!("x'{hex}'"), "1"),
        Backend::Postgres => (format!("'\\x{hex}'::bytea"), "TRUE"),
    };
    db.exec(&format!(
        "INSERT INTO autoscale_providers (name, provider_type, config, enabled)
         VALUES ('{name}', 'runpod', {literal}, {enabled})"
    ));
}

/// The providers' configs as the server would read them with `key_byte`.
fn provider_configs(db: &Db, key_byte: u8) -> Vec<Option<String>> {
    let blobs: Vec<Vec<u8>> = match db.backend {
        Backend::Sqlite => {
            let conn = db.raw();
            let mut stmt = conn
                .prepare("SELECT config FROM autoscale_providers ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => db
            .pg()
            .query("SELECT config FROM autoscale_providers ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect(),
        #[cfg(not(feature = "postgres"))]
        Backend::Postgres => unreachable!(),
    };
    blobs
        .iter()
        .map(|b| {
            runqy_vault::cipher::aead_open(&[key_byte; 32], b, &[])
                .map(|p| String::from_utf8(p.to_vec()).unwrap())
        })
        .collect()
}

fn rotation_breaks_a_newer_runqy_servers_other_secrets_no_more(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    create_upstream_autoscale_table(&f.db);
    let configs = [
        r#"{"api_key":"rp_secret_1"}"#,
        r#"{"api_key":"vast_2","region":"eu"}"#,
    ];
    insert_upstream_provider(&f.db, "runpod-main", 1, configs[0]);
    insert_upstream_provider(&f.db, "vast", 1, configs[1]);
    f.store.rotate_key(&key(2)).unwrap();
    // The server, restarted with the new key, reads every provider (still legacy).
    assert_eq!(
        provider_configs(&f.db, 2),
        configs.map(|c| Some(c.to_owned())).to_vec()
    );
    assert_eq!(provider_configs(&f.db, 1), [None, None]);
    assert_eq!(f.store.get("v", "K").unwrap().expose(), "value");
    assert_eq!(
        f.db.count("SELECT COUNT(*) FROM autoscale_providers WHERE provider_type = 'runpod'"),
        2
    );
}

fn rotation_refuses_an_autoscale_provider_it_cannot_decrypt_and_changes_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    f.store.set("v", "K", "value", true).unwrap();
    create_upstream_autoscale_table(&f.db);
    insert_upstream_provider(&f.db, "fine", 1, "{}");
    insert_upstream_provider(&f.db, "foreign", 9, "{}");
    let before = f.db.value_of("K");
    let err = f.store.rotate_key(&key(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let msg = err.to_string();
    assert!(
        msg.contains("autoscale_providers")
            && msg.contains("'foreign'")
            && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_eq!(f.db.value_of("K"), before);
    assert_eq!(provider_configs(&f.db, 1), [Some("{}".to_owned()), None]);
    let db = f.close();
    assert_eq!(db.open(1).unwrap().get("v", "K").unwrap().expose(), "value");
}

fn more_than_32766_vault_names_in_one_payload_are_answered_in_list_order(b: Backend) {
    let f = Fixture::new(b);
    const N: usize = 40_000;
    f.db.exec(match b {
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39999)
             INSERT INTO vaults (name) SELECT printf('v%05d', i) FROM n"
        }
        Backend::Postgres => {
            "INSERT INTO vaults (name) SELECT 'v' || lpad(i::text, 5, '0')
             FROM generate_series(0, 39999) AS i"
        }
    });
    let names: Vec<String> = (0..N).map(|i| format!("v{i:05}")).collect();
    f.store.set("v00000", "SHARED", "first", true).unwrap();
    f.store.set("v39999", "SHARED", "last", true).unwrap();
    f.store.set("v20000", "MIDDLE", "m", true).unwrap();
    let p = f.store.registration_payload(&names, None).unwrap();
    assert_eq!(
        p.to_json().expose(),
        r#"{"vaults":{"MIDDLE":"m","SHARED":"last"}}"#
    );
    let r = f.store.resolve(&names).unwrap();
    assert_eq!(r.sources["SHARED"].vault, "v39999");
    assert_eq!(r.sources["SHARED"].shadowed, ["v00000"]);
    // Listed the other way round, the first vault wins.
    let reversed: Vec<&str> = names.iter().rev().map(String::as_str).collect();
    let p = f.store.registration_payload(&reversed, None).unwrap();
    assert_eq!(p.vaults["SHARED"].expose(), "first");
    // Missing vaults among them are all named, the message bounded.
    let mut with_missing = names.clone();
    with_missing.extend((0..50).map(|i| format!("missing{i}")));
    let err = f
        .store
        .registration_payload(&with_missing, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VaultNotFound);
    let msg = err.to_string();
    assert!(msg.starts_with("vaults 'missing0', 'missing1', "), "{msg}");
    assert!(msg.ends_with("and 30 more not found"), "{msg}");
}

fn messages_not_sanitised_a_newline_in_a_reference_cannot_forge_a_warning_line(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("v", "").unwrap();
    let forged = "vault://v/X\nwarning: git_token resolved from vault://prod/ADMIN";
    let p = f.store.registration_payload(&["v"], Some(forged)).unwrap();
    assert_eq!(p.warnings.len(), 1);
    let w = &p.warnings[0];
    assert!(
        !w.contains('\n') && w.contains("X\\nwarning: git_token"),
        "{w}"
    );
    // ESC sequences and long names never reach a terminal or a log as they are.
    let esc = "\u{1b}]0;owned\u{7}\u{1b}[31mred";
    for err in [
        f.store.get(esc, "K").unwrap_err(),
        f.store.get("v", esc).unwrap_err(),
        f.store.set(esc, "K", "x", true).unwrap_err(),
        f.store.create_vault(esc, "").unwrap_err(),
        f.store.resolve(&[esc]).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(!msg.chars().any(char::is_control), "{msg:?}");
        assert!(msg.contains("\\u{1b}[31mred"), "{msg}");
    }
    let long = "N".repeat(1_000_000);
    for err in [
        f.store.get(&long, "K").unwrap_err(),
        f.store.get("v", &long).unwrap_err(),
        f.store.set("v", &long, "x", true).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(msg.len() < 1_000, "{} bytes", msg.len());
        assert!(msg.contains("... (1,000,000 characters)"), "{msg}");
    }
}

#[test]
fn values_at_rest_the_database_files_never_hold_a_value_or_the_key() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("prod", "").unwrap();
    let value = "sk-live-0123456789-DISTINCTIVE-PLAINTEXT";
    f.store.set("prod", "API_KEY", value, true).unwrap();
    f.store
        .set("prod", "REGION", "eu-west-1-NOT-SECRET", false)
        .unwrap();
    let key_b64 = key_text(1);
    let key_raw = [1u8; 32];
    // While open (the WAL holds the pages) and after close (checkpointed).
    let files = |dir: &std::path::Path| -> Vec<u8> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            all.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        all
    };
    let dir = f.db.dir.path().to_path_buf();
    for bytes in [files(&dir), {
        let db = f.close();
        let b = files(&dir);
        drop(db);
        b
    }] {
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !has(value.as_bytes()),
            "a plaintext value is in the database files"
        );
        assert!(
            !has(b"eu-west-1-NOT-SECRET"),
            "non-secret values are encrypted too"
        );
        assert!(
            !has(key_b64.as_bytes()) && !has(&key_raw),
            "the master key is in the files"
        );
        // Names are not encrypted (docs/security.md says so).
        assert!(has(b"API_KEY") && has(b"prod"));
    }
}

#[test]
fn inaccurate_messages_an_integer_tampered_into_the_value_column_names_vault_and_key() {
    let f = Fixture::new(Backend::Sqlite);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "TOKEN", "t", true).unwrap();
    f.db.exec("UPDATE vault_entries SET value = 42 WHERE key = 'TOKEN'");
    for err in [
        f.store.get("ci", "TOKEN").unwrap_err(),
        f.store.show("ci").unwrap_err(),
        f.store.registration_payload(&["ci"], None).unwrap_err(),
        f.store.rotate_key(&key(2)).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed, "{err}");
        assert_eq!(
            err.to_string(),
            "decryption failed for key 'TOKEN' in vault 'ci'"
        );
    }
}

on_both_backends!(
    set_get_round_trip_with_awkward_values,
    set_updates_value_and_flips_is_secret,
    list_is_sorted_with_entry_counts,
    show_sorts_entries_masks_secrets_and_formats_timestamps,
    show_of_an_empty_vault_has_its_row_and_no_entries,
    payload_sees_its_own_stores_writes_between_calls,
    payload_sees_writes_by_another_store_on_the_same_database,
    reads_with_audit_reads_off_see_writes_by_another_store_between_calls,
    payload_decrypts_only_the_values_it_hands_out,
    set_bumps_vault_updated_at,
    timestamps_written_by_the_go_driver_are_shown_in_utc,
    create_existing_vault_is_vault_exists,
    delete_vault_deletes_its_entries,
    missing_vault_and_entry_errors_name_them_with_404,
    unset_removes_only_that_entry,
    bad_names_and_values_are_refused_before_anything_is_written,
    resolve_later_vaults_win_with_provenance,
    resolve_names_every_missing_vault_at_once,
    resolve_of_no_vaults_is_an_empty_merge,
    registration_payload_json_and_git_token,
    registration_payload_bad_git_token_reference_warns_instead_of_failing,
    registration_payload_of_nothing_is_empty_object,
    disabled_store_refuses_every_operation_with_503,
    wrong_key_is_key_mismatch_at_open_naming_both_ids,
    previous_key_opens_store_and_new_values_use_current_key,
    rolling_rotation_refuses_the_old_key_alone_once_a_value_is_under_the_new_one,
    invalid_master_key_is_refused_at_open,
    blob_copied_to_another_entry_fails_decryption_naming_vault_and_key,
    flipping_is_secret_in_the_database_fails_decryption,
    corrupted_blob_fails_decryption,
    upstream_database_opens_as_legacy_and_stays_readable_by_upstream,
    legacy_store_with_undecryptable_entries_is_key_mismatch,
    rotate_key_reencrypts_everything_and_retires_the_old_key,
    rotate_key_to_the_current_key_is_refused,
    rotate_key_with_an_undecryptable_entry_changes_nothing,
    export_import_round_trip_merges_and_replaces,
    import_with_one_bad_entry_writes_nothing,
    store_is_usable_from_many_threads_at_once,
    two_connections_setting_the_same_new_key_both_succeed,
    debug_output_of_store_and_secrets_hides_values,
    two_servers_rotating_at_once_one_succeeds_one_gets_a_clear_key_mismatch,
    set_from_a_store_still_on_a_rotated_away_key_is_refused_and_writes_nothing,
    two_servers_creating_one_vault_at_once_one_gets_vault_exists,
    first_opens_of_a_new_store_from_several_threads_all_succeed,
    deleting_a_vault_while_another_server_sets_in_it_gives_only_vault_not_found,
    plaintext_token_echoed_a_git_token_that_is_not_a_reference_is_never_printed,
    silent_downgrade_dropping_the_meta_table_keeps_a_v2_store_v2,
    silent_downgrade_a_format_edited_to_legacy_keeps_a_v2_store_v2,
    silent_downgrade_a_legacy_blob_planted_in_a_v2_store_fails_decryption,
    code_execution_variables_in_an_older_store_stay_readable_but_leave_the_payload,
    long_lived_stores_miss_another_process_rotation_it_is_key_mismatch,
    long_lived_stores_miss_another_process_migration_they_then_write_v2,
    rotation_breaks_a_newer_runqy_servers_other_secrets_no_more,
    rotation_refuses_an_autoscale_provider_it_cannot_decrypt_and_changes_nothing,
    more_than_32766_vault_names_in_one_payload_are_answered_in_list_order,
    messages_not_sanitised_a_newline_in_a_reference_cannot_forge_a_warning_line,
);

#[path = "store/history.rs"]
mod history;

#[path = "store/audit.rs"]
mod audit;

#[path = "store/streaming.rs"]
mod streaming;

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_url_without_the_feature_is_a_clear_storage_error() {
    let err = Store::open(
        "postgres://u:s3cr3t@127.0.0.1:5432/vault",
        Some(&key_text(1)),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let msg = err.to_string();
    assert!(msg.contains("`postgres` cargo feature"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
}

/// PostgreSQL's own behaviour: its types, connection failures, passwords.
#[cfg(feature = "postgres")]
mod postgres_only {
    use super::*;
    use support::{admin, host_port, postgres_url, with_database, with_user, TempDatabase};

    /// Asserts `err` is a Storage error naming `host` and `db` and not `password`.
    fn assert_storage_error(err: &runqy_vault::Error, host: &str, db: &str, password: &str) {
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(host) && msg.contains(&format!("'{db}'")),
            "{msg}"
        );
        assert!(!msg.contains(password), "{msg}");
        assert!(!format!("{err:?}").contains(password), "{err:?}");
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn postgres_new_store_has_the_upstream_tables_with_postgres_types_and_meta_v2() {
        let f = Fixture::new(Backend::Postgres);
        let mut c = f.db.pg();
        let columns: Vec<(String, String, String, Option<String>)> = c
            .query(
                "SELECT table_name::text, column_name::text, data_type::text, column_default::text
                 FROM information_schema.columns WHERE table_schema = 'public'
                 ORDER BY table_name, ordinal_position",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let has = |t: &str, col: &str, ty: &str, default: Option<&str>| {
            assert!(
                columns.iter().any(|(tt, cc, yy, dd)| tt == t
                    && cc == col
                    && yy == ty
                    && match default {
                        Some(d) => dd.as_deref().is_some_and(|x| x.contains(d)),
                        None => true,
                    }),
                "{t}.{col} {ty} {default:?} not in {columns:?}"
            )
        };
        has("vaults", "id", "integer", Some("nextval")); // SERIAL
        has("vaults", "name", "text", None);
        has(
            "vaults",
            "created_at",
            "timestamp with time zone",
            Some("now()"),
        );
        has("vault_entries", "value", "bytea", None);
        has("vault_entries", "is_secret", "boolean", Some("true"));
        has(
            "vault_entries",
            "updated_at",
            "timestamp with time zone",
            Some("now()"),
        );
        has("runqy_vault_meta", "value", "text", None);
        has("runqy_vault_versions", "vault", "text", None);
        has("runqy_vault_versions", "version", "bigint", None);
        has("runqy_vault_versions", "value", "bytea", None);
        has("runqy_vault_versions", "is_secret", "boolean", None);
        has(
            "runqy_vault_versions",
            "created_at",
            "timestamp with time zone",
            Some("now()"),
        );
        let indexes: Vec<String> = c
            .query(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'
                 AND indexname LIKE 'idx_%' ORDER BY indexname",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            indexes,
            [
                "idx_vault_entries_key",
                "idx_vault_entries_vault_id",
                "idx_vaults_name"
            ]
        );
        let mut meta = |name: &str| -> String {
            c.query_one(
                "SELECT value FROM runqy_vault_meta WHERE name = $1",
                &[&name],
            )
            .unwrap()
            .get(0)
        };
        assert_eq!(meta("format"), "v2");
        assert_eq!(meta("key_id"), key(1).key_id().to_string());
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn postgres_unreachable_server_bad_port_and_missing_database_are_storage_errors_naming_host_and_database(
    ) {
        let url = postgres_url();
        let password = "pw-s3cr3t-never-shown";
        for (location, host) in [
            (
                format!("postgres://runqy:{password}@127.0.0.1:1/vaultdb"),
                "127.0.0.1:1",
            ),
            (
                format!("postgresql://runqy:{password}@127.0.0.1:99999/vaultdb"),
                "127.0.0.1:99999",
            ),
        ] {
            let err = Store::open(&location, Some(&key_text(1))).unwrap_err();
            assert_storage_error(&err, host, "vaultdb", password);
        }
        let missing = with_user(
            &with_database(&url, "runqy_no_such_db"),
            "postgres",
            password,
        );
        let err = Store::open(&missing, Some(&key_text(1))).unwrap_err();
        assert_storage_error(&err, &host_port(&url), "runqy_no_such_db", password);
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn postgres_wrong_password_is_a_storage_error_without_the_password() {
        let url = postgres_url();
        let db = TempDatabase::new(&url);
        // scripts/with-postgres.sh makes this role and asks it, and only it, for a password.
        let Ok(role) = std::env::var("RUNQY_VAULT_TEST_POSTGRES_SCRAM_ROLE") else {
            eprintln!("skipped: RUNQY_VAULT_TEST_POSTGRES_SCRAM_ROLE not set");
            return;
        };
        let wrong = "wrong-pw-never-shown";
        let err = Store::open(with_user(&db.url, &role, wrong), Some(&key_text(1))).unwrap_err();
        assert_storage_error(&err, &host_port(&url), &db.name, wrong);
        assert!(
            err.to_string().contains("password authentication failed"),
            "{err}"
        );
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn postgres_missing_permissions_are_storage_errors_and_write_nothing() {
        let url = postgres_url();
        let db = TempDatabase::new(&url);
        let role = format!("rqv_noperm_{}", db.name.trim_start_matches("rqv_test_"));
        let mut a = admin(&url);
        a.batch_execute(&format!("CREATE ROLE {role} LOGIN"))
            .unwrap();
        // Connecting is allowed, creating tables is not: the schema cannot be made.
        let mut owner = db.client();
        owner
            .batch_execute(&format!(
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO {role}"
            ))
            .unwrap();
        let as_role = with_user(&db.url, &role, "pw-never-shown");
        let err = Store::open(&as_role, Some(&key_text(1))).unwrap_err();
        assert_storage_error(&err, &host_port(&url), &db.name, "pw-never-shown");
        assert!(err.to_string().contains("permission denied"), "{err}");
        let tables: i64 = owner
            .query_one(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "nothing half-written");
        // No right to connect at all.
        owner
            .batch_execute(&format!(
                "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
                db.name
            ))
            .unwrap();
        let err = Store::open(&as_role, Some(&key_text(1))).unwrap_err();
        assert_storage_error(&err, &host_port(&url), &db.name, "pw-never-shown");
        assert!(err.to_string().contains("permission denied"), "{err}");
        drop(owner);
        drop(db);
        let _ = a.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn postgres_debug_and_path_of_a_store_hide_the_url_password() {
        let url = postgres_url();
        let db = TempDatabase::new(&url);
        // The test server trusts loopback, so any password opens it.
        let password = "hunter2-in-the-url";
        let location = with_user(&db.url, "postgres", password);
        let store = match Store::open(&location, Some(&key_text(1))) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("skipped: this server does not trust the postgres role: {e}");
                return;
            }
        };
        let shown = format!("{store:?} {}", store.location());
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("postgres:***@"), "{shown}");
        let disabled = Store::open_with(&location, KeySource::None).unwrap();
        assert!(!format!("{disabled:?}").contains(password));
    }
}
