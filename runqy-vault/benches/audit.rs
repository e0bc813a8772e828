//! Criterion benches of the audit log (issue 14's speed targets), in one run
//! so the figures compare: the registration payload and `get` with
//! `audit-reads` on and off, the commit floor a read's record stands on (a
//! one-row INSERT committed without fsync, WAL, on the same file system),
//! and `audit verify` of 1,000,000 records.
//!
//! Run: `cargo bench -p runqy-vault --bench audit`. Under `--test` (the
//! harness's quick mode) the verified log holds 1,000 records, so it only
//! proves the bench runs.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use runqy_vault::{ExportDocument, ExportEntry, ExportVault, MasterKey, Store};

fn key_text(byte: u8) -> String {
    MasterKey::from_bytes([byte; 32])
        .to_base64()
        .expose()
        .to_owned()
}

/// 3 vaults × 20 entries of 64-byte values, as `store/payload_3x20` in core.rs.
fn document() -> ExportDocument {
    ExportDocument {
        format: 1,
        vaults: (0..3)
            .map(|v| ExportVault {
                name: format!("v{v}"),
                description: String::new(),
                entries: (0..20)
                    .map(|e| ExportEntry {
                        key: format!("KEY_{e}"),
                        value: format!(
                            "secret-value-{v}-{e}-padding-to-64-bytes-xxxxxxxxxxxxxxxxxxxxxxx"
                        )
                        .into(),
                        is_secret: true,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("bench.db"), Some(&key_text(1))).unwrap();
    s.import(&document()).unwrap();
    let s = s.with_actor("worker:7 queue:inference").unwrap();
    let vaults = ["v0", "v1", "v2"];

    assert!(s.audit_reads().unwrap());
    g.bench_function("payload_3x20_reads_on", |b| {
        b.iter(|| s.registration_payload(&vaults, None).unwrap())
    });
    g.bench_function("get_reads_on", |b| b.iter(|| s.get("v1", "KEY_7").unwrap()));
    s.set_audit_reads(false).unwrap();
    g.bench_function("payload_3x20_reads_off", |b| {
        b.iter(|| s.registration_payload(&vaults, None).unwrap())
    });
    g.bench_function("get_reads_off", |b| {
        b.iter(|| s.get("v1", "KEY_7").unwrap())
    });

    // The floor under a read's record: one row of a record's size inserted
    // and committed with synchronous=NORMAL in WAL mode (no fsync), in a
    // database of its own beside the store's, checkpointed as the store's
    // connections are (`WAL_AUTOCHECKPOINT_PAGES` and `WAL_SIZE_LIMIT_BYTES`
    // in store/sqlite.rs).
    let raw = rusqlite::Connection::open(dir.path().join("floor.db")).unwrap();
    raw.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 10000;
         PRAGMA journal_size_limit = 50331648;
         CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .unwrap();
    // A row of the size of the payload record above (~1,000 bytes: its 20
    // delivered keys, their vaults and versions, the actor, the MAC), and
    // the 300-byte row the floor had before, shown beside it.
    for (id, size) in [
        ("commit_floor_insert", 1000),
        ("commit_floor_insert_300b", 300),
    ] {
        let body = "x".repeat(size);
        g.bench_function(id, |b| {
            b.iter(|| {
                raw.prepare_cached("INSERT INTO t (body) VALUES (?1)")
                    .unwrap()
                    .execute([&body])
                    .unwrap()
            })
        });
    }

    // The floor of a record as SPEC §13 places it: the same row, plus the
    // chain's head read from and written back into a meta table (a second
    // b-tree, so a second page and WAL frame per commit), in one
    // BEGIN IMMEDIATE transaction. The head changes every time, as the
    // real one does: SQLite skips the write of a cell whose bytes are the
    // same, so a constant head would cost nothing and prove nothing.
    raw.execute_batch(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('audit_head', '0');",
    )
    .unwrap();
    let body = "x".repeat(1000);
    let mut seq = 0u64;
    g.bench_function("commit_floor_insert_and_head", |b| {
        b.iter(|| {
            seq += 1;
            let head = format!("{seq}:{:0>128}", seq); // `seq:mac:seal`'s length
            raw.prepare_cached("BEGIN IMMEDIATE")
                .unwrap()
                .execute([])
                .unwrap();
            let _: String = raw
                .prepare_cached("SELECT value FROM meta WHERE name = 'audit_head'")
                .unwrap()
                .query_row([], |r| r.get(0))
                .unwrap();
            raw.prepare_cached("INSERT INTO t (body) VALUES (?1)")
                .unwrap()
                .execute([&body])
                .unwrap();
            raw.prepare_cached(
                "INSERT INTO meta (name, value) VALUES ('audit_head', ?1)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            )
            .unwrap()
            .execute([&head])
            .unwrap();
            raw.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let records: u64 = if std::env::args().any(|a| a == "--test") {
        1_000
    } else {
        1_000_000
    };
    let dir = tempfile::tempdir().unwrap();
    // Built at the bench's first call, so a filter that leaves it out
    // (`-- audit/payload`) does not wait for a million records.
    let built: std::cell::OnceCell<Store> = std::cell::OnceCell::new();
    let build = || {
        let s = Store::open(dir.path().join("verify.db"), Some(&key_text(2))).unwrap();
        s.create_vault("v", "").unwrap();
        s.set("v", "K", "a-value", true).unwrap();
        let start = Instant::now();
        // create and set wrote the first two records; each get writes one.
        for _ in 2..records {
            s.get("v", "K").unwrap();
        }
        let n = s.audit_verify().unwrap();
        assert_eq!(n, records);
        eprintln!(
            "audit/verify_1m: a log of {n} records written in {:.1?}",
            start.elapsed()
        );
        s
    };
    let mut g = c.benchmark_group("audit");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("verify_1m", |b| {
        let s = built.get_or_init(build);
        b.iter(|| s.audit_verify().unwrap())
    });
    g.finish();
}

criterion_group!(benches, reads, verify);
criterion_main!(benches);
