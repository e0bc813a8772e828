//! Queue configurations (SPEC §14): `usage` and `check` as JSON.

use std::os::raw::c_char;

use runqy_vault::queues::QueueConfigs;

use crate::error::RunqyVaultResult;
use crate::handle::{self, RunqyVaultStore};
use crate::panic::guard;
use crate::store::json_string;
use crate::strings::{arg_list, arg_out};

/// The configurations at `paths` (none: `QUEUE_WORKERS_DIR`, when set).
unsafe fn configs(
    paths: *const *const c_char,
    n: usize,
) -> Result<QueueConfigs, crate::error::Failure> {
    let paths = arg_list(paths, n, "config_paths")?;
    Ok(QueueConfigs::load(&paths)?)
}

/// Sets `*json_out` to which queues use each vault (SPEC §14):
/// `{"vaults": [{"vault", "queues": [...], "git_token_of": [...]}],
/// "missing": [...the same, for vaults queues name that do not exist],
/// "problems": ["..."]}`, queues read from the `n_config_paths` YAML files or
/// directories at `config_paths` and from the runqy server's `queues` table
/// when the store's database has one. No paths (`config_paths` may then be
/// NULL): `QUEUE_WORKERS_DIR` when it is set. Needs no master key.
///
/// The caller frees the JSON with `runqy_vault_string_free`; NULL on
/// failure. `store` and `json_out` must not be NULL; no entry of
/// `config_paths` may be NULL. Thread-safe. Errors: `RUNQY_VAULT_IO` (a path
/// that does not exist or cannot be read), `RUNQY_VAULT_STORAGE`, ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_usage_json(
    store: *const RunqyVaultStore,
    config_paths: *const *const c_char,
    n_config_paths: usize,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let configs = configs(config_paths, n_config_paths)?;
        *out = json_string(&store.usage(&configs)?)?;
        Ok(())
    })
}

/// Sets `*json_out` to what `check` finds (SPEC §14): `{"findings":
/// [{"severity": "error"|"warning"|"note", "check", "queue", "vault", "key",
/// "message"}], "errors": N, "warnings": M}` (`queue`, `vault`, `key` null
/// when a finding concerns none; no finding holds a value). Queues are read
/// as `runqy_vault_usage_json` reads them; entries not updated for more
/// than `max_age_days` days are reported (0: the default, 90). Every entry is
/// decrypted once to prove it decrypts.
///
/// Findings are data, not failures: the call returns `RUNQY_VAULT_OK` with
/// `"errors" > 0` when the store has problems, a disabled store included.
/// The caller frees the JSON with `runqy_vault_string_free`; NULL on
/// failure. Pointers as `runqy_vault_usage_json`. Thread-safe.
/// Errors: `RUNQY_VAULT_IO` (a configuration path), ...
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_check_json(
    store: *const RunqyVaultStore,
    config_paths: *const *const c_char,
    n_config_paths: usize,
    max_age_days: u32,
    json_out: *mut *mut c_char,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(json_out, std::ptr::null_mut(), "json_out")?;
        let store = handle::lookup(store)?;
        let configs = configs(config_paths, n_config_paths)?;
        let max_age = match max_age_days {
            0 => runqy_vault::check::DEFAULT_MAX_AGE_DAYS,
            days => days,
        };
        *out = json_string(&store.check(&configs, max_age))?;
        Ok(())
    })
}
