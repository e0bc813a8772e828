//! The registration payload as a dict, built straight from the core's
//! `RegistrationPayload`.
//!
//! The core decides the payload (vaults, merge order, which members are
//! sent); this file only makes Python objects of it, in the shape its serde
//! form has (`git_token`, `vaults`, `warnings`, empty members left out).
//! pythonize made the same dict through serde, at a cost the payload's
//! ≥ 10× target over the upstream Python model could not carry.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use runqy_vault::RegistrationPayload;

/// `payload` as the dict `Store.registration_payload` returns. Each value
/// becomes a `str` read straight from the core's wiped-on-drop buffer.
pub fn payload_dict<'py>(
    py: Python<'py>,
    payload: &RegistrationPayload,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    if let Some(token) = payload.sent_git_token() {
        out.set_item(intern!(py, "git_token"), PyString::new(py, token.expose()))?;
    }
    if !payload.vaults.is_empty() {
        let vaults = PyDict::new(py);
        for (key, value) in &payload.vaults {
            vaults.set_item(PyString::new(py, key), PyString::new(py, value.expose()))?;
        }
        out.set_item(intern!(py, "vaults"), vaults)?;
    }
    if !payload.warnings.is_empty() {
        out.set_item(intern!(py, "warnings"), PyList::new(py, &payload.warnings)?)?;
    }
    Ok(out)
}
