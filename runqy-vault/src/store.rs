//! The vault store on SQLite (SPEC §2, §5, §6).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::cipher::{Cipher, EntryRef, Format};
use crate::error::{Error, Result};
use crate::key::{KeyId, KeySet, KeySource, MasterKey};
use crate::mask::mask;
use crate::names;
use crate::payload::{self, EntryReference, RegistrationPayload, Resolved};
use crate::schema::{self, META_FORMAT, META_KEY_ID};
use crate::secret::SecretString;
use crate::transfer::{ExportDocument, ExportEntry, ExportVault, EXPORT_FORMAT};

/// The variable naming the database when no path is given.
pub const ENV_DB: &str = "RUNQY_VAULT_DB";
/// The database used when neither a path nor `RUNQY_VAULT_DB` is given.
pub const DEFAULT_DB: &str = "runqy-vault.db";

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for reuse; more may be open while threads are busy.
const MAX_IDLE_CONNECTIONS: usize = 8;

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

/// The keys in use and the format written: swapped whole by rotation and migration.
struct Crypto {
    cipher: Cipher,
    format: Format,
}

struct Enabled {
    pool: Pool,
    crypto: RwLock<Arc<Crypto>>,
}

/// A vault store. Cheap to share: `Send + Sync`, each call takes a pooled
/// SQLite connection, so many threads can read at once.
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
    /// Opens (creating if needed) the store at `path`. `master_key` is the
    /// base64 key text; `None` reads it from the environment (SPEC §1), and a
    /// store with no key anywhere opens disabled.
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

    /// Opens the store at `path` with keys from `source`.
    pub fn open_with(path: impl AsRef<Path>, source: KeySource) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let Some(keys) = source.load()? else {
            // Disabled: every vault operation answers `Disabled`; the file is not touched.
            return Ok(Store {
                path,
                enabled: None,
            });
        };
        let pool = Pool {
            path: path.clone(),
            idle: Mutex::new(Vec::new()),
        };
        let mut conn = pool.get()?;
        let format = prepare_schema(&mut conn, &keys).map_err(|e| with_path(e, &path))?;
        pool.put(conn);
        let crypto = Crypto {
            cipher: Cipher::new(&keys),
            format,
        };
        Ok(Store {
            path,
            enabled: Some(Enabled {
                pool,
                crypto: RwLock::new(Arc::new(crypto)),
            }),
        })
    }

    /// The database path.
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
        let conn = inner.pool.get()?;
        // One statement, no check-then-insert: of two concurrent creates, one inserts.
        let inserted = conn
            .prepare_cached(
                "INSERT INTO vaults (name, description) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            )?
            .execute(params![name, description])?;
        inner.pool.put(conn);
        if inserted == 0 {
            return Err(Error::VaultExists {
                vault: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Deletes a vault and all its entries, in one transaction.
    pub fn delete_vault(&self, name: &str) -> Result<()> {
        let inner = self.inner()?;
        inner.write(|tx| {
            let id = vault_id(tx, name)?;
            tx.prepare_cached("DELETE FROM vault_entries WHERE vault_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM vaults WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
    }

    /// Whether a vault of that name exists.
    pub fn vault_exists(&self, name: &str) -> Result<bool> {
        let inner = self.inner()?;
        inner.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM vaults WHERE name = ?1")?
                .exists([name])?)
        })
    }

    /// All vaults, sorted by name, with their entry counts.
    pub fn list_vaults(&self) -> Result<Vec<VaultSummary>> {
        let inner = self.inner()?;
        inner.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT v.name, COALESCE(v.description, ''),
                        (SELECT COUNT(*) FROM vault_entries e WHERE e.vault_id = v.id)
                 FROM vaults v ORDER BY v.name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(VaultSummary {
                    name: r.get(0)?,
                    description: r.get(1)?,
                    entry_count: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// A vault with its entries sorted by key, secret values masked.
    pub fn show(&self, name: &str) -> Result<VaultDetail> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        inner.read(|conn| {
            let sql = format!(
                "SELECT id, COALESCE(description, ''), {}, {} FROM vaults WHERE name = ?1",
                schema::rfc3339("created_at"),
                schema::rfc3339("updated_at")
            );
            let (id, description, created_at, updated_at): (i64, String, String, String) = conn
                .prepare_cached(&sql)?
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?
                .ok_or_else(|| Error::vault_not_found(name))?;
            let entries = entry_views(conn, &crypto.cipher, name, id)?;
            Ok(VaultDetail {
                name: name.to_owned(),
                description,
                created_at,
                updated_at,
                entries,
            })
        })
    }

    /// A vault's entries sorted by key, secret values masked.
    pub fn entries(&self, name: &str) -> Result<Vec<EntryView>> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        inner.read(|conn| {
            let id = vault_id(conn, name)?;
            entry_views(conn, &crypto.cipher, name, id)
        })
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
        inner.write(|tx| {
            let id = vault_id(tx, vault)?;
            // An upsert, so two first `set`s of one key never hit the UNIQUE constraint.
            tx.prepare_cached(
                "INSERT INTO vault_entries (vault_id, key, value, is_secret) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(vault_id, key) DO UPDATE SET
                     value = excluded.value, is_secret = excluded.is_secret,
                     updated_at = CURRENT_TIMESTAMP",
            )?
            .execute(params![id, key, blob, is_secret])?;
            touch_vault(tx, id)?;
            record_key_id(tx, crypto.cipher.key_id())
        })
    }

    /// The decrypted value of `key` in `vault`.
    pub fn get(&self, vault: &str, key: &str) -> Result<SecretString> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        let (blob, is_secret) = inner.read(|conn| {
            // One query answers both "no such vault" and "no such entry".
            let row: Option<(Option<Vec<u8>>, Option<bool>)> = conn
                .prepare_cached(
                    "SELECT e.value, e.is_secret FROM vaults v
                     LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = ?2
                     WHERE v.name = ?1",
                )?
                .query_row([vault, key], |r| {
                    let blob = match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Null => None,
                        _ => Some(value_bytes(r, 0)?),
                    };
                    Ok((blob, r.get(1)?))
                })
                .optional()?;
            match row {
                None => Err(Error::vault_not_found(vault)),
                Some((None, _)) => Err(entry_not_found(vault, key)),
                Some((Some(blob), secret)) => Ok((blob, secret.unwrap_or(true))),
            }
        })?;
        Ok(crypto
            .cipher
            .decrypt(
                EntryRef {
                    vault,
                    key,
                    is_secret,
                },
                &blob,
            )?
            .0)
    }

    /// Removes `key` from `vault`.
    pub fn unset(&self, vault: &str, key: &str) -> Result<()> {
        let inner = self.inner()?;
        inner.write(|tx| {
            let id = vault_id(tx, vault)?;
            let deleted = tx
                .prepare_cached("DELETE FROM vault_entries WHERE vault_id = ?1 AND key = ?2")?
                .execute(params![id, key])?;
            if deleted == 0 {
                return Err(entry_not_found(vault, key));
            }
            touch_vault(tx, id)
        })
    }

    /// Merges the listed vaults, later ones overriding earlier ones, and says
    /// where each key came from. Every missing vault is named in one error.
    pub fn resolve<S: AsRef<str>>(&self, vaults: &[S]) -> Result<Resolved> {
        let inner = self.inner()?;
        let names: Vec<&str> = vaults.iter().map(AsRef::as_ref).collect();
        let crypto = inner.crypto();
        let by_vault = inner.read(|conn| fetch_vaults(conn, &crypto.cipher, &names))?;
        let empty: &[(String, SecretString)] = &[];
        Ok(payload::merge(&names, |v| {
            by_vault.get(v).map_or(empty, Vec::as_slice)
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
            out.vaults = self.resolve(vaults)?.values;
        }
        if let Some(reference) = git_token_ref.filter(|r| !r.is_empty()) {
            match EntryReference::parse(reference).and_then(|r| self.get(&r.vault, &r.key)) {
                Ok(token) => out.git_token = Some(token),
                Err(e) => out.warnings.push(format!("git_token left out: {e}")),
            }
        }
        Ok(out)
    }

    /// Re-encrypts every entry under `new_key` in one transaction, checking
    /// each new blob before commit. Afterwards the old key no longer opens the store.
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
        let count = inner.write(|tx| {
            let n = reencrypt_all(tx, &old.cipher, &new)?;
            schema::meta_set(tx, META_KEY_ID, &new.cipher.key_id().to_string())?;
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
        let count = inner.write(|tx| {
            let n = reencrypt_all(tx, &old.cipher, &new_crypto)?;
            schema::meta_set(tx, META_FORMAT, Format::V2.as_str())?;
            schema::meta_set(tx, META_KEY_ID, &keys_id.to_string())?;
            Ok(n)
        })?;
        inner.swap(new_crypto);
        Ok(count)
    }

    /// Every vault with its plaintext entries, read in one transaction.
    pub fn export(&self) -> Result<ExportDocument> {
        let inner = self.inner()?;
        let crypto = inner.crypto();
        inner.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT v.name, COALESCE(v.description, ''), e.key, e.value, e.is_secret
                 FROM vaults v LEFT JOIN vault_entries e ON e.vault_id = v.id
                 ORDER BY v.name, e.key",
            )?;
            let mut rows = stmt.query([])?;
            let mut doc = ExportDocument {
                format: EXPORT_FORMAT,
                vaults: Vec::new(),
            };
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                if doc.vaults.last().map(|v| &v.name) != Some(&name) {
                    doc.vaults.push(ExportVault {
                        name: name.clone(),
                        description: r.get(1)?,
                        entries: Vec::new(),
                    });
                }
                let Some(key) = r.get::<_, Option<String>>(2)? else {
                    continue;
                };
                let blob = value_bytes(r, 3)?;
                let is_secret = r.get::<_, Option<bool>>(4)?.unwrap_or(true);
                let entry = EntryRef {
                    vault: &name,
                    key: &key,
                    is_secret,
                };
                let value = crypto.cipher.decrypt(entry, &blob)?.0;
                doc.vaults
                    .last_mut()
                    .expect("pushed above")
                    .entries
                    .push(ExportEntry {
                        key,
                        value,
                        is_secret,
                    });
            }
            Ok(doc)
        })
    }

    /// Writes a whole document in one transaction after checking all of it:
    /// existing vaults are merged, existing keys replaced.
    pub fn import(&self, doc: &ExportDocument) -> Result<u64> {
        let inner = self.inner()?;
        doc.validate()?;
        let crypto = inner.crypto();
        inner.write(|tx| {
            let mut count = 0;
            for vault in &doc.vaults {
                tx.prepare_cached(
                    "INSERT INTO vaults (name, description) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET
                         description = CASE WHEN excluded.description = '' THEN vaults.description
                                            ELSE excluded.description END,
                         updated_at = CURRENT_TIMESTAMP",
                )?
                .execute(params![vault.name, vault.description])?;
                let id = vault_id(tx, &vault.name)?;
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO vault_entries (vault_id, key, value, is_secret) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(vault_id, key) DO UPDATE SET
                         value = excluded.value, is_secret = excluded.is_secret,
                         updated_at = CURRENT_TIMESTAMP",
                )?;
                for e in &vault.entries {
                    let entry = EntryRef { vault: &vault.name, key: &e.key, is_secret: e.is_secret };
                    let blob = crypto.cipher.encrypt(crypto.format, entry, e.value.expose().as_bytes());
                    upsert.execute(params![id, e.key, blob, e.is_secret])?;
                    count += 1;
                }
            }
            record_key_id(tx, crypto.cipher.key_id())?;
            Ok(count)
        })
    }
}

impl Enabled {
    fn crypto(&self) -> Arc<Crypto> {
        Arc::clone(&self.crypto.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, new: Crypto) {
        *self.crypto.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
    }

    /// Runs `f` on a pooled connection inside a read transaction (one snapshot).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx);
        drop(tx); // read-only: rolling back is the same as committing
        self.pool.put(conn);
        out
    }

    /// Runs `f` in a write transaction, taken at once (`BEGIN IMMEDIATE`) so
    /// concurrent writers queue on the busy timeout instead of failing later.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        let out = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match f(&tx) {
                Ok(v) => tx.commit().map(|()| v).map_err(Error::from),
                Err(e) => Err(e), // dropping `tx` rolls back
            }
        };
        self.pool.put(conn);
        out
    }
}

/// A small pool of SQLite connections, each set up the same way.
struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn get(&self) -> Result<Connection> {
        if let Some(conn) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(conn);
        }
        open_connection(&self.path)
    }

    fn put(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage_at(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage_at(path, e))?;
    // WAL lets readers run beside a writer; FULL makes a returned `set` durable;
    // foreign keys make ON DELETE CASCADE hold for every connection.
    set_wal(&conn).map_err(|e| storage_at(path, e))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| storage_at(path, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Switches the database to WAL. SQLite answers `SQLITE_BUSY` at once, without
/// its busy handler, when processes open a new file together, so the switch is
/// retried here for as long as the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn storage_at(path: &Path, e: rusqlite::Error) -> Error {
    let hint = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => " (the file is not a SQLite database)",
        Some(rusqlite::ErrorCode::ReadOnly) => " (the database is read-only)",
        Some(rusqlite::ErrorCode::CannotOpen) => {
            " (cannot open the file: check the path and permissions)"
        }
        _ => "",
    };
    Error::Storage(format!("{}: {e}{hint}", path.display()))
}

fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Storage(msg) if !msg.starts_with(&*path.to_string_lossy()) => {
            Error::Storage(format!("{}: {msg}", path.display()))
        }
        other => other,
    }
}

/// Creates or checks the schema and the key check; returns the store's format.
fn prepare_schema(conn: &mut Connection, keys: &KeySet) -> Result<Format> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let had_meta = schema::table_exists(&tx, "runqy_vault_meta")?;
    let had_vaults = schema::table_exists(&tx, "vaults")?;
    tx.execute_batch(schema::UPSTREAM_TABLES)?;
    tx.execute_batch(schema::META_TABLE)?;
    let format = match schema::meta_get(&tx, META_FORMAT)? {
        Some(f) => Format::parse(&f).ok_or_else(|| {
            Error::Storage(format!(
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
            schema::meta_set(&tx, META_FORMAT, format.as_str())?;
            format
        }
    };
    let cipher = Cipher::new(keys);
    match schema::meta_get(&tx, META_KEY_ID)? {
        Some(stored) => {
            let known = KeyId::from_hex(&stored).is_some_and(|id| cipher.knows(id));
            if !known {
                return Err(Error::KeyMismatch {
                    store_key_id: stored,
                    key_id: cipher.key_id().to_string(),
                });
            }
        }
        None => {
            // A new store, or a runqy server's: record the id of the key its values are under.
            let id = probe_key_id(&tx, &cipher)?.unwrap_or_else(|| cipher.key_id());
            schema::meta_set(&tx, META_KEY_ID, &id.to_string())?;
        }
    }
    tx.commit()?;
    Ok(format)
}

/// For a store without a recorded key id: the id of the key that opens its
/// entries, `Ok(None)` if it has none yet, `KeyMismatch` if none of a few opens.
fn probe_key_id(conn: &Connection, cipher: &Cipher) -> Result<Option<KeyId>> {
    let mut stmt = conn.prepare(
        "SELECT v.name, e.key, e.value, e.is_secret FROM vault_entries e
         JOIN vaults v ON v.id = e.vault_id ORDER BY e.id LIMIT 5",
    )?;
    let rows: Vec<(String, String, Vec<u8>, Option<bool>)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, value_bytes(r, 2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        return Ok(None);
    }
    for (vault, key, blob, secret) in &rows {
        let entry = EntryRef {
            vault,
            key,
            is_secret: secret.unwrap_or(true),
        };
        if let Ok((_, info)) = cipher.decrypt(entry, blob) {
            return Ok(Some(info.key_id));
        }
    }
    Err(Error::KeyMismatch {
        store_key_id: "unknown (a legacy store whose entries this key does not open)".to_owned(),
        key_id: cipher.key_id().to_string(),
    })
}

/// Records the key id on the first write to a legacy store that had none.
fn record_key_id(conn: &Connection, id: KeyId) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO runqy_vault_meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
    )?
    .execute(params![META_KEY_ID, id.to_string()])?;
    Ok(())
}

/// The `value` column as bytes. Upstream declares it BLOB, but SQLite lets any
/// writer store TEXT there; both are read the same way.
fn value_bytes(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Vec<u8>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b.to_vec()),
        other => Err(rusqlite::Error::InvalidColumnType(
            idx,
            "value".into(),
            other.data_type(),
        )),
    }
}

fn vault_id(conn: &Connection, name: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM vaults WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::vault_not_found(name))
}

fn touch_vault(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE vaults SET updated_at = CURRENT_TIMESTAMP WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

fn entry_not_found(vault: &str, key: &str) -> Error {
    Error::EntryNotFound {
        vault: vault.to_owned(),
        key: key.to_owned(),
    }
}

fn entry_views(conn: &Connection, cipher: &Cipher, vault: &str, id: i64) -> Result<Vec<EntryView>> {
    let sql = format!(
        "SELECT key, value, is_secret, {}, {} FROM vault_entries WHERE vault_id = ?1 ORDER BY key",
        schema::rfc3339("created_at"),
        schema::rfc3339("updated_at")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        let blob = value_bytes(r, 1)?;
        let is_secret = r.get::<_, Option<bool>>(2)?.unwrap_or(true);
        let plain = cipher
            .decrypt(
                EntryRef {
                    vault,
                    key: &key,
                    is_secret,
                },
                &blob,
            )?
            .0;
        let value = if is_secret {
            mask(plain.expose())
        } else {
            plain.expose().to_owned()
        };
        out.push(EntryView {
            key,
            value,
            is_secret,
            created_at: r.get(3)?,
            updated_at: r.get(4)?,
        });
    }
    Ok(out)
}

/// The decrypted entries of each listed vault, in one snapshot; every missing vault named at once.
fn fetch_vaults(
    conn: &Connection,
    cipher: &Cipher,
    names: &[&str],
) -> Result<HashMap<String, Vec<(String, SecretString)>>> {
    let mut unique: Vec<&str> = Vec::with_capacity(names.len());
    for n in names {
        if !unique.contains(n) {
            unique.push(n);
        }
    }
    let placeholders = vec!["?"; unique.len()].join(",");
    // One query for all listed vaults: its cost follows the listed vaults, not the store's size.
    let sql = format!(
        "SELECT v.name, e.key, e.value, e.is_secret FROM vaults v
         LEFT JOIN vault_entries e ON e.vault_id = v.id
         WHERE v.name IN ({placeholders})"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(unique.iter()))?;
    let mut out: HashMap<String, Vec<(String, SecretString)>> =
        HashMap::with_capacity(unique.len());
    while let Some(r) = rows.next()? {
        let vault: String = r.get(0)?;
        let Some(key) = r.get::<_, Option<String>>(1)? else {
            out.entry(vault).or_default(); // a listed vault with no entries
            continue;
        };
        let blob = value_bytes(r, 2)?;
        let is_secret = r.get::<_, Option<bool>>(3)?.unwrap_or(true);
        let value = cipher
            .decrypt(
                EntryRef {
                    vault: &vault,
                    key: &key,
                    is_secret,
                },
                &blob,
            )?
            .0;
        out.entry(vault).or_default().push((key, value));
    }
    let missing: Vec<String> = unique
        .iter()
        .filter(|n| !out.contains_key(**n))
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::VaultNotFound { vaults: missing });
    }
    Ok(out)
}

/// Re-encrypts every entry from `old` into `new`'s key and format, checking each new blob.
fn reencrypt_all(tx: &Connection, old: &Cipher, new: &Crypto) -> Result<u64> {
    let rows: Vec<(i64, String, String, Vec<u8>, bool)> = tx
        .prepare(
            "SELECT e.id, v.name, e.key, e.value, COALESCE(e.is_secret, 1) FROM vault_entries e
             JOIN vaults v ON v.id = e.vault_id",
        )?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE vault_entries SET value = ?2 WHERE id = ?1")?;
    for (id, vault, key, blob, is_secret) in &rows {
        let entry = EntryRef {
            vault,
            key,
            is_secret: *is_secret,
        };
        let plain = old.decrypt(entry, blob)?.0;
        let fresh = new
            .cipher
            .encrypt(new.format, entry, plain.expose().as_bytes());
        let (check, _) = new.cipher.decrypt(entry, &fresh)?;
        if check != plain {
            return Err(Error::DecryptionFailed {
                vault: vault.clone(),
                key: key.clone(),
            });
        }
        update.execute(params![id, fresh])?;
    }
    Ok(rows.len() as u64)
}
