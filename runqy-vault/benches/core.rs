//! Criterion benches for the core, named as the comparison harness
//! (benches/compare.py) expects: `cipher/*` and `store/*`.
//!
//! Run: `cargo bench -p runqy-vault --bench core`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use runqy_vault::cipher::{Binding, Cipher, Format};
use runqy_vault::{ExportDocument, ExportEntry, ExportVault, KeySet, MasterKey, Store};

const ENTRY: Binding<'static> = Binding {
    vault: "api-keys",
    key: "OPENAI_API_KEY",
    is_secret: true,
};

fn key_text(byte: u8) -> String {
    MasterKey::from_bytes([byte; 32])
        .to_base64()
        .expose()
        .to_owned()
}

/// A document of `vaults` vaults named `v{i}` with `per_vault` entries each.
fn document(vaults: usize, per_vault: usize) -> ExportDocument {
    ExportDocument {
        format: 1,
        vaults: (0..vaults)
            .map(|v| ExportVault {
                name: format!("v{v}"),
                description: String::new(),
                entries: (0..per_vault)
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

/// A store holding `doc`, with audit-reads off: issue 18 holds the read
/// targets (get, payload, show) without the read's audit record, whose cost
/// `benches/audit.rs` measures on and off beside its commit floor. Writes
/// are recorded either way.
fn store_with(doc: &ExportDocument) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db"), Some(&key_text(1))).unwrap();
    store.import(doc).unwrap();
    store.set_audit_reads(false).unwrap();
    (dir, store)
}

/// The sizes of the cipher benches: a token, a small file, a certificate or
/// kubeconfig, a big service-account bundle.
const SIZES: [(&str, usize); 4] = [
    ("64B", 64),
    ("1KiB", 1024),
    ("16KiB", 16 * 1024),
    ("64KiB", 64 * 1024),
];

/// `ENTRY`'s v2 associated data (docs/formats.md), rebuilt here so the floor
/// authenticates exactly what the cipher does.
fn v2_aad(key_id: &[u8; 8]) -> Vec<u8> {
    [
        b"RQV\x02".as_slice(),
        key_id,
        &(ENTRY.vault.len() as u32).to_be_bytes(),
        ENTRY.vault.as_bytes(),
        &(ENTRY.key.len() as u32).to_be_bytes(),
        ENTRY.key.as_bytes(),
        &[u8::from(ENTRY.is_secret)],
    ]
    .concat()
}

/// The provider's own seal and open, with the key schedule built and a
/// fixed nonce, from and into buffers allocated beforehand: the floor under
/// `Cipher::encrypt` / `decrypt` of the same size and format.
struct Floor {
    seal: RawCall,
    open: RawCall,
}

/// `(aad, input, output)`: one raw seal or open.
type RawCall = Box<dyn FnMut(&[u8], &[u8], &mut [u8])>;

#[cfg(feature = "aws-lc")]
fn floor() -> Floor {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = || LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[1u8; 32]).unwrap());
    let (k1, k2) = (key(), key());
    Floor {
        seal: Box::new(move |aad, pt, out| {
            let (ct, tag) = out.split_at_mut(pt.len());
            k1.seal_out_of_place_scatter(
                Nonce::assume_unique_for_key([2; 12]),
                Aad::from(aad),
                pt,
                ct,
                &[],
                tag,
            )
            .unwrap()
        }),
        open: Box::new(move |aad, sealed, out| {
            let (ct, tag) = sealed.split_at(out.len());
            k2.open_separate_gather(
                Nonce::assume_unique_for_key([2; 12]),
                Aad::from(aad),
                ct,
                tag,
                out,
            )
            .unwrap()
        }),
    }
}

#[cfg(not(feature = "aws-lc"))]
fn floor() -> Floor {
    use aes_gcm::aead::{inout::InOutBuf, AeadInOut, KeyInit};
    let key = aes_gcm::Aes256Gcm::new(&[1u8; 32].into());
    let k2 = aes_gcm::Aes256Gcm::new(&[1u8; 32].into());
    Floor {
        seal: Box::new(move |aad, pt, out| {
            let (ct, tag_out) = out.split_at_mut(pt.len());
            let buf = InOutBuf::new(pt, ct).unwrap();
            let tag = key
                .encrypt_inout_detached(&[2u8; 12].into(), aad, buf)
                .unwrap();
            tag_out.copy_from_slice(&tag);
        }),
        open: Box::new(move |aad, sealed, out| {
            let (ct, tag) = sealed.split_at(out.len());
            let buf = InOutBuf::new(ct, out).unwrap();
            k2.decrypt_inout_detached(&[2u8; 12].into(), aad, buf, tag.try_into().unwrap())
                .unwrap()
        }),
    }
}

/// Group `cipher_<provider>` (`cipher_aws-lc` or `cipher_rustcrypto`): the
/// provider is chosen at build time, so each is a run of its own
/// (`--no-default-features --features postgres` for rustcrypto).
fn cipher(c: &mut Criterion) {
    let cipher = Cipher::new(&KeySet {
        current: MasterKey::from_bytes([1; 32]),
        previous: vec![],
    });
    let mut floor = floor();
    let v2_aad = v2_aad(&cipher.key_id().0);
    let mut g = c.benchmark_group(format!("cipher_{}", runqy_vault::cipher::PROVIDER));
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, size) in SIZES {
        let plain = vec![b'x'; size];
        g.throughput(Throughput::Bytes(size as u64));
        for (format, fname, aad) in [
            (Format::V2, "v2", v2_aad.as_slice()),
            (Format::Legacy, "legacy", &[][..]),
        ] {
            let blob = cipher.encrypt(format, ENTRY, &plain);
            g.bench_function(format!("encrypt_{fname}_{name}"), |b| {
                b.iter(|| cipher.encrypt(format, ENTRY, &plain))
            });
            g.bench_function(format!("decrypt_{fname}_{name}"), |b| {
                b.iter(|| cipher.decrypt(format, ENTRY, &blob).unwrap())
            });
            // Sealed and opened once outside the benches, so the check below
            // holds when a filter runs none of them.
            let mut sealed = vec![0u8; size + 16];
            (floor.seal)(aad, &plain, &mut sealed);
            g.bench_function(format!("floor_seal_{fname}_{name}"), |b| {
                b.iter(|| (floor.seal)(aad, &plain, &mut sealed))
            });
            let mut opened = vec![0u8; size];
            (floor.open)(aad, &sealed, &mut opened);
            g.bench_function(format!("floor_open_{fname}_{name}"), |b| {
                b.iter(|| (floor.open)(aad, &sealed, &mut opened))
            });
            assert_eq!(opened, plain);
        }
    }
    g.finish();
}

fn store(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    // 3 vaults × 20 entries, one 50-entry vault for show, and a vault of
    // its own for the set bench, so the others keep their sizes.
    let mut doc = document(3, 20);
    doc.vaults.push(ExportVault {
        name: "fifty".into(),
        ..document(1, 50).vaults.remove(0)
    });
    doc.vaults.push(ExportVault {
        name: "scratch".into(),
        description: String::new(),
        entries: Vec::new(),
    });
    let (dir, s) = store_with(&doc);
    let vaults = ["v0", "v1", "v2"];

    g.bench_function("set", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            s.set(
                "scratch",
                &format!("SET_{}", i % 100),
                "a-64-byte-secret-value-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                true,
            )
            .unwrap()
        })
    });
    // The same writes with history_limit 1 (each set still writes its
    // version and prunes the one before: the numbering needs the newest),
    // the store's "no history" setting, beside `set` at the default 10.
    let (_dir_1, s1) = store_with(&doc);
    s1.set_history_limit(1).unwrap();
    g.bench_function("set_history_limit_1", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            s1.set(
                "scratch",
                &format!("SET_{}", i % 100),
                "a-64-byte-secret-value-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                true,
            )
            .unwrap()
        })
    });
    drop(s1);
    // A key with 10 versions (the default limit): history decrypts and masks each.
    for n in 0..10 {
        s.set(
            "scratch",
            "HISTORY_10",
            &format!("sk-version-{n}-of-ten"),
            true,
        )
        .unwrap();
    }
    assert_eq!(s.history("scratch", "HISTORY_10").unwrap().len(), 10);
    g.bench_function("history_10", |b| {
        b.iter(|| s.history("scratch", "HISTORY_10").unwrap())
    });
    g.bench_function("get_version", |b| {
        b.iter(|| s.get_version("scratch", "HISTORY_10", 5).unwrap())
    });
    g.bench_function("get", |b| b.iter(|| s.get("v1", "KEY_7").unwrap()));
    // The floor under any read: one trivial statement by primary key on a
    // WAL database in autocommit (a read transaction takes and drops an
    // fcntl lock on the -shm file), on a connection of its own.
    let raw = rusqlite::Connection::open(dir.path().join("bench.db")).unwrap();
    g.bench_function("sqlite_floor_select_64B", |b| {
        b.iter(|| {
            raw.prepare_cached("SELECT value FROM vault_entries WHERE id = 1")
                .unwrap()
                .query_row([], |r| r.get::<_, Vec<u8>>(0))
                .unwrap()
        })
    });
    // The floor under show's one read: the 50-entry vault's rows by key in
    // one statement, each column looked at in place (no copy), on that
    // same raw connection: what any listing must pay before it decrypts.
    g.bench_function("sqlite_floor_select_50", |b| {
        b.iter(|| {
            let mut stmt = raw
                .prepare_cached(
                    "SELECT e.key, e.value, e.is_secret, e.created_at, e.updated_at
                     FROM vaults v JOIN vault_entries e ON e.vault_id = v.id
                     WHERE v.name = 'fifty' ORDER BY e.key",
                )
                .unwrap();
            let mut rows = stmt.query([]).unwrap();
            let mut bytes = 0usize;
            while let Some(r) = rows.next().unwrap() {
                for i in 0..5 {
                    bytes += match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            t.len()
                        }
                        _ => 1,
                    };
                }
            }
            assert!(bytes > 50 * 64);
            bytes
        })
    });
    g.bench_function("show_50", |b| b.iter(|| s.show("fifty").unwrap()));
    g.bench_function("entries_50", |b| b.iter(|| s.entries("fifty").unwrap()));
    g.bench_function("payload_3x20", |b| {
        b.iter(|| s.registration_payload(&vaults, None).unwrap())
    });

    let s = Arc::new(s);
    for threads in [1usize, 2] {
        const PER_THREAD: u64 = 200;
        g.throughput(Throughput::Elements(threads as u64 * PER_THREAD));
        g.bench_function(format!("payload_3x20_threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::thread::scope(|scope| {
                        for _ in 0..threads {
                            let s = Arc::clone(&s);
                            scope.spawn(move || {
                                for _ in 0..PER_THREAD {
                                    s.registration_payload(&vaults, None).unwrap();
                                }
                            });
                        }
                    });
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));

    let twenty_thousand = document(20, 1000);
    g.bench_function("import_20000", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(dir.path().join("bench.db"), Some(&key_text(1))).unwrap();
                (dir, store)
            },
            |(dir, store)| {
                store.import(&twenty_thousand).unwrap();
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });

    let (_dir, s) = store_with(&twenty_thousand);
    let keys = [
        MasterKey::from_bytes([1; 32]),
        MasterKey::from_bytes([2; 32]),
    ];
    let mut next = 1;
    g.bench_function("rotate_20000", |b| {
        b.iter(|| {
            s.rotate_key(&keys[next]).unwrap();
            next = 1 - next;
        })
    });
    drop(s);

    // 20,000 entries written 5 times: 20,000 current values and 100,000
    // kept versions, all re-encrypted in the one transaction.
    let (_dir5, s) = store_with(&twenty_thousand);
    for _ in 1..5 {
        s.import(&twenty_thousand).unwrap();
    }
    let mut next = 1;
    g.bench_function("rotate_20000x5", |b| {
        b.iter(|| {
            s.rotate_key(&keys[next]).unwrap();
            next = 1 - next;
        })
    });
    g.finish();
}

fn big_store(c: &mut Criterion) {
    // 10,000 vaults × 100 entries around the 3 × 20 listed: the payload must
    // cost what it does on a small store.
    let mut doc = document(10_000, 100);
    for (i, v) in document(3, 20).vaults.into_iter().enumerate() {
        doc.vaults.push(ExportVault {
            name: format!("queue{i}"),
            ..v
        });
    }
    let (_dir, s) = store_with(&doc);
    let mut g = c.benchmark_group("store");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let vaults = ["queue0", "queue1", "queue2"];
    assert_eq!(
        s.registration_payload(&vaults, None).unwrap().vaults.len(),
        20
    );
    g.bench_function("payload_3x20_big_store", |b| {
        b.iter(|| s.registration_payload(&vaults, None).unwrap())
    });
    g.finish();
}

/// The registration payload (3 vaults × 20 entries) on PostgreSQL over
/// loopback: one query for all listed vaults. Needs
/// `RUNQY_VAULT_TEST_POSTGRES_URL` (an admin URL: a database is made for the
/// run and dropped after), e.g. `bash scripts/with-postgres.sh cargo bench -p
/// runqy-vault --bench core -- payload_3x20`; skipped without it.
#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    let Some(admin_url) = std::env::var("RUNQY_VAULT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("store/payload_3x20_postgres skipped: RUNQY_VAULT_TEST_POSTGRES_URL not set");
        return;
    };
    let name = format!("rqv_bench_{}", std::process::id());
    let admin = || postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (scheme, rest) = admin_url.split_once("://").unwrap();
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let url = format!("{scheme}://{authority}/{name}");
    {
        let s = Store::open(&url, Some(&key_text(1))).unwrap();
        s.import(&document(3, 20)).unwrap();
        s.set_audit_reads(false).unwrap(); // as `store_with`
        let vaults = ["v0", "v1", "v2"];
        let mut g = c.benchmark_group("store");
        g.measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));
        g.bench_function("payload_3x20_postgres", |b| {
            b.iter(|| s.registration_payload(&vaults, None).unwrap())
        });
        g.bench_function("get_postgres", |b| b.iter(|| s.get("v1", "KEY_7").unwrap()));
        g.bench_function("set_postgres", |b| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                s.set(
                    "v0",
                    &format!("SET_{}", i % 100),
                    "a-64-byte-secret-value",
                    true,
                )
                .unwrap()
            })
        });
        g.finish();
    }
    admin()
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion) {}

criterion_group!(benches, cipher, store, bulk, big_store, postgres);
criterion_main!(benches);
