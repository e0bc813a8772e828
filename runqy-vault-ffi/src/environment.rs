//! A task's environment built from the worker's (SPEC §7): the rule of which
//! inherited variables pass on, and the checks of a payload's entries, are
//! the core's `runqy_vault::payload::child_env`.

use std::os::raw::c_char;

use runqy_vault::payload::child_env;
use runqy_vault::RegistrationPayload;
use zeroize::Zeroizing;

use crate::error::{Failure, RunqyVaultResult};
use crate::panic::{guard, guard_value};
use crate::strings::{arg_list, arg_out, arg_str, free_string, secret_string};

/// At most this many entries are read from a NULL-terminated `base`.
const MAX_BASE: usize = 1 << 20;

/// The entries of a NULL-terminated array of `NAME=VALUE` strings (NULL: none).
///
/// # Safety
/// `base` is NULL or a NULL-terminated array of NUL-terminated strings.
unsafe fn environ<'a>(base: *const *const c_char) -> Result<Vec<(&'a str, &'a str)>, Failure> {
    let mut out = Vec::new();
    if base.is_null() {
        return Ok(out);
    }
    for i in 0.. {
        let entry = *base.add(i);
        if entry.is_null() {
            break;
        }
        if i == MAX_BASE {
            return Err(Failure::invalid_argument(format!(
                "base has more than {MAX_BASE} entries (is it NULL-terminated?)"
            )));
        }
        let text = arg_str(entry, &format!("base[{i}]"))?;
        let (name, value) = text.split_once('=').ok_or_else(|| {
            Failure::invalid_argument(format!(
                "base[{i}] has no '=' (expected NAME=VALUE, as in environ)"
            ))
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// Builds a task's environment (SPEC §7) and sets `*env_out` to it: a
/// NULL-terminated array of `*n_out` strings `NAME=VALUE`, sorted by name,
/// ready for `execve`'s `envp`.
///
/// It is `base` (a NULL-terminated array of `NAME=VALUE` strings, as
/// `environ`; NULL for none; a name given twice takes its last value)
/// without the worker's own variables: every name starting with `RUNQY_`
/// (compared upper-cased: the master key and its `_FILE`, `RUNQY_API_KEY`,
/// ...) is dropped unless it is one of the `n_keep` names at `keep`; then the
/// payload's vault entries on top, and `RUNQY_VAULT_KEYS` set afresh to their
/// names. `payload_json` is the payload a worker receives (or the whole
/// registration response); its `git_token` is never put in the environment.
/// If any entry is refused (a reserved or ill-formed name, a NUL byte, a
/// value that is not a string), nothing is returned and the message names it.
///
/// The caller frees the array with `runqy_vault_env_free` (which wipes every
/// string). `payload_json`, `env_out` and `n_out` must not be NULL; `keep`
/// may be NULL only when `n_keep` is 0. Errors: `RUNQY_VAULT_RESERVED_NAME`,
/// `RUNQY_VAULT_INVALID_NAME`, `RUNQY_VAULT_INVALID_VALUE`,
/// `RUNQY_VAULT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_child_env(
    payload_json: *const c_char,
    base: *const *const c_char,
    keep: *const *const c_char,
    n_keep: usize,
    env_out: *mut *mut *mut c_char,
    n_out: *mut usize,
    err_out: *mut *mut c_char,
) -> RunqyVaultResult {
    guard(err_out, || {
        let out = arg_out(env_out, std::ptr::null_mut(), "env_out")?;
        let count = arg_out(n_out, 0, "n_out")?;
        let json = arg_str(payload_json, "payload_json")?;
        let base = environ(base)?;
        let keep = arg_list(keep, n_keep, "keep")?;
        let payload = RegistrationPayload::from_json(json)?;
        let env = child_env(&payload.vaults, base, &keep)?;

        let mut strings: Vec<*mut c_char> = Vec::with_capacity(env.len() + 1);
        for (name, value) in &env {
            let mut line =
                Zeroizing::new(String::with_capacity(name.len() + 1 + value.expose().len()));
            line.push_str(name);
            line.push('=');
            line.push_str(value.expose());
            match secret_string(&line) {
                Ok(s) => strings.push(s),
                Err(e) => {
                    for s in strings {
                        free_string(s);
                    }
                    return Err(e);
                }
            }
        }
        strings.push(std::ptr::null_mut());
        *count = env.len();
        *out = Box::into_raw(strings.into_boxed_slice()).cast::<*mut c_char>();
        Ok(())
    })
}

/// Frees an environment returned by `runqy_vault_child_env`, wiping every
/// string. `env` NULL does nothing. It must not have been modified.
#[no_mangle]
pub unsafe extern "C" fn runqy_vault_env_free(env: *mut *mut c_char) {
    if env.is_null() {
        return;
    }
    guard_value((), || {
        let mut n = 0;
        while !(*env.add(n)).is_null() {
            free_string(*env.add(n));
            n += 1;
        }
        // SAFETY: `env` is the boxed slice of n strings and the NULL that
        // runqy_vault_child_env leaked.
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            env,
            n + 1,
        )));
    })
}
