//! `runqy_vault.Store`: the core store, its results as plain dicts and lists.
//!
//! Every call extracts its arguments, then runs the SQLite and crypto work in
//! `py.detach` (the GIL released), then builds Python objects.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use runqy_vault::{
    EntryView, Error, ExportDocument, MasterKey, RegistrationPayload, SecretString, Store,
    VaultDetail,
};

use crate::args;
use crate::errors::{vault_error, IntoPyResult};

/// A vault store. Share one across threads; `close()` (or leaving a `with`
/// block) releases its SQLite connections.
#[pyclass(module = "runqy_vault", name = "Store", frozen)]
pub struct PyStore {
    /// The core's `Store::path()`: a PostgreSQL URL's password is `***`, so
    /// `path`, `repr` and the "closed" error never show it.
    path: PathBuf,
    // `None` once closed. Calls clone the Arc, so a close during another
    // thread's call lets that call finish.
    store: RwLock<Option<Arc<Store>>>,
}

impl PyStore {
    fn open_store(&self, py: Python<'_>) -> PyResult<Arc<Store>> {
        let guard = self.store.read().unwrap_or_else(PoisonError::into_inner);
        guard
            .clone()
            .ok_or_else(|| vault_error(py, format!("store '{}' is closed", self.path.display())))
    }

    /// Runs `f` on the store with the GIL released.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Store) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        let store = self.open_store(py)?;
        py.detach(|| f(&store)).into_py_result(py)
    }
}

fn entry_dict<'py>(py: Python<'py>, e: &EntryView) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", &e.key)?;
    d.set_item("value", &e.value)?;
    d.set_item("is_secret", e.is_secret)?;
    d.set_item("created_at", &e.created_at)?;
    d.set_item("updated_at", &e.updated_at)?;
    Ok(d)
}

fn entry_list<'py>(py: Python<'py>, entries: &[EntryView]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for e in entries {
        list.append(entry_dict(py, e)?)?;
    }
    Ok(list)
}

fn detail_dict<'py>(py: Python<'py>, v: &VaultDetail) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &v.name)?;
    d.set_item("description", &v.description)?;
    d.set_item("created_at", &v.created_at)?;
    d.set_item("updated_at", &v.updated_at)?;
    d.set_item("entries", entry_list(py, &v.entries)?)?;
    Ok(d)
}

/// `{key: value}`, taking the entries so each plaintext is wiped
/// (`SecretString` zeroizes on drop) right after its one copy into a Python
/// `str`, in the same pass that builds the dict.
fn secret_map(
    py: Python<'_>,
    entries: impl IntoIterator<Item = (String, SecretString)>,
) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in entries {
        d.set_item(k, v.expose())?;
    }
    Ok(d)
}

/// SPEC §7's members, omitted when empty (as `RegistrationPayload::to_json`
/// does), plus `"warnings"` when there are any. The member names are
/// interned (constants, nothing secret); entry names and values are not.
fn payload_dict(py: Python<'_>, p: RegistrationPayload) -> PyResult<Bound<'_, PyDict>> {
    let RegistrationPayload {
        vaults,
        git_token,
        warnings,
    } = p;
    let d = PyDict::new(py);
    if !vaults.is_empty() {
        d.set_item(intern!(py, "vaults"), secret_map(py, vaults)?)?;
    }
    if let Some(token) = git_token.filter(|t| !t.expose().is_empty()) {
        d.set_item(intern!(py, "git_token"), token.expose())?;
    }
    if !warnings.is_empty() {
        d.set_item(intern!(py, "warnings"), warnings)?;
    }
    Ok(d)
}

#[pymethods]
impl PyStore {
    #[new]
    #[pyo3(signature = (path, master_key=None))]
    fn new(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        master_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let path = args::path(path, "path")?;
        let key: Option<SecretString> = master_key
            .map(|k| args::text(k, "master_key").map(SecretString::from))
            .transpose()?;
        let store = py
            .detach(|| Store::open(&path, key.as_ref().map(SecretString::expose)))
            .into_py_result(py)?;
        Ok(PyStore {
            path: store.path().to_path_buf(),
            store: RwLock::new(Some(Arc::new(store))),
        })
    }

    /// Whether a master key is configured.
    #[getter]
    fn enabled(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.open_store(py)?.is_enabled())
    }

    /// The format new values are written in: "legacy" or "v2".
    #[getter]
    fn format(&self, py: Python<'_>) -> PyResult<&'static str> {
        let store = self.open_store(py)?;
        store
            .format()
            .map(|f| f.as_str())
            .ok_or(Error::Disabled)
            .into_py_result(py)
    }

    /// The database path; for PostgreSQL the URL with its password as `***`.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Releases the store; later calls raise `VaultError`. Closing twice is fine.
    fn close(&self) {
        let taken = self
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(taken);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = match &*self.store.read().unwrap_or_else(PoisonError::into_inner) {
            None => "closed",
            Some(s) if s.is_enabled() => "enabled",
            Some(_) => "disabled",
        };
        format!(
            "<runqy_vault.Store {:?} {state}>",
            self.path.display().to_string()
        )
    }

    #[pyo3(
        signature = (name, description=None),
        text_signature = "(self, name, description='')"
    )]
    fn create_vault(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        description: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let name = args::text(name, "name")?;
        let description = match description {
            Some(d) => args::text(d, "description")?,
            None => String::new(),
        };
        self.run(py, move |s| s.create_vault(&name, &description))
    }

    fn delete_vault(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = args::text(name, "name")?;
        self.run(py, move |s| s.delete_vault(&name))
    }

    fn vault_exists(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        let name = args::text(name, "name")?;
        self.run(py, move |s| s.vault_exists(&name))
    }

    /// `[{name, description, entry_count}]`, sorted by name.
    fn list_vaults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let vaults = self.run(py, |s| s.list_vaults())?;
        let list = PyList::empty(py);
        for v in &vaults {
            let d = PyDict::new(py);
            d.set_item("name", &v.name)?;
            d.set_item("description", &v.description)?;
            d.set_item("entry_count", v.entry_count)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// `{name, description, created_at, updated_at, entries}`, secret values masked.
    fn show<'py>(&self, py: Python<'py>, name: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let name = args::text(name, "name")?;
        let detail = self.run(py, move |s| s.show(&name))?;
        detail_dict(py, &detail)
    }

    /// `[{key, value, is_secret, created_at, updated_at}]`, secret values masked.
    fn entries<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let name = args::text(name, "name")?;
        let entries = self.run(py, move |s| s.entries(&name))?;
        entry_list(py, &entries)
    }

    // `secret` is taken untyped so a non-bool gets a clear TypeError; the
    // signature shown to Python keeps its real default.
    #[pyo3(
        signature = (vault, key, value, *, secret=None),
        text_signature = "(self, vault, key, value, *, secret=True)"
    )]
    fn set(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        secret: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let value = SecretString::from(args::text(value, "value")?);
        let secret = secret.map_or(Ok(true), |s| args::flag(s, "secret"))?;
        self.run(py, move |s| s.set(&vault, &key, value.expose(), secret))
    }

    /// The decrypted value.
    fn get<'py>(
        &self,
        py: Python<'py>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyString>> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let value = self.run(py, move |s| s.get(&vault, &key))?;
        // Straight from the wiped-on-drop buffer: no unwiped Rust `String` copy.
        Ok(PyString::new(py, value.expose()))
    }

    fn unset(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        self.run(py, move |s| s.unset(&vault, &key))
    }

    /// The listed vaults merged, later ones overriding earlier ones.
    fn resolve<'py>(
        &self,
        py: Python<'py>,
        vaults: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let names = args::vault_names(vaults)?;
        let resolved = self.run(py, move |s| s.resolve(&names))?;
        secret_map(py, resolved.values)
    }

    /// The registration payload of SPEC §7 as a dict, plus "warnings" when any.
    #[pyo3(signature = (vaults, git_token=None))]
    fn registration_payload<'py>(
        &self,
        py: Python<'py>,
        vaults: &Bound<'py, PyAny>,
        git_token: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let names = args::vault_names(vaults)?;
        let git_token = git_token
            .filter(|t| !t.is_none())
            .map(|t| args::text(t, "git_token"))
            .transpose()?;
        // One GIL release around the whole core call; `names` moves in, no copy.
        let payload = self.run(py, move |s| {
            s.registration_payload(&names, git_token.as_deref())
        })?;
        payload_dict(py, payload)
    }

    /// Re-encrypts every entry under `new_key`; returns how many.
    fn rotate_key(&self, py: Python<'_>, new_key: &Bound<'_, PyAny>) -> PyResult<u64> {
        let text = SecretString::from(args::text(new_key, "new_key")?);
        self.run(py, move |s| {
            let key = MasterKey::parse(text.expose(), "new_key")?;
            s.rotate_key(&key)
        })
    }

    /// Rewrites a legacy store to v2; returns how many entries were rewritten.
    fn migrate(&self, py: Python<'_>) -> PyResult<u64> {
        self.run(py, |s| s.migrate())
    }

    /// Writes every vault with plaintext values to a new file (mode 0600).
    fn export(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<()> {
        let path = args::path(path, "path")?;
        self.run(py, move |s| {
            let doc = s.export()?;
            doc.write_new_file(&path)
        })
    }

    /// Imports an export file (merging vaults, replacing keys); returns how many entries.
    fn import_(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<u64> {
        let path = args::path(path, "path")?;
        self.run(py, move |s| {
            let doc = ExportDocument::read_file(&path)?;
            s.import(&doc)
        })
    }
}
