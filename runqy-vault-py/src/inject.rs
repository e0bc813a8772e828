//! The worker side: a registration payload into environment variables.
//!
//! The checks (reserved names, ill-formed names, NUL bytes), the
//! `RUNQY_VAULT_KEYS` variable, which inherited variables a child keeps and
//! which names a second injection removes are the core's
//! (`payload::injection`, `child_env`, `stale_names`); this file only reads
//! the payload and writes the mapping.

use std::collections::BTreeMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};
use runqy_vault::payload::{injection, stale_names, Injection, ENV_VAULT_KEYS};
use runqy_vault::{RegistrationPayload, SecretString};

use crate::errors::IntoPyResult;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The payload's `vaults` member, from the dict `registration_payload`
/// returns or the JSON text a worker receives.
fn payload_vaults(payload: &Bound<'_, PyAny>) -> PyResult<BTreeMap<String, SecretString>> {
    let py = payload.py();
    if let Ok(text) = payload.cast::<PyString>() {
        let text = SecretString::from(text.to_cow()?.into_owned());
        return RegistrationPayload::from_json(text.expose())
            .map(|p| p.vaults)
            .into_py_result(py);
    }
    let mapping = payload.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!(
            "payload must be a dict (as Store.registration_payload returns) or its JSON text, not {}",
            type_name(payload)
        ))
    })?;
    let vaults = match mapping.get_item("vaults") {
        Ok(v) if !v.is_none() => v,
        _ => return Ok(BTreeMap::new()),
    };
    let vaults = vaults.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!(
            "payload['vaults'] must be a dict of str to str, not {}",
            type_name(&vaults)
        ))
    })?;
    let mut out = BTreeMap::new();
    for item in vaults.items()?.iter() {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let name = name.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "payload['vaults'] keys must be str, not {}",
                type_name(&name)
            ))
        })?;
        let name = name.to_cow()?.into_owned();
        let value = value.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "payload['vaults']['{name}'] must be a str, not {}",
                type_name(&value)
            ))
        })?;
        out.insert(name, SecretString::from(value.to_cow()?.into_owned()));
    }
    Ok(out)
}

fn checked(payload: &Bound<'_, PyAny>) -> PyResult<Injection> {
    let vaults = payload_vaults(payload)?;
    injection(&vaults).into_py_result(payload.py())
}

fn os_environ(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("os")?.getattr("environ")
}

fn mapping<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyMapping>> {
    obj.cast::<PyMapping>().cloned().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a mapping of str to str (like os.environ), not {}",
            type_name(obj)
        ))
    })
}

/// Sets the payload's vault entries (and `RUNQY_VAULT_KEYS`) in `environ`
/// (`os.environ` by default), overriding what is there. Returns the names
/// injected. The names an earlier injection listed in `RUNQY_VAULT_KEYS`
/// that this payload does not set again are removed, so every vault variable
/// left is listed (and redacted). If any entry is refused, nothing changes.
#[pyfunction]
#[pyo3(signature = (payload, environ=None))]
pub fn inject<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyAny>,
    environ: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let target = match environ.filter(|e| !e.is_none()) {
        Some(e) => mapping(e, "environ")?,
        None => mapping(&os_environ(py)?, "os.environ")?,
    };
    let inj = checked(payload)?;
    let previous = match target.get_item(ENV_VAULT_KEYS) {
        Ok(v) if !v.is_none() => Some(text(&v, "RUNQY_VAULT_KEYS in environ")?),
        _ => None,
    };
    for name in stale_names(previous.as_ref().map(|p| p.expose()), &inj) {
        if target.contains(&name)? {
            target.del_item(&name)?;
        }
    }
    for (name, value) in &inj.variables {
        target.set_item(name, value.expose())?;
    }
    PyList::new(py, &inj.names)
}

/// A `str`, or a `TypeError` saying what `what` must be.
fn text(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<SecretString> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a str, not {}", type_name(obj)))
    })?;
    Ok(SecretString::from(s.to_cow()?.into_owned()))
}

/// A new environment for a subprocess (SPEC §7): `base` (`os.environ` by
/// default) without the worker's own `RUNQY_*` variables (except those named
/// in `keep`), with the payload's vault entries on top and `RUNQY_VAULT_KEYS`
/// set afresh. The payload's `git_token` is never put in it.
#[pyfunction]
#[pyo3(signature = (payload, base=None, keep=Vec::new()), text_signature = "(payload, base=None, keep=())")]
pub fn child_env<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyAny>,
    base: Option<&Bound<'py, PyAny>>,
    keep: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let base = match base.filter(|b| !b.is_none()) {
        Some(b) => mapping(b, "base")?,
        None => mapping(&os_environ(py)?, "os.environ")?,
    };
    let vaults = payload_vaults(payload)?;
    let mut inherited = Vec::new();
    for item in base.items()?.iter() {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        inherited.push((
            text(&name, "each name in base")?,
            text(&value, "each value in base")?,
        ));
    }
    let env = runqy_vault::payload::child_env(
        &vaults,
        inherited.iter().map(|(n, v)| (n.expose(), v.expose())),
        &keep,
    )
    .into_py_result(py)?;
    let out = PyDict::new(py);
    for (name, value) in &env {
        out.set_item(name, value.expose())?;
    }
    Ok(out)
}
