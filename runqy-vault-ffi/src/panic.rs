//! The one panic boundary: every exported body runs inside it, so no panic
//! ever unwinds into C (which is undefined behaviour).

use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{report, Failure, RunqyVaultResult};

const PANIC_MESSAGE: &str =
    "internal error: runqy-vault panicked; the call was abandoned (please report this bug)";

/// Runs a fallible exported body: clears `*err_out`, runs `body`, and turns
/// its failure or panic into a code and a message in `*err_out`.
///
/// # Safety
/// `err_out` is NULL or valid for pointer writes.
pub(crate) unsafe fn guard(
    err_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<(), Failure>,
) -> RunqyVaultResult {
    if !err_out.is_null() {
        err_out.write(std::ptr::null_mut());
    }
    // AssertUnwindSafe: after a panic nothing the body touched is used again
    // by this call, and the core's shared state recovers from poisoned locks.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => RunqyVaultResult::RUNQY_VAULT_OK,
        Ok(Err(failure)) => {
            report(err_out, &failure.message);
            failure.code
        }
        Err(_) => {
            // A second panic here (allocation failure) would abort, never unwind.
            let _ = catch_unwind(|| report(err_out, PANIC_MESSAGE));
            RunqyVaultResult::RUNQY_VAULT_PANIC
        }
    }
}

/// Runs an infallible exported body, answering `fallback` if it panics.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}
