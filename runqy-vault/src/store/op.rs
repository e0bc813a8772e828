//! The one door: every call of the store goes through [`Store::write`] or
//! [`Store::read`] with an [`Op`] that says, as data, what the call does.
//!
//! This is where anything that must accompany every operation is added,
//! once: the key check of writes, a new version of each value written (and
//! the pruning past `history_limit`), and the audit record of each
//! operation (`store/audit.rs`), in the same transaction as the change itself. An entry's value
//! is written or removed only through [`Writer::put`] and [`Writer::remove`],
//! so nothing can change an entry without passing here.
//!
//! [`Store::write`]: super::Store::write
//! [`Store::read`]: super::Store::read

use super::audit::Note;
use super::backend::{Ahead, MetaLock, Reads, Tx};
use super::{history, Crypto};
use crate::cipher::{Binding, Cipher};
use crate::error::{Error, Result};

/// The most entries one audit record lists: past it, an operation that
/// writes many values (an import) is recorded in parts (`Writer::write_part`).
pub(crate) const AUDIT_PART: usize = 10_000;

/// What a call does to the store: the audit record's operation, vault and key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// `create`: a new, empty vault.
    CreateVault { vault: &'a str },
    /// `delete`: a vault and its entries.
    DeleteVault { vault: &'a str },
    /// `set`: one entry's value.
    Set { vault: &'a str, key: &'a str },
    /// `unset`: one entry removed.
    Unset { vault: &'a str, key: &'a str },
    /// `import`: a whole document, merged.
    Import,
    /// `rotate-key`: every value re-encrypted under a new key.
    RotateKey,
    /// `migrate`: every value rewritten from legacy to v2.
    Migrate,
    /// `get`: one plaintext value handed out.
    Get { vault: &'a str, key: &'a str },
    /// `resolve`: the merged plaintext of several vaults handed out.
    Resolve { vaults: &'a [&'a str] },
    /// `payload`: a registration payload handed out.
    Payload {
        vaults: &'a [&'a str],
        /// The vault and key of its git token, when its reference parsed
        /// (`EntryReference::parse`, as the body reads it): said ahead with
        /// the vaults, so the token costs no round trip of its own.
        git_token: Option<(&'a str, &'a str)>,
    },
    /// `export`: every plaintext value handed out.
    Export,
    /// Listings that hand out no plaintext: `list`, `show`, `entries`, an existence check.
    List,
    /// `rollback`: an older version's value made current as a new version.
    Rollback {
        vault: &'a str,
        key: &'a str,
        version: i64,
    },
    /// `restore`: a removed entry's last version made current as a new version.
    Restore { vault: &'a str, key: &'a str },
    /// `purge`: an entry (or a vault) and every version of it destroyed.
    Purge {
        vault: &'a str,
        key: Option<&'a str>,
    },
    /// `history-limit N`: the number of versions kept changed (and pruned).
    HistoryLimit,
    /// `get --version N`: one kept version's plaintext handed out.
    GetVersion {
        vault: &'a str,
        key: &'a str,
        version: i64,
    },
    /// `history`: the versions of an entry listed, values masked.
    History { vault: &'a str, key: &'a str },
    /// `audit-reads on|off`: whether reads are recorded.
    AuditReads,
    /// `audit prune --before DATE`: old records removed, an anchor kept.
    AuditPrune,
}

/// How a write holds the stored key id while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLock {
    /// The write puts no value under the key: no check.
    None,
    /// One value is written under the current key: checked, shared lock.
    Shared,
    /// Many values are rewritten (import, rotation, migration): checked,
    /// exclusive lock, so two such writes never interleave.
    Exclusive,
}

impl<'a> Op<'a> {
    /// How this operation holds the key id when it writes.
    pub(crate) fn key_lock(&self) -> KeyLock {
        match self {
            Op::Set { .. } | Op::Rollback { .. } | Op::Restore { .. } => KeyLock::Shared,
            Op::Import | Op::RotateKey | Op::Migrate => KeyLock::Exclusive,
            _ => KeyLock::None,
        }
    }

    /// What a short write reads before it writes ([`Tx::ahead`]), when its
    /// key check locks as `key_lock` says. Only single writes: a bulk one
    /// (import, rotation, migration) would hold the audit head from its
    /// start, and the others read nothing the body does not change first.
    pub(crate) fn ahead<'s>(&'s self, key_lock: Option<MetaLock>) -> Ahead<'s> {
        let single = |vault: Option<&'s str>, entry: Option<(&'s str, &'s str)>| Ahead {
            key_meta: key_lock,
            vault,
            entry,
            history_limit: entry.is_some(),
            audit_head: true,
        };
        match *self {
            Op::Set { vault, key }
            | Op::Rollback { vault, key, .. }
            | Op::Restore { vault, key } => single(Some(vault), Some((vault, key))),
            Op::Unset { vault, .. } | Op::DeleteVault { vault } => single(Some(vault), None),
            Op::Purge {
                vault,
                key: Some(_),
            } => single(Some(vault), None),
            _ => Ahead::default(),
        }
    }

    /// What a small read that hands out plaintext reads, said before it
    /// starts ([`Reads`]): the same asks, in the same order, as its body
    /// makes (a payload lists its vaults winners first, then reads its git
    /// token), so each is answered from what was read ahead. Other reads say
    /// nothing.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // only PostgreSQL reads ahead
    pub(crate) fn reads(&self) -> Reads<'a> {
        let listed = |vaults: &[&'a str]| {
            (!vaults.is_empty()).then(|| crate::payload::winners_first(vaults))
        };
        match *self {
            Op::Get { vault, key } => Reads {
                entry: Some((vault, key)),
                listed: None,
            },
            Op::Resolve { vaults } => Reads {
                entry: None,
                listed: listed(vaults),
            },
            Op::Payload { vaults, git_token } => Reads {
                entry: git_token,
                listed: listed(vaults),
            },
            _ => Reads::default(),
        }
    }

    /// The command's name: the CLI's, the audit log's, and the test hook's
    /// pause point before the commit (`RUNQY_VAULT_TEST_PAUSE=<name>`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::CreateVault { .. } => "create",
            Op::DeleteVault { .. } => "delete",
            Op::Set { .. } => "set",
            Op::Unset { .. } => "unset",
            Op::Import => "import",
            Op::RotateKey => "rotate-key",
            Op::Migrate => "migrate",
            Op::Get { .. } => "get",
            Op::Resolve { .. } => "resolve",
            Op::Payload { .. } => "payload",
            Op::Export => "export",
            Op::List => "list",
            Op::Rollback { .. } => "rollback",
            Op::Restore { .. } => "restore",
            Op::Purge { .. } => "purge",
            Op::HistoryLimit => "history-limit",
            Op::GetVersion { .. } => "get-version",
            Op::History { .. } => "history",
            Op::AuditReads => "audit-reads",
            Op::AuditPrune => "audit-prune",
        }
    }

    /// Whether the operation hands out plaintext: a read the audit log
    /// records while `audit-reads` is on (every write is recorded).
    pub(crate) fn hands_out_plaintext(&self) -> bool {
        matches!(
            self,
            Op::Get { .. }
                | Op::GetVersion { .. }
                | Op::Resolve { .. }
                | Op::Payload { .. }
                | Op::Export
        )
    }

    /// Whether the read is small enough to hold the write lock it needs for
    /// its record from its first statement (SQLite's one-transaction
    /// audited read): not an export, which reads the whole store.
    pub(crate) fn is_small_read(&self) -> bool {
        matches!(
            self,
            Op::Get { .. } | Op::GetVersion { .. } | Op::Resolve { .. } | Op::Payload { .. }
        )
    }
}

/// One value `put` wrote, as the audit record lists it. A struct, not a
/// `serde_json::Value` (a map and four keys allocated per imported entry);
/// the fields in the order serde_json's map wrote them, so the text is the same.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Written {
    fingerprint: String,
    key: String,
    vault: String,
    version: i64,
}

/// The most entries [`Writer::put_batch`] takes: the entries an import holds
/// (plaintext, wiped on drop) while their newest versions are read.
pub(crate) const PUT_BATCH: usize = 500;
/// The most bytes of values a streamed import holds for one batch (values
/// go up to 64 KiB: 500 of them would be 32 MiB).
pub(crate) const PUT_BATCH_BYTES: usize = 1 << 20;

/// The write transaction an operation's body works in.
pub(crate) struct Writer<'t> {
    /// The backend's primitive queries, inside the transaction.
    pub(crate) tx: &'t mut dyn Tx,
    /// The keys and format of the store while the transaction runs.
    pub(crate) crypto: &'t Crypto,
    /// `history_limit`, read at the first `put` of the transaction.
    pub(crate) history_limit: Option<i64>,
    /// Who acts: the audit record's actor and each new version's.
    pub(crate) actor: &'t str,
    /// What the audit record says besides the operation (filled by `put`
    /// and by the operation's body).
    pub(crate) note: Note,
    /// The values `put` wrote: the record lists them when there are several.
    pub(crate) written: Vec<Written>,
    /// The operation's name, for the records of a large import's parts.
    pub(crate) op: &'static str,
    /// How many records of [`AUDIT_PART`] entries this operation wrote so far.
    pub(crate) parts: u64,
    /// What the parts' appends found wrong with the audit log.
    pub(crate) notice: Option<String>,
    /// The keys the record is written under, when not the transaction's
    /// (rotation: the new key, as the chain was re-keyed in it).
    pub(crate) audit_cipher: Option<Cipher>,
}

impl Writer<'_> {
    /// Writes `value` as the entry `key` of the vault `vault_id` (named
    /// `vault`), encrypted under the current key, and keeps it as the key's
    /// next version, pruning the versions past `history_limit` (through
    /// [`Writer::put_after`], the one place an entry's value is written).
    /// Returns the new version's number.
    pub(crate) fn put(
        &mut self,
        vault_id: i64,
        vault: &str,
        key: &str,
        value: &str,
        is_secret: bool,
    ) -> Result<i64> {
        let newest = self.tx.newest_version(vault, key)?.map(|head| head.version);
        self.put_after(vault_id, vault, key, value, is_secret, newest)
    }

    /// [`Writer::put`] of several entries of one vault with distinct keys
    /// (an import's next values, at most [`PUT_BATCH`]): their newest
    /// versions are read in one ask first, one round trip on PostgreSQL
    /// where each `put` costs one.
    pub(crate) fn put_batch(
        &mut self,
        vault_id: i64,
        vault: &str,
        entries: &[(&str, &str, bool)],
    ) -> Result<()> {
        let keys: Vec<&str> = entries.iter().map(|&(key, _, _)| key).collect();
        // Two of one key would both be numbered from the same newest version
        // (and the second refused by the UNIQUE index): imports check first.
        debug_assert_eq!(
            keys.iter().collect::<std::collections::BTreeSet<_>>().len(),
            keys.len(),
            "put_batch takes distinct keys"
        );
        let newest = self.tx.newest_versions(vault, &keys)?;
        for (&(key, value, is_secret), newest) in entries.iter().zip(newest) {
            self.put_after(vault_id, vault, key, value, is_secret, newest)?;
        }
        Ok(())
    }

    /// [`Writer::put`] once the newest kept version of the key is known:
    /// the one place an entry's value is written.
    fn put_after(
        &mut self,
        vault_id: i64,
        vault: &str,
        key: &str,
        value: &str,
        is_secret: bool,
        newest: Option<i64>,
    ) -> Result<i64> {
        let at = Binding {
            vault,
            key,
            is_secret,
        };
        let cipher = &self.crypto.cipher;
        let blob = cipher.encrypt(self.crypto.format, at, value.as_bytes());
        // Numbers go on from the newest kept version, never reused: the
        // newest is never pruned, only purged.
        let version = match newest {
            Some(newest) => newest.checked_add(1).ok_or_else(|| {
                Error::storage(format!(
                    "key '{key}' in vault '{vault}' has no version number left"
                ))
            })?,
            None => 1,
        };
        let kept = cipher.encrypt_version(at, version as u64, value.as_bytes());
        // An upsert, so two first `set`s of one key never hit the UNIQUE constraint.
        self.tx.upsert_entry(vault_id, key, &blob, is_secret)?;
        self.tx.insert_version(
            vault,
            key,
            version,
            &kept,
            is_secret,
            &history::digest(&blob),
            self.actor,
        )?;
        let fingerprint = cipher.fingerprint(value.as_bytes());
        self.note.version = Some(version);
        self.note.fingerprint = Some(fingerprint.clone());
        self.written.push(Written {
            fingerprint,
            key: key.to_owned(),
            vault: vault.to_owned(),
            version,
        });
        if self.written.len() >= AUDIT_PART {
            self.write_part()?;
        }
        let limit = self.history_limit()?;
        if version > limit {
            self.tx.prune_versions(vault, key, version - limit)?;
        }
        Ok(version)
    }

    /// Writes the entries listed so far as a record of their own ("part" N),
    /// in the transaction: an import of a million entries is recorded in
    /// records of [`AUDIT_PART`] entries instead of one record that would
    /// hold every key and fingerprint in memory at once (and be one row of
    /// over 100 MB). The door writes the last part, with the totals.
    fn write_part(&mut self) -> Result<()> {
        self.parts += 1;
        let mut note = Note::default();
        let entries = std::mem::take(&mut self.written);
        note.set("entries", &entries); // the detail holds JSON text (audit.rs)
        note.set("part", self.parts);
        let cipher = self.audit_cipher.as_ref().unwrap_or(&self.crypto.cipher);
        let notice = super::audit::append(self.tx, cipher, self.actor, self.op, &note)?;
        self.notice = self.notice.take().or(notice);
        Ok(())
    }

    /// The number of versions kept per key, read once per transaction.
    pub(crate) fn history_limit(&mut self) -> Result<i64> {
        if let Some(limit) = self.history_limit {
            return Ok(limit);
        }
        let limit = i64::from(history::stored_limit(self.tx)?);
        self.history_limit = Some(limit);
        Ok(limit)
    }

    /// Removes the entry `key` of the vault `vault_id`; whether it was there.
    /// The one place an entry is removed (a vault's deletion takes its entries with it).
    /// Its versions stay: the newest now reads as removed, and `restore` brings it back.
    pub(crate) fn remove(&mut self, vault_id: i64, key: &str) -> Result<bool> {
        self.tx.delete_entry(vault_id, key)
    }
}
