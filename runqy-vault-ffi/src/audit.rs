//! The audit log's calls (SPEC §13) and the actor of the calls that read or
//! write values: a handle-wide default (`runqy_vault_store_set_actor`) and
//! `_as` variants taking the actor per call, for servers that answer many
//! workers on one handle. Existing signatures do not change.

use std::os::raw::c_char;

use runqy_vault::model::AuditFilter;

use crate::error::{Failure, RunqyVaultResult};
use crate::handle::{self, RunqyVaultStore};
use crate::panic::guard;
use crate::store::json_string;
use crate::strings::{arg_list, arg_opt_str, arg_out, arg_str, message_string, secret_string};

/// Makes `actor` the actor of every later call on `store` (every audit
/// record and version written through it names it): at most 256
/// characters, not empty; control characters are escaped. Without it the
/// actor is `$RUNQY_VAULT_ACTOR`, else `user@host`. Calls running on other
/// threads keep the actor they started with. `store` and `actor` must not
/// be NULL. Errors: `RUNQY_VAULT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_store_set_actor(
    store: *const RunqyVaultStore,
    actor: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let actor = arg_str(actor, "actor")?;
        handle::set_actor(store, actor)
    })
}

/// `runqy_vault_get` acting as `actor_or_null` (NULL: the handle's actor),
/// e.g. `"worker:7 queue:inference"`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_get_as(
    store: *const RunqyVaultStore,
    actor_or_null: *const c_char,
    vault: *const c_char,
    key: *const c_char,
    value_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(value_out, std::ptr::null_mut(), "value_out")?;
        let store = handle::lookup_as(store, actor_or_null)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        let value = store.get(vault, key)?.into_zeroizing();
        *out = secret_string(&value)?;
        Ok(())
    })
}

/// `runqy_vault_set` acting as `actor_or_null` (NULL: the handle's actor).
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_set_as(
    store: *const RunqyVaultStore,
    actor_or_null: *const c_char,
    vault: *const c_char,
    key: *const c_char,
    value: *const c_char,
    is_secret: bool,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup_as(store, actor_or_null)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        let value = arg_str(value, "value")?;
        Ok(store.set(vault, key, value, is_secret)?)
    })
}

/// `runqy_vault_unset` acting as `actor_or_null` (NULL: the handle's actor).
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_unset_as(
    store: *const RunqyVaultStore,
    actor_or_null: *const c_char,
    vault: *const c_char,
    key: *const c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let store = handle::lookup_as(store, actor_or_null)?;
        let vault = arg_str(vault, "vault")?;
        let key = arg_str(key, "key")?;
        Ok(store.unset(vault, key)?)
    })
}

/// `runqy_vault_resolve_json` acting as `actor_or_null` (NULL: the handle's actor).
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_resolve_json_as(
    store: *const RunqyVaultStore,
    actor_or_null: *const c_char,
    vaults: *const *const c_char,
    n_vaults: usize,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup_as(store, actor_or_null)?;
        let vaults = arg_list(vaults, n_vaults, "vaults")?;
        *out = json_string(&store.resolve(&vaults)?)?;
        Ok(())
    })
}

/// `runqy_vault_registration_payload` acting as `actor_or_null` (NULL: the
/// handle's actor): a server passes `"worker:<id> queue:<name>"`, so the
/// audit log says which worker got which secrets.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_registration_payload_as(
    store: *const RunqyVaultStore,
    actor_or_null: *const c_char,
    vaults: *const *const c_char,
    n_vaults: usize,
    git_token_ref_or_null: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup_as(store, actor_or_null)?;
        let vaults = arg_list(vaults, n_vaults, "vaults")?;
        let git_token = arg_opt_str(git_token_ref_or_null, "git_token_ref_or_null")?;
        let payload = store.registration_payload(&vaults, git_token)?;
        *out = secret_string(payload.to_json_with_warnings().expose())?;
        Ok(())
    })
}

/// Sets `*json_out` to the audit records that match `filter_json_or_null`,
/// oldest first, as a JSON array of `{"seq", "time", "actor", "operation",
/// "vault", "key", "version", "fingerprint", "detail"}` (never a value).
/// The filter is a JSON object with any of `"vault"`, `"key"`, `"actor"`,
/// `"operation"`, `"since"` (a date or RFC 3339) and `"limit"` (the newest N,
/// at least 1); NULL or `{}` for every record. The caller frees the JSON
/// with `runqy_vault_string_free`; NULL on failure.
/// Errors: `RUNQY_VAULT_INVALID_ARGUMENT` (a bad filter: unknown field,
/// operation or date, limit 0), `RUNQY_VAULT_DISABLED`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_audit_log_json(
    store: *const RunqyVaultStore,
    filter_json_or_null: *const c_char,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let filter = match arg_opt_str(filter_json_or_null, "filter_json_or_null")? {
            None => AuditFilter::default(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Failure::invalid_argument(format!("invalid audit filter JSON: {e}"))
            })?,
        };
        *out = json_string(&store.audit_log(&filter)?)?;
        Ok(())
    })
}

/// Checks every record of the audit log, and its head, with the current
/// key. Intact: `RUNQY_VAULT_OK` and `*records_out` the number of records;
/// broken: `RUNQY_VAULT_AUDIT_BROKEN`, the message naming the first bad
/// record (`audit record S ...`). `store` and `records_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_audit_verify(
    store: *const RunqyVaultStore,
    records_out: *mut u64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(records_out, 0, "records_out")?;
        *out = handle::lookup(store)?.audit_verify()?;
        Ok(())
    })
}

/// Removes the audit records written before `before` (a date `2024-01-15`
/// or an RFC 3339 time), keeping the rest verifiable from an anchor record;
/// `*removed_out` is how many went. The prune is itself recorded.
/// Errors: `RUNQY_VAULT_INVALID_ARGUMENT` (a bad date), ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_audit_prune(
    store: *const RunqyVaultStore,
    before: *const c_char,
    removed_out: *mut u64,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(removed_out, 0, "removed_out")?;
        let store = handle::lookup(store)?;
        let before = arg_str(before, "before")?;
        *out = store.audit_prune(before)?;
        Ok(())
    })
}

/// Sets `*on_out` to whether reads that hand out values (get, resolve, the
/// payload, export) are recorded (on unless turned off).
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_audit_reads(
    store: *const RunqyVaultStore,
    on_out: *mut bool,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(on_out, false, "on_out")?;
        *out = handle::lookup(store)?.audit_reads()?;
        Ok(())
    })
}

/// Turns the recording of reads on or off for every process sharing the
/// store; the change is recorded.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_set_audit_reads(
    store: *const RunqyVaultStore,
    on: bool,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || Ok(handle::lookup(store)?.set_audit_reads(on)?))
}

/// Sets `*problem_out` to what the checks made at open (the head and the
/// newest records) or an append since found wrong with the audit log, or
/// NULL when they found nothing: for a server to log once. The caller frees
/// it with `runqy_vault_string_free`. `runqy_vault_audit_verify` checks
/// every record.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_audit_problem(
    store: *const RunqyVaultStore,
    problem_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(problem_out, std::ptr::null_mut(), "problem_out")?;
        if let Some(p) = handle::lookup(store)?.audit_problem() {
            *out = message_string(&p);
        }
        Ok(())
    })
}
