//! `runqy_vault.Store`: the core store, its results as plain dicts and lists.
//!
//! Every call extracts its arguments, then runs the SQLite and crypto work in
//! `py.detach` (the GIL released), then builds Python objects.

use std::sync::{Arc, PoisonError, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use runqy_vault::queues::QueueConfigs;
use runqy_vault::{Error, ExportDocument, Location, MasterKey, SecretString, Store};

use crate::args;
use crate::errors::{vault_error, IntoPyResult};

/// A vault store. Share one across threads; `close()` (or leaving a `with`
/// block) releases its SQLite connections.
#[pyclass(module = "runqy_vault", name = "Store", frozen)]
pub struct PyStore {
    /// The core's `Store::location()` as shown: a PostgreSQL URL's password
    /// is `***`, so `path`, `repr` and the "closed" error never show it.
    path: String,
    // `None` once closed. Calls clone the Arc, so a close during another
    // thread's call lets that call finish.
    store: RwLock<Option<Arc<Store>>>,
}

impl PyStore {
    fn open_store(&self, py: Python<'_>) -> PyResult<Arc<Store>> {
        let guard = self.store.read().unwrap_or_else(PoisonError::into_inner);
        guard
            .clone()
            .ok_or_else(|| vault_error(py, format!("store '{}' is closed", self.path)))
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

/// A core result as Python objects, through its one serde shape
/// (`runqy_vault::model`): dicts with the JSON's member names. Strings that
/// hold plaintext go straight from the core's wiped buffers into `str`s.
fn to_py<'py, T: serde::Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value)
        .map_err(|e| vault_error(py, format!("could not convert a result: {e}")))
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
        let location = Location::from(args::path(path, "path")?);
        let key: Option<SecretString> = master_key
            .map(|k| args::text(k, "master_key").map(SecretString::from))
            .transpose()?;
        let store = py
            .detach(|| Store::open(location, key.as_ref().map(SecretString::expose)))
            .into_py_result(py)?;
        Ok(PyStore {
            path: store.location().to_string(),
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

    /// The database path, or for PostgreSQL the URL with its password as `***`.
    #[getter]
    fn path(&self) -> &str {
        &self.path
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
        format!("<runqy_vault.Store {:?} {state}>", self.path)
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
    fn list_vaults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let vaults = self.run(py, |s| s.list_vaults())?;
        to_py(py, &vaults)
    }

    /// `{name, description, created_at, updated_at, entries}`, secret values masked.
    fn show<'py>(&self, py: Python<'py>, name: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let name = args::text(name, "name")?;
        let detail = self.run(py, move |s| s.show(&name))?;
        to_py(py, &detail)
    }

    /// `[{key, value, is_secret, created_at, updated_at}]`, secret values masked.
    fn entries<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = args::text(name, "name")?;
        let entries = self.run(py, move |s| s.entries(&name))?;
        to_py(py, &entries)
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
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = args::vault_names(vaults)?;
        let resolved = self.run(py, move |s| s.resolve(&names))?;
        to_py(py, &resolved.values)
    }

    /// The registration payload of SPEC §7 as a dict, plus "warnings" when any.
    #[pyo3(signature = (vaults, git_token=None))]
    fn registration_payload<'py>(
        &self,
        py: Python<'py>,
        vaults: &Bound<'py, PyAny>,
        git_token: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = args::vault_names(vaults)?;
        let git_token = git_token
            .filter(|t| !t.is_none())
            .map(|t| args::text(t, "git_token"))
            .transpose()?;
        // One GIL release around the whole core call; `names` moves in, no copy.
        let payload = self.run(py, move |s| {
            s.registration_payload(&names, git_token.as_deref())
        })?;
        to_py(py, &payload)
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

    /// Which queues use each vault (SPEC §14): `{vaults, missing, problems}`.
    #[pyo3(signature = (configs=None))]
    fn usage<'py>(
        &self,
        py: Python<'py>,
        configs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let paths = args::config_paths(configs)?;
        let usage = self.run(py, move |s| s.usage(&QueueConfigs::load(&paths)?))?;
        to_py(py, &usage)
    }

    /// Every problem keeping workers from their secrets: `{findings, errors, warnings}`.
    #[pyo3(signature = (configs=None, max_age_days=None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        configs: Option<&Bound<'py, PyAny>>,
        max_age_days: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let paths = args::config_paths(configs)?;
        let max_age = max_age_days.unwrap_or(runqy_vault::check::DEFAULT_MAX_AGE_DAYS);
        let report = self.run(py, move |s| {
            Ok(s.check(&QueueConfigs::load(&paths)?, max_age))
        })?;
        to_py(py, &report)
    }
}
