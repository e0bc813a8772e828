//! The C ABI of runqy-vault (SPEC §10): the functions of `include/runqy_vault.h`.
//!
//! Thin by design: each function checks its pointers and text, calls the
//! core, and translates the result. Rules live in the core.
//!
//! Conventions of every call:
//! - a `RunqyVaultResult` is returned; `RUNQY_VAULT_OK` (0) is success;
//! - the last parameter `char **err_out` may be NULL; when it is not, it is
//!   set to NULL on entry and, on failure, to a message the caller frees
//!   with `runqy_vault_string_free` (no thread-local "last error");
//! - out pointers are required (not NULL) and set to NULL / false on entry;
//! - strings returned are the caller's, freed with `runqy_vault_string_free`,
//!   which wipes them;
//! - a NULL where a pointer is required, text that is not UTF-8, or a handle
//!   that is freed or was never opened gives `RUNQY_VAULT_INVALID_ARGUMENT`;
//! - no panic crosses the boundary: it becomes `RUNQY_VAULT_PANIC`.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // each function's safety contract is its doc comment

use std::os::raw::c_char;

mod error;
mod handle;
mod panic;
mod store;
mod strings;

// cbindgen writes the header in declaration order: the store's calls, then
// these, then the hooks (blank lines keep rustfmt from sorting them).
mod tools;

mod queues;

mod history;
mod redactor;

mod environment;

mod audit;

mod hooks;

pub use audit::*;
pub use environment::*;
pub use error::RunqyVaultResult;
pub use handle::{RunqyVaultRedactor, RunqyVaultStore};
pub use history::*;
#[cfg(any(feature = "test-hooks", feature = "bench-hooks"))]
pub use hooks::*;
pub use queues::*;
pub use redactor::*;
pub use store::*;
pub use tools::*;

use panic::guard_value;
use strings::free_string;

/// Major version of this library, as in Cargo.toml.
pub const RUNQY_VAULT_VERSION_MAJOR: u32 = 0;
/// Minor version of this library, as in Cargo.toml.
pub const RUNQY_VAULT_VERSION_MINOR: u32 = 1;
/// Patch version of this library, as in Cargo.toml.
pub const RUNQY_VAULT_VERSION_PATCH: u32 = 0;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version, e.g. "0.1.0": a static string, never freed.
#[no_mangle]
pub extern "C" fn runqy_vault_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The HTTP status a server answers with for `result`: 200 for
/// `RUNQY_VAULT_OK`, 400 bad input, 404 missing, 409 exists, 503 disabled,
/// 500 the rest (including `RUNQY_VAULT_PANIC` and values this version does
/// not know). Never fails.
#[no_mangle]
pub extern "C" fn runqy_vault_http_status(result: RunqyVaultResultCode) -> u16 {
    guard_value(500, || match result {
        0 => 200,
        code => RunqyVaultResult::kind(code).map_or(500, |kind| kind.http_status()),
    })
}

/// The name of `result` as a static NUL-terminated string, e.g.
/// `"RUNQY_VAULT_VAULT_NOT_FOUND"` (`"RUNQY_VAULT_OK"` for 0), never freed;
/// `"RUNQY_VAULT_UNKNOWN"` for a value this version of the library does not
/// know. Never fails.
#[no_mangle]
pub extern "C" fn runqy_vault_result_name(result: RunqyVaultResultCode) -> *const c_char {
    static UNKNOWN: &str = "RUNQY_VAULT_UNKNOWN\0";
    guard_value(UNKNOWN.as_ptr().cast(), || {
        RunqyVaultResult::name(result)
            .unwrap_or(UNKNOWN)
            .as_ptr()
            .cast()
    })
}

/// A `RunqyVaultResult` as passed by value into the library: any value is
/// accepted (an unknown one is not undefined behaviour). cbindgen prints it
/// as `RunqyVaultResult` (see cbindgen.toml).
pub type RunqyVaultResultCode = u32;

/// Frees a string returned by this library (a value, JSON, a key, a message),
/// wiping its bytes first. `s` NULL does nothing. The string must not have
/// been modified and must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    guard_value((), || free_string(s))
}

#[cfg(test)]
mod tests;
