//! How many round trips to the PostgreSQL server each operation costs, counted
//! by the backend itself (`test_hooks::postgres_round_trips`: every query,
//! prepare, batch, BEGIN and COMMIT sent on the store's connections), never
//! timed. Each count is exact, after a warm-up call of the same operation that
//! filled the connection's cache of prepared statements, so a change that
//! adds a round trip fails here and must say why.
//!
//! Runs only beside a server: `bash scripts/with-postgres.sh cargo test -p
//! runqy-vault --test postgres_round_trips` (otherwise reported as ignored).
#![cfg(feature = "postgres")]

mod support;

use runqy_vault::test_hooks::postgres_round_trips;
use runqy_vault::{MasterKey, Store};

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

    // set of an existing key: BEGIN, key id FOR SHARE, vault row locked,
    // newest version, entry upsert, version insert, history_limit, audit
    // head FOR UPDATE, audit insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.set("app", "A", "a2", true));
    r.unwrap();
    pin("set", 11, n);

    // get (audit-reads on): the audit_reads flag, the entry, its newest
    // version (for the record); then the record: BEGIN, audit head, audit
    // insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.get("app", "A"));
    r.unwrap();
    pin("get", 8, n);

    // payload of two vaults (audit-reads on): the flag, one query for all
    // vaults, then the record's 5 as for get.
    let (n, r) = trips(&store, |s| s.registration_payload(&["app", "other"], None));
    r.unwrap();
    pin("payload", 7, n);

    // create: BEGIN, the INSERT, audit head, audit insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.create_vault("fresh", "d"));
    r.unwrap();
    pin("create", 6, n);

    // delete: BEGIN, vault row locked, entries deleted, vault deleted, audit
    // head, audit insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.delete_vault("fresh"));
    r.unwrap();
    pin("delete", 8, n);

    // unset: BEGIN, vault row locked, entry deleted, audit x3, COMMIT.
    let (n, r) = trips(&store, |s| s.unset("app", "B"));
    r.unwrap();
    pin("unset", 7, n);

    // restore: BEGIN, key id FOR SHARE, vault row locked, key state (the
    // entry, its newest version), the version's value, then as set: newest
    // version, upsert, version insert, history_limit, audit x3, COMMIT.
    let (n, r) = trips(&store, |s| s.restore("app", "B"));
    r.unwrap();
    pin("restore", 14, n);

    // rollback: as restore.
    let (n, r) = trips(&store, |s| s.rollback("app", "A", 1));
    r.unwrap();
    pin("rollback", 14, n);

    // purge of one key: BEGIN, vault row locked, entry deleted, versions
    // deleted, audit head, audit insert, head update, COMMIT.
    let (n, r) = trips(&store, |s| s.purge("app", Some("B")));
    r.unwrap();
    pin("purge", 8, n);

    // import of a document of 3 entries in 2 vaults: BEGIN, key id FOR
    // UPDATE, per vault its merge, per entry newest version, upsert and
    // version insert (history_limit once), audit x3, COMMIT.
    let (n, r) = trips(&store, |s| s.import(&doc));
    r.unwrap();
    pin("import", 18, n);

    // rotate-key of the store: its entries, kept versions and audit chain
    // re-encrypted page by page, one UPDATE per row; grows with the store.
    let (n, r) = trips(&store, |s| s.rotate_key(&MasterKey::from_bytes([3; 32])));
    r.unwrap();
    pin("rotate-key", 60, n);

    let wrong: Vec<String> = got
        .iter()
        .filter(|(_, want, n)| want != n)
        .map(|(name, want, n)| format!("{name}: {n} round trips, pinned {want}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
