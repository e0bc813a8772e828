//! The backend port: the primitive queries a database answers, the one row
//! type they hand over, and the dispatch to SQLite or PostgreSQL.
//!
//! The store's logic (validation, encryption, merging, rotation, import, the
//! key check, and later history and audit) is written once above this port;
//! a backend only runs statements. A third backend implements [`Tx`] and the
//! few pool methods of [`Backend`], and must keep the ordering each method's
//! documentation promises: the payload relies on it.

use crate::error::Result;
use crate::model::VaultSummary;
use crate::timestamp;

/// A timestamp column as the backend read it, turned into RFC 3339 only
/// when shown (most calls never show one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp<'r> {
    /// The query does not read timestamps (the payload's, rotation's).
    NotRead,
    /// Stored text: SQLite's `CURRENT_TIMESTAMP`, the Go driver's form, or
    /// PostgreSQL's, already RFC 3339. Converted by [`timestamp::to_rfc3339`].
    Text(&'r str),
    /// Unix seconds (a SQLite integer column).
    Unix(i64),
}

impl Stamp<'_> {
    /// The timestamp as RFC 3339 UTC; empty when missing or not read.
    pub(crate) fn to_rfc3339(self) -> String {
        match self {
            Stamp::NotRead => String::new(),
            Stamp::Text(t) => timestamp::to_rfc3339(t),
            Stamp::Unix(s) => timestamp::from_unix(s),
        }
    }

    /// The timestamp as seconds since the Unix epoch; `None` when missing,
    /// not read, or in no known form.
    pub(crate) fn to_unix(self) -> Option<i64> {
        match self {
            Stamp::NotRead => None,
            Stamp::Text(t) => timestamp::to_unix(t),
            Stamp::Unix(s) => Some(s),
        }
    }
}

/// One entry as a backend hands it over, borrowed from its result row so
/// that a value decrypts without being copied out first. The port's only
/// entry type: every query that reads entries gives these.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRow<'r> {
    /// The row's `vault_entries.id`.
    pub id: i64,
    /// The entry's key.
    pub key: &'r str,
    /// The ciphertext, as stored in the `value` column.
    pub value: &'r [u8],
    /// The `is_secret` column (NULL reads as true, the column's default).
    pub is_secret: bool,
    /// When the entry was created.
    pub created_at: Stamp<'r>,
    /// When the entry was last written.
    pub updated_at: Stamp<'r>,
}

/// A vault's own row, as `show` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultRow {
    /// The description (`''` when NULL).
    pub description: String,
    /// `created_at`, RFC 3339.
    pub created_at: String,
    /// `updated_at`, RFC 3339.
    pub updated_at: String,
}

/// What every row-reading query calls per row: the vault name, and one of
/// its entries or `None` for a vault that exists but has none (a LEFT JOIN
/// row). A query that lists no empty vaults never passes `None`.
pub(crate) type Each<'f> = dyn FnMut(&str, Option<EntryRow<'_>>) -> Result<()> + 'f;

/// The primitive queries a backend answers, each inside the transaction (or
/// single statement) the backend opened for the call.
pub(crate) trait Tx {
    /// Serializes schema creation between processes (a no-op where the write
    /// transaction already does).
    fn lock_schema(&mut self) -> Result<()>;
    /// Whether a table of that name exists.
    fn table_exists(&mut self, name: &str) -> Result<bool>;
    /// Creates the upstream tables and our meta table when missing.
    fn create_schema(&mut self) -> Result<()>;
    /// A value of the meta table.
    fn meta_get(&mut self, name: &str) -> Result<Option<String>>;
    /// Sets a value of the meta table.
    fn meta_set(&mut self, name: &str, value: &str) -> Result<()>;
    /// The stored key id, locked until the transaction ends: exclusively for
    /// rotation, migration and import, shared for single writes.
    fn lock_key_id(&mut self, exclusive: bool) -> Result<Option<String>>;

    /// A vault's id.
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
    /// Every vault with its entry count, sorted by name (byte order).
    fn list_vaults(&mut self) -> Result<Vec<VaultSummary>>;

    /// A vault's row, and `each` called for every entry of it sorted by key
    /// (byte order), in one statement; `None` (and no call) when there is no
    /// such vault.
    fn vault_detail(&mut self, name: &str, each: &mut Each<'_>) -> Result<Option<VaultRow>>;
    /// Calls `each(vault, Some(entry))` when the vault has the entry,
    /// `each(vault, None)` when the vault exists without it, and nothing when
    /// there is no such vault. Timestamps are not read.
    fn get_entry(&mut self, vault: &str, key: &str, each: &mut Each<'_>) -> Result<()>;
    /// Inserts an entry or replaces its value and flag, bumping `updated_at`.
    fn upsert_entry(
        &mut self,
        vault_id: i64,
        key: &str,
        value: &[u8],
        is_secret: bool,
    ) -> Result<()>;
    /// Whether an entry was deleted.
    fn delete_entry(&mut self, vault_id: i64, key: &str) -> Result<bool>;
    /// The entries of every listed vault that exists, in ONE query.
    ///
    /// Ordering contract: rows come grouped by vault, the groups in the order
    /// of `names` (distinct names), with one `None` row for a listed vault
    /// that has no entries. The payload takes each key from the first group
    /// that has it, so a backend that broke this would hand out shadowed
    /// values; the store checks it and fails instead. Timestamps are not read.
    fn listed_entries(&mut self, names: &[&str], each: &mut Each<'_>) -> Result<()>;
    /// At most `limit` entries with an id above `after`, in id order (no
    /// empty vaults, timestamps not read): rotation and the key probe read
    /// the whole store a page at a time with this, in bounded memory.
    fn entries_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()>;
    /// Replaces an entry's ciphertext without touching its timestamps.
    fn update_value(&mut self, entry_id: i64, value: &[u8]) -> Result<()>;

    // Read-only queries of `check` and `usage` (SPEC §14).

    /// Every vault's name, sorted (byte order): no entry counts, so it stays
    /// cheap on a store of many vaults.
    fn vault_names(&mut self) -> Result<Vec<String>>;
    /// As [`Tx::entries_after`], with `created_at` and `updated_at` read.
    fn entries_stamped_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()>;
    /// The runqy server's `queues` table, when the database has one: `each`
    /// gets each row's name, `deployment` as JSON text (NULL as `None`) and
    /// `enabled`; `false` (and no call) when there is no such table.
    fn server_queues(&mut self, each: &mut QueueRowFn<'_>) -> Result<bool>;
    /// What the database's own consistency check reports (SQLite's
    /// `PRAGMA quick_check`), nothing when all is well or the backend has none.
    fn quick_check(&mut self) -> Result<Vec<String>>;
}

/// What [`Tx::server_queues`] calls per row: name, deployment JSON, enabled.
pub(crate) type QueueRowFn<'f> = dyn FnMut(&str, Option<&str>, bool) -> Result<()> + 'f;

/// Where a store's connections come from.
pub(crate) enum Backend {
    /// A SQLite file.
    Sqlite(super::sqlite::Pool),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::Pool),
}

impl Backend {
    /// One statement: no BEGIN/COMMIT (on PostgreSQL a round trip each).
    pub(crate) fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.read_one(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(f),
        }
    }

    /// Several statements that must see one snapshot of the database (export).
    pub(crate) fn read_snapshot<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.read_snapshot(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_snapshot(f),
        }
    }

    /// [`Tx::listed_entries`] for a payload; SQLite answers from a cache of
    /// rows when no one committed since it read them.
    pub(crate) fn listed_entries(&self, names: &[&str], each: &mut Each<'_>) -> Result<()> {
        match self {
            Backend::Sqlite(p) => p.listed_entries(names, each),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(|tx| tx.listed_entries(names, each)),
        }
    }

    /// A write transaction: committed when `f` succeeds, rolled back when it fails.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.write(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.write(f),
        }
    }
}
