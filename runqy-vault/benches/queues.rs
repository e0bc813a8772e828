//! `check` and `usage` (SPEC §14) on a big store: 10,000 vaults × 100
//! entries and 500 queues. Targets: check < 10 s (it decrypts every entry
//! once), usage < 200 ms.
//!
//!   cargo bench -p runqy-vault --bench queues
//!
//! A harness of its own rather than criterion: one check takes seconds, so
//! a handful of timed runs (min and median printed) says more than
//! criterion's statistics would at this scale. The store is built once, by
//! one import, under target/bench-queues/ and reused while it matches.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runqy_vault::queues::QueueConfigs;
use runqy_vault::{ExportDocument, ExportEntry, ExportVault, Store};

const VAULTS: usize = 10_000;
const ENTRIES: usize = 100;
const QUEUES: usize = 500;
/// A fixed key, so the store on disk can be reused between runs.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn store_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let dir = target.join("bench-queues");
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir.join(format!("store-{VAULTS}x{ENTRIES}.db"))
}

fn vault(i: usize) -> String {
    format!("vault-{i:05}")
}

fn build(path: &PathBuf) -> Store {
    if let Ok(store) = Store::open(path, Some(KEY)) {
        if store.list_vaults().map(|v| v.len()).unwrap_or(0) == VAULTS {
            return store;
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let started = Instant::now();
    let store = Store::open(path, Some(KEY)).expect("open");
    let doc = ExportDocument {
        format: 1,
        vaults: (0..VAULTS)
            .map(|i| ExportVault {
                name: vault(i),
                description: String::new(),
                entries: (0..ENTRIES)
                    .map(|k| ExportEntry {
                        key: format!("KEY_{k:03}"),
                        value: format!("value-{i}-{k}-with-some-length").into(),
                        is_secret: true,
                    })
                    .collect(),
            })
            .collect(),
    };
    store.import(&doc).expect("import");
    eprintln!(
        "built {VAULTS} vaults x {ENTRIES} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store
}

/// 500 queues, each listing three vaults (the last shared by ten queues,
/// so keys are shadowed), every tenth with a git_token.
fn configs() -> QueueConfigs {
    let mut yaml = String::from("queues:\n");
    for q in 0..QUEUES {
        yaml.push_str(&format!(
            "  queue-{q:03}:\n    priority: 1\n    deployment:\n      vaults: [{}, {}, {}]\n",
            vault(q * 2),
            vault(q * 2 + 1),
            vault(9_000 + q / 10)
        ));
        if q % 10 == 0 {
            yaml.push_str(&format!(
                "      git_token: vault://{}/KEY_000\n",
                vault(q * 2)
            ));
        }
    }
    QueueConfigs::from_yaml(&yaml, "bench.yaml")
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[runs / 2], last.expect("at least one run"))
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this as a
    // quick smoke run without building the big store.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = store_path();
    let store = build(&path);
    let configs = configs();

    let (min, median, usage) = time(20, || store.usage(&configs).expect("usage"));
    assert_eq!(usage.vaults.len(), VAULTS);
    println!(
        "usage  {VAULTS} vaults x {ENTRIES} entries, {QUEUES} queues: min {:.1} ms, median {:.1} ms (target < 200 ms)",
        min.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );

    let (min, median, report) = time(3, || store.check(&configs, 90));
    assert_eq!(report.errors, 0, "{:?}", report.findings.first());
    println!(
        "check  {VAULTS} vaults x {ENTRIES} entries, {QUEUES} queues: min {:.2} s, median {:.2} s (target < 10 s); {} findings",
        min.as_secs_f64(),
        median.as_secs_f64(),
        report.findings.len()
    );
}
