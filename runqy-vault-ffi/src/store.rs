//! The store's calls: open, free, and every vault operation on a handle.

use std::os::raw::c_char;

use runqy_vault::{MasterKey, Store};

use crate::error::{Failure, RunqyVaultResult};
use crate::handle::{self, RunqyVaultStore};
use crate::panic::{guard, guard_value};
use crate::strings::{arg_opt_str, arg_out, arg_str, secret_string};

/// Opens (creating if needed) the SQLite store at `path`.
///
/// `master_key_or_null` is the base64 text of a 32-byte key
/// (`openssl rand -base64 32`); NULL reads the key from the environment
/// (`RUNQY_VAULT_MASTER_KEY`, `RUNQY_VAULT_MASTER_KEY_FILE`,
/// `RUNQY_VAULT_MASTER_KEY_PREVIOUS`). With no key anywhere the store opens
/// *disabled*: the call succeeds and every vault operation then returns
/// `RUNQY_VAULT_DISABLED`.
///
/// On success `*out` is a new handle the caller owns and frees with
/// `runqy_vault_store_free`; on failure `*out` is NULL. `path` and `out` must
/// not be NULL. The handle may be used from several threads at once.
/// Errors: `RUNQY_VAULT_INVALID_MASTER_KEY`, `RUNQY_VAULT_KEY_MISMATCH`,
/// `RUNQY_VAULT_STORAGE`, `RUNQY_VAULT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_store_open(
    path: *const c_char,
    master_key_or_null: *const c_char,
    out: *mut *mut RunqyVaultStore,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(out, std::ptr::null_mut(), "out")?;
        let path = arg_str(path, "path")?;
        let key = arg_opt_str(master_key_or_null, "master_key_or_null")?;
        let store = Store::open(path, key)?;
        *out = handle::register(store);
        Ok(())
    })
}

/// Closes and frees a store handle. NULL, or a handle already freed, does
/// nothing. Calls running on other threads with this handle finish first
/// (the store closes when the last one returns); the handle must not be
/// passed to any call after this one.
#[no_mangle]
pub extern "C" fn runqy_vault_store_free(store: *mut RunqyVaultStore) {
    guard_value((), || handle::unregister(store))
}

/// Sets `*enabled_out` to whether the store has a master key (false: it
/// opened disabled). `store` and `enabled_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_store_enabled(
    store: *const RunqyVaultStore,
    enabled_out: *mut bool,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(enabled_out, false, "enabled_out")?;
        *out = handle::lookup(store)?.is_enabled();
        Ok(())
    })
}

/// Creates the vault `name` with `description_or_null` (NULL means empty).
/// `store` and `name` must not be NULL. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_EXISTS`, `RUNQY_VAULT_INVALID_NAME`,
/// `RUNQY_VAULT_RESERVED_NAME`, `RUNQY_VAULT_DISABLED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_create(
    store: *const RunqyVaultStore,
    name: *const c_char,
    description_or_null: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup(store)?;
        let name = arg_str(name, "name")?;
        let description = arg_opt_str(description_or_null, "description_or_null")?;
        Ok(store.create_vault(name, description.unwrap_or(""))?)
    })
}

/// Deletes the vault `name` and all its entries, atomically. `store` and
/// `name` must not be NULL. Thread-safe. Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_delete(
    store: *const RunqyVaultStore,
    name: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup(store)?;
        let name = arg_str(name, "name")?;
        Ok(store.delete_vault(name)?)
    })
}

/// Sets `key` to `value` in `vault` (insert or update); `is_secret` false
/// lets listings show the value unmasked. `store`, `vault`, `key` and `value`
/// must not be NULL; `value` may be empty. The library copies `value`; the
/// caller keeps ownership of (and should wipe) its buffer. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, `RUNQY_VAULT_INVALID_NAME`,
/// `RUNQY_VAULT_RESERVED_NAME`, `RUNQY_VAULT_INVALID_VALUE`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_set(
    store: *const RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    value: *const c_char,
    is_secret: bool,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    // The same call with the handle's own actor: one body for both (audit.rs).
    crate::audit::runqy_vault_set_as(
        store,
        std::ptr::null(),
        vault,
        key,
        value,
        is_secret,
        err_out,
    )
}

/// Sets `*value_out` to the decrypted value of `key` in `vault`: a string the
/// caller owns and frees with `runqy_vault_string_free` (which wipes it).
/// On failure `*value_out` is NULL. No pointer may be NULL except `err_out`.
/// Thread-safe. Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`,
/// `RUNQY_VAULT_ENTRY_NOT_FOUND`, `RUNQY_VAULT_DECRYPTION_FAILED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_get(
    store: *const RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    value_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    // The same call with the handle's own actor: one body for both (audit.rs).
    crate::audit::runqy_vault_get_as(store, std::ptr::null(), vault, key, value_out, err_out)
}

/// Removes `key` from `vault`. `store`, `vault` and `key` must not be NULL.
/// Thread-safe. Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`,
/// `RUNQY_VAULT_ENTRY_NOT_FOUND`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_unset(
    store: *const RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    // The same call with the handle's own actor: one body for both (audit.rs).
    crate::audit::runqy_vault_unset_as(store, std::ptr::null(), vault, key, err_out)
}

/// Sets `*json_out` to the vaults as a JSON array sorted by name:
/// `[{"name": ..., "description": ..., "entry_count": N}, ...]`.
/// The caller frees it with `runqy_vault_string_free`; NULL on failure.
/// `store` and `json_out` must not be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_list_json(
    store: *const RunqyVaultStore,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        *out = json_string(&store.list_vaults()?)?;
        Ok(())
    })
}

/// Sets `*json_out` to the vault `name` as JSON: `{"name", "description",
/// "created_at", "updated_at", "entries": [{"key", "value", "is_secret",
/// "created_at", "updated_at"}]}`, entries sorted by key, secret values
/// masked. The caller frees it with `runqy_vault_string_free`; NULL on
/// failure. No pointer may be NULL except `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_show_json(
    store: *const RunqyVaultStore,
    name: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let name = arg_str(name, "name")?;
        *out = json_string(&store.show(name)?)?;
        Ok(())
    })
}

/// Merges the `n_vaults` vaults listed at `vaults` (later ones override
/// earlier ones) and sets `*json_out` to `{"values": {"KEY": "plaintext",
/// ...}, "sources": {"KEY": {"vault": ..., "shadowed": [...]}}}`. The JSON
/// holds plaintext secrets: the caller frees it with
/// `runqy_vault_string_free`, which wipes it; NULL on failure.
///
/// `vaults` may be NULL only when `n_vaults` is 0; none of its entries may be
/// NULL. `store` and `json_out` must not be NULL. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_NOT_FOUND` naming every missing vault, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_resolve_json(
    store: *const RunqyVaultStore,
    vaults: *const *const c_char,
    n_vaults: usize,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    // The same call with the handle's own actor: one body for both (audit.rs).
    crate::audit::runqy_vault_resolve_json_as(
        store,
        std::ptr::null(),
        vaults,
        n_vaults,
        json_out,
        err_out,
    )
}

/// Sets `*json_out` to the registration payload a server hands a worker
/// (SPEC §7): `{"git_token": "...", "vaults": {"KEY": "plaintext", ...}}`,
/// keys sorted, empty members left out, plus a `"warnings"` array of strings
/// when there are any (e.g. why the git token was left out).
///
/// `git_token_ref_or_null` is a `vault://<vault>/<key>` reference, or NULL
/// for no token; a bad reference or a missing entry is a warning, not a
/// failure. `vaults` may be NULL only when `n_vaults` is 0; none of its
/// entries may be NULL. The JSON holds plaintext secrets: the caller frees
/// it with `runqy_vault_string_free`, which wipes it; NULL on failure.
/// Thread-safe. Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, `RUNQY_VAULT_DISABLED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_registration_payload(
    store: *const RunqyVaultStore,
    vaults: *const *const c_char,
    n_vaults: usize,
    git_token_ref_or_null: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    // The same call with the handle's own actor: one body for both (audit.rs).
    crate::audit::runqy_vault_registration_payload_as(
        store,
        std::ptr::null(),
        vaults,
        n_vaults,
        git_token_ref_or_null,
        json_out,
        err_out,
    )
}

/// Re-encrypts every entry under `new_master_key` (base64 text of 32 bytes)
/// in one transaction; afterwards the old key alone no longer opens the
/// store, and this handle uses the new key. `store` and `new_master_key`
/// must not be NULL. Thread-safe. Errors: `RUNQY_VAULT_INVALID_MASTER_KEY`,
/// `RUNQY_VAULT_INVALID_ARGUMENT` (the current key), `RUNQY_VAULT_DISABLED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_rotate_key(
    store: *const RunqyVaultStore,
    new_master_key: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup(store)?;
        let text = arg_str(new_master_key, "new_master_key")?;
        let key = MasterKey::parse(text, "new_master_key")?;
        store.rotate_key(&key)?;
        Ok(())
    })
}

/// JSON of a result struct, in a wipeable C string (some shapes hold plaintext).
pub(crate) fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> Result<*mut c_char, Failure> {
    let json = zeroize::Zeroizing::new(serde_json::to_string(value).map_err(|e| Failure {
        code: RunqyVaultResult::RUNQY_VAULT_OTHER_ERROR,
        message: format!("could not encode the result as JSON: {e}"),
    })?);
    secret_string(&json)
}
