//! `runqy_vault.Redactor`: the core's redactor (SPEC §11), translated.
//!
//! Every rule (the forms, short values, multi-line values, what a stream
//! holds back, `RUNQY_VAULT_KEYS`) is `runqy_vault::redact`'s; this file
//! reads the Python arguments and releases the GIL while large inputs are
//! matched.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping, PyString};
use runqy_vault::redact::{Stream, MIN_CHARS};
use runqy_vault::{RegistrationPayload, SecretString};

use crate::errors::IntoPyResult;

/// Inputs at least this long are matched with the GIL released: below it,
/// releasing and taking it back costs more than the match.
const DETACH_BYTES: usize = 16 * 1024;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn secret_str(obj: &Bound<'_, PyAny>, what: impl FnOnce() -> String) -> PyResult<SecretString> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{} must be a str, not {}", what(), type_name(obj)))
    })?;
    Ok(SecretString::from(s.to_cow()?.into_owned()))
}

/// A mapping of str to str, read into wiped-on-drop values.
fn str_map(mapping: &Bound<'_, PyMapping>, what: &str) -> PyResult<BTreeMap<String, SecretString>> {
    let mut out = BTreeMap::new();
    for item in mapping.items()?.iter() {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let name = name.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("{what} keys must be str, not {}", type_name(&name)))
        })?;
        let name = name.to_cow()?.into_owned();
        let value = secret_str(&value, || format!("{what}['{name}']"))?;
        out.insert(name, value);
    }
    Ok(out)
}

/// The core redactor for `secrets`: a payload's JSON text, a payload dict
/// (it has a `vaults` mapping or a `warnings` member, as
/// `Store.registration_payload` returns), or a mapping of name to value.
fn build(secrets: &Bound<'_, PyAny>) -> PyResult<runqy_vault::Redactor> {
    let py = secrets.py();
    if let Ok(text) = secrets.cast::<PyString>() {
        let text = SecretString::from(text.to_cow()?.into_owned());
        let payload = RegistrationPayload::from_json(text.expose()).into_py_result(py)?;
        return py
            .detach(|| runqy_vault::Redactor::from_payload(&payload))
            .into_py_result(py);
    }
    let mapping = secrets.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!(
            "secrets must be a mapping of name to value, a registration payload dict \
             or its JSON text, not {}",
            type_name(secrets)
        ))
    })?;
    let vaults = mapping.get_item("vaults").ok();
    let is_payload = vaults
        .as_ref()
        .is_some_and(|v| v.cast::<PyMapping>().is_ok())
        || mapping.contains("warnings")?;
    if !is_payload {
        let pairs = str_map(mapping, "secrets")?;
        return py
            .detach(|| {
                runqy_vault::Redactor::new(pairs.iter().map(|(n, v)| (n.as_str(), v.expose())))
            })
            .into_py_result(py);
    }
    let vaults = match vaults.filter(|v| !v.is_none()) {
        None => BTreeMap::new(),
        Some(v) => str_map(
            v.cast::<PyMapping>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "payload['vaults'] must be a dict of str to str, not {}",
                    type_name(&v)
                ))
            })?,
            "payload['vaults']",
        )?,
    };
    let git_token = match mapping.get_item("git_token").ok().filter(|t| !t.is_none()) {
        None => None,
        Some(t) => Some(secret_str(&t, || "payload['git_token']".to_owned())?),
    };
    let payload = RegistrationPayload {
        vaults,
        git_token,
        warnings: Vec::new(),
    };
    py.detach(|| runqy_vault::Redactor::from_payload(&payload))
        .into_py_result(py)
}

/// Replaces vault values, in every form SPEC §11 lists, by their masks.
#[pyclass(name = "Redactor", module = "runqy_vault", frozen)]
pub struct PyRedactor {
    redactor: runqy_vault::Redactor,
    stream: Mutex<Stream>,
}

impl PyRedactor {
    fn of(redactor: runqy_vault::Redactor) -> PyRedactor {
        PyRedactor {
            stream: Mutex::new(redactor.stream()),
            redactor,
        }
    }

    fn stream(&self) -> MutexGuard<'_, Stream> {
        // A panic cannot leave the held bytes half-updated in a way that matters more than losing them.
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyRedactor {
    /// Values (and lines) shorter than this many characters are left alone.
    #[classattr]
    const MIN_LENGTH: usize = MIN_CHARS;

    #[new]
    fn new(secrets: &Bound<'_, PyAny>) -> PyResult<PyRedactor> {
        build(secrets).map(PyRedactor::of)
    }

    /// The values of the variables named in `RUNQY_VAULT_KEYS` of `environ`
    /// (`os.environ` by default).
    #[staticmethod]
    #[pyo3(signature = (environ=None))]
    fn from_environ(py: Python<'_>, environ: Option<&Bound<'_, PyAny>>) -> PyResult<PyRedactor> {
        let environ = match environ.filter(|e| !e.is_none()) {
            Some(e) => e.clone(),
            None => py.import("os")?.getattr("environ")?,
        };
        let environ = environ.cast::<PyMapping>().map_err(|_| {
            PyTypeError::new_err(format!(
                "environ must be a mapping of str to str (like os.environ), not {}",
                type_name(&environ)
            ))
        })?;
        let lookup = |name: &str| {
            let value = environ.get_item(name).ok()?;
            let value = value.cast::<PyString>().ok()?;
            Some(SecretString::from(value.to_cow().ok()?.into_owned()))
        };
        runqy_vault::Redactor::from_environment(lookup)
            .into_py_result(py)
            .map(PyRedactor::of)
    }

    /// `text` with every form of every value replaced by the value's mask.
    fn redact<'py>(&self, text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
        let py = text.py();
        if let Ok(s) = text.to_str() {
            let out = if s.len() >= DETACH_BYTES {
                py.detach(|| self.redactor.redact(s))
            } else {
                self.redactor.redact(s)
            };
            return Ok(PyString::new(py, &out));
        }
        // Lone surrogates (from `surrogateescape` decoding): through as bytes.
        let bytes = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
        let bytes = bytes.cast::<PyBytes>()?.as_bytes();
        let out = py.detach(|| self.redactor.redact_bytes(bytes));
        PyBytes::new(py, &out)
            .call_method1("decode", ("utf-8", "surrogatepass"))?
            .cast_into::<PyString>()
            .map_err(Into::into)
    }

    /// Redacts one write of a stream; returns what can be written out now.
    fn feed<'py>(&self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let py = data.py();
        let data = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("data must be bytes, not {}", type_name(data)))
        })?;
        let data = data.as_bytes();
        let out = if data.len() >= DETACH_BYTES {
            py.detach(|| self.stream().feed(data))
        } else {
            self.stream().feed(data)
        };
        Ok(PyBytes::new(py, &out))
    }

    /// Ends the stream: returns the bytes held back, redacted.
    fn finish<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let out = self.stream().finish();
        PyBytes::new(py, &out)
    }

    /// The names of the values left alone (or partly), sorted.
    #[getter]
    fn skipped(&self) -> Vec<String> {
        self.redactor.skipped().to_vec()
    }

    fn __bool__(&self) -> bool {
        !self.redactor.is_empty()
    }

    /// The same redactor with a stream of its own.
    fn __copy__(&self) -> PyRedactor {
        PyRedactor::of(self.redactor.clone())
    }

    fn __repr__(&self) -> String {
        format!("<runqy_vault.{:?}>", self.redactor)
    }
}
