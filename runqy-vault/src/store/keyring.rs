//! The key check (SPEC §1, §3): which master keys the store's values are
//! under, recorded in the meta table (`key_id`, `key_ids`) and checked at
//! open and inside every write.
//!
//! `key_id` is the current key's id; `key_ids` lists every key that may
//! still have values (during a rolling rotation with `_PREVIOUS`, the old
//! ones too). A store opens only when the keys given know all of them, so a
//! wrong key fails at open with `KeyMismatch` instead of a later wave of
//! decryption errors.

use std::sync::atomic::{AtomicBool, Ordering};

use super::backend::{KeyMeta, MetaLock, Tx};
use crate::cipher::{Binding, Cipher, Format};
use crate::error::{Error, Result};
use crate::key::KeyId;
use crate::schema::{META_KEY_ID, META_KEY_IDS};

/// Why a store's keys no longer match when they did at open.
pub(crate) const ROTATED_SINCE_OPEN: &str = " (the key was rotated by another process since this \
     store was opened: reopen it with the new key)";

/// The key ids of one open store, and whether the current one is recorded.
pub(crate) struct Keyring {
    /// Whether the store already lists the current key among its key ids, so
    /// a write need not record it (and needs only a shared lock on the row).
    recorded: AtomicBool,
}

impl Keyring {
    /// At open, inside the schema transaction: checks the keys against the
    /// recorded ids, or (when `writable`) records the id for a store that has
    /// none yet. A read-only store without a recorded id is checked against a
    /// few of its entries instead.
    pub(crate) fn open(tx: &mut dyn Tx, cipher: &Cipher, writable: bool) -> Result<Keyring> {
        let recorded = match tx.meta_get(META_KEY_ID)? {
            Some(stored) => {
                let ids = stored_ids(&stored, tx.meta_get(META_KEY_IDS)?.as_deref());
                all_known(cipher, &ids, "")?;
                ids.contains(&cipher.key_id().to_string())
            }
            None => {
                // A new store, or a runqy server's: record the id of the key its values are under.
                let id = probe(tx, cipher)?.unwrap_or_else(|| cipher.key_id());
                if writable {
                    record_only(tx, id)?;
                }
                writable && id == cipher.key_id()
            }
        };
        Ok(Keyring {
            recorded: AtomicBool::new(recorded),
        })
    }

    /// How [`Keyring::check`] locks the key check's rows: exclusively for
    /// many values or for the first write under a key not recorded yet.
    pub(crate) fn lock(&self, exclusive: bool) -> MetaLock {
        if exclusive || !self.recorded.load(Ordering::Acquire) {
            MetaLock::Exclusive
        } else {
            MetaLock::Shared
        }
    }

    /// Inside a write: locks the key check's meta rows and checks this
    /// store's keys still open every value in the store. Another process may
    /// have rotated the key since this store was opened; writing on would
    /// leave the store under a key nobody holds. The first write under a new
    /// current key (a rolling rotation with `_PREVIOUS`) adds it to the
    /// store's key ids, so a server with only the old key is refused at open
    /// instead of failing later on values it cannot decrypt.
    ///
    /// Returns the format the store records, so a write never puts a legacy
    /// blob into a store another process migrated to v2 meanwhile.
    pub(crate) fn check(
        &self,
        tx: &mut dyn Tx,
        cipher: &Cipher,
        exclusive: bool,
    ) -> Result<Option<Format>> {
        let meta = tx.key_meta(self.lock(exclusive))?;
        let format = meta.format.as_deref().and_then(Format::parse);
        let Some(stored) = meta.key_id.as_deref() else {
            record_only(tx, cipher.key_id())?;
            return Ok(format);
        };
        let mut ids = stored_ids(stored, meta.key_ids.as_deref());
        all_known(cipher, &ids, ROTATED_SINCE_OPEN)?;
        let current = cipher.key_id().to_string();
        if !ids.contains(&current) {
            ids.push(current.clone());
            tx.meta_set(META_KEY_ID, &current)?;
            tx.meta_set(META_KEY_IDS, &ids.join(","))?;
        }
        // Set after commit would be exact; setting it early only costs a
        // shared lock where an exclusive one was due, and the check still runs.
        self.recorded.store(true, Ordering::Release);
        Ok(format)
    }
}

/// After a read failed to decrypt: whether the store's recorded keys still
/// match `cipher`. `KeyMismatch` naming both ids when another process rotated
/// the key since this store was opened, so a long-lived server reports the
/// cause instead of what looks like corruption.
pub(crate) fn recheck(meta: &KeyMeta, cipher: &Cipher) -> Result<()> {
    match meta.key_id.as_deref() {
        Some(stored) => all_known(
            cipher,
            &stored_ids(stored, meta.key_ids.as_deref()),
            ROTATED_SINCE_OPEN,
        ),
        None => Ok(()),
    }
}

/// After a rewrite of every value (rotation, migration, a new store): one key.
pub(crate) fn record_only(tx: &mut dyn Tx, id: KeyId) -> Result<()> {
    tx.meta_set(META_KEY_ID, &id.to_string())?;
    tx.meta_set(META_KEY_IDS, &id.to_string())
}

/// The key check itself: every recorded id must be one of `cipher`'s keys;
/// `KeyMismatch` names the ids it does not know, then `why`.
fn all_known(cipher: &Cipher, ids: &[String], why: &str) -> Result<()> {
    let unknown: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| !KeyId::from_hex(id).is_some_and(|id| cipher.knows(id)))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::KeyMismatch {
        store_key_id: format!("{}{why}", unknown.join(", ")),
        key_id: cipher.key_id().to_string(),
    })
}

/// The ids of every key that may have values in the store: `key_ids`, or
/// `key_id` alone when the list is absent.
fn stored_ids(key_id: &str, key_ids: Option<&str>) -> Vec<String> {
    match key_ids {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec![key_id.to_owned()],
    }
}

/// How many entries of a store without a recorded key id are tried.
const PROBE_ENTRIES: u32 = 5;

/// For a store without a recorded key id: the id of the key that opens its
/// entries (or, when it has none, its kept versions), `Ok(None)` if it has
/// neither yet, `KeyMismatch` if none of a few opens.
fn probe(tx: &mut dyn Tx, cipher: &Cipher) -> Result<Option<KeyId>> {
    let mut tried = 0;
    let mut found = None;
    tx.entries_after(i64::MIN, PROBE_ENTRIES, &mut |vault, row| {
        let Some(row) = row else { return Ok(()) };
        tried += 1;
        if found.is_none() {
            let at = Binding {
                vault,
                key: row.key,
                is_secret: row.is_secret,
            };
            // Either format: this only asks which key opens the store.
            if let Ok((_, info)) = cipher.decrypt(Format::Legacy, at, row.value) {
                found = Some(info.key_id);
            }
        }
        Ok(())
    })?;
    if tried == 0 {
        // Every entry removed, the history kept: it is under a key too.
        tx.versions_after(i64::MIN, PROBE_ENTRIES, &mut |row| {
            tried += 1;
            let at = Binding {
                vault: row.vault,
                key: row.key,
                is_secret: row.is_secret,
            };
            let opened = u64::try_from(row.version)
                .ok()
                .and_then(|v| cipher.decrypt_version(at, v, row.value).ok());
            if let (None, Some((_, info))) = (found, opened) {
                found = Some(info.key_id);
            }
            Ok(())
        })?;
    }
    match (tried, found) {
        (0, _) => Ok(None),
        (_, Some(id)) => Ok(Some(id)),
        (_, None) => Err(Error::KeyMismatch {
            store_key_id: "unknown (a store whose values this key does not open)".to_owned(),
            key_id: cipher.key_id().to_string(),
        }),
    }
}
