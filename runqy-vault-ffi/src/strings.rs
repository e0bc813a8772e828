//! Turning C arguments into Rust ones (or an `INVALID_ARGUMENT` before any
//! work), and Rust strings into C strings the caller owns.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use zeroize::Zeroize;

use crate::error::Failure;

/// A required text argument: not NULL, UTF-8.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid_argument(format!("{name} is NULL")));
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|_| Failure::invalid_argument(format!("{name} is not valid UTF-8 text")))
}

/// An optional text argument: NULL is `None`, otherwise UTF-8.
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        arg_str(ptr, name).map(Some)
    }
}

/// A list of vault names: `n` pointers at `list`, none NULL, all UTF-8.
/// `list` may be NULL only when `n` is 0.
///
/// # Safety
/// `list` is NULL or points to `n` readable pointers, each NULL or a
/// NUL-terminated string valid for the call.
pub(crate) unsafe fn arg_list<'a>(
    list: *const *const c_char,
    n: usize,
    name: &str,
) -> Result<Vec<&'a str>, Failure> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Failure::invalid_argument(format!(
            "{name} is NULL but its count is {n}"
        )));
    }
    if n > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(Failure::invalid_argument(format!(
            "the count of {name} ({n}) is impossibly large"
        )));
    }
    std::slice::from_raw_parts(list, n)
        .iter()
        .enumerate()
        .map(|(i, &p)| arg_str(p, &format!("{name}[{i}]")))
        .collect()
}

/// A required out pointer: not NULL. It is set to NULL (or false) at once,
/// so the caller sees a defined value whatever happens next.
///
/// # Safety
/// `ptr` is NULL or valid for one write of `T`.
pub(crate) unsafe fn arg_out<'a, T>(
    ptr: *mut T,
    empty: T,
    name: &str,
) -> Result<&'a mut T, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid_argument(format!("{name} is NULL")));
    }
    ptr.write(empty);
    Ok(&mut *ptr)
}

/// Writes `value` through an out pointer.
///
/// # Safety
/// `out` is valid for one pointer write.
pub(crate) unsafe fn set_out(out: *mut *mut c_char, value: *mut c_char) {
    out.write(value);
}

/// A C copy of a message. Messages come from C strings and the core's
/// formatting, so a NUL is not expected; one would be shown as U+FFFD.
pub(crate) fn message_string(message: &str) -> *mut c_char {
    let text = message.replace('\0', "\u{fffd}");
    CString::new(text)
        .expect("NUL bytes were replaced")
        .into_raw()
}

/// A C copy of text that may be secret. The copy is made in one allocation
/// of the exact size, so no unwiped reallocation is left behind; the caller
/// wipes it with `runqy_vault_string_free`.
pub(crate) fn secret_string(text: &str) -> Result<*mut c_char, Failure> {
    if text.as_bytes().contains(&0) {
        // The core refuses NUL in values (SPEC §4), so this is a stored value
        // that cannot be a C string; the value itself is not shown.
        return Err(Failure::invalid_argument(
            "the value holds a NUL byte and cannot be returned as a C string",
        ));
    }
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    // No NUL inside (checked above) and the capacity already holds the
    // terminator, so CString neither fails nor reallocates.
    Ok(CString::new(bytes)
        .expect("checked for NUL bytes")
        .into_raw())
}

/// Wipes and frees a string made by this library.
///
/// # Safety
/// `ptr` came from [`message_string`] or [`secret_string`], unmodified, and
/// is freed once.
pub(crate) unsafe fn free_string(ptr: *mut c_char) {
    let mut bytes = CString::from_raw(ptr).into_bytes_with_nul();
    bytes.zeroize();
}
