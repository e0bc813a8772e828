//! The Rust side of the C ABI comparison: the same get and registration
//! payload (3 vaults x 20 entries) as benches/c/bench_ffi.c and the Go
//! benchmarks, called on the core directly, median ns/op of 7 rounds.
//!
//! cargo run --release -p runqy-vault-ffi --example bench_rust [-- ITERATIONS]

use std::hint::black_box;
use std::time::Instant;

use runqy_vault::Store;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROUNDS: usize = 7;

fn median_ns(iterations: u32, mut op: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        op();
    }
    let mut per_op: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                op();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iterations)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    per_op[ROUNDS / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("bench.db"), Some(KEY))?;
    let vaults = ["vault-0", "vault-1", "vault-2"];
    for (v, vault) in vaults.iter().enumerate() {
        store.create_vault(vault, "")?;
        for k in 0..20 {
            let value = format!("value-{v}-{k:02}-xxxxxxxxxxxxxxxxxxxx");
            store.set(vault, &format!("KEY_{k:02}"), &value, true)?;
        }
    }
    let get = median_ns(iterations, || {
        black_box(store.get("vault-1", "KEY_07").expect("get"));
    });
    // The JSON string, as the C and Go callers receive it.
    let payload = median_ns(iterations / 4, || {
        let p = store.registration_payload(&vaults, None).expect("payload");
        black_box(p.to_json_with_warnings());
    });
    println!("rust get      {get:10.0} ns/op");
    println!("rust payload  {payload:10.0} ns/op");
    Ok(())
}
