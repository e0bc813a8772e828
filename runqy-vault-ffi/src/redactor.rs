//! The streaming redactor (SPEC §10, §11): a handle per output stream, fed
//! the bytes a task writes, giving back what may be shown. The masking rules
//! and the stream are the core's `runqy_vault::redact`.

use std::os::raw::c_char;
use std::sync::{Mutex, PoisonError};

use runqy_vault::{Redactor, RegistrationPayload};
use zeroize::Zeroize;

use crate::error::{Failure, RunqyVaultResult};
use crate::handle::{RunqyVaultRedactor, REDACTORS};
use crate::panic::{guard, guard_value};
use crate::store::json_string;
use crate::strings::{arg_list, arg_out, arg_str};

/// Registers a fresh stream of `redactor` and returns its handle.
fn register(redactor: &Redactor) -> *mut RunqyVaultRedactor {
    REDACTORS.register(Mutex::new(redactor.stream()))
}

/// Runs `body` on the stream behind `handle`, holding its lock.
fn with_stream<T>(
    handle: *const RunqyVaultRedactor,
    body: impl FnOnce(&mut runqy_vault::redact::Stream) -> T,
) -> Result<T, Failure> {
    let stream = REDACTORS.lookup(handle, "redactor")?;
    let mut stream = stream.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(body(&mut stream))
}

/// Hands `bytes` to the caller as `(*out, *out_len)`: NULL and 0 when empty,
/// otherwise an allocation of exactly `len` bytes (not NUL-terminated; it may
/// hold any byte) that the caller frees with `runqy_vault_bytes_free`.
/// `bytes` is wiped.
///
/// # Safety
/// `out` and `out_len` are valid for writes.
unsafe fn give_bytes(mut bytes: Vec<u8>, out: *mut *mut c_char, out_len: *mut usize) {
    if bytes.is_empty() {
        return;
    }
    // A copy of the exact size: shrinking `bytes` could leave an unwiped copy behind.
    let copy: Box<[u8]> = bytes.as_slice().into();
    bytes.zeroize();
    out_len.write(copy.len());
    out.write(Box::into_raw(copy).cast::<c_char>());
}

/// Makes a redactor of `n` values: `names[i]` is the name of `values[i]`
/// (names are only reported by `runqy_vault_redactor_skipped_json`). Every
/// form SPEC §11 lists of each value becomes the value's mask; empty values
/// are ignored; values (or lines of a multi-line value) shorter than 6
/// characters are left alone and their names reported as skipped.
///
/// On success `*out` is a new handle the caller frees with
/// `runqy_vault_redactor_free`; NULL on failure. `names` and `values` may be
/// NULL only when `n` is 0 (a redactor that passes everything through); no
/// entry may be NULL; all text must be UTF-8. Errors:
/// `RUNQY_VAULT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_new(
    names: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    out: *mut *mut RunqyVaultRedactor,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(out, std::ptr::null_mut(), "out")?;
        let names = arg_list(names, n, "names")?;
        let values = arg_list(values, n, "values")?;
        let redactor = Redactor::new(names.iter().zip(&values))?;
        *out = register(&redactor);
        Ok(())
    })
}

/// Makes a redactor of a registration payload's values: its `vaults`
/// entries and its `git_token` (named `git_token`). `payload_json` is the
/// payload a worker receives, or the whole registration response of a runqy
/// server (other members are ignored). A value that is not a string is
/// refused naming its key.
///
/// On success `*out` is a new handle the caller frees with
/// `runqy_vault_redactor_free`; NULL on failure. `payload_json` and `out`
/// must not be NULL. Errors: `RUNQY_VAULT_INVALID_ARGUMENT` (not JSON, a
/// value that is not a string, not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_from_payload(
    payload_json: *const c_char,
    out: *mut *mut RunqyVaultRedactor,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(out, std::ptr::null_mut(), "out")?;
        let json = arg_str(payload_json, "payload_json")?;
        let payload = RegistrationPayload::from_json(json)?;
        let redactor = Redactor::from_payload(&payload)?;
        *out = register(&redactor);
        Ok(())
    })
}

/// Makes a new redactor of the same values as `redactor`, with a stream of
/// its own (nothing held back): one for each output of a task (standard
/// output and standard error). Cheap: the matcher is shared.
///
/// On success `*out` is a new handle the caller frees with
/// `runqy_vault_redactor_free`. `redactor` and `out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_clone(
    redactor: *const RunqyVaultRedactor,
    out: *mut *mut RunqyVaultRedactor,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(out, std::ptr::null_mut(), "out")?;
        let values = with_stream(redactor, |s| s.redactor().clone())?;
        *out = register(&values);
        Ok(())
    })
}

/// Sets `*json_out` to the names of the values left alone (or partly
/// alone) because they, or one of their lines, are shorter than 6
/// characters: a JSON array of strings, sorted, e.g. `["PORT"]` (`[]` when
/// none). Never the values. A worker warns once naming them.
///
/// The caller frees the JSON with `runqy_vault_string_free`. `redactor` and
/// `json_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_skipped_json(
    redactor: *const RunqyVaultRedactor,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let skipped: Vec<String> = with_stream(redactor, |s| s.redactor().skipped().to_vec())?;
        *out = json_string(&skipped)?;
        Ok(())
    })
}

/// Feeds the `len` bytes at `buf` (one write of a task's output, any bytes)
/// to the redactor's stream and sets `(*out, *out_len)` to what can be shown
/// now: the input with every value masked, less the bytes held back because
/// they may begin a value (at most the longest form less one byte, never a
/// complete line). The output is byte for byte the same however the input
/// is cut into calls; bytes that are not UTF-8 pass through unchanged.
///
/// `*out` is NULL and `*out_len` 0 when there is nothing to show yet;
/// otherwise `*out` holds `*out_len` bytes (not NUL-terminated; they may
/// hold NUL bytes) that the caller frees with
/// `runqy_vault_bytes_free(*out, *out_len)`. `buf` may be NULL only when
/// `len` is 0. `redactor`, `out` and `out_len` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_feed(
    redactor: *const RunqyVaultRedactor,
    buf: *const u8,
    len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        arg_out(out, std::ptr::null_mut(), "out")?;
        arg_out(out_len, 0, "out_len")?;
        let data: &[u8] = match (buf.is_null(), len) {
            (_, 0) => &[],
            (true, _) => {
                return Err(Failure::invalid_argument(format!(
                    "buf is NULL but its length is {len}"
                )))
            }
            (false, _) if len > isize::MAX as usize => {
                return Err(Failure::invalid_argument(format!(
                    "the length of buf ({len}) is impossibly large"
                )))
            }
            // SAFETY: the caller gives `len` readable bytes at `buf`.
            (false, _) => std::slice::from_raw_parts(buf, len),
        };
        let shown = with_stream(redactor, |s| {
            let mut shown = Vec::with_capacity(data.len() + s.pending());
            s.feed_into(data, &mut shown);
            shown
        })?;
        give_bytes(shown, out, out_len);
        Ok(())
    })
}

/// Ends the stream: sets `(*out, *out_len)` to the bytes held back,
/// redacted, as `runqy_vault_redactor_feed` does (NULL and 0 when none).
/// Call it when the task's output closes. The handle may then be fed a new
/// stream. `redactor`, `out` and `out_len` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_redactor_finish(
    redactor: *const RunqyVaultRedactor,
    out: *mut *mut c_char,
    out_len: *mut usize,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        arg_out(out, std::ptr::null_mut(), "out")?;
        arg_out(out_len, 0, "out_len")?;
        let shown = with_stream(redactor, |s| s.finish())?;
        give_bytes(shown, out, out_len);
        Ok(())
    })
}

/// Frees a redactor handle, wiping the values and the bytes it held back
/// (the values also live in the matcher's tables, which are freed but not
/// wiped). NULL, or a handle already freed, does nothing. Bytes held back
/// and not yet finished are dropped: call `runqy_vault_redactor_finish` first.
#[no_mangle]
pub extern "C" fn runqy_vault_redactor_free(redactor: *mut RunqyVaultRedactor) {
    guard_value((), || REDACTORS.unregister(redactor))
}

/// Frees bytes returned with a length (`runqy_vault_redactor_feed`,
/// `runqy_vault_redactor_finish`), wiping them first. `len` must be the
/// length returned with them. `ptr` NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_bytes_free(ptr: *mut c_char, len: usize) {
    if ptr.is_null() {
        return;
    }
    guard_value((), || {
        // SAFETY: `ptr` and `len` are a Box<[u8]> that `give_bytes` leaked.
        let mut bytes = Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.cast::<u8>(), len));
        bytes.zeroize();
    })
}
