//! Argument checks that pyo3's extraction does not give clearly enough.

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// A list (any iterable but a string) of vault names.
///
/// A lone `str` is refused: iterating it would ask for one vault per character.
pub fn vault_names(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "vaults must be a list of vault names, not a single {}; write [name] for one vault",
            type_name(obj)
        )));
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "vaults must be a list of vault names, not {}",
            type_name(obj)
        ))
    })?;
    let mut names = Vec::new();
    for (i, item) in iter.enumerate() {
        let item = item?;
        let name = item.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "vaults[{i}] must be a str vault name, not {}",
                type_name(&item)
            ))
        })?;
        names.push(name.to_cow()?.into_owned());
    }
    Ok(names)
}

/// A `str` argument, with a message naming the argument when it is not one.
///
/// Its one Rust copy is read straight from the `str`'s UTF-8 text (the
/// abi3-py310 stable ABI lends it), so a secret leaves no temporary `bytes`
/// object behind, as the encoding step of 3.9's stable ABI did; callers wrap
/// secrets in `SecretString`, which wipes that copy.
pub fn text(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a str, not {}", type_name(obj)))
    })?;
    Ok(s.to_cow()?.into_owned())
}

/// A filesystem path: `str` or `os.PathLike`.
pub fn path(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PathBuf> {
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return obj.extract::<PathBuf>();
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be a str or os.PathLike, not {}",
        type_name(obj)
    )))
}

/// A `bool` argument; `1` or `"yes"` are refused rather than guessed at.
pub fn flag(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<bool> {
    obj.cast::<PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a bool, not {}", type_name(obj))))
}

/// Queue configuration paths: `None` (none: `QUEUE_WORKERS_DIR`), one
/// `str` / `os.PathLike`, or an iterable of them.
pub fn config_paths(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PathBuf>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return Ok(vec![path(obj, "configs")?]);
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "configs must be a path or a list of paths, not {}",
            type_name(obj)
        ))
    })?;
    iter.enumerate()
        .map(|(i, item)| path(&item?, &format!("configs[{i}]")))
        .collect()
}
