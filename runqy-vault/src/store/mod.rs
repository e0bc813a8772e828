//! The vault store (SPEC §2, §5, §6): its public API.
//!
//! Each call validates its input, then goes through the one door of
//! [`op`] (`Store::write` / `Store::read`) to the backend port of
//! [`backend`], where SQLite ([`sqlite`]) or PostgreSQL (`postgres`, behind
//! the cargo feature of that name) runs the statements. The key check lives
//! in [`keyring`], the location in [`location`]. See docs/architecture.md.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::cipher::{Binding, Cipher, Format};
use crate::error::{shown, Error, ErrorKind, Result};
use crate::key::{KeyId, KeySet, KeySource, MasterKey};
use crate::mask::mask;
use crate::model::{EntryView, RegistrationPayload, Resolved, VaultDetail, VaultSummary};
use crate::names;
use crate::payload::{self, EntryReference};
use crate::schema::META_FORMAT;
use crate::secret::SecretString;
use crate::transfer::{ExportDocument, ExportEntry, ExportVault, EXPORT_FORMAT};

mod backend;
mod history;
mod keyring;
mod location;
mod op;
#[cfg(feature = "postgres")]
mod pg_tls;
mod pg_url;
#[cfg(feature = "postgres")]
mod postgres;
mod rotation;
mod row_cache;
mod sqlite;
pub(crate) mod survey;

use backend::{Backend, EntryRow, MetaLock, Tx};
use keyring::Keyring;
pub use location::{Location, PostgresUrl, DEFAULT_DB, ENV_DB};
use op::{KeyLock, Op, Writer};

/// The keys in use and the format written: swapped whole by rotation and migration.
pub(crate) struct Crypto {
    pub(crate) cipher: Cipher,
    pub(crate) format: Format,
}

struct Enabled {
    backend: Backend,
    crypto: RwLock<Arc<Crypto>>,
    keyring: Keyring,
}

impl Enabled {
    fn crypto(&self) -> Arc<Crypto> {
        Arc::clone(&self.crypto.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, new: Crypto) {
        *self.crypto.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
    }

    /// Writes v2 from now on: another process migrated the store since this
    /// one opened it (never the other way: a store is never downgraded).
    fn adopt_v2(&self) -> Arc<Crypto> {
        let mut slot = self.crypto.write().unwrap_or_else(PoisonError::into_inner);
        if slot.format != Format::V2 {
            *slot = Arc::new(Crypto {
                cipher: slot.cipher.clone(),
                format: Format::V2,
            });
        }
        Arc::clone(&slot)
    }
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
    location: Location,
    enabled: Option<Enabled>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .field("enabled", &self.enabled.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `location`: a SQLite file, or
    /// a PostgreSQL database when it is a `postgres://` or `postgresql://`
    /// URL. `master_key` is the base64 key text; `None` reads it from the
    /// environment (SPEC §1), and a store with no key anywhere opens disabled.
    pub fn open(location: impl Into<Location>, master_key: Option<&str>) -> Result<Store> {
        let source = match master_key {
            Some(text) => KeySource::explicit(text)?,
            None => KeySource::Environment,
        };
        Store::open_with(location, source)
    }

    /// Opens the store at `location` with keys from `source`.
    pub fn open_with(location: impl Into<Location>, source: KeySource) -> Result<Store> {
        let location = location.into();
        location.check()?;
        let Some(keys) = source.load()? else {
            // Disabled: every vault operation answers `Disabled`; the database is not touched.
            return Ok(Store {
                location,
                enabled: None,
            });
        };
        let backend = match &location {
            Location::Sqlite(path) => Backend::Sqlite(sqlite::Pool::new(path)),
            Location::Postgres(url) => open_postgres(url)?,
        };
        let cipher = Cipher::new(&keys);
        // A database this process cannot write is opened read-only when it is
        // already set up: reads work, writes fail with a clear error.
        let prepared = if backend.is_read_only() {
            backend.read_snapshot(|tx| prepare_read_only(tx, &cipher))
        } else {
            backend.write(|tx| prepare(tx, &cipher))
        };
        let (format, keyring) = match &location {
            Location::Sqlite(path) => prepared.map_err(|e| sqlite::with_path(e, path))?,
            Location::Postgres(_) => prepared?,
        };
        Ok(Store {
            location,
            enabled: Some(Enabled {
                backend,
                crypto: RwLock::new(Arc::new(Crypto { cipher, format })),
                keyring,
            }),
        })
    }

    /// Where the store lives; `Display` hides a PostgreSQL URL's password.
    pub fn location(&self) -> &Location {
        &self.location
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

    /// The door of every write: one transaction, committed when `body`
    /// succeeds. The key check runs first for writes that put values under
    /// the key; see [`op`] for what else joins here.
    fn write<T>(&self, op: Op<'_>, body: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let inner = self.inner()?;
        inner.backend.write(|tx| {
            let mut crypto = inner.crypto();
            let stored_format = match op.key_lock() {
                KeyLock::None => None,
                // Never a value under a key the store has rotated away from.
                KeyLock::Shared => inner.keyring.check(tx, &crypto.cipher, false)?,
                KeyLock::Exclusive => inner.keyring.check(tx, &crypto.cipher, true)?,
            };
            // Another process migrated the store since it was opened: a legacy
            // blob written now could never be read back (SPEC §3).
            if stored_format == Some(Format::V2) && crypto.format == Format::Legacy {
                crypto = inner.adopt_v2();
            }
            let mut w = Writer {
                tx,
                crypto: &crypto,
                history_limit: None,
            };
            let out = body(&mut w)?;
            crate::test_hooks::pause(op.name());
            Ok(out)
        })
    }

    /// The door of every read: `body` runs with the backend and the keys.
    /// Reads that hand out plaintext (`get`, `resolve`, the payload, export)
    /// say so in `op`.
    ///
    /// A read that fails to decrypt asks the meta table why before it
    /// answers: when another process rotated the key since this store was
    /// opened, the answer is `KeyMismatch` naming both key ids, not what
    /// looks like corruption; when it migrated the store to v2, the store
    /// adopts v2 and the read runs once more. Nothing is asked on success.
    fn read<T>(&self, op: Op<'_>, body: impl Fn(&Backend, &Crypto) -> Result<T>) -> Result<T> {
        let _ = op;
        let inner = self.inner()?;
        let crypto = inner.crypto();
        match body(&inner.backend, &crypto) {
            Err(e) if e.kind() == ErrorKind::DecryptionFailed => {
                let meta = inner.backend.read_one(|tx| tx.key_meta(MetaLock::None))?;
                keyring::recheck(&meta, &crypto.cipher)?;
                if meta.format.as_deref() == Some(Format::V2.as_str())
                    && crypto.format == Format::Legacy
                {
                    return body(&inner.backend, &inner.adopt_v2());
                }
                Err(e)
            }
            other => other,
        }
    }

    /// Creates an empty vault.
    pub fn create_vault(&self, name: &str, description: &str) -> Result<()> {
        names::check_vault_name(name)?;
        self.write(Op::CreateVault { vault: name }, |w| {
            // One statement, no check-then-insert: of two concurrent creates, one inserts.
            if w.tx.insert_vault(name, description)? {
                Ok(())
            } else {
                Err(Error::VaultExists {
                    vault: name.to_owned(),
                })
            }
        })
    }

    /// Deletes a vault and all its entries, in one transaction. Their
    /// versions are kept, by the vault's name, until [`Store::purge`].
    pub fn delete_vault(&self, name: &str) -> Result<()> {
        self.write(Op::DeleteVault { vault: name }, |w| {
            let id = touched_vault_id(w.tx, name)?;
            w.tx.delete_vault(id).map(drop) // the versions stay, until `purge`
        })
    }

    /// Whether a vault of that name exists.
    pub fn vault_exists(&self, name: &str) -> Result<bool> {
        self.read(Op::List, |b, _| {
            b.read_one(|tx| Ok(tx.vault_id(name)?.is_some()))
        })
    }

    /// All vaults, sorted by name, with their entry counts.
    pub fn list_vaults(&self) -> Result<Vec<VaultSummary>> {
        self.read(Op::List, |b, _| b.read_one(|tx| tx.list_vaults()))
    }

    /// A vault with its entries sorted by key, secret values masked.
    pub fn show(&self, name: &str) -> Result<VaultDetail> {
        self.read(Op::List, |b, crypto| {
            let mut entries = Vec::new();
            let row = b
                .read_one(|tx| {
                    tx.vault_detail(name, &mut |vault, row| {
                        if let Some(row) = row {
                            entries.push(entry_view(crypto, vault, &row)?);
                        }
                        Ok(())
                    })
                })?
                .ok_or_else(|| Error::vault_not_found(name))?;
            Ok(VaultDetail {
                name: name.to_owned(),
                description: row.description,
                created_at: row.created_at,
                updated_at: row.updated_at,
                entries,
            })
        })
    }

    /// A vault's entries sorted by key, secret values masked.
    pub fn entries(&self, name: &str) -> Result<Vec<EntryView>> {
        Ok(self.show(name)?.entries)
    }

    /// Sets `key` in `vault` (insert or update) and bumps the vault's
    /// `updated_at`; the value becomes the key's next version (SPEC §12).
    pub fn set(&self, vault: &str, key: &str, value: &str, is_secret: bool) -> Result<()> {
        self.inner()?;
        names::check_entry(vault, key, value)?;
        self.write(Op::Set { vault, key }, |w| {
            let id = touched_vault_id(w.tx, vault)?;
            w.put(id, vault, key, value, is_secret).map(drop)
        })
    }

    /// The decrypted value of `key` in `vault`.
    pub fn get(&self, vault: &str, key: &str) -> Result<SecretString> {
        self.read(Op::Get { vault, key }, |b, crypto| {
            // One query answers both "no such vault" and "no such entry".
            let mut found: Option<Option<SecretString>> = None;
            b.read_one(|tx| {
                tx.get_entry(vault, key, &mut |vault, row| {
                    found = Some(match row {
                        Some(row) => Some(decrypt(crypto, vault, &row)?),
                        None => None,
                    });
                    Ok(())
                })
            })?;
            match found {
                None => Err(Error::vault_not_found(vault)),
                Some(None) => Err(entry_not_found(vault, key)),
                Some(Some(value)) => Ok(value),
            }
        })
    }

    /// Removes `key` from `vault`; its versions are kept ([`Store::restore`]
    /// brings it back).
    pub fn unset(&self, vault: &str, key: &str) -> Result<()> {
        self.write(Op::Unset { vault, key }, |w| {
            let id = touched_vault_id(w.tx, vault)?;
            if !w.remove(id, key)? {
                return Err(entry_not_found(vault, key)); // rolls the bump back
            }
            Ok(())
        })
    }

    /// Merges the listed vaults, later ones overriding earlier ones, and says
    /// where each key came from. Every missing vault is named in one error.
    pub fn resolve<S: AsRef<str>>(&self, vaults: &[S]) -> Result<Resolved> {
        let names: Vec<&str> = vaults.iter().map(AsRef::as_ref).collect();
        self.read(Op::Resolve { vaults: &names }, |b, crypto| {
            let order = payload::winners_first(&names);
            let mut entries: Vec<Vec<(String, SecretString)>> =
                order.iter().map(|_| Vec::new()).collect();
            visit_listed(b, &order, &names, |i, row| {
                let value = decrypt(crypto, order[i], &row)?;
                entries[i].push((row.key.to_owned(), value));
                Ok(())
            })?;
            Ok(payload::merge(&names, |v| {
                order
                    .iter()
                    .position(|o| *o == v)
                    .map_or(&[][..], |i| entries[i].as_slice())
            }))
        })
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
            (out.vaults, out.warnings) = self
                .read(Op::Payload { vaults: &names }, |b, crypto| {
                    payload_values(b, crypto, &names)
                })?;
        }
        if let Some(reference) = git_token_ref.filter(|r| !r.is_empty()) {
            match EntryReference::parse(reference).and_then(|r| self.get(&r.vault, &r.key)) {
                Ok(token) => out.git_token = Some(token),
                Err(e) => out.warnings.push(format!("git_token left out: {e}")),
            }
        }
        Ok(out)
    }

    /// Re-encrypts every entry and every kept version under `new_key` in one
    /// transaction, checking each new blob before commit. Afterwards the old
    /// key no longer opens the store, history included. Returns the number
    /// of entries rewritten.
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
        let (count, new) = self.write(Op::RotateKey, |w| {
            // The keys and format as the transaction found them (another
            // process may have migrated the store meanwhile).
            let old: &Crypto = w.crypto;
            let new = Crypto {
                cipher: Cipher::new(&keys),
                format: old.format,
            };
            let n = rotation::reencrypt_all(w, old, &new)?;
            // A newer runqy server keeps other secrets under the same key.
            rotation::reencrypt_providers(w, &old.cipher, &new.cipher)?;
            keyring::record_only(w.tx, new.cipher.key_id())?;
            Ok((n, new))
        })?;
        inner.swap(new);
        Ok(count)
    }

    /// Rewrites a `legacy` store to `v2` in one transaction (kept versions,
    /// always v2, are re-encrypted with them under the current key). Returns
    /// the number of entries rewritten (0 if it was already `v2`).
    pub fn migrate(&self) -> Result<u64> {
        let inner = self.inner()?;
        let old = inner.crypto();
        if old.format == Format::V2 {
            return Ok(0);
        }
        let count = self.write(Op::Migrate, |w| {
            let old: &Crypto = w.crypto;
            if old.format == Format::V2 {
                return Ok(0); // another process migrated it meanwhile (the door adopted v2)
            }
            let new = Crypto {
                cipher: old.cipher.clone(),
                format: Format::V2,
            };
            let n = rotation::reencrypt_all(w, old, &new)?;
            w.tx.meta_set(META_FORMAT, Format::V2.as_str())?;
            keyring::record_only(w.tx, new.cipher.key_id())?;
            Ok(n)
        })?;
        inner.adopt_v2();
        Ok(count)
    }

    /// Every vault with its plaintext entries, sorted by vault and key, read
    /// from one snapshot of the database.
    pub fn export(&self) -> Result<ExportDocument> {
        self.read(Op::Export, |b, crypto| {
            b.read_snapshot(|tx| {
                let mut doc = ExportDocument {
                    format: EXPORT_FORMAT,
                    vaults: Vec::new(),
                };
                for summary in tx.list_vaults()? {
                    let mut vault = ExportVault {
                        name: summary.name,
                        description: summary.description,
                        entries: Vec::with_capacity(summary.entry_count as usize),
                    };
                    tx.vault_detail(&vault.name.clone(), &mut |name, row| {
                        if let Some(row) = row {
                            vault.entries.push(ExportEntry {
                                key: row.key.to_owned(),
                                value: decrypt(crypto, name, &row)?,
                                is_secret: row.is_secret,
                            });
                        }
                        Ok(())
                    })?;
                    doc.vaults.push(vault);
                }
                Ok(doc)
            })
        })
    }

    /// Writes a whole document in one transaction after checking all of it:
    /// existing vaults are merged, existing keys replaced (each written value
    /// becomes its key's next version).
    pub fn import(&self, doc: &ExportDocument) -> Result<u64> {
        self.inner()?;
        doc.validate()?;
        self.write(Op::Import, |w| {
            let mut count = 0;
            for vault in &doc.vaults {
                let id = w.tx.merge_vault(&vault.name, &vault.description)?;
                for e in &vault.entries {
                    w.put(id, &vault.name, &e.key, e.value.expose(), e.is_secret)?;
                    count += 1;
                }
            }
            Ok(count)
        })
    }
}

/// The `sslmode` a PostgreSQL location connects with, by libpq's rules
/// (`check` warns when it does not verify the server), or why the URL's TLS
/// parameters are wrong; `None` for SQLite.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_sslmode(
    location: &Location,
) -> Option<std::result::Result<&'static str, String>> {
    let Location::Postgres(url) = location else {
        return None;
    };
    Some(match pg_url::Parts::split(url.expose()) {
        Ok(parts) => pg_tls::mode_of(&parts).map(|(mode, _)| mode.as_str()),
        Err(why) => Err(why.to_owned()),
    })
}

/// Creates or checks the schema, the store's format and the key check.
fn prepare(tx: &mut dyn Tx, cipher: &Cipher) -> Result<(Format, Keyring)> {
    tx.lock_schema()?;
    let had_meta = tx.table_exists("runqy_vault_meta")?;
    let had_vaults = tx.table_exists("vaults")?;
    tx.create_schema()?;
    let recorded = tx.meta_get(META_FORMAT)?;
    // A runqy server's database stays legacy so the Go server can still read it.
    let format = store_format(tx, cipher, recorded.as_deref(), had_vaults && !had_meta)?;
    if recorded.as_deref() != Some(format.as_str()) {
        tx.meta_set(META_FORMAT, format.as_str())?;
    }
    Ok((format, Keyring::open(tx, cipher, true)?))
}

/// [`prepare`] for a database this process cannot write: the schema and the
/// meta table must be there already, as nothing can be created.
fn prepare_read_only(tx: &mut dyn Tx, cipher: &Cipher) -> Result<(Format, Keyring)> {
    for table in ["vaults", "vault_entries", "runqy_vault_meta"] {
        if !tx.table_exists(table)? {
            return Err(Error::storage(format!(
                "the database is read-only (the file or its directory is not writable by this \
                 process, or it was opened with mode=ro) and has no table {table} yet: open it \
                 once with write access so runqy-vault can set it up"
            )));
        }
    }
    let recorded = tx.meta_get(META_FORMAT)?;
    let format = store_format(tx, cipher, recorded.as_deref(), false)?;
    Ok((format, Keyring::open(tx, cipher, false)?))
}

/// The format of a store whose meta table says `recorded` (SPEC §3). A
/// store holding v2 blobs under one of `cipher`'s key ids is v2 whatever
/// its meta table says: a dropped meta table or a `format` edited to
/// `legacy` would otherwise make writes drop the binding, so that swapped
/// blobs decrypt as each other's value. Without a record, a runqy server's
/// database (`upstream`) is legacy and a new store v2.
fn store_format(
    tx: &mut dyn Tx,
    cipher: &Cipher,
    recorded: Option<&str>,
    upstream: bool,
) -> Result<Format> {
    let recorded = match recorded {
        Some(f) => Some(Format::parse(f).ok_or_else(|| {
            Error::storage(format!(
                "runqy_vault_meta holds an unknown format '{}' (expected legacy or v2)",
                shown(f)
            ))
        })?),
        None => None,
    };
    if recorded == Some(Format::V2) {
        return Ok(Format::V2);
    }
    if tx.has_value_prefixed(&cipher.v2_prefixes())? {
        return Ok(Format::V2); // never downgraded
    }
    Ok(match recorded {
        Some(format) => format,
        None if upstream => Format::Legacy,
        None => Format::V2,
    })
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &PostgresUrl) -> Result<Backend> {
    Ok(Backend::Postgres(postgres::Pool::connect(url)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &PostgresUrl) -> Result<Backend> {
    Err(Error::storage(format!(
        "{url}: this build of runqy-vault has no PostgreSQL support (it was built without the \
         `postgres` cargo feature)"
    )))
}

/// The merged values of `names` for a payload, and its warnings. Only the
/// values handed out are decrypted: rows come winners first (see
/// [`payload::winners_first`]), so a key already taken is shadowed and its
/// value is never decrypted, never in memory, and cannot fail the payload.
///
/// A reserved key an older store still holds (SPEC §4) is left out, with one
/// warning naming it and its vault, never its value: every binding's payload
/// is made here, so none can hand a task `PYTHONWARNINGS` or `LD_PRELOAD`.
fn payload_values(
    b: &Backend,
    crypto: &Crypto,
    names: &[&str],
) -> Result<(BTreeMap<String, SecretString>, Vec<String>)> {
    let order = payload::winners_first(names);
    let mut values: BTreeMap<String, SecretString> = BTreeMap::new();
    let mut left_out: BTreeMap<String, String> = BTreeMap::new();
    visit_listed(b, &order, names, |i, row| {
        if values.contains_key(row.key) || left_out.contains_key(row.key) {
            return Ok(());
        }
        if let Some(reason) = names::reserved_key_reason(row.key) {
            let warning = format!(
                "key '{}' of vault '{}' left out: {reason} (it could make a task run other code); rename it, the store still holds it",
                shown(row.key),
                shown(order[i])
            );
            left_out.insert(row.key.to_owned(), warning);
            return Ok(());
        }
        let value = decrypt(crypto, order[i], &row)?;
        values.insert(row.key.to_owned(), value);
        Ok(())
    })?;
    Ok((values, left_out.into_values().collect()))
}

/// Calls `each(i, entry)` for every entry of `vaults[i]` (distinct names),
/// grouped by vault in that order, in one query (or none, from SQLite's
/// row cache): its cost follows the listed vaults, not the store's size.
/// Then every vault of `listed` that does not exist is named in one error.
fn visit_listed(
    b: &Backend,
    vaults: &[&str],
    listed: &[&str],
    mut each: impl FnMut(usize, EntryRow<'_>) -> Result<()>,
) -> Result<()> {
    if vaults.is_empty() {
        return Ok(()); // nothing listed: no query (SQLite has no empty VALUES list)
    }
    let mut found = vec![false; vaults.len()];
    let mut at = 0;
    b.listed_entries(vaults, &mut |vault, row| {
        if vaults[at] != vault {
            // The port promises groups in list order: only a later vault may come next.
            match vaults[at..].iter().position(|v| *v == vault) {
                Some(step) => at += step,
                None => {
                    return Err(Error::storage(format!(
                        "the backend returned vault '{}' out of the listed order",
                        shown(vault)
                    )))
                }
            }
        }
        found[at] = true;
        row.map_or(Ok(()), |row| each(at, row))
    })?;
    // By name, so tens of thousands of listed vaults cost a pass, not a square.
    let absent: std::collections::HashSet<&str> = vaults
        .iter()
        .zip(&found)
        .filter(|(_, f)| !**f)
        .map(|(v, _)| *v)
        .collect();
    let mut missing: Vec<String> = Vec::new();
    let mut named = std::collections::HashSet::new();
    for name in listed {
        if absent.contains(name) && named.insert(*name) {
            missing.push(name.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(Error::VaultNotFound { vaults: missing });
    }
    Ok(())
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

/// An entry's plaintext, by the rules of the store's format (a v2 store
/// reads only v2 blobs).
fn decrypt(crypto: &Crypto, vault: &str, row: &EntryRow<'_>) -> Result<SecretString> {
    let at = Binding {
        vault,
        key: row.key,
        is_secret: row.is_secret,
    };
    Ok(crypto.cipher.decrypt(crypto.format, at, row.value)?.0)
}

/// An entry as listed: decrypted to be masked (or shown, when not secret).
fn entry_view(crypto: &Crypto, vault: &str, row: &EntryRow<'_>) -> Result<EntryView> {
    let plain = decrypt(crypto, vault, row)?;
    let value = if row.is_secret {
        mask(plain.expose())
    } else {
        plain.expose().to_owned()
    };
    Ok(EntryView {
        key: row.key.to_owned(),
        value,
        is_secret: row.is_secret,
        created_at: row.created_at.to_rfc3339(),
        updated_at: row.updated_at.to_rfc3339(),
    })
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn postgres_sslmode_follows_libpq_defaults_and_is_none_for_sqlite() {
        let mode = |url: &str| postgres_sslmode(&Location::from(url));
        assert_eq!(mode("v.db"), None);
        assert_eq!(mode("postgres://h/db"), Some(Ok("prefer")));
        assert_eq!(mode("postgres://h/db?sslmode=require"), Some(Ok("require")));
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-ca"),
            Some(Ok("verify-ca"))
        );
        assert_eq!(
            mode("postgres://h/db?sslrootcert=system"),
            Some(Ok("verify-full"))
        );
        assert!(matches!(
            mode("postgres://h/db?sslmode=bogus"),
            Some(Err(_))
        ));
    }
}
