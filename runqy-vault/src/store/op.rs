//! The one door: every call of the store goes through [`Store::write`] or
//! [`Store::read`] with an [`Op`] that says, as data, what the call does.
//!
//! This is where anything that must accompany every operation is added,
//! once: the key check of writes (here now), and later a new version of
//! each value written and an audit record of each operation, in the same
//! transaction as the change itself. An entry's value is written or removed
//! only through [`Writer::put`] and [`Writer::remove`], so nothing can
//! change an entry without passing here.
//!
//! [`Store::write`]: super::Store::write
//! [`Store::read`]: super::Store::read

use super::backend::Tx;
use super::Crypto;
use crate::cipher::Binding;
use crate::error::Result;

/// What a call does to the store.
// The names in the variants are for what joins at the door (the audit log).
#[allow(dead_code)]
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
    Payload { vaults: &'a [&'a str] },
    /// `export`: every plaintext value handed out.
    Export,
    /// Listings that hand out no plaintext: `list`, `show`, `entries`, an existence check.
    List,
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

impl Op<'_> {
    /// How this operation holds the key id when it writes.
    pub(crate) fn key_lock(&self) -> KeyLock {
        match self {
            Op::Set { .. } => KeyLock::Shared,
            Op::Import | Op::RotateKey | Op::Migrate => KeyLock::Exclusive,
            _ => KeyLock::None,
        }
    }
}

/// The write transaction an operation's body works in.
pub(crate) struct Writer<'t> {
    /// The backend's primitive queries, inside the transaction.
    pub(crate) tx: &'t mut dyn Tx,
    /// The keys and format of the store while the transaction runs.
    pub(crate) crypto: &'t Crypto,
}

impl Writer<'_> {
    /// Writes `value` as the entry `key` of the vault `vault_id` (named
    /// `vault`), encrypted under the current key: the one place an entry's
    /// value is written.
    pub(crate) fn put(
        &mut self,
        vault_id: i64,
        vault: &str,
        key: &str,
        value: &str,
        is_secret: bool,
    ) -> Result<()> {
        let at = Binding {
            vault,
            key,
            is_secret,
        };
        let blob = self
            .crypto
            .cipher
            .encrypt(self.crypto.format, at, value.as_bytes());
        // An upsert, so two first `set`s of one key never hit the UNIQUE constraint.
        self.tx.upsert_entry(vault_id, key, &blob, is_secret)
    }

    /// Removes the entry `key` of the vault `vault_id`; whether it was there.
    /// The one place an entry is removed (a vault's deletion takes its entries with it).
    pub(crate) fn remove(&mut self, vault_id: i64, key: &str) -> Result<bool> {
        self.tx.delete_entry(vault_id, key)
    }
}
