//! The history calls (SPEC §12): versions of an entry, check-and-set,
//! rollback, restore, purge and the number of versions kept.

use std::os::raw::c_char;

use crate::error::RunqyVaultResult;
use crate::handle;
use crate::panic::guard;
use crate::store::json_string;
use crate::strings::{arg_opt_str, arg_out, arg_str, secret_string};

/// Sets `*json_out` to the versions of `key` in `vault`, newest first, as a
/// JSON array: `[{"version": 3, "value": "sk****xx", "is_secret": true,
/// "created_at": "2024-01-15T10:30:00Z", "actor": null, "state":
/// "current"}, ...]`. Values are masked when secret; `state` is `current`,
/// `replaced` or `removed`; `version` is null for a current value another
/// program wrote straight into the upstream tables. The vault need not
/// exist any more (versions are kept by its name until a purge). The caller
/// frees the JSON with `runqy_vault_string_free`; NULL on failure. No
/// pointer may be NULL except `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, `RUNQY_VAULT_ENTRY_NOT_FOUND`,
/// `RUNQY_VAULT_DECRYPTION_FAILED` (a kept version was tampered with), ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_history_json(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        *out = json_string(&store.history(vault, key)?)?;
        Ok(())
    })
}

/// Sets `*value_out` to the decrypted value of version `version` of `key`
/// in `vault` (current or not): a string the caller frees with
/// `runqy_vault_string_free` (which wipes it); NULL on failure. No pointer
/// may be NULL except `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VERSION_NOT_FOUND` (0, negative, never written or
/// pruned; the message says which versions are kept),
/// `RUNQY_VAULT_ENTRY_NOT_FOUND`, `RUNQY_VAULT_DECRYPTION_FAILED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_get_version(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    version: i64,
    value_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(value_out, std::ptr::null_mut(), "value_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        let value = store.get_version(vault, key, version)?.into_zeroizing();
        *out = secret_string(&value)?;
        Ok(())
    })
}

/// `runqy_vault_set`, but only if the entry's current version is `cas` (0:
/// only if the entry does not exist), as HashiCorp Vault's check-and-set;
/// `*version_out` is set to the new version (0 on failure). No pointer may
/// be NULL except `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VERSION_CONFLICT` (the message names the current
/// version), `RUNQY_VAULT_INVALID_ARGUMENT` (a negative `cas`), and those of
/// `runqy_vault_set`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_set_cas(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    value: *const c_char,
    is_secret: bool,
    cas: i64,
    version_out: *mut i64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(version_out, 0, "version_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        *out = store.set_cas(vault, key, value, is_secret, cas)?;
        Ok(())
    })
}

/// Makes version `version` of `key` in `vault` current again, as a new
/// version whose number goes to `*version_out` (0 on failure). The entry
/// must exist (a removed one comes back with `runqy_vault_restore`). No
/// pointer may be NULL except `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VERSION_NOT_FOUND`, `RUNQY_VAULT_ENTRY_NOT_FOUND`
/// (also for a removed entry), `RUNQY_VAULT_VAULT_NOT_FOUND`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_rollback(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    version: i64,
    version_out: *mut i64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(version_out, 0, "version_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        *out = store.rollback(vault, key, version)?;
        Ok(())
    })
}

/// Brings back the removed entry `key` of `vault`: its last version becomes
/// current again as a new version, whose number goes to `*version_out` (0
/// on failure). The vault must exist. No pointer may be NULL except
/// `err_out`. Thread-safe.
/// Errors: `RUNQY_VAULT_VERSION_CONFLICT` (the entry is current),
/// `RUNQY_VAULT_ENTRY_NOT_FOUND` (no history), `RUNQY_VAULT_VAULT_NOT_FOUND`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_restore(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key: *const c_char,
    version_out: *mut i64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(version_out, 0, "version_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        *out = store.restore(vault, key)?;
        Ok(())
    })
}

/// Destroys `key_or_null` of `vault` and every version of it, or with NULL
/// the vault (if it still exists), its entries and all their versions, in
/// one transaction; this cannot be undone. Sets `*json_out` to what was
/// destroyed: `{"versions": N, "entries": M, "vault_deleted": bool}`, plus
/// a `"warnings"` array when the purge is committed but not everything went
/// as promised (SQLite's log could not be truncated yet). The caller frees
/// it with `runqy_vault_string_free`; NULL on failure. `store`, `vault` and
/// `json_out` must not be NULL. Thread-safe.
/// Errors: `RUNQY_VAULT_VAULT_NOT_FOUND`, `RUNQY_VAULT_ENTRY_NOT_FOUND`
/// (nothing to purge), ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_purge(
    store: *const crate::RunqyVaultStore,
    vault: *const c_char,
    key_or_null: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_opt_str(key_or_null, "key_or_null")?;
        *out = json_string(&store.purge(vault, key)?)?;
        Ok(())
    })
}

/// Sets `*limit_out` to how many versions of each key the store keeps, the
/// current one included (10 unless set; 1 keeps only current values).
/// `store` and `limit_out` must not be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_history_limit(
    store: *const crate::RunqyVaultStore,
    limit_out: *mut u32,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(limit_out, 0, "limit_out")?;
        *out = handle::lookup(store)?.history_limit()?;
        Ok(())
    })
}

/// Sets how many versions of each key are kept (1 to 4294967295); lowering
/// it prunes every key at once, in one transaction, and `*pruned_out` is set
/// to how many versions were deleted. `store` and `pruned_out` must not be
/// NULL. Thread-safe. Errors: `RUNQY_VAULT_INVALID_ARGUMENT` (a limit out of
/// range), `RUNQY_VAULT_DISABLED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_set_history_limit(
    store: *const crate::RunqyVaultStore,
    limit: i64,
    pruned_out: *mut u64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(pruned_out, 0, "pruned_out")?;
        *out = handle::lookup(store)?.set_history_limit(limit)?;
        Ok(())
    })
}
