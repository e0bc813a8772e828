//! The vault store (SPEC §2, §5, §6): its public API.
//!
//! Each call validates its input, then goes through the one door of
//! [`op`] (`Store::write` / `Store::read`) to the backend port of
//! [`backend`], where SQLite ([`sqlite`]) or PostgreSQL (`postgres`, behind
//! the cargo feature of that name) runs the statements. The key check lives
//! in [`keyring`], the location in [`location`]. See docs/architecture.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::cipher::{Binding, Cipher, Format};
use crate::error::{shown, Error, ErrorKind, Result};
use crate::key::{KeyId, KeySet, KeySource, MasterKey};
use crate::mask::mask;
use crate::model::{EntryView, RegistrationPayload, Resolved, VaultDetail, VaultSummary};
use crate::names;
use crate::payload::{self, EntryReference};
use crate::schema::META_FORMAT;
use crate::secret::SecretString;
use crate::transfer::{
    self, ExportDocument, ExportEntry, ExportSummary, ExportVault, EXPORT_FORMAT,
};
use zeroize::Zeroizing;

mod audit;
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

pub use audit::{
    actor as checked_actor, default_actor, parse_time as parse_audit_time, ENV_ACTOR, MAX_ACTOR,
    OPERATIONS as AUDIT_OPERATIONS,
};
use audit::{Delivered, Note};
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
    /// What is wrong with the audit log, as far as the cheap checks at open
    /// and the appends since found (a full check is `audit_verify`).
    audit_problem: Mutex<Option<String>>,
}

impl Enabled {
    fn note_problem(&self, problem: Option<String>) {
        if let Some(p) = problem {
            *self
                .audit_problem
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(p);
        }
    }

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
    enabled: Option<Arc<Enabled>>,
    /// Who acts through this handle: every audit record's actor.
    actor: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .field("enabled", &self.enabled.is_some())
            .field("actor", &self.actor)
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
        let actor: Arc<str> = Arc::from(audit::default_actor());
        let Some(keys) = source.load()? else {
            // Disabled: every vault operation answers `Disabled`; the database is not touched.
            return Ok(Store {
                location,
                enabled: None,
                actor,
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
            backend.write(false, |tx| prepare(tx, &cipher, &actor))
        };
        let (format, keyring, problem) = match &location {
            Location::Sqlite(path) => prepared.map_err(|e| sqlite::with_path(e, path))?,
            Location::Postgres(_) => prepared?,
        };
        Ok(Store {
            location,
            enabled: Some(Arc::new(Enabled {
                backend,
                crypto: RwLock::new(Arc::new(Crypto { cipher, format })),
                keyring,
                audit_problem: Mutex::new(problem),
            })),
            actor,
        })
    }

    /// The same store acting as `actor`: every record of the audit log (and
    /// every version) written through the handle returned names it. Cheap
    /// (the connections, keys and caches are shared), so a server can take
    /// one per request: `store.with_actor("worker:7 queue:inference")?`.
    /// `InvalidInput` for an empty actor or one over 256 characters; control
    /// characters are escaped.
    pub fn with_actor(&self, actor: &str) -> Result<Store> {
        Ok(Store {
            location: self.location.clone(),
            enabled: self.enabled.clone(),
            actor: Arc::from(audit::actor(actor)?),
        })
    }

    /// Who acts through this handle: the one given to [`Store::with_actor`],
    /// else `RUNQY_VAULT_ACTOR`, else `user@host`.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// What is wrong with the audit log, when the checks made at open (the
    /// head and the newest records) or an append since found it broken;
    /// `None` when they found nothing. [`Store::audit_verify`] checks every
    /// record. A broken log does not stop the store: this is for saying so.
    pub fn audit_problem(&self) -> Option<String> {
        self.enabled.as_ref().and_then(|e| {
            e.audit_problem
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
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

    /// Round trips this store's PostgreSQL connections have sent so far;
    /// `None` on SQLite or a disabled store (the round-trip tests only).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn round_trips(&self) -> Option<u64> {
        match &self.enabled.as_deref()?.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => Some(p.round_trips()),
            _ => None,
        }
    }

    fn inner(&self) -> Result<&Enabled> {
        self.enabled.as_deref().ok_or(Error::Disabled)
    }

    /// The door of every write: one transaction, committed when `body`
    /// succeeds. The key check runs first for writes that put values under
    /// the key; see [`op`] for what else joins here.
    fn write<T>(&self, op: Op<'_>, body: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let inner = self.inner()?;
        let mut notice = None;
        let bulk = op.key_lock() == KeyLock::Exclusive;
        let out = inner.backend.write(bulk, |tx| {
            let mut crypto = inner.crypto();
            let key_lock = match op.key_lock() {
                KeyLock::Shared => Some(inner.keyring.lock(false)),
                _ => None,
            };
            // On PostgreSQL: BEGIN and the first reads in one round trip.
            tx.ahead(&op.ahead(key_lock))?;
            let stored_format = match op.key_lock() {
                KeyLock::None => None,
                // Never a value under a key the store has rotated away from.
                KeyLock::Shared => inner.keyring.check(tx, &crypto.cipher, false)?,
                KeyLock::Exclusive => {
                    // Import, rotation, migration: every row, in one transaction.
                    tx.bulk()?;
                    inner.keyring.check(tx, &crypto.cipher, true)?
                }
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
                actor: &self.actor,
                note: Note::default(),
                written: Vec::new(),
                op: op.name(),
                parts: 0,
                notice: None,
                audit_cipher: None,
            };
            let out = body(&mut w)?;
            // The operation's record, in its transaction: no record, no write.
            let mut note = audit::merge(audit::base_note(&op), std::mem::take(&mut w.note));
            if w.written.len() > 1 || w.parts > 0 {
                // Several values (an import): each is listed, none is "the" value.
                note.version = None;
                note.fingerprint = None;
                let entries = std::mem::take(&mut w.written);
                note.set("entries", &entries); // the detail holds JSON text (audit.rs)
                if w.parts > 0 {
                    // The last of the parts (`Writer::write_part`): the earlier ones are listed before it.
                    note.set("part", w.parts + 1);
                    note.set("parts", w.parts + 1);
                }
            }
            let cipher = w.audit_cipher.as_ref().unwrap_or(&crypto.cipher);
            notice =
                audit::append(w.tx, cipher, &self.actor, op.name(), &note)?.or(w.notice.take());
            crate::test_hooks::pause(op.name());
            Ok(out)
        })?;
        inner.note_problem(notice);
        Ok(out)
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
        self.read_noted(op, |b, crypto, _| {
            body(b, crypto).map(|t| (t, Note::default()))
        })
    }

    /// [`Store::read`] for a read that hands out plaintext: while
    /// `audit-reads` is on (`audited`, which the body gets to note only
    /// what it must), its record is committed before the value is returned:
    /// for a small read ([`Op::is_small_read`]) in the read's own transaction
    /// on one connection ([`Backend::audited_read`]), for an export in a small
    /// transaction of its own; on SQLite without an fsync of its own
    /// (durable when the process dies). No record, no value: a store that
    /// cannot be written refuses such reads.
    fn read_noted<T>(
        &self,
        op: Op<'_>,
        body: impl Fn(&Backend, &Crypto, bool) -> Result<(T, Note)>,
    ) -> Result<T> {
        let inner = self.inner()?;
        if op.is_small_read() {
            return inner
                .backend
                .audited_read(&op, || self.read_noted_in(inner, op, body));
        }
        self.read_noted_in(inner, op, body)
    }

    fn read_noted_in<T>(
        &self,
        inner: &Enabled,
        op: Op<'_>,
        body: impl Fn(&Backend, &Crypto, bool) -> Result<(T, Note)>,
    ) -> Result<T> {
        let audited = op.hands_out_plaintext() && inner.backend.audit_reads()?;
        if audited && inner.backend.is_read_only() {
            inner.backend.append(|_| Ok(()))?; // refuses, saying why
        }
        let (out, note) = self.read_retried(inner, |b, c| body(b, c, audited))?;
        if audited {
            let note = audit::merge(audit::base_note(&op), note);
            let crypto = inner.crypto();
            let notice = inner
                .backend
                .append(|tx| audit::append(tx, &crypto.cipher, &self.actor, op.name(), &note))?;
            inner.note_problem(notice);
        }
        Ok(out)
    }

    fn read_retried<T>(
        &self,
        inner: &Enabled,
        body: impl Fn(&Backend, &Crypto) -> Result<T>,
    ) -> Result<T> {
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
            let entries = w.tx.delete_vault(id)?; // the versions stay, until `purge`
            w.note.set("entries", entries);
            Ok(())
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
            let mut stamps = StampMemo::default();
            let mut plain = Zeroizing::new(Vec::new());
            let row = b
                .read_one(|tx| {
                    tx.vault_detail(name, &mut |vault, row| {
                        if let Some(row) = row {
                            entries.push(entry_view(crypto, vault, &row, &mut stamps, &mut plain)?);
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
        self.read_noted(Op::Get { vault, key }, |b, crypto, audited| {
            let (value, version) = read_entry(b, crypto, vault, key, audited)?;
            let note = match audited {
                true => Note::value(
                    vault,
                    key,
                    version,
                    crypto.cipher.fingerprint(value.expose().as_bytes()),
                ),
                false => Note::default(),
            };
            Ok((value, note))
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
        self.read_noted(Op::Resolve { vaults: &names }, |b, crypto, audited| {
            let order = payload::winners_first(&names);
            let mut entries: Vec<Vec<(String, SecretString)>> =
                order.iter().map(|_| Vec::new()).collect();
            // Key → the place in `order` of the vault it came from, and its version.
            let mut delivered: BTreeMap<String, (usize, Option<i64>)> = BTreeMap::new();
            visit_listed(b, &order, &names, |i, row| {
                let value = decrypt(crypto, order[i], &row)?;
                if audited && !delivered.contains_key(row.key) {
                    delivered.insert(row.key.to_owned(), (i, row.version()));
                }
                entries[i].push((row.key.to_owned(), value));
                Ok(())
            })?;
            let mut note = Note::default();
            if audited {
                note.set_delivered(delivered.iter().map(|(key, &(i, version))| Delivered {
                    key,
                    vault: order[i],
                    version,
                }));
            }
            let resolved = payload::merge(&names, |v| {
                order
                    .iter()
                    .position(|o| *o == v)
                    .map_or(&[][..], |i| entries[i].as_slice())
            });
            Ok((resolved, note))
        })
    }

    /// The registration payload for a queue listing `vaults` (SPEC §7). A bad
    /// `git_token_ref` or a missing entry leaves the token out with a warning.
    pub fn registration_payload<S: AsRef<str>>(
        &self,
        vaults: &[S],
        git_token_ref: Option<&str>,
    ) -> Result<RegistrationPayload> {
        let names: Vec<&str> = vaults.iter().map(AsRef::as_ref).collect();
        let reference = git_token_ref.filter(|r| !r.is_empty());
        if names.is_empty() {
            if reference.is_none() {
                return Ok(RegistrationPayload::default()); // nothing asked: the store is not touched
            }
            if let Err(e) = self.inner() {
                return Ok(RegistrationPayload {
                    warnings: vec![format!("git_token left out: {e}")],
                    ..RegistrationPayload::default()
                });
            }
        }
        let parsed = reference.map(|r| (r, EntryReference::parse(r)));
        // The entry the body reads below, said ahead from the same parse.
        let git_token = match &parsed {
            Some((_, Ok(r))) => Some((r.vault.as_str(), r.key.as_str())),
            _ => None,
        };
        let op = Op::Payload {
            vaults: &names,
            git_token,
        };
        // One read, one record: the values, the keys delivered and the token.
        self.read_noted(op, |b, crypto, audited| {
            let mut out = RegistrationPayload::default();
            let mut note = Note::default();
            if !names.is_empty() {
                (out.vaults, out.warnings) =
                    payload_values(b, crypto, &names, audited.then_some(&mut note))?;
            } else if audited {
                note.set_delivered([]);
            }
            match &parsed {
                None => {}
                Some((_, Err(e))) => out.warnings.push(format!("git_token left out: {e}")),
                Some((text, Ok(r))) => match read_entry(b, crypto, &r.vault, &r.key, audited) {
                    Ok((token, version)) => {
                        out.git_token = Some(token);
                        if audited {
                            note.set("git_token", text);
                            note.set("git_token_version", version);
                        }
                    }
                    Err(e) => out.warnings.push(format!("git_token left out: {e}")),
                },
            }
            Ok((out, note))
        })
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
            // The chain too, so that `verify` needs only the new key; this
            // rotation's own record is the first written under it.
            audit::rekey(w.tx, &old.cipher, &new.cipher)?;
            w.audit_cipher = Some(new.cipher.clone());
            keyring::record_only(w.tx, new.cipher.key_id())?;
            w.note.set("entries", n);
            w.note.set("key_id", new.cipher.key_id().to_string());
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
            w.note.set("entries", n);
            Ok(n)
        })?;
        inner.adopt_v2();
        Ok(count)
    }

    /// Every vault with its plaintext entries, sorted by vault and key, read
    /// from one snapshot of the database. The whole store is in memory:
    /// [`Store::export_to`] streams it instead.
    pub fn export(&self) -> Result<ExportDocument> {
        self.read_noted(Op::Export, |b, crypto, _| {
            let mut doc = ExportDocument {
                format: EXPORT_FORMAT,
                vaults: Vec::new(),
            };
            b.read_snapshot(|tx| {
                export_vaults(tx, crypto, &mut |vault| {
                    doc.vaults.push(vault);
                    Ok(())
                })
            })?;
            let entries: usize = doc.vaults.iter().map(|v| v.entries.len()).sum();
            let note = Note::default()
                .with("vaults", doc.vaults.len())
                .with("entries", entries);
            Ok((doc, note))
        })
    }

    /// Writes the document of [`Store::export`] as JSON to `out` (the bytes
    /// of [`ExportDocument::to_json`] and a newline), a vault at a time from
    /// one snapshot of the database: memory stays bounded by the largest
    /// vault whatever the store's size. On an error `out` holds a partial
    /// document (see [`crate::transfer::write_new_export`], which removes it).
    pub fn export_to(&self, out: &mut dyn std::io::Write) -> Result<ExportSummary> {
        let out = std::cell::RefCell::new(out);
        let started = std::cell::Cell::new(false);
        self.read_noted(Op::Export, |b, crypto, _| {
            // A retry (the store became v2 meanwhile) cannot take back what was written.
            if started.replace(true) {
                return Err(Error::storage(
                    "the store was migrated to v2 by another process during the export: export again",
                ));
            }
            let mut out = out.borrow_mut();
            let summary = b.read_snapshot(|tx| {
                transfer::write_document(*out, |emit| {
                    export_vaults(tx, crypto, &mut |vault| emit(&vault))
                })
            })?;
            let note = Note::default()
                .with("vaults", summary.vaults)
                .with("entries", summary.entries);
            Ok((summary, note))
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
                for batch in vault.entries.chunks(op::PUT_BATCH) {
                    let entries: Vec<(&str, &str, bool)> = batch
                        .iter()
                        .map(|e| (e.key.as_str(), e.value.expose(), e.is_secret))
                        .collect();
                    w.put_batch(id, &vault.name, &entries)?;
                    count += batch.len() as u64;
                }
            }
            w.note.set("count", count);
            Ok(count)
        })
    }

    /// Imports the document `open` reads (SPEC §6) without holding it in
    /// memory: the whole document is first read and checked (nothing
    /// written), then read again by `open` and written in one transaction,
    /// checked again as it goes (a document changed in between still
    /// writes all of itself or nothing). Memory stays bounded by a batch of
    /// entries written together (500, or about 1 MiB of values) and the
    /// names seen, whatever the document's size. Returns the number
    /// of entries written. `path` names the document in messages; `age`
    /// says `open` decrypts it on the way (a read error then means a cut or
    /// altered file). See [`crate::transfer::open_document`].
    pub fn import_from<R: std::io::Read>(
        &self,
        path: &str,
        age: bool,
        mut open: impl FnMut() -> Result<R>,
    ) -> Result<u64> {
        self.inner()?;
        let source = transfer::Source { path, age };
        transfer::read_document(open()?, &source, &mut transfer::Checked::default())?;
        self.write(Op::Import, |w| {
            let mut sink = Importer {
                w,
                vault: None,
                batch: Vec::new(),
                batch_bytes: 0,
                count: 0,
            };
            transfer::read_document(open()?, &source, &mut sink)?;
            sink.write_batch()?;
            let count = sink.count;
            w.note.set("count", count);
            Ok(count)
        })
    }
}

/// Calls `each` with every vault and its plaintext entries, sorted by vault
/// and key, one vault at a time (export's one reading of the store).
fn export_vaults(
    tx: &mut dyn Tx,
    crypto: &Crypto,
    each: &mut dyn FnMut(ExportVault) -> Result<()>,
) -> Result<()> {
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
        each(vault)?;
    }
    Ok(())
}

/// Import's writes, as [`transfer::read_document`] hands the entries over.
struct Importer<'a, 'w> {
    w: &'a mut Writer<'w>,
    /// The vault being written: its name and id.
    vault: Option<(String, i64)>,
    /// Its entries read and not written yet (at most [`op::PUT_BATCH`], or
    /// [`op::PUT_BATCH_BYTES`] of values), written together so their newest
    /// versions are read in one ask.
    batch: Vec<(String, SecretString, bool)>,
    /// The bytes of the values in `batch`.
    batch_bytes: usize,
    count: u64,
}

impl Importer<'_, '_> {
    /// Writes the entries held, if any.
    fn write_batch(&mut self) -> Result<()> {
        let Some((vault, id)) = &self.vault else {
            return Ok(());
        };
        if self.batch.is_empty() {
            return Ok(());
        }
        let entries: Vec<(&str, &str, bool)> = self
            .batch
            .iter()
            .map(|(key, value, is_secret)| (key.as_str(), value.expose(), *is_secret))
            .collect();
        self.w.put_batch(*id, vault, &entries)?;
        self.count += entries.len() as u64;
        self.batch.clear();
        self.batch_bytes = 0;
        Ok(())
    }
}

impl transfer::ImportSink for Importer<'_, '_> {
    fn vault(&mut self, name: &str, description: &str) -> Result<()> {
        self.write_batch()?;
        let id = self.w.tx.merge_vault(name, description)?;
        self.vault = Some((name.to_owned(), id));
        Ok(())
    }

    fn entry(&mut self, vault: &str, key: &str, value: &str, is_secret: bool) -> Result<()> {
        if !matches!(&self.vault, Some((name, _)) if name == vault) {
            return Err(Error::storage("import: an entry came before its vault"));
        }
        self.batch
            .push((key.to_owned(), SecretString::from(value), is_secret));
        self.batch_bytes += value.len();
        if self.batch.len() >= op::PUT_BATCH || self.batch_bytes >= op::PUT_BATCH_BYTES {
            self.write_batch()?;
        }
        Ok(())
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

/// What the open found: the format, the key check and a broken audit log.
type Prepared = (Format, Keyring, Option<String>);

/// Creates or checks the schema, the store's format, the key check and the
/// audit log's head (a dropped audit table is recreated, saying so).
fn prepare(tx: &mut dyn Tx, cipher: &Cipher, actor: &str) -> Result<Prepared> {
    tx.lock_schema()?;
    let had_meta = tx.table_exists("runqy_vault_meta")?;
    let had_vaults = tx.table_exists("vaults")?;
    let had_audit = tx.table_exists("runqy_vault_audit")?;
    tx.create_schema()?;
    let recorded = tx.meta_get(META_FORMAT)?;
    // A runqy server's database stays legacy so the Go server can still read it.
    let format = store_format(tx, cipher, recorded.as_deref(), had_vaults && !had_meta)?;
    if recorded.as_deref() != Some(format.as_str()) {
        tx.meta_set(META_FORMAT, format.as_str())?;
    }
    let keyring = Keyring::open(tx, cipher, true)?;
    let restarted = audit::prepare(tx, cipher, actor, had_audit && had_meta)?;
    let problem = match restarted {
        Some(p) => Some(p),
        None => audit::health(tx, cipher)?,
    };
    Ok((format, keyring, problem))
}

/// [`prepare`] for a database this process cannot write: the schema and the
/// meta table must be there already, as nothing can be created.
fn prepare_read_only(tx: &mut dyn Tx, cipher: &Cipher) -> Result<Prepared> {
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
    let keyring = Keyring::open(tx, cipher, false)?;
    Ok((format, keyring, audit::health(tx, cipher)?))
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

/// The merged values of `names` for a payload, and its warnings; with
/// `note` (audit-reads on), the record's list of the keys delivered, each
/// with its vault and version. Only the values handed out are decrypted:
/// rows come winners first (see [`payload::winners_first`]), so a key
/// already taken is shadowed and its value is never decrypted, never in
/// memory, and cannot fail the payload.
///
/// A reserved key an older store still holds (SPEC §4) is left out, with one
/// warning naming it and its vault, never its value: every binding's payload
/// is made here, so none can hand a task `PYTHONWARNINGS` or `LD_PRELOAD`.
fn payload_values(
    b: &Backend,
    crypto: &Crypto,
    names: &[&str],
    note: Option<&mut Note>,
) -> Result<(BTreeMap<String, SecretString>, Vec<String>)> {
    let order = payload::winners_first(names);
    let Some(note) = note else {
        return take_values(b, crypto, names, &order, |value, _, _| value);
    };
    // Each value with where it came from (its vault's place in `order`, its
    // version), so the record borrows its keys from here instead of a copy.
    let (taken, left_out) = take_values(b, crypto, names, &order, |value, i, row| {
        (value, i, row.version())
    })?;
    note.set_delivered(taken.iter().map(|(key, &(_, i, version))| Delivered {
        key,
        vault: order[i],
        version,
    }));
    // In key order already: the map is built in one pass, not by inserts.
    let values = taken.into_iter().map(|(k, (v, _, _))| (k, v)).collect();
    Ok((values, left_out))
}

/// [`payload_values`]' pass over the listed vaults: each key's winning
/// value, made a `V` by `keep(value, its vault's place in order, its row)`
/// (the unaudited payload keeps the value alone: nothing to rebuild, and no
/// row's version worked out, which hashes its blob).
fn take_values<V>(
    b: &Backend,
    crypto: &Crypto,
    names: &[&str],
    order: &[&str],
    keep: impl Fn(SecretString, usize, &EntryRow<'_>) -> V,
) -> Result<(BTreeMap<String, V>, Vec<String>)> {
    let mut values: BTreeMap<String, V> = BTreeMap::new();
    let mut left_out: BTreeMap<String, String> = BTreeMap::new();
    visit_listed(b, order, names, |i, row| {
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
        values.insert(row.key.to_owned(), keep(value, i, &row));
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

/// One entry's plaintext, and (when `versioned`, for the audit log) its
/// current version. One query answers both "no such vault" and "no such entry".
fn read_entry(
    b: &Backend,
    crypto: &Crypto,
    vault: &str,
    key: &str,
    versioned: bool,
) -> Result<(SecretString, Option<i64>)> {
    let mut found: Option<Option<(SecretString, [u8; 32], bool)>> = None;
    b.read_one(|tx| {
        tx.get_entry(vault, key, &mut |vault, row| {
            found = Some(match row {
                Some(row) => Some((
                    decrypt(crypto, vault, &row)?,
                    // The blob's digest finds its version: for the audit log only.
                    if versioned {
                        history::digest(row.value)
                    } else {
                        [0; 32]
                    },
                    row.is_secret,
                )),
                None => None,
            });
            Ok(())
        })
    })?;
    let (value, digest, is_secret) = match found {
        None => return Err(Error::vault_not_found(vault)),
        Some(None) => return Err(entry_not_found(vault, key)),
        Some(Some(found)) => found,
    };
    if !versioned {
        return Ok((value, None));
    }
    // The version is what the record adds; a history table dropped by hand
    // leaves it out rather than failing the read.
    let version =
        match b.read_one(|tx| history::version_of_blob(tx, vault, key, &digest, is_secret)) {
            Ok(v) => v,
            Err(_) if !b.read_one(|tx| tx.table_exists("runqy_vault_versions"))? => None,
            Err(e) => return Err(e),
        };
    Ok((value, version))
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
fn entry_view(
    crypto: &Crypto,
    vault: &str,
    row: &EntryRow<'_>,
    stamps: &mut StampMemo,
    plain: &mut Zeroizing<Vec<u8>>,
) -> Result<EntryView> {
    // One wiped buffer for all of a listing's plaintexts: each is only masked or copied.
    let at = Binding {
        vault,
        key: row.key,
        is_secret: row.is_secret,
    };
    let (text, _) = crypto
        .cipher
        .decrypt_in(crypto.format, at, row.value, plain)?;
    let value = if row.is_secret {
        mask(text)
    } else {
        text.to_owned()
    };
    Ok(EntryView {
        key: row.key.to_owned(),
        value,
        is_secret: row.is_secret,
        created_at: stamps.shown(row.created_at),
        updated_at: stamps.shown(row.updated_at),
    })
}

/// The last timestamp converted, and what it became: an entry's two stamps
/// and a vault's entries written together are mostly the same text, and
/// converting each was a third of a `show`'s own cost.
#[derive(Default)]
struct StampMemo {
    seen: Seen,
    shown: String,
}

/// A stamp as stored, owned (text kept in a buffer reused from one to the next).
#[derive(Default)]
enum Seen {
    #[default]
    Nothing,
    Text(String),
    Unix(i64),
}

impl StampMemo {
    fn shown(&mut self, stamp: backend::Stamp<'_>) -> String {
        use backend::Stamp;
        let same = match (&self.seen, stamp) {
            (Seen::Text(seen), Stamp::Text(t)) => seen == t,
            (Seen::Unix(seen), Stamp::Unix(s)) => *seen == s,
            _ => false,
        };
        if !same {
            self.shown = stamp.to_rfc3339();
            self.seen = match stamp {
                Stamp::Text(t) => {
                    let mut buf = match std::mem::take(&mut self.seen) {
                        Seen::Text(buf) => buf,
                        _ => String::new(),
                    };
                    buf.clear();
                    buf.push_str(t);
                    Seen::Text(buf)
                }
                Stamp::Unix(s) => Seen::Unix(s),
                Stamp::NotRead => Seen::Nothing,
            };
        }
        self.shown.clone()
    }
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
