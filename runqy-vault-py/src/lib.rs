//! The Python module `runqy_vault._runqy_vault` (SPEC §9).
//!
//! Bindings translate, they never decide: every rule (names, values,
//! masking, the payload's shape, the worker-side checks) is the core's.

use pyo3::prelude::*;
use pyo3::types::PyString;

mod args;
mod errors;
mod inject;
mod payload;
mod redact;
mod store;

/// A new random master key, as standard base64 (what `openssl rand -base64 32` prints).
#[pyfunction]
fn generate_key(py: Python<'_>) -> Bound<'_, PyString> {
    // The str is made straight from the key's wiped-on-drop text, with no
    // unwiped Rust copy in between.
    PyString::new(py, runqy_vault::MasterKey::generate().to_base64().expose())
}

/// The masked form of a value: `sk-proj-abc…xx` → `sk****xx`.
#[pyfunction]
fn mask(value: &Bound<'_, PyAny>) -> PyResult<String> {
    // The value is a secret: its Rust copy is wiped when dropped.
    let value = runqy_vault::SecretString::from(args::text(value, "value")?);
    Ok(runqy_vault::mask(value.expose()))
}

#[pymodule]
fn _runqy_vault(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", runqy_vault::VERSION)?;
    errors::register(m)?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<redact::PyRedactor>()?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(mask, m)?)?;
    m.add_function(wrap_pyfunction!(inject::inject, m)?)?;
    m.add_function(wrap_pyfunction!(inject::child_env, m)?)?;
    Ok(())
}
