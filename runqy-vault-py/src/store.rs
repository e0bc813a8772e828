//! `runqy_vault.Store`: the core store, its results as plain dicts and lists.
//!
//! Every call extracts its arguments, then runs the SQLite and crypto work in
//! `py.detach` (the GIL released), then builds Python objects.

use std::sync::{Arc, PoisonError, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use runqy_vault::model::AuditFilter;
use runqy_vault::queues::QueueConfigs;
use runqy_vault::{Error, ExportDocument, Location, MasterKey, SecretString, Store};

use crate::args;
use crate::errors::{vault_error, IntoPyResult};
use crate::payload;

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
    /// The last payload's key names, reused by the next (`payload::KeyNames`).
    key_names: payload::KeyNames,
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

    /// [`PyStore::run`] acting as `actor` (`None`: the store's own), for
    /// the audit log (SPEC §13).
    fn run_as<T: Send>(
        &self,
        py: Python<'_>,
        actor: Option<String>,
        f: impl FnOnce(&Store) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        let store = self.open_store(py)?;
        py.detach(|| match actor {
            None => f(&store),
            Some(actor) => f(&store.with_actor(&actor)?),
        })
        .into_py_result(py)
    }
}

/// The `actor=` keyword: text, or `None` for the store's actor.
fn actor_arg(actor: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    actor
        .filter(|a| !a.is_none())
        .map(|a| args::text(a, "actor"))
        .transpose()
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
            key_names: payload::KeyNames::default(),
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
        signature = (name, description=None, *, actor=None),
        text_signature = "(self, name, description='', *, actor=None)"
    )]
    fn create_vault(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        description: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let name = args::text(name, "name")?;
        let description = match description {
            Some(d) => args::text(d, "description")?,
            None => String::new(),
        };
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.create_vault(&name, &description))
    }

    #[pyo3(signature = (name, *, actor=None))]
    fn delete_vault(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let name = args::text(name, "name")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.delete_vault(&name))
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
        signature = (vault, key, value, *, secret=None, cas=None, actor=None),
        text_signature = "(self, vault, key, value, *, secret=True, cas=None, actor=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn set(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        secret: Option<&Bound<'_, PyAny>>,
        cas: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let value = SecretString::from(args::text(value, "value")?);
        let secret = secret.map_or(Ok(true), |s| args::flag(s, "secret"))?;
        let cas = cas
            .filter(|c| !c.is_none())
            .map(|c| args::number(c, "cas"))
            .transpose()?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| match cas {
            None => s.set(&vault, &key, value.expose(), secret),
            Some(cas) => s
                .set_cas(&vault, &key, value.expose(), secret, cas)
                .map(drop),
        })
    }

    /// The decrypted value, or with `version` that version's from the history.
    #[pyo3(signature = (vault, key, *, version=None, actor=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        version: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyString>> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let version = version
            .filter(|v| !v.is_none())
            .map(|v| args::number(v, "version"))
            .transpose()?;
        let actor = actor_arg(actor)?;
        let value = self.run_as(py, actor, move |s| match version {
            None => s.get(&vault, &key),
            Some(n) => s.get_version(&vault, &key, n),
        })?;
        // Straight from the wiped-on-drop buffer: no unwiped Rust `String` copy.
        Ok(PyString::new(py, value.expose()))
    }

    /// `[{version, value, is_secret, created_at, actor, state, last_read}]`,
    /// newest first, values masked.
    fn history<'py>(
        &self,
        py: Python<'py>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let history = self.run(py, move |s| s.history(&vault, &key))?;
        to_py(py, &history)
    }

    /// Makes `version` current again as a new version; returns the new version.
    #[pyo3(signature = (vault, key, version, *, actor=None))]
    fn rollback(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        version: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let version = args::number(version, "version")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.rollback(&vault, &key, version))
    }

    /// Brings back a removed entry's last version as a new version; returns it.
    #[pyo3(signature = (vault, key, *, actor=None))]
    fn restore(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.restore(&vault, &key))
    }

    /// Destroys an entry and its versions, or with no key the vault and all of it.
    #[pyo3(signature = (vault, key=None, *, actor=None))]
    fn purge<'py>(
        &self,
        py: Python<'py>,
        vault: &Bound<'_, PyAny>,
        key: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let vault = args::text(vault, "vault")?;
        let key = key
            .filter(|k| !k.is_none())
            .map(|k| args::text(k, "key"))
            .transpose()?;
        let actor = actor_arg(actor)?;
        let report = self.run_as(py, actor, move |s| s.purge(&vault, key.as_deref()))?;
        to_py(py, &report)
    }

    /// How many versions of each key are kept, the current one included.
    #[getter(history_limit)]
    fn get_history_limit(&self, py: Python<'_>) -> PyResult<u32> {
        self.run(py, |s| s.history_limit())
    }

    /// Setting it prunes every key past the new limit at once.
    #[setter(history_limit)]
    fn set_history_limit(&self, py: Python<'_>, limit: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(limit) = limit else {
            return Err(pyo3::exceptions::PyAttributeError::new_err(
                "history_limit cannot be deleted",
            ));
        };
        let limit = args::number(limit, "history_limit")?;
        self.run(py, move |s| s.set_history_limit(limit).map(drop))
    }

    #[pyo3(signature = (vault, key, *, actor=None))]
    fn unset(
        &self,
        py: Python<'_>,
        vault: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let vault = args::text(vault, "vault")?;
        let key = args::text(key, "key")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.unset(&vault, &key))
    }

    /// The listed vaults merged, later ones overriding earlier ones.
    #[pyo3(signature = (vaults, *, actor=None))]
    fn resolve<'py>(
        &self,
        py: Python<'py>,
        vaults: &Bound<'py, PyAny>,
        actor: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = args::vault_names(vaults)?;
        let actor = actor_arg(actor)?;
        let resolved = self.run_as(py, actor, move |s| s.resolve(&names))?;
        to_py(py, &resolved.values)
    }

    /// The registration payload of SPEC §7 as a dict, plus "warnings" when any.
    #[pyo3(signature = (vaults, git_token=None, *, actor=None))]
    fn registration_payload<'py>(
        &self,
        py: Python<'py>,
        vaults: &Bound<'py, PyAny>,
        git_token: Option<&Bound<'py, PyAny>>,
        actor: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = args::vault_names(vaults)?;
        let git_token = git_token
            .filter(|t| !t.is_none())
            .map(|t| args::text(t, "git_token"))
            .transpose()?;
        let actor = actor_arg(actor)?;
        // One GIL release around the whole core call; `names` moves in, no copy.
        let payload = self.run_as(py, actor, move |s| {
            s.registration_payload(&names, git_token.as_deref())
        })?;
        payload::payload_dict(py, &payload, &self.key_names).map(Bound::into_any)
    }

    /// Re-encrypts every entry under `new_key`; returns how many.
    #[pyo3(signature = (new_key, *, actor=None))]
    fn rotate_key(
        &self,
        py: Python<'_>,
        new_key: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let text = SecretString::from(args::text(new_key, "new_key")?);
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| {
            let key = MasterKey::parse(text.expose(), "new_key")?;
            s.rotate_key(&key)
        })
    }

    /// Rewrites a legacy store to v2; returns how many entries were rewritten.
    #[pyo3(signature = (*, actor=None))]
    fn migrate(&self, py: Python<'_>, actor: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, |s| s.migrate())
    }

    /// Writes every vault with plaintext values to a new file (mode 0600).
    #[pyo3(signature = (path, *, actor=None))]
    fn export(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let path = args::path(path, "path")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| {
            let doc = s.export()?;
            doc.write_new_file(&path)
        })
    }

    /// Imports an export file (merging vaults, replacing keys); returns how many entries.
    #[pyo3(signature = (path, *, actor=None))]
    fn import_(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let path = args::path(path, "path")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| {
            let doc = ExportDocument::read_file(&path)?;
            s.import(&doc)
        })
    }

    /// Who acts when a call is given no `actor=`: `$RUNQY_VAULT_ACTOR`, else `user@host`.
    #[getter]
    fn actor(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.open_store(py)?.actor().to_owned())
    }

    /// The audit records matching the keyword filters (`vault`, `key`,
    /// `actor`, `operation`, `since`, `limit`), oldest first, as dicts
    /// `{seq, time, actor, operation, vault, key, version, fingerprint, detail}`.
    #[pyo3(signature = (**filters))]
    fn audit_log<'py>(
        &self,
        py: Python<'py>,
        filters: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter: AuditFilter = match filters {
            None => AuditFilter::default(),
            // The core's one filter shape: an unknown keyword is refused by name.
            Some(f) => pythonize::depythonize(f.as_any()).map_err(|e| {
                crate::errors::to_py(
                    py,
                    Error::InvalidInput(format!("invalid audit filter: {e}")),
                )
            })?,
        };
        let records = self.run(py, move |s| s.audit_log(&filter))?;
        to_py(py, &records)
    }

    /// Checks every record of the audit log with the current key; returns
    /// how many. `AuditBrokenError` names the first bad record.
    fn audit_verify(&self, py: Python<'_>) -> PyResult<u64> {
        self.run(py, |s| s.audit_verify())
    }

    /// Removes the records written before `before` (a date or RFC 3339),
    /// keeping the rest verifiable from an anchor; returns how many went.
    #[pyo3(signature = (before, *, actor=None))]
    fn audit_prune(
        &self,
        py: Python<'_>,
        before: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let before = args::text(before, "before")?;
        let actor = actor_arg(actor)?;
        self.run_as(py, actor, move |s| s.audit_prune(&before))
    }

    /// Whether reads that hand out values are recorded (on by default);
    /// setting it is recorded too.
    #[getter(audit_reads)]
    fn get_audit_reads(&self, py: Python<'_>) -> PyResult<bool> {
        self.run(py, |s| s.audit_reads())
    }

    #[setter(audit_reads)]
    fn set_audit_reads(&self, py: Python<'_>, on: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(on) = on else {
            return Err(pyo3::exceptions::PyAttributeError::new_err(
                "audit_reads cannot be deleted",
            ));
        };
        let on = args::flag(on, "audit_reads")?;
        self.run(py, move |s| s.set_audit_reads(on))
    }

    /// What the checks at open (or an append since) found wrong with the
    /// audit log, `None` when nothing (`audit_verify` checks every record).
    #[getter]
    fn audit_problem(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.open_store(py)?.audit_problem())
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
