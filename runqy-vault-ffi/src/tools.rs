//! Calls that need no store: a new master key, the mask of a value.

use std::os::raw::c_char;

use runqy_vault::MasterKey;

use crate::error::RunqyVaultResult;
use crate::panic::guard;
use crate::strings::{arg_out, arg_str, secret_string};

/// Sets `*key_out` to a new random master key as base64 text (as
/// `openssl rand -base64 32` makes). The caller frees it with
/// `runqy_vault_string_free`, which wipes it. `key_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_generate_key(
    key_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(key_out, std::ptr::null_mut(), "key_out")?;
        *out = secret_string(MasterKey::generate().to_base64().expose())?;
        Ok(())
    })
}

/// Sets `*masked_out` to `value` masked as listings show it (counted in
/// characters: empty stays empty, 1-4 become `****`, longer keep the first
/// two and last two around `****`). The caller frees it with
/// `runqy_vault_string_free`. `value` and `masked_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_mask(
    value: *const c_char,
    masked_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(masked_out, std::ptr::null_mut(), "masked_out")?;
        let value = arg_str(value, "value")?;
        *out = secret_string(&runqy_vault::mask(value))?;
        Ok(())
    })
}
