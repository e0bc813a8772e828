//! The registration payload as a dict, built straight from the core's
//! `RegistrationPayload`.
//!
//! The core decides the payload (vaults, merge order, which members are
//! sent); this file only makes Python objects of it, in the shape its serde
//! form has (`git_token`, `vaults`, `warnings`, empty members left out).
//! pythonize made the same dict through serde, at a cost the payload's
//! ≥ 10× target over the upstream Python model (issue 18) could not carry.

use std::cmp::Ordering;
use std::iter::Peekable;
use std::slice;
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use runqy_vault::RegistrationPayload;

/// The key names of the last payload a store converted, as the `str`s it
/// handed out, in the core's (sorted) order. A server asks for the same
/// queue's payload again and again: reusing these `str`s saves making and
/// hashing each name anew, and freeing it with the dict. Names only, never
/// values (SPEC lists key names in `RUNQY_VAULT_KEYS` and the audit log).
#[derive(Default)]
pub struct KeyNames(Mutex<Vec<Py<PyString>>>);

/// The `str` of `key` from the last payload's names, `old` (sorted, as
/// the core's keys are) advanced past it; `None` when it had no such name.
fn reused<'py>(
    py: Python<'py>,
    old: &mut Peekable<slice::Iter<'_, Py<PyString>>>,
    key: &str,
) -> Option<Bound<'py, PyString>> {
    while let Some(name) = old.peek() {
        let order = name
            .bind(py)
            .to_str()
            .map_or(Ordering::Less, |s| s.cmp(key));
        match order {
            Ordering::Less => {
                old.next();
            }
            Ordering::Equal => return old.next().map(|n| n.bind(py).clone()),
            Ordering::Greater => return None,
        }
    }
    None
}

/// `payload` as the dict `Store.registration_payload` returns. Each value
/// becomes a `str` read straight from the core's wiped-on-drop buffer.
pub fn payload_dict<'py>(
    py: Python<'py>,
    payload: &RegistrationPayload,
    names: &KeyNames,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    if let Some(token) = payload.sent_git_token() {
        out.set_item(intern!(py, "git_token"), PyString::new(py, token.expose()))?;
    }
    if !payload.vaults.is_empty() {
        // try_lock: a finalizer run during this call (a GC pass) that asks
        // for a payload of the same store makes its own names, never waits.
        let mut cached = names.0.try_lock().ok();
        let last = cached
            .as_deref_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut next = Vec::with_capacity(payload.vaults.len());
        let mut old = last.iter().peekable();
        let vaults = PyDict::new(py);
        for (key, value) in &payload.vaults {
            let name = reused(py, &mut old, key).unwrap_or_else(|| PyString::new(py, key));
            vaults.set_item(&name, PyString::new(py, value.expose()))?;
            next.push(name.unbind());
        }
        if let Some(cached) = cached.as_deref_mut() {
            *cached = next;
        }
        out.set_item(intern!(py, "vaults"), vaults)?;
    }
    if !payload.warnings.is_empty() {
        out.set_item(intern!(py, "warnings"), PyList::new(py, &payload.warnings)?)?;
    }
    Ok(out)
}
