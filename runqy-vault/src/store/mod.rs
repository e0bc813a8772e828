//! The vault store (SPEC §2, §5, §6): every operation written once, over the
//! primitive queries of a backend, SQLite ([`sqlite`]) or PostgreSQL
//! (`postgres`, behind the cargo feature of that name).
//!
//! The backend is chosen at open: a location starting with `postgres://` or
//! `postgresql://` is a PostgreSQL URL, anything else a SQLite path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::cipher::{Cipher, EntryRef, Format};
use crate::error::{Error, Result};
use crate::key::{KeyId, KeySet, KeySource, MasterKey};
use crate::mask::mask;
use crate::names;
use crate::payload::{self, EntryReference, RegistrationPayload, Resolved};
use crate::schema::{META_FORMAT, META_KEY_ID, META_KEY_IDS};
use crate::secret::SecretString;
use crate::transfer::{ExportDocument, ExportEntry, ExportVault, EXPORT_FORMAT};

#[cfg(feature = "postgres")]
mod postgres;
mod row_cache;
mod sqlite;

/// The variable naming the database when no path is given.
pub const ENV_DB: &str = "RUNQY_VAULT_DB";
/// The database used when neither a path nor `RUNQY_VAULT_DB` is given.
pub const DEFAULT_DB: &str = "runqy-vault.db";

/// One line of [`Store::list_vaults`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultSummary {
    pub name: String,
    pub description: String,
    pub entry_count: u64,
}

/// One entry as listed: the value masked when the entry is secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryView {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A vault as [`Store::show`] shows it; entries sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultDetail {
    pub name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub entries: Vec<EntryView>,
}

/// An entry's stored form: what decryption needs besides the key.
pub(crate) struct StoredEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub is_secret: bool,
}

impl StoredEntry {
    pub(crate) fn at(&self) -> EntryAt<'_> {
        EntryAt {
            key: &self.key,
            value: &self.value,
            is_secret: self.is_secret,
        }
    }
}

/// A vault's own row, timestamps already RFC 3339.
pub(crate) struct VaultRow {
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An entry row as `show` lists it, timestamps already RFC 3339.
pub(crate) struct EntryRow {
    pub entry: StoredEntry,
    pub created_at: String,
    pub updated_at: String,
}

/// An entry with its id and vault name, as rotation and the key probe read it.
pub(crate) struct FullEntry {
    pub id: i64,
    pub vault: String,
    pub entry: StoredEntry,
}

/// A vault name beside one of its entries, or `None` for a vault with none
/// (a LEFT JOIN row), as `resolve` and `export` read them.
pub(crate) struct VaultEntryRow {
    pub vault: String,
    pub description: String,
    pub entry: Option<StoredEntry>,
}

/// An entry borrowed from a result row, so it can be decrypted without copying it out.
pub(crate) struct EntryAt<'r> {
    pub key: &'r str,
    pub value: &'r [u8],
    pub is_secret: bool,
}

/// What [`Tx::listed_entries`] calls for each row: a vault and one of its
/// entries, or `None` for a listed vault without entries.
pub(crate) type EachEntry<'f> = dyn FnMut(&str, Option<EntryAt<'_>>) -> Result<()> + 'f;

/// The primitive queries a backend answers, each inside the transaction (or
/// single statement) the backend opened for the operation. The store's logic
/// (validation, encryption, merging, rotation, import, the key check) is
/// written once above these.
pub(crate) trait Tx {
    /// Serializes schema creation between processes (a no-op where the write
    /// transaction already does).
    fn lock_schema(&mut self) -> Result<()>;
    fn table_exists(&mut self, name: &str) -> Result<bool>;
    /// Creates the upstream tables and our meta table when missing.
    fn create_schema(&mut self) -> Result<()>;
    fn meta_get(&mut self, name: &str) -> Result<Option<String>>;
    fn meta_set(&mut self, name: &str, value: &str) -> Result<()>;
    /// The stored key id, locked until the transaction ends: exclusively for
    /// rotation, migration and import, shared for single writes.
    fn lock_key_id(&mut self, exclusive: bool) -> Result<Option<String>>;
    fn vault_id(&mut self, name: &str) -> Result<Option<i64>>;
    /// Bumps a vault's `updated_at` and returns its id, the row locked until
    /// the transaction ends, so a concurrent delete cannot pull the vault from
    /// under a write (one statement: the lock, the bump and the lookup).
    fn touch_vault(&mut self, name: &str) -> Result<Option<i64>>;
    /// Inserts a vault unless one of that name exists; whether it inserted.
    fn insert_vault(&mut self, name: &str, description: &str) -> Result<bool>;
    /// Inserts a vault or merges into it (an empty description keeps the old one); its id.
    fn merge_vault(&mut self, name: &str, description: &str) -> Result<i64>;
    /// Deletes a vault and its entries.
    fn delete_vault(&mut self, id: i64) -> Result<()>;
    fn list_vaults(&mut self) -> Result<Vec<VaultSummary>>;
    /// A vault's row and its entries sorted by key, in one statement.
    fn vault_detail(&mut self, name: &str) -> Result<Option<(VaultRow, Vec<EntryRow>)>>;
    fn upsert_entry(
        &mut self,
        vault_id: i64,
        key: &str,
        value: &[u8],
        is_secret: bool,
    ) -> Result<()>;
    /// `None`: no such vault; `Some(None)`: the vault has no such entry.
    fn get_entry(&mut self, vault: &str, key: &str) -> Result<Option<Option<StoredEntry>>>;
    /// Whether an entry was deleted.
    fn delete_entry(&mut self, vault_id: i64, key: &str) -> Result<bool>;
    /// The entries of every listed vault (that exists), in ONE query.
    fn listed_entries(&mut self, names: &[&str], each: &mut EachEntry<'_>) -> Result<()>;
    /// Every vault with its entries, sorted by vault name then key.
    fn export_rows(&mut self) -> Result<Vec<VaultEntryRow>>;
    /// Entries in id order, all of them or the first `limit`.
    fn all_entries(&mut self, limit: Option<u32>) -> Result<Vec<FullEntry>>;
    fn update_value(&mut self, entry_id: i64, value: &[u8]) -> Result<()>;
}

/// Where a store lives.
enum Backend {
    Sqlite(sqlite::Pool),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Pool),
}

impl Backend {
    /// One statement: no BEGIN/COMMIT (on PostgreSQL a round trip each).
    fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.read_one(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(f),
        }
    }

    /// One writing statement: PostgreSQL runs it in autocommit, skipping BEGIN/COMMIT.
    fn write_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.write(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(f),
        }
    }

    /// The listed vaults' rows, grouped by vault in the order of `names` (a
    /// payload relies on it); SQLite answers from a cache of rows when no one
    /// committed since it read them.
    fn listed_entries(&self, names: &[&str], each: &mut EachEntry<'_>) -> Result<()> {
        match self {
            Backend::Sqlite(p) => p.listed_entries(names, each),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(|tx| tx.listed_entries(names, each)),
        }
    }

    /// A write transaction: committed when `f` succeeds, rolled back when it fails.
    fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.write(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.write(f),
        }
    }
}

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub(crate) fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The keys in use and the format written: swapped whole by rotation and migration.
struct Crypto {
    cipher: Cipher,
    format: Format,
}

struct Enabled {
    backend: Backend,
    crypto: RwLock<Arc<Crypto>>,
    /// Whether the store already lists the current key among its key ids, so
    /// a write need not record it (and needs only a shared lock on the row).
    key_recorded: AtomicBool,
}

/// A vault store. Cheap to share: `Send + Sync`, each call takes a pooled
/// connection, so many threads can read at once.
///
/// `Store::open` takes a SQLite path or a PostgreSQL URL
/// (`postgres://user:pass@host:port/db`, with the `postgres` feature).
///
/// ```
/// use runqy_vault::{MasterKey, Store};
/// let dir = tempfile::tempdir()?;
/// let key = MasterKey::generate();
/// let store = Store::open(dir.path().join("v.db"), Some(key.to_base64().expose()))?;
/// store.create_vault("api-keys", "keys for the model APIs")?;
/// store.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true)?;
/// assert_eq!(store.get("api-keys", "OPENAI_API_KEY")?.expose(), "sk-proj-abc123xx");
/// assert_eq!(store.show("api-keys")?.entries[0].value, "sk****xx");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Store {
    /// The SQLite path, or the PostgreSQL URL with its password replaced by `***`.
    path: PathBuf,
    enabled: Option<Enabled>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("enabled", &self.enabled.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`: a SQLite file, or a
    /// PostgreSQL database when `path` is a `postgres://` or `postgresql://`
    /// URL. `master_key` is the base64 key text; `None` reads it from the
    /// environment (SPEC §1), and a store with no key anywhere opens disabled.
    pub fn open(path: impl AsRef<Path>, master_key: Option<&str>) -> Result<Store> {
        let source = match master_key {
            Some(text) => KeySource::explicit(text)?,
            None => KeySource::Environment,
        };
        Store::open_with(path, source)
    }

    /// The database path from `RUNQY_VAULT_DB`, or `runqy-vault.db`.
    pub fn default_path() -> PathBuf {
        std::env::var_os(ENV_DB)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }

    /// Opens the store at `path` (a SQLite path or a PostgreSQL URL) with keys from `source`.
    pub fn open_with(path: impl AsRef<Path>, source: KeySource) -> Result<Store> {
        let path = path.as_ref();
        let url = path.to_str().filter(|p| is_postgres_url(p));
        let shown = match url {
            Some(url) => PathBuf::from(redacted_url(url)),
            None => path.to_path_buf(),
        };
        let Some(keys) = source.load()? else {
            // Disabled: every vault operation answers `Disabled`; the database is not touched.
            return Ok(Store {
                path: shown,
                enabled: None,
            });
        };
        let backend = match url {
            Some(url) => open_postgres(url)?,
            None => Backend::Sqlite(sqlite::Pool::new(path)),
        };
        let prepared = backend.write(|tx| prepare_schema(tx, &keys));
        let (format, key_recorded) = match &backend {
            Backend::Sqlite(_) => prepared.map_err(|e| sqlite::with_path(e, path))?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => prepared?,
        };
        let crypto = Crypto {
            cipher: Cipher::new(&keys),
            format,
        };
        Ok(Store {
            path: shown,
            enabled: Some(Enabled {
                backend,
                crypto: RwLock::new(Arc::new(crypto)),
                key_recorded: AtomicBool::new(key_recorded),
            }),
        })
    }

    /// The database path, or for PostgreSQL the URL with its password replaced by `***`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a master key is configured.
    pub fn is_enabled(&self) -> bool {
        self.enabled.is_some()
    }

    /// The format new values are written in, `None` when disabled.
    pub fn format(&self) -> Option<Format> {
        self.enabled.as_ref().map(|e| e.crypto().format)
    }

    /// The current master key's id, `None` when disabled.
    pub fn key_id(&self) -> Option<KeyId> {
        self.enabled.as_ref().map(|e| e.crypto().cipher.key_id())
    }

    fn inner(&self) -> Result<&Enabled> {
        self.enabled.as_ref().ok_or(Error::Disabled)
    }

    /// Creates an empty vault.
    pub fn create_vault(&self, name: &str, description: &str) -> Result<()> {
        let inner = self.inner()?;
        names::check_vault_name(name)?;
        // One statement, no check-then-insert: of two concurrent creates, one inserts.
        let inserted = inner
            .backend
            .write_one(|tx| tx.insert_vault(name, description))?;
        if !inserted {
            return Err(Error::VaultExists {
                vault: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Deletes a vault and all its entries, in one transaction.
    pub fn delete_vault(&self, name: &str) -> Result<()> {
        let inner = self.inner()?;
        inner.backend.write(|tx| {
            let id = touched_vault_id(tx, name)?;
            tx.delete_vault(id)
        })
    }

    /// Whether a vault of that name exists.
    pub fn vault_exists(&self, name: &str) -> Result<bool> {
        let inner = self.inner()?;
        inner
            .backend
            .read_one(|tx| Ok(tx.vault_id(name)?.is_some()))
    }

    /// All vaults, sorted by name, with their entry counts.
    pub fn list_vaults(&self) -> Result<Vec<VaultSummary>> {
        let inner = self.inner()?;
        inner.backend.read_one(|tx| tx.list_vaults())
    }

    /// A vault with its entries sorted by key, secret values masked.
    pub fn show(&self, name: &str) -> Result<VaultDetail> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        let (row, entries) = inner
            .backend
            .read_one(|tx| tx.vault_detail(name))?
            .ok_or_else(|| Error::vault_not_found(name))?;
        Ok(VaultDetail {
            name: name.to_owned(),
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
            entries: entry_views(&crypto.cipher, name, entries)?,
        })
    }

    /// A vault's entries sorted by key, secret values masked.
    pub fn entries(&self, name: &str) -> Result<Vec<EntryView>> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        let (_, rows) = inner
            .backend
            .read_one(|tx| tx.vault_detail(name))?
            .ok_or_else(|| Error::vault_not_found(name))?;
        entry_views(&crypto.cipher, name, rows)
    }

    /// Sets `key` in `vault` (insert or update) and bumps the vault's `updated_at`.
    pub fn set(&self, vault: &str, key: &str, value: &str, is_secret: bool) -> Result<()> {
        let inner = self.inner()?;
        names::check_entry(vault, key, value)?;
        let crypto = inner.crypto();
        let blob = crypto.cipher.encrypt(
            crypto.format,
            EntryRef {
                vault,
                key,
                is_secret,
            },
            value.as_bytes(),
        );
        inner.backend.write(|tx| {
            // Never a value under a key the store has rotated away from.
            inner.check_key_id(tx, &crypto.cipher, false)?;
            let id = touched_vault_id(tx, vault)?;
            // An upsert, so two first `set`s of one key never hit the UNIQUE constraint.
            tx.upsert_entry(id, key, &blob, is_secret)
        })
    }

    /// The decrypted value of `key` in `vault`.
    pub fn get(&self, vault: &str, key: &str) -> Result<SecretString> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        // One query answers both "no such vault" and "no such entry".
        let entry = match inner.backend.read_one(|tx| tx.get_entry(vault, key))? {
            None => return Err(Error::vault_not_found(vault)),
            Some(None) => return Err(entry_not_found(vault, key)),
            Some(Some(entry)) => entry,
        };
        decrypt(&crypto.cipher, vault, &entry.at())
    }

    /// Removes `key` from `vault`.
    pub fn unset(&self, vault: &str, key: &str) -> Result<()> {
        let inner = self.inner()?;
        inner.backend.write(|tx| {
            let id = touched_vault_id(tx, vault)?;
            if !tx.delete_entry(id, key)? {
                return Err(entry_not_found(vault, key)); // rolls the bump back
            }
            Ok(())
        })
    }

    /// Merges the listed vaults, later ones overriding earlier ones, and says
    /// where each key came from. Every missing vault is named in one error.
    pub fn resolve<S: AsRef<str>>(&self, vaults: &[S]) -> Result<Resolved> {
        let crypto = self.inner()?.crypto();
        let names: Vec<&str> = vaults.iter().map(AsRef::as_ref).collect();
        let order = payload::winners_first(&names);
        let mut entries: Vec<Vec<(String, SecretString)>> =
            order.iter().map(|_| Vec::new()).collect();
        self.visit_listed(&order, &names, |i, e| {
            let value = decrypt(&crypto.cipher, order[i], &e)?;
            entries[i].push((e.key.to_owned(), value));
            Ok(())
        })?;
        Ok(payload::merge(&names, |v| {
            order
                .iter()
                .position(|o| *o == v)
                .map_or(&[][..], |i| entries[i].as_slice())
        }))
    }

    /// The registration payload for a queue listing `vaults` (SPEC §7). A bad
    /// `git_token_ref` or a missing entry leaves the token out with a warning.
    pub fn registration_payload<S: AsRef<str>>(
        &self,
        vaults: &[S],
        git_token_ref: Option<&str>,
    ) -> Result<RegistrationPayload> {
        let mut out = RegistrationPayload::default();
        if !vaults.is_empty() {
            let names: Vec<&str> = vaults.iter().map(AsRef::as_ref).collect();
            out.vaults = self.payload_values(&names)?;
        }
        if let Some(reference) = git_token_ref.filter(|r| !r.is_empty()) {
            match EntryReference::parse(reference).and_then(|r| self.get(&r.vault, &r.key)) {
                Ok(token) => out.git_token = Some(token),
                Err(e) => out.warnings.push(format!("git_token left out: {e}")),
            }
        }
        Ok(out)
    }

    /// The merged values of `names` for a payload. Only the values handed out
    /// are decrypted: rows come winners first (see [`payload::winners_first`]),
    /// so a key already taken is shadowed and its value is never decrypted,
    /// never in memory, and cannot fail the payload.
    fn payload_values(&self, names: &[&str]) -> Result<BTreeMap<String, SecretString>> {
        let crypto = self.inner()?.crypto();
        let order = payload::winners_first(names);
        let mut values: BTreeMap<String, SecretString> = BTreeMap::new();
        self.visit_listed(&order, names, |i, e| {
            if !values.contains_key(e.key) {
                let value = decrypt(&crypto.cipher, order[i], &e)?;
                values.insert(e.key.to_owned(), value);
            }
            Ok(())
        })?;
        Ok(values)
    }

    /// Calls `each(i, entry)` for every entry of `vaults[i]` (distinct names),
    /// grouped by vault in that order, in one query (or none, from SQLite's
    /// row cache): its cost follows the listed vaults, not the store's size.
    /// Then every vault of `listed` that does not exist is named in one error.
    fn visit_listed(
        &self,
        vaults: &[&str],
        listed: &[&str],
        mut each: impl FnMut(usize, EntryAt<'_>) -> Result<()>,
    ) -> Result<()> {
        let inner = self.inner()?;
        let mut found = vec![false; vaults.len()];
        let mut at = 0;
        inner.backend.listed_entries(vaults, &mut |vault, entry| {
            if vaults[at] != vault {
                at = vaults.iter().position(|v| *v == vault).unwrap_or(at);
            }
            found[at] = true;
            entry.map_or(Ok(()), |e| each(at, e))
        })?;
        let mut missing: Vec<String> = Vec::new();
        for name in listed {
            let absent = vaults.iter().zip(&found).any(|(v, f)| v == name && !f);
            if absent && !missing.iter().any(|m| m == name) {
                missing.push(name.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(Error::VaultNotFound { vaults: missing });
        }
        Ok(())
    }

    /// Re-encrypts every entry under `new_key` in one transaction, checking
    /// each new blob before commit. Afterwards the old key no longer opens the store.
    ///
    /// Two processes rotating one store at once: the second waits for the
    /// first, then fails with `KeyMismatch` saying the key was rotated.
    pub fn rotate_key(&self, new_key: &MasterKey) -> Result<u64> {
        let inner = self.inner()?;
        let old = inner.crypto();
        if new_key.key_id() == old.cipher.key_id() {
            return Err(Error::InvalidInput(
                "the new master key is the current key; rotation needs a different key".to_owned(),
            ));
        }
        let keys = KeySet {
            current: new_key.clone(),
            previous: Vec::new(),
        };
        let new = Crypto {
            cipher: Cipher::new(&keys),
            format: old.format,
        };
        let count = inner.backend.write(|tx| {
            inner.check_key_id(tx, &old.cipher, true)?;
            let n = reencrypt_all(tx, &old.cipher, &new)?;
            record_only_key(tx, new.cipher.key_id())?;
            Ok(n)
        })?;
        inner.swap(new);
        Ok(count)
    }

    /// Rewrites a `legacy` store to `v2` in one transaction. Returns the
    /// number of entries rewritten (0 if it was already `v2`).
    pub fn migrate(&self) -> Result<u64> {
        let inner = self.inner()?;
        let old = inner.crypto();
        if old.format == Format::V2 {
            return Ok(0);
        }
        let keys_id = old.cipher.key_id();
        let new_crypto = Crypto {
            cipher: old.cipher.clone(),
            format: Format::V2,
        };
        let count = inner.backend.write(|tx| {
            inner.check_key_id(tx, &old.cipher, true)?;
            if tx.meta_get(META_FORMAT)?.as_deref() == Some(Format::V2.as_str()) {
                return Ok(0); // another process migrated it meanwhile
            }
            let n = reencrypt_all(tx, &old.cipher, &new_crypto)?;
            tx.meta_set(META_FORMAT, Format::V2.as_str())?;
            record_only_key(tx, keys_id)?;
            Ok(n)
        })?;
        inner.swap(new_crypto);
        Ok(count)
    }

    /// Every vault with its plaintext entries, read in one statement.
    pub fn export(&self) -> Result<ExportDocument> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        let rows = inner.backend.read_one(|tx| tx.export_rows())?;
        let mut doc = ExportDocument {
            format: EXPORT_FORMAT,
            vaults: Vec::new(),
        };
        for row in rows {
            if doc.vaults.last().map(|v| &v.name) != Some(&row.vault) {
                doc.vaults.push(ExportVault {
                    name: row.vault.clone(),
                    description: row.description,
                    entries: Vec::new(),
                });
            }
            let Some(entry) = row.entry else {
                continue;
            };
            let value = decrypt(&crypto.cipher, &row.vault, &entry.at())?;
            doc.vaults
                .last_mut()
                .expect("pushed above")
                .entries
                .push(ExportEntry {
                    key: entry.key,
                    value,
                    is_secret: entry.is_secret,
                });
        }
        Ok(doc)
    }

    /// Writes a whole document in one transaction after checking all of it:
    /// existing vaults are merged, existing keys replaced.
    pub fn import(&self, doc: &ExportDocument) -> Result<u64> {
        let inner = self.inner()?;
        doc.validate()?;
        let crypto = inner.crypto();
        inner.backend.write(|tx| {
            inner.check_key_id(tx, &crypto.cipher, true)?;
            let mut count = 0;
            for vault in &doc.vaults {
                let id = tx.merge_vault(&vault.name, &vault.description)?;
                for e in &vault.entries {
                    let entry = EntryRef {
                        vault: &vault.name,
                        key: &e.key,
                        is_secret: e.is_secret,
                    };
                    let blob =
                        crypto
                            .cipher
                            .encrypt(crypto.format, entry, e.value.expose().as_bytes());
                    tx.upsert_entry(id, &e.key, &blob, e.is_secret)?;
                    count += 1;
                }
            }
            Ok(count)
        })
    }
}

impl Enabled {
    /// Inside a write: locks the stored key id and checks this store's keys
    /// still open every value in the store. Another process may have rotated
    /// the key since this store was opened; writing on would leave the store
    /// under a key nobody holds. The first write under a new current key (a
    /// rolling rotation with `_PREVIOUS`) adds it to the store's key ids, so a
    /// server with only the old key is refused at open instead of failing later
    /// on values it cannot decrypt.
    fn check_key_id(&self, tx: &mut dyn Tx, cipher: &Cipher, exclusive: bool) -> Result<()> {
        let recorded = self.key_recorded.load(Ordering::Acquire);
        let Some(stored) = tx.lock_key_id(exclusive || !recorded)? else {
            return record_only_key(tx, cipher.key_id());
        };
        let mut ids = stored_key_ids(tx, &stored)?;
        if let Some(unknown) = ids
            .iter()
            .find(|id| !KeyId::from_hex(id).is_some_and(|id| cipher.knows(id)))
        {
            return Err(Error::KeyMismatch {
                store_key_id: format!(
                    "{unknown} (the key was rotated by another process since this store was \
                     opened: reopen it with the new key)"
                ),
                key_id: cipher.key_id().to_string(),
            });
        }
        let current = cipher.key_id().to_string();
        if !ids.contains(&current) {
            ids.push(current.clone());
            tx.meta_set(META_KEY_ID, &current)?;
            tx.meta_set(META_KEY_IDS, &ids.join(","))?;
        }
        // Set after commit would be exact; setting it early only costs a
        // shared lock where an exclusive one was due, and the check still runs.
        self.key_recorded.store(true, Ordering::Release);
        Ok(())
    }

    fn crypto(&self) -> Arc<Crypto> {
        Arc::clone(&self.crypto.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, new: Crypto) {
        *self.crypto.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Backend> {
    Ok(Backend::Postgres(postgres::Pool::connect(url)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> Result<Backend> {
    Err(Error::storage(format!(
        "{}: this build of runqy-vault has no PostgreSQL support (it was built without the \
         `postgres` cargo feature)",
        redacted_url(url)
    )))
}

/// The URL with any password (in the user info or a `password=` parameter)
/// replaced by `***`, for messages and `Debug`.
pub(crate) fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Creates or checks the schema and the key check; returns the store's format.
/// Creates or checks the schema and the key check; returns the store's format
/// and whether the current key is already among the store's key ids.
fn prepare_schema(tx: &mut dyn Tx, keys: &KeySet) -> Result<(Format, bool)> {
    tx.lock_schema()?;
    let had_meta = tx.table_exists("runqy_vault_meta")?;
    let had_vaults = tx.table_exists("vaults")?;
    tx.create_schema()?;
    let format = match tx.meta_get(META_FORMAT)? {
        Some(f) => Format::parse(&f).ok_or_else(|| {
            Error::storage(format!(
                "runqy_vault_meta holds an unknown format '{f}' (expected legacy or v2)"
            ))
        })?,
        None => {
            // A runqy server's database stays legacy so the Go server can still read it.
            let format = if had_vaults && !had_meta {
                Format::Legacy
            } else {
                Format::V2
            };
            tx.meta_set(META_FORMAT, format.as_str())?;
            format
        }
    };
    let cipher = Cipher::new(keys);
    let key_recorded = match tx.meta_get(META_KEY_ID)? {
        Some(stored) => {
            let ids = stored_key_ids(tx, &stored)?;
            let unknown: Vec<&str> = ids
                .iter()
                .map(String::as_str)
                .filter(|id| !KeyId::from_hex(id).is_some_and(|id| cipher.knows(id)))
                .collect();
            if !unknown.is_empty() {
                return Err(Error::KeyMismatch {
                    store_key_id: unknown.join(", "),
                    key_id: cipher.key_id().to_string(),
                });
            }
            ids.contains(&cipher.key_id().to_string())
        }
        None => {
            // A new store, or a runqy server's: record the id of the key its values are under.
            let id = probe_key_id(tx, &cipher)?.unwrap_or_else(|| cipher.key_id());
            record_only_key(tx, id)?;
            id == cipher.key_id()
        }
    };
    Ok((format, key_recorded))
}

/// The ids of every key that may have values in the store.
fn stored_key_ids(tx: &mut dyn Tx, key_id: &str) -> Result<Vec<String>> {
    Ok(match tx.meta_get(META_KEY_IDS)? {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec![key_id.to_owned()],
    })
}

/// After a rewrite of every value (rotation, migration, a new store): one key.
fn record_only_key(tx: &mut dyn Tx, id: KeyId) -> Result<()> {
    tx.meta_set(META_KEY_ID, &id.to_string())?;
    tx.meta_set(META_KEY_IDS, &id.to_string())
}

/// For a store without a recorded key id: the id of the key that opens its
/// entries, `Ok(None)` if it has none yet, `KeyMismatch` if none of a few opens.
fn probe_key_id(tx: &mut dyn Tx, cipher: &Cipher) -> Result<Option<KeyId>> {
    let rows = tx.all_entries(Some(5))?;
    if rows.is_empty() {
        return Ok(None);
    }
    for row in &rows {
        let entry = EntryRef {
            vault: &row.vault,
            key: &row.entry.key,
            is_secret: row.entry.is_secret,
        };
        if let Ok((_, info)) = cipher.decrypt(entry, &row.entry.value) {
            return Ok(Some(info.key_id));
        }
    }
    Err(Error::KeyMismatch {
        store_key_id: "unknown (a legacy store whose entries this key does not open)".to_owned(),
        key_id: cipher.key_id().to_string(),
    })
}

fn touched_vault_id(tx: &mut dyn Tx, name: &str) -> Result<i64> {
    tx.touch_vault(name)?
        .ok_or_else(|| Error::vault_not_found(name))
}

fn entry_not_found(vault: &str, key: &str) -> Error {
    Error::EntryNotFound {
        vault: vault.to_owned(),
        key: key.to_owned(),
    }
}

fn decrypt(cipher: &Cipher, vault: &str, entry: &EntryAt<'_>) -> Result<SecretString> {
    let at = EntryRef {
        vault,
        key: entry.key,
        is_secret: entry.is_secret,
    };
    Ok(cipher.decrypt(at, entry.value)?.0)
}

fn entry_views(cipher: &Cipher, vault: &str, rows: Vec<EntryRow>) -> Result<Vec<EntryView>> {
    rows.into_iter()
        .map(|row| {
            let plain = decrypt(cipher, vault, &row.entry.at())?;
            let value = if row.entry.is_secret {
                mask(plain.expose())
            } else {
                plain.expose().to_owned()
            };
            Ok(EntryView {
                key: row.entry.key,
                value,
                is_secret: row.entry.is_secret,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

/// Re-encrypts every entry from `old` into `new`'s key and format, checking each new blob.
fn reencrypt_all(tx: &mut dyn Tx, old: &Cipher, new: &Crypto) -> Result<u64> {
    let rows = tx.all_entries(None)?;
    for row in &rows {
        let entry = EntryRef {
            vault: &row.vault,
            key: &row.entry.key,
            is_secret: row.entry.is_secret,
        };
        let plain = old.decrypt(entry, &row.entry.value)?.0;
        let fresh = new
            .cipher
            .encrypt(new.format, entry, plain.expose().as_bytes());
        let (check, _) = new.cipher.decrypt(entry, &fresh)?;
        if check != plain {
            return Err(Error::DecryptionFailed {
                vault: row.vault.clone(),
                key: row.entry.key.clone(),
            });
        }
        tx.update_value(row.id, &fresh)?;
    }
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn redacted_url_hides_passwords_and_keeps_the_rest() {
        assert_eq!(
            redacted_url("postgres://u:s3cr3t@db.example:5432/vault"),
            "postgres://u:***@db.example:5432/vault"
        );
        assert_eq!(
            redacted_url("postgresql://u:p@ss:w@h/d?sslmode=disable&password=x2"),
            "postgresql://u:***@h/d?sslmode=disable&password=***"
        );
        assert_eq!(redacted_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redacted_url("postgres://h"), "postgres://h");
    }
}
