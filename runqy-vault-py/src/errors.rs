//! The exception tree of SPEC §9 and the one conversion from the core's error.
//!
//! The classes are made with `type()` at import because several of them have
//! two bases (`VaultNotFoundError(VaultError, KeyError)`), which pyo3's
//! `create_exception!` cannot express. Each class carries `http_status`.

use pyo3::exceptions::{PyBaseException, PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use runqy_vault::{Error, ErrorKind};

/// The Python classes, created once per interpreter at module import.
pub struct Exceptions {
    pub base: Py<PyType>,
    disabled: Py<PyType>,
    invalid_master_key: Py<PyType>,
    key_mismatch: Py<PyType>,
    vault_not_found: Py<PyType>,
    entry_not_found: Py<PyType>,
    vault_exists: Py<PyType>,
    invalid_name: Py<PyType>,
    invalid_value: Py<PyType>,
    invalid_input: Py<PyType>,
    decryption: Py<PyType>,
    version_not_found: Py<PyType>,
    version_conflict: Py<PyType>,
    audit_broken: Py<PyType>,
}

static EXCEPTIONS: PyOnceLock<Exceptions> = PyOnceLock::new();

/// One row of the tree: class name, docstring, extra builtin base, HTTP status.
type Row<'py> = (&'static str, &'static str, Option<Bound<'py, PyType>>, u16);

fn make<'py>(
    py: Python<'py>,
    base: &Bound<'py, PyType>,
    (name, doc, extra, status): Row<'py>,
) -> PyResult<Py<PyType>> {
    let bases = match extra {
        Some(extra) => PyTuple::new(py, [base.clone(), extra])?,
        None => PyTuple::new(py, [base.clone()])?,
    };
    let ns = PyDict::new(py);
    ns.set_item("__module__", "runqy_vault")?;
    ns.set_item("__doc__", doc)?;
    ns.set_item("http_status", status)?;
    // KeyError's __str__ quotes its message (`"'vault x not found'"`); keep the plain text.
    ns.set_item(
        "__str__",
        py.get_type::<PyBaseException>().getattr("__str__")?,
    )?;
    let cls = py
        .get_type::<PyType>()
        .call1((name, bases, ns))?
        .cast_into::<PyType>()?;
    Ok(cls.unbind())
}

/// Creates the classes (once) and adds them to `module`.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let exc = EXCEPTIONS.get_or_try_init(py, || -> PyResult<Exceptions> {
        let base = make(
            py,
            &py.get_type::<PyException>(),
            (
                "VaultError",
                "Base class of every runqy_vault error. `http_status` is what a server answers with.",
                None,
                // Storage, Io and kinds without a class of their own land here.
                ErrorKind::Storage.http_status(),
            ),
        )?;
        let b = base.bind(py).clone();
        let key_error = || Some(py.get_type::<PyKeyError>());
        let value_error = || Some(py.get_type::<PyValueError>());
        // Each class's status is its kinds' status in the core's one table.
        let status = |kind: ErrorKind| kind.http_status();
        Ok(Exceptions {
            disabled: make(py, &b, ("VaultsDisabledError", "No master key is configured: vaults are disabled.", None, status(ErrorKind::Disabled)))?,
            invalid_master_key: make(py, &b, ("InvalidMasterKeyError", "The master key is not 32 bytes of standard base64.", None, status(ErrorKind::InvalidMasterKey)))?,
            key_mismatch: make(py, &b, ("KeyMismatchError", "The master key does not open this store.", None, status(ErrorKind::KeyMismatch)))?,
            vault_not_found: make(py, &b, ("VaultNotFoundError", "One or more vaults do not exist (all are named).", key_error(), status(ErrorKind::VaultNotFound)))?,
            entry_not_found: make(py, &b, ("EntryNotFoundError", "The vault has no such key.", key_error(), status(ErrorKind::EntryNotFound)))?,
            vault_exists: make(py, &b, ("VaultExistsError", "The vault already exists.", None, status(ErrorKind::VaultExists)))?,
            invalid_name: make(py, &b, ("InvalidNameError", "A vault name or key breaks the naming rules or is reserved.", value_error(), status(ErrorKind::InvalidName)))?,
            invalid_value: make(py, &b, ("InvalidValueError", "A value cannot be stored (NUL byte, too long).", value_error(), status(ErrorKind::InvalidValue)))?,
            invalid_input: make(py, &b, ("InvalidInputError", "Input that is wrong as a whole: an import document, a rotation, a payload.", value_error(), status(ErrorKind::InvalidInput)))?,
            decryption: make(py, &b, ("DecryptionError", "A stored value did not decrypt.", None, status(ErrorKind::DecryptionFailed)))?,
            version_not_found: make(py, &b, ("VersionNotFoundError", "The version of an entry asked for is not kept (0, negative, never written or pruned).", key_error(), status(ErrorKind::VersionNotFound)))?,
            version_conflict: make(py, &b, ("VersionConflictError", "A check-and-set found another current version, or a restore found the entry current.", None, status(ErrorKind::VersionConflict)))?,
            audit_broken: make(py, &b, ("AuditBrokenError", "The audit log does not verify: a record edited, removed, inserted or moved (the message names the first).", None, status(ErrorKind::AuditBroken)))?,
            base,
        })
    })?;
    for cls in [
        &exc.base,
        &exc.disabled,
        &exc.invalid_master_key,
        &exc.key_mismatch,
        &exc.vault_not_found,
        &exc.entry_not_found,
        &exc.vault_exists,
        &exc.invalid_name,
        &exc.invalid_value,
        &exc.invalid_input,
        &exc.decryption,
        &exc.version_not_found,
        &exc.version_conflict,
        &exc.audit_broken,
    ] {
        let cls = cls.bind(py);
        module.add(cls.name()?, cls)?;
    }
    Ok(())
}

fn class_for(exc: &Exceptions, kind: ErrorKind) -> &Py<PyType> {
    match kind {
        ErrorKind::Disabled => &exc.disabled,
        ErrorKind::InvalidMasterKey => &exc.invalid_master_key,
        ErrorKind::KeyMismatch => &exc.key_mismatch,
        ErrorKind::VaultNotFound => &exc.vault_not_found,
        ErrorKind::EntryNotFound => &exc.entry_not_found,
        ErrorKind::VaultExists => &exc.vault_exists,
        ErrorKind::InvalidName | ErrorKind::ReservedName => &exc.invalid_name,
        ErrorKind::InvalidValue => &exc.invalid_value,
        ErrorKind::InvalidInput => &exc.invalid_input,
        ErrorKind::DecryptionFailed => &exc.decryption,
        ErrorKind::VersionNotFound => &exc.version_not_found,
        ErrorKind::VersionConflict => &exc.version_conflict,
        ErrorKind::AuditBroken => &exc.audit_broken,
        // Storage, Io, and any kind the core adds later: the base class (status 500).
        _ => &exc.base,
    }
}

/// The one conversion from the core's error to a Python exception. The
/// message is the core's Display, which never contains a secret.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    match EXCEPTIONS.get(py) {
        Some(exc) => PyErr::from_type(class_for(exc, err.kind()).bind(py).clone(), err.to_string()),
        // Unreachable once the module is imported; never panic across the boundary.
        None => PyException::new_err(err.to_string()),
    }
}

/// A `VaultError` (base class) with `message`, for binding-level states
/// such as a closed store.
pub fn vault_error(py: Python<'_>, message: String) -> PyErr {
    match EXCEPTIONS.get(py) {
        Some(exc) => PyErr::from_type(exc.base.bind(py).clone(), message),
        None => PyException::new_err(message),
    }
}

/// `Result` conversion with the interpreter token at hand.
pub trait IntoPyResult<T> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
