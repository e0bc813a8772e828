//! The Rust side of the C ABI comparison: the same get and registration
//! payload (3 vaults x 20 entries) as benches/c/bench_ffi.c and the Go
//! benchmarks, called on the core directly, median ns/op of 7 rounds in
//! wall-clock time and in process CPU time.
//!
//! cargo run --release -p runqy-vault-ffi --example bench_rust [-- ITERATIONS]

use std::hint::black_box;
use std::time::Instant;

use runqy_vault::Store;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROUNDS: usize = 7;

/// CPU time of the process so far, in ns.
fn cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn measure(name: &str, iterations: u32, mut op: impl FnMut()) {
    for _ in 0..iterations / 10 {
        op();
    }
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (start, cpu0) = (Instant::now(), cpu_ns());
        for _ in 0..iterations {
            op();
        }
        cpu.push((cpu_ns() - cpu0) / f64::from(iterations));
        wall.push(start.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "rust {name:<24} {:10.0} ns/op {:10.0} cpu-ns/op",
        wall[ROUNDS / 2],
        cpu[ROUNDS / 2]
    );
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
    measure("Get", iterations, || {
        black_box(store.get("vault-1", "KEY_07").expect("get"));
    });
    // The JSON string, as the C and Go callers receive it.
    measure("RegistrationPayload", iterations / 4, || {
        let p = store.registration_payload(&vaults, None).expect("payload");
        black_box(p.to_json_with_warnings());
    });
    Ok(())
}
