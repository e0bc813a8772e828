//! Versions of every value (SPEC §12): the store's history calls, and the
//! rules that read the `runqy_vault_versions` table.
//!
//! Every version is written by [`Writer::put`](super::op::Writer::put), the
//! one door of values; this module reads them back (`history`, `get
//! --version`), makes an older one current again (`rollback`, `restore`),
//! checks a write against the current version (`set --cas`), and destroys
//! them (`purge`, `history-limit`).
//!
//! Which version is current is not stored as a flag: the newest kept version
//! is the current value while the blob in `vault_entries` is still the one
//! written with it (its SHA-256 is kept beside the version, and its flag
//! must match). No entry: the newest version was removed. Another blob: a
//! program writing straight into the upstream tables (a runqy server)
//! replaced it, and the current value has no version.

use sha2::{Digest, Sha256};

use super::backend::{Tx, VersionRow};
use super::op::Op;
use super::{entry_not_found, touched_vault_id, Store};
use crate::cipher::{Binding, Cipher};
use crate::error::{Error, Result};
use crate::mask::mask;
use crate::model::{HistoryEntry, PurgeReport, VersionState};
use crate::names;
use crate::schema::{DEFAULT_HISTORY_LIMIT, META_HISTORY_LIMIT};
use crate::secret::SecretString;

/// SHA-256 of a `vault_entries` blob, kept with the version written with it.
pub(crate) fn digest(blob: &[u8]) -> [u8; 32] {
    Sha256::digest(blob).into()
}

/// What a key's current value is, as its history knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    /// No entry (never set, removed, or its vault deleted).
    Absent,
    /// The entry holds the value of this version.
    Versioned(i64),
    /// The entry holds a value no version knows (another program wrote it).
    Unversioned,
}

impl Current {
    /// The version a check-and-set compares with: 0 for no entry, `None`
    /// for a value without a version.
    fn number(self) -> Option<i64> {
        match self {
            Current::Absent => Some(0),
            Current::Versioned(v) => Some(v),
            Current::Unversioned => None,
        }
    }
}

/// The rule of the module doc: the newest version `(number, entry digest,
/// is_secret)` against the entry's `(digest of its blob, is_secret)`.
fn classify(
    newest: Option<(i64, Option<&[u8]>, bool)>,
    entry: Option<(&[u8; 32], bool)>,
) -> Current {
    match (entry, newest) {
        (None, _) => Current::Absent,
        (Some((blob, flag)), Some((version, Some(kept), is_secret)))
            if flag == is_secret && kept == blob.as_slice() =>
        {
            Current::Versioned(version)
        }
        (Some(_), _) => Current::Unversioned,
    }
}

/// The version a blob `(blob, is_secret)` is, given its key's newest kept
/// version: the rule of [`classify`], for the audit log's records.
pub(crate) fn current_version(
    blob: &[u8],
    is_secret: bool,
    version: i64,
    newest_secret: bool,
    newest_digest: Option<&[u8]>,
) -> Option<i64> {
    match classify(
        Some((version, newest_digest, newest_secret)),
        Some((&digest(blob), is_secret)),
    ) {
        Current::Versioned(v) => Some(v),
        _ => None,
    }
}

/// The version of the entry whose blob has SHA-256 `digest` and flag
/// `is_secret`, by the same rule, asking the versions table.
pub(crate) fn version_of_blob(
    tx: &mut dyn Tx,
    vault: &str,
    key: &str,
    digest: &[u8; 32],
    is_secret: bool,
) -> Result<Option<i64>> {
    let head = tx.newest_version(vault, key)?;
    Ok(
        match classify(
            head.as_ref()
                .map(|h| (h.version, h.entry_digest.as_deref(), h.is_secret)),
            Some((digest, is_secret)),
        ) {
            Current::Versioned(v) => Some(v),
            _ => None,
        },
    )
}

/// A key's state inside a write: the newest kept version and what is current.
struct KeyState {
    newest: Option<i64>,
    current: Current,
}

fn key_state(tx: &mut dyn Tx, vault: &str, key: &str) -> Result<KeyState> {
    let mut entry: Option<([u8; 32], bool)> = None;
    tx.get_entry(vault, key, &mut |_, row| {
        entry = row.map(|r| (digest(r.value), r.is_secret));
        Ok(())
    })?;
    let head = tx.newest_version(vault, key)?;
    let current = classify(
        head.as_ref()
            .map(|h| (h.version, h.entry_digest.as_deref(), h.is_secret)),
        entry.as_ref().map(|(d, flag)| (d, *flag)),
    );
    Ok(KeyState {
        newest: head.map(|h| h.version),
        current,
    })
}

/// `history_limit` from the meta table ([`DEFAULT_HISTORY_LIMIT`] when unset).
pub(crate) fn stored_limit(tx: &mut dyn Tx) -> Result<u32> {
    match tx.meta_get(META_HISTORY_LIMIT)? {
        None => Ok(DEFAULT_HISTORY_LIMIT),
        Some(text) => text.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Error::storage(format!(
                "runqy_vault_meta holds an invalid {META_HISTORY_LIMIT} '{text}' \
                 (expected a whole number of at least 1)"
            ))
        }),
    }
}

/// A kept version's plaintext.
fn open_version(cipher: &Cipher, row: &VersionRow<'_>) -> Result<SecretString> {
    let at = Binding {
        vault: row.vault,
        key: row.key,
        is_secret: row.is_secret,
    };
    match u64::try_from(row.version) {
        Ok(version) => Ok(cipher.decrypt_version(at, version, row.value)?.0),
        // Never written by us: a number below 1 can only come from an edited row.
        Err(_) => Err(Error::VersionDecryptionFailed {
            vault: row.vault.to_owned(),
            key: row.key.to_owned(),
            version: row.version,
        }),
    }
}

/// A value as listed: masked when secret.
fn listed(plain: &SecretString, is_secret: bool) -> String {
    if is_secret {
        mask(plain.expose())
    } else {
        plain.expose().to_owned()
    }
}

/// Versions count from 1: anything else names the version and says so.
fn check_version_number(vault: &str, key: &str, version: i64) -> Result<()> {
    if version >= 1 {
        return Ok(());
    }
    Err(Error::VersionNotFound {
        vault: vault.to_owned(),
        key: key.to_owned(),
        version,
        reason: "versions count from 1".to_owned(),
    })
}

/// The error for a version that is not kept, saying which are (read in the
/// caller's transaction or snapshot).
fn missing_version(tx: &mut dyn Tx, vault: &str, key: &str, version: i64) -> Error {
    let mut vault_exists = false;
    let mut has_entry = false;
    let mut numbers: Vec<i64> = Vec::new();
    let read = tx.key_history(
        vault,
        key,
        &mut |_, row| {
            vault_exists = true;
            has_entry = row.is_some();
            Ok(())
        },
        &mut |row| {
            numbers.push(row.version);
            Ok(())
        },
    );
    if let Err(e) = read {
        return e;
    }
    let (Some(&newest), Some(&oldest)) = (numbers.first(), numbers.last()) else {
        return match (vault_exists, has_entry) {
            (false, _) => Error::vault_not_found(vault),
            (true, false) => entry_not_found(vault, key),
            (true, true) => Error::VersionNotFound {
                vault: vault.to_owned(),
                key: key.to_owned(),
                version,
                reason: "the key has no versions (its value was written by another program)"
                    .to_owned(),
            },
        };
    };
    let reason = if version > newest {
        format!("the newest version is {newest}")
    } else if version < oldest {
        let limit = stored_limit(tx).map_or_else(|_| "?".to_owned(), |n| n.to_string());
        format!(
            "it was pruned (the store keeps the last {limit} versions of each key; the oldest \
             kept is {oldest})"
        )
    } else {
        let kept: Vec<String> = numbers.iter().rev().map(i64::to_string).collect();
        format!("the versions kept are {}", kept.join(", "))
    };
    Error::VersionNotFound {
        vault: vault.to_owned(),
        key: key.to_owned(),
        version,
        reason,
    }
}

impl Store {
    /// The versions of `key` in `vault`, newest first, values masked (SPEC
    /// §12). The vault need not exist any more: versions are kept by its
    /// name until `purge`. A current value that another program wrote
    /// straight into the upstream tables comes first with `version: None`.
    ///
    /// ```
    /// use runqy_vault::{MasterKey, Store, VersionState};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path().join("v.db"), Some(MasterKey::generate().to_base64().expose()))?;
    /// store.create_vault("api-keys", "")?;
    /// store.set("api-keys", "TOKEN", "first-value", true)?;
    /// store.set("api-keys", "TOKEN", "second-value", true)?;
    /// let history = store.history("api-keys", "TOKEN")?;
    /// assert_eq!(history[0].version, Some(2));
    /// assert_eq!(history[0].state, VersionState::Current);
    /// assert_eq!(history[1].value, "fi****ue");
    /// assert_eq!(store.rollback("api-keys", "TOKEN", 1)?, 3);
    /// assert_eq!(store.get("api-keys", "TOKEN")?.expose(), "first-value");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn history(&self, vault: &str, key: &str) -> Result<Vec<HistoryEntry>> {
        self.read(Op::History { vault, key }, |b, crypto| {
            b.read_snapshot(|tx| {
                let mut vault_exists = false;
                // The entry's blob is copied (ciphertext only) until the
                // newest version says whether it is that version.
                let mut entry: Option<(Vec<u8>, bool, String)> = None;
                let mut versions: Vec<(HistoryEntry, Option<Vec<u8>>)> = Vec::new();
                tx.key_history(
                    vault,
                    key,
                    &mut |_, row| {
                        vault_exists = true;
                        entry =
                            row.map(|r| (r.value.to_vec(), r.is_secret, r.updated_at.to_rfc3339()));
                        Ok(())
                    },
                    &mut |row| {
                        let plain = open_version(&crypto.cipher, &row)?;
                        let shown = HistoryEntry {
                            version: Some(row.version),
                            value: listed(&plain, row.is_secret),
                            is_secret: row.is_secret,
                            created_at: row.created_at.to_rfc3339(),
                            actor: row.actor.map(str::to_owned),
                            state: VersionState::Replaced,
                            last_read: None,
                        };
                        versions.push((shown, row.entry_digest.map(<[u8]>::to_vec)));
                        Ok(())
                    },
                )?;
                let newest = versions
                    .first()
                    .map(|(v, d)| (v.version.unwrap_or(0), d.as_deref(), v.is_secret));
                let entry_digest = entry.as_ref().map(|(blob, flag, _)| (digest(blob), *flag));
                let current = classify(newest, entry_digest.as_ref().map(|(d, f)| (d, *f)));
                let mut out: Vec<HistoryEntry> = Vec::with_capacity(versions.len() + 1);
                match (current, entry) {
                    (Current::Unversioned, Some((blob, is_secret, updated_at))) => {
                        let row = super::backend::EntryRow {
                            id: None,
                            key,
                            value: &blob,
                            is_secret,
                            created_at: super::backend::Stamp::NotRead,
                            updated_at: super::backend::Stamp::NotRead,
                            newest: None,
                            memo: None,
                        };
                        let plain = super::decrypt(crypto, vault, &row)?;
                        out.push(HistoryEntry {
                            version: None,
                            value: listed(&plain, is_secret),
                            is_secret,
                            created_at: updated_at,
                            actor: None,
                            state: VersionState::Current,
                            last_read: None,
                        });
                    }
                    (Current::Absent, _) if versions.is_empty() => {
                        return Err(if vault_exists {
                            entry_not_found(vault, key)
                        } else {
                            Error::vault_not_found(vault)
                        });
                    }
                    _ => {}
                }
                out.extend(versions.into_iter().map(|(v, _)| v));
                if let Some(first) = out.first_mut().filter(|f| f.version.is_some()) {
                    first.state = match current {
                        Current::Versioned(_) => VersionState::Current,
                        Current::Absent => VersionState::Removed,
                        Current::Unversioned => VersionState::Replaced,
                    };
                }
                // LAST READ, from the audit log: one pass from the newest record back.
                let asked: Vec<Option<i64>> = out.iter().map(|h| h.version).collect();
                let reads = super::audit::last_reads(tx, vault, key, &asked)?;
                for (h, read) in out.iter_mut().zip(reads) {
                    h.last_read = read;
                }
                Ok(out)
            })
        })
    }

    /// The plaintext of version `version` of `key` in `vault`, current or
    /// not; the vault need not exist any more. `VersionNotFound` names the
    /// versions that are kept.
    pub fn get_version(&self, vault: &str, key: &str, version: i64) -> Result<SecretString> {
        self.inner()?;
        check_version_number(vault, key, version)?;
        self.read(
            Op::GetVersion {
                vault,
                key,
                version,
            },
            |b, crypto| {
                let mut found = None;
                b.read_one(|tx| {
                    tx.version_of(vault, key, version, &mut |row| {
                        found = Some(open_version(&crypto.cipher, &row)?);
                        Ok(())
                    })
                })?;
                match found {
                    Some(value) => Ok(value),
                    None => {
                        Err(b.read_snapshot(|tx| Ok(missing_version(tx, vault, key, version)))?)
                    }
                }
            },
        )
    }

    /// Sets `key` in `vault` only if its current version is `cas` (0: only
    /// if the entry does not exist), as Vault's check-and-set; otherwise
    /// `VersionConflict` naming the current version. Returns the new version.
    pub fn set_cas(
        &self,
        vault: &str,
        key: &str,
        value: &str,
        is_secret: bool,
        cas: i64,
    ) -> Result<i64> {
        self.inner()?;
        names::check_entry(vault, key, value)?;
        if cas < 0 {
            return Err(Error::InvalidInput(format!(
                "invalid check-and-set version {cas} for key '{key}' in vault '{vault}': give the \
                 current version, or 0 to write only if the entry does not exist"
            )));
        }
        self.write(Op::Set { vault, key }, |w| {
            let id = touched_vault_id(w.tx, vault)?;
            let current = key_state(w.tx, vault, key)?.current.number();
            if current != Some(cas) {
                return Err(Error::VersionConflict {
                    vault: vault.to_owned(),
                    key: key.to_owned(),
                    expected: cas,
                    current,
                });
            }
            w.put(id, vault, key, value, is_secret)
        })
    }

    /// Makes version `version` of `key` current again, as a new version
    /// (value and `is_secret` flag as they were). The entry must exist: a
    /// removed one comes back with [`Store::restore`]. Returns the new version.
    pub fn rollback(&self, vault: &str, key: &str, version: i64) -> Result<i64> {
        self.inner()?;
        names::check_vault_name(vault)?;
        names::check_key(key)?;
        check_version_number(vault, key, version)?;
        self.write(
            Op::Rollback {
                vault,
                key,
                version,
            },
            |w| {
                let id = touched_vault_id(w.tx, vault)?;
                let state = key_state(w.tx, vault, key)?;
                if state.current == Current::Absent {
                    return Err(match state.newest {
                        Some(last) => Error::EntryRemoved {
                            vault: vault.to_owned(),
                            key: key.to_owned(),
                            version: last,
                        },
                        None => entry_not_found(vault, key),
                    });
                }
                let crypto = w.crypto;
                let mut target = None;
                w.tx.version_of(vault, key, version, &mut |row| {
                    target = Some((open_version(&crypto.cipher, &row)?, row.is_secret));
                    Ok(())
                })?;
                let Some((value, is_secret)) = target else {
                    return Err(missing_version(w.tx, vault, key, version));
                };
                names::check_value(vault, key, value.expose())?;
                w.put(id, vault, key, value.expose(), is_secret)
            },
        )
    }

    /// Brings back a removed entry: its last version becomes current again
    /// as a new version. The vault must exist (create it again after a
    /// `delete`); an entry that exists is `VersionConflict`. Returns the new version.
    pub fn restore(&self, vault: &str, key: &str) -> Result<i64> {
        self.inner()?;
        names::check_vault_name(vault)?;
        names::check_key(key)?;
        self.write(Op::Restore { vault, key }, |w| {
            let id = touched_vault_id(w.tx, vault)?;
            let state = key_state(w.tx, vault, key)?;
            match (state.current, state.newest) {
                (Current::Absent, Some(_)) => {}
                (Current::Absent, None) => return Err(entry_not_found(vault, key)),
                (current, _) => {
                    return Err(Error::EntryIsCurrent {
                        vault: vault.to_owned(),
                        key: key.to_owned(),
                        version: current.number(),
                    })
                }
            }
            let last = state.newest.unwrap_or(0);
            let crypto = w.crypto;
            let mut target = None;
            w.tx.version_of(vault, key, last, &mut |row| {
                target = Some((open_version(&crypto.cipher, &row)?, row.is_secret));
                Ok(())
            })?;
            let Some((value, is_secret)) = target else {
                return Err(missing_version(w.tx, vault, key, last));
            };
            names::check_value(vault, key, value.expose())?;
            w.put(id, vault, key, value.expose(), is_secret)
        })
    }

    /// Destroys `key` of `vault` and every version of it, or with `key`
    /// `None` the vault (if it still exists), its entries and all their
    /// versions, in one transaction. On SQLite the rows are deleted with
    /// `secure_delete` on and the WAL is then checkpointed and truncated, so
    /// no destroyed blob stays in the files; on PostgreSQL dead rows remain
    /// until VACUUM.
    pub fn purge(&self, vault: &str, key: Option<&str>) -> Result<PurgeReport> {
        let inner = self.inner()?;
        let mut report = self.write(Op::Purge { vault, key }, |w| match key {
            Some(key) => {
                let id = w.tx.touch_vault(vault)?;
                let removed = match id {
                    Some(id) => w.remove(id, key)?,
                    None => false,
                };
                let versions = w.tx.delete_versions(vault, Some(key))?;
                if versions == 0 && !removed {
                    return Err(match id {
                        Some(_) => entry_not_found(vault, key),
                        None => Error::vault_not_found(vault),
                    });
                }
                Ok(PurgeReport {
                    versions,
                    entries: u64::from(removed),
                    ..PurgeReport::default()
                })
            }
            None => {
                let id = w.tx.vault_id(vault)?;
                let entries = match id {
                    Some(id) => w.tx.delete_vault(id)?,
                    None => 0,
                };
                let versions = w.tx.delete_versions(vault, None)?;
                if id.is_none() && versions == 0 {
                    return Err(Error::vault_not_found(vault));
                }
                Ok(PurgeReport {
                    versions,
                    entries,
                    vault_deleted: id.is_some(),
                    warnings: Vec::new(),
                })
            }
        })?;
        // Committed: what remains is the files' business, so a failure here
        // is a warning, never an error that would read as "nothing changed".
        match inner.backend.scrub() {
            Ok(None) => {}
            Ok(Some(warning)) => report.warnings.push(warning),
            Err(e) => report
                .warnings
                .push(format!("the purge is committed, but {e}")),
        }
        Ok(report)
    }

    /// What [`Store::purge`] would destroy now, without destroying it or
    /// decrypting anything (for a confirmation question), with the same
    /// errors when there is nothing to purge.
    pub fn purge_plan(&self, vault: &str, key: Option<&str>) -> Result<PurgeReport> {
        self.read(Op::List, |b, _| {
            b.read_snapshot(|tx| {
                let versions = tx.count_versions(vault, key)?;
                let mut vault_exists = false;
                let mut entries = 0u64;
                match key {
                    Some(key) => tx.get_entry(vault, key, &mut |_, row| {
                        vault_exists = true;
                        entries = u64::from(row.is_some());
                        Ok(())
                    })?,
                    None => {
                        let found = tx.vault_detail(vault, &mut |_, row| {
                            entries += u64::from(row.is_some());
                            Ok(())
                        })?;
                        vault_exists = found.is_some();
                    }
                }
                if versions == 0 && entries == 0 && (key.is_some() || !vault_exists) {
                    return Err(match (key, vault_exists) {
                        (Some(key), true) => entry_not_found(vault, key),
                        _ => Error::vault_not_found(vault),
                    });
                }
                Ok(PurgeReport {
                    versions,
                    entries,
                    vault_deleted: key.is_none() && vault_exists,
                    warnings: Vec::new(),
                })
            })
        })
    }

    /// How many versions of each key the store keeps, the current one
    /// included (default 10; 1 keeps only current values).
    pub fn history_limit(&self) -> Result<u32> {
        self.read(Op::List, |b, _| b.read_one(stored_limit))
    }

    /// Sets how many versions of each key are kept (at least 1). Lowering it
    /// prunes every key at once, in the same transaction; returns how many
    /// versions were deleted.
    pub fn set_history_limit(&self, limit: i64) -> Result<u64> {
        self.inner()?;
        let limit = u32::try_from(limit)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "invalid history limit {limit}: give a number of versions from 1 (only the \
                     current values) to {}",
                    u32::MAX
                ))
            })?;
        self.write(Op::HistoryLimit, |w| {
            w.tx.meta_set(META_HISTORY_LIMIT, &limit.to_string())?;
            w.tx.prune_all_versions(i64::from(limit))
        })
    }

    /// The keys of `vault` that have kept versions (removed ones included),
    /// sorted; the vault need not exist any more.
    pub fn history_keys(&self, vault: &str) -> Result<Vec<String>> {
        self.read(Op::List, |b, _| b.read_one(|tx| tx.history_keys(vault)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_version_is_current_only_while_the_entry_holds_its_blob_and_flag() {
        let d = digest(b"blob written with version 3");
        let other = digest(b"another program's blob");
        assert_eq!(
            classify(Some((3, Some(&d), true)), Some((&d, true))),
            Current::Versioned(3)
        );
        assert_eq!(classify(Some((3, Some(&d), true)), None), Current::Absent);
        assert_eq!(classify(None, None), Current::Absent);
        // Another program's blob, a flag flipped behind our back, no digest, no version.
        assert_eq!(
            classify(Some((3, Some(&d), true)), Some((&other, true))),
            Current::Unversioned
        );
        assert_eq!(
            classify(Some((3, Some(&d), true)), Some((&d, false))),
            Current::Unversioned
        );
        assert_eq!(
            classify(Some((3, None, true)), Some((&d, true))),
            Current::Unversioned
        );
        assert_eq!(classify(None, Some((&d, true))), Current::Unversioned);
        assert_eq!(Current::Absent.number(), Some(0));
        assert_eq!(Current::Versioned(4).number(), Some(4));
        assert_eq!(Current::Unversioned.number(), None);
    }
}
