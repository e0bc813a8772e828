//! Test and benchmark hooks, each behind its cargo feature; never in a shipped build.
#![allow(unused_imports)] // each hook uses its own part, and a build may have none

use std::os::raw::c_char;

use crate::error::RunqyVaultResult;
use crate::handle::{self, RunqyVaultStore};
use crate::panic::guard;
use crate::strings::{arg_list, arg_str};

/// Test only (built with the `test-hooks` feature): panics inside the
/// boundary, so a test can see `RUNQY_VAULT_PANIC` come back instead of a
/// crash. Never present in a shipped build.
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_test_panic(err_out: *mut *mut c_char) -> RunqyVaultResult {
    guard(err_out, || {
        panic!("runqy_vault_test_panic: a panic on purpose")
    })
}

/// Benchmark only (built with the `bench-hooks` feature): runs the core's
/// own `get(vault, key)` `iterations` times in Rust, dropping (wiping) each
/// value, so a C or Go benchmark can time the same call without the C ABI,
/// in its own process and interleaved with its own calls. Stops at the first
/// failure. Never present in a shipped build.
#[cfg(feature = "bench-hooks")]
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_bench_core_get(
    store: *const RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    iterations: u32,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        for _ in 0..iterations {
            std::hint::black_box(store.get(vault, key)?);
        }
        Ok(())
    })
}

/// Benchmark only (built with the `bench-hooks` feature): runs the core's
/// own `registration_payload(vaults, None)` and its JSON encoding (what
/// `runqy_vault_registration_payload` hands out) `iterations` times in Rust.
/// Stops at the first failure. Never present in a shipped build.
#[cfg(feature = "bench-hooks")]
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_bench_core_registration_payload(
    store: *const RunqyVaultStore,
    vaults: *const *const c_char,
    n_vaults: usize,
    iterations: u32,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup(store)?;
        let vaults = arg_list(vaults, n_vaults, "vaults")?;
        for _ in 0..iterations {
            let payload = store.registration_payload(&vaults, None)?;
            std::hint::black_box(payload.to_json_with_warnings());
        }
        Ok(())
    })
}
