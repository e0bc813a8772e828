//! The backend port: the primitive queries a database answers, the one row
//! type they hand over, and the dispatch to SQLite or PostgreSQL.
//!
//! The store's logic (validation, encryption, merging, rotation, import, the
//! key check, and later history and audit) is written once above this port;
//! a backend only runs statements. A third backend implements [`Tx`] and the
//! few pool methods of [`Backend`], and must keep the ordering each method's
//! documentation promises: the payload relies on it.

use crate::error::{Error, Result, StorageError};
use crate::model::VaultSummary;
use crate::timestamp;

use super::op::Op;

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
    /// The row's `vault_entries.id`, which only the queries that page by it
    /// (rotation, the survey) need; see [`EntryRow::paged_id`]. SQLite's
    /// `show` leaves it out (reading it was 5% of a 50-entry `show`);
    /// PostgreSQL's LEFT JOINs read it to tell a vault without entries.
    pub id: Option<i64>,
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
    /// The key's newest kept version, when the query reads it (the
    /// payload's, for the audit log); see [`EntryRow::version`].
    pub newest: Option<Newest<'r>>,
    /// Where the row cache keeps [`EntryRow::version`] once worked out.
    pub memo: Option<&'r std::cell::OnceCell<Option<i64>>>,
}

/// The newest kept version of an entry's key, as [`EntryRow`] carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Newest<'r> {
    /// Its number.
    pub version: i64,
    /// Its `is_secret` flag.
    pub is_secret: bool,
    /// SHA-256 of the `vault_entries` blob written with it.
    pub digest: Option<&'r [u8]>,
}

impl EntryRow<'_> {
    /// The id of a row from a query that pages by it (`entries_after`,
    /// `entries_stamped_after` select it on both backends). An error, not a
    /// panic, if such a query ever leaves it out.
    pub(crate) fn paged_id(&self) -> Result<i64> {
        self.id.ok_or_else(|| {
            Error::Storage(StorageError::new(format!(
                "an entry row of key {:?} came without its id from a query that pages by id",
                self.key
            )))
        })
    }

    /// The entry's current version: the newest kept one while the blob is
    /// still the one written with it (`store/history.rs`'s rule), `None`
    /// for a value another program wrote or a query that did not read it.
    /// Hashes the blob: called only for the audit log.
    pub(crate) fn version(&self) -> Option<i64> {
        let work = || {
            let n = self.newest?;
            super::history::current_version(
                self.value,
                self.is_secret,
                n.version,
                n.is_secret,
                n.digest,
            )
        };
        match self.memo {
            Some(memo) => *memo.get_or_init(work),
            None => work(),
        }
    }
}

/// One record of the audit log (`runqy_vault_audit`), borrowed from its
/// result row like [`EntryRow`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuditRow<'r> {
    /// The sequence number: 1, 2, 3, ... with no gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub at: &'r str,
    /// Who.
    pub actor: &'r str,
    /// What (an operation's name, as `Op::name`).
    pub operation: &'r str,
    /// The vault (for a payload: the listed vaults, comma-separated).
    pub vault: Option<&'r str>,
    /// The key.
    pub key: Option<&'r str>,
    /// The version written or read.
    pub version: Option<i64>,
    /// `hmac-sha256:` + hex of the value's HMAC, never the value.
    pub fingerprint: Option<&'r str>,
    /// JSON: what else the operation did (the keys a payload delivered, counts).
    pub detail: Option<&'r str>,
    /// Hex of the record's chained MAC.
    pub mac: &'r str,
}

/// What the audit queries call per row.
pub(crate) type EachAudit<'f> = dyn FnMut(AuditRow<'_>) -> Result<()> + 'f;

/// One kept version of a value (`runqy_vault_versions`), borrowed from its
/// result row like [`EntryRow`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionRow<'r> {
    /// The row's id: rotation pages by it.
    pub id: i64,
    /// The vault's name.
    pub vault: &'r str,
    /// The entry's key.
    pub key: &'r str,
    /// The version number.
    pub version: i64,
    /// The version blob (v2, the version in its associated data).
    pub value: &'r [u8],
    /// The entry's `is_secret` flag for this version.
    pub is_secret: bool,
    /// SHA-256 of the `vault_entries` blob written with this version.
    pub entry_digest: Option<&'r [u8]>,
    /// When the version was written (not read by rotation).
    pub created_at: Stamp<'r>,
    /// Who wrote it, when the audit log recorded it.
    pub actor: Option<&'r str>,
}

/// The newest kept version of a key, as a write needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Its version number.
    pub version: i64,
    /// Its `is_secret` flag.
    pub is_secret: bool,
    /// SHA-256 of the `vault_entries` blob written with it.
    pub entry_digest: Option<Vec<u8>>,
}

/// A page of rewritten blobs by row id (rotation's), kept as columns: a
/// backend can send the page as one statement over two arrays.
#[derive(Debug, Default)]
pub(crate) struct Rewrites {
    /// The rows' ids, in the order they were read.
    pub(crate) ids: Vec<i64>,
    /// `blobs[i]` is the new blob of `ids[i]`.
    pub(crate) blobs: Vec<Vec<u8>>,
}

impl Rewrites {
    /// An empty page with room for `n` rows.
    pub(crate) fn with_capacity(n: usize) -> Rewrites {
        Rewrites {
            ids: Vec::with_capacity(n),
            blobs: Vec::with_capacity(n),
        }
    }

    /// Adds row `id`'s new blob.
    pub(crate) fn push(&mut self, id: i64, blob: Vec<u8>) {
        self.ids.push(id);
        self.blobs.push(blob);
    }

    /// Each row's id and new blob.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (i64, &[u8])> {
        self.ids
            .iter()
            .copied()
            .zip(self.blobs.iter().map(Vec::as_slice))
    }
}

/// A page of `entry_digest` moves (rotation's): on the version rows of
/// `vaults[i]`/`keys[i]` that hold `old[i]`, `new[i]`; one key once a page.
#[derive(Debug, Default)]
pub(crate) struct DigestMoves {
    /// The vaults' names.
    pub(crate) vaults: Vec<String>,
    /// The keys.
    pub(crate) keys: Vec<String>,
    /// The digest the current version holds now.
    pub(crate) old: Vec<Vec<u8>>,
    /// The digest of the entry's new blob.
    pub(crate) new: Vec<Vec<u8>>,
}

impl DigestMoves {
    /// An empty page with room for `n` keys.
    pub(crate) fn with_capacity(n: usize) -> DigestMoves {
        DigestMoves {
            vaults: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            old: Vec::with_capacity(n),
            new: Vec::with_capacity(n),
        }
    }

    /// Adds the move of `vault`/`key` from `old` to `new`.
    pub(crate) fn push(&mut self, vault: &str, key: &str, old: &[u8], new: &[u8]) {
        self.vaults.push(vault.to_owned());
        self.keys.push(key.to_owned());
        self.old.push(old.to_vec());
        self.new.push(new.to_vec());
    }

    /// Each move: vault, key, old digest, new digest.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&str, &str, &[u8], &[u8])> {
        self.vaults
            .iter()
            .zip(&self.keys)
            .zip(self.old.iter().zip(&self.new))
            .map(|((v, k), (o, n))| (v.as_str(), k.as_str(), o.as_slice(), n.as_slice()))
    }
}

/// A page of re-keyed audit records (rotation's): record `seqs[i]` gets
/// `macs[i]`, and the fingerprint `seals[i]` when it is given (an anchor).
#[derive(Debug, Default)]
pub(crate) struct MacRewrites {
    /// The records' sequence numbers.
    pub(crate) seqs: Vec<i64>,
    /// Their MACs under the new key.
    pub(crate) macs: Vec<String>,
    /// An anchor's new seal; `None` keeps the fingerprint.
    pub(crate) seals: Vec<Option<String>>,
}

impl MacRewrites {
    /// Adds record `seq`'s new MAC, and its new seal if it has one.
    pub(crate) fn push(&mut self, seq: i64, mac: String, seal: Option<String>) {
        self.seqs.push(seq);
        self.macs.push(mac);
        self.seals.push(seal);
    }

    /// Each record: sequence number, MAC, seal.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (i64, &str, Option<&str>)> {
        self.seqs
            .iter()
            .copied()
            .zip(&self.macs)
            .zip(&self.seals)
            .map(|((s, m), seal)| (s, m.as_str(), seal.as_deref()))
    }
}

/// What the version queries call per row.
pub(crate) type EachVersion<'f> = dyn FnMut(VersionRow<'_>) -> Result<()> + 'f;

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

/// The meta rows the key check reads (SPEC §1, §3), in one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyMeta {
    /// `format`: `legacy` or `v2`.
    pub format: Option<String>,
    /// `key_id`: the current key's id.
    pub key_id: Option<String>,
    /// `key_ids`: every key id that may still have values, comma-separated.
    pub key_ids: Option<String>,
}

/// The reads a single write makes before its own writes, in their order
/// ([`Tx::ahead`]): each is asked again later, and answered from here.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // only PostgreSQL reads ahead
pub(crate) struct Ahead<'a> {
    /// The key check's rows, held as this says ([`Tx::key_meta`]).
    pub(crate) key_meta: Option<MetaLock>,
    /// The vault whose row is locked ([`Tx::touch_vault`]).
    pub(crate) vault: Option<&'a str>,
    /// The vault and key whose newest version is read ([`Tx::newest_version`]).
    pub(crate) entry: Option<(&'a str, &'a str)>,
    /// Whether `history_limit` is read ([`Tx::meta_get`]).
    pub(crate) history_limit: bool,
    /// Whether the audit head is read and locked ([`Tx::audit_head`]).
    pub(crate) audit_head: bool,
}

/// What a small read that hands out plaintext will read ([`Backend::audited_read`]),
/// said before it starts, so a backend whose every statement is a round trip
/// (PostgreSQL) can send it with BEGIN, the `audit_reads` flag and the audit
/// head, and answer each later ask from what came back (SQLite: nothing).
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // only PostgreSQL reads ahead
pub(crate) struct Reads<'a> {
    /// The vaults whose entries are handed out, in the order the read lists
    /// them ([`Tx::listed_entries`]).
    pub(crate) listed: Option<Vec<&'a str>>,
    /// The vault and key of the entry handed out (a `get`'s, a payload's git
    /// token), read with its key's newest version ([`Tx::get_entry`],
    /// [`Tx::newest_version`]); asked after `listed` when both are said.
    pub(crate) entry: Option<(&'a str, &'a str)>,
}

impl Reads<'_> {
    /// Whether nothing is said: the read runs as it would without.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.entry.is_none() && self.listed.is_none()
    }
}

/// The `audit_reads` value that turns the recording of reads off: any
/// other, or none, leaves it on.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // SQLite's own check is in sqlite.rs
pub(crate) const AUDIT_READS_OFF: &str = "off";

/// How [`Tx::key_meta`] holds the rows it read until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaLock {
    /// A read: no lock.
    None,
    /// A single write under the current key: other writers may share it.
    Shared,
    /// Rotation, migration, import, or the first write under a new key:
    /// nobody else until commit.
    Exclusive,
}

/// One row of the runqy server's `autoscale_providers` table, as rotation
/// re-encrypts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProviderRow<'r> {
    /// The row's `id`.
    pub id: i64,
    /// The provider's `name`.
    pub name: &'r str,
    /// The `config` column: JSON encrypted by the server in the legacy format.
    pub config: &'r [u8],
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
    /// A write of many rows (import, rotation, migration) runs in this
    /// transaction: the backend may give it more memory until the commit
    /// (SQLite: a page cache of 64 MiB instead of 2), so that its pages are
    /// not spilled to the journal over and over before the commit.
    fn bulk(&mut self) -> Result<()> {
        Ok(())
    }
    /// What the write will read first, said before it starts, so a backend
    /// whose every statement is a round trip (PostgreSQL) can send them all
    /// at once, with BEGIN, and answer each from what it read (SQLite: nothing).
    fn ahead(&mut self, _ahead: &Ahead<'_>) -> Result<()> {
        Ok(())
    }
    /// Whether a table of that name exists.
    fn table_exists(&mut self, name: &str) -> Result<bool>;
    /// Creates the upstream tables and our meta table when missing.
    fn create_schema(&mut self) -> Result<()>;
    /// A value of the meta table.
    fn meta_get(&mut self, name: &str) -> Result<Option<String>>;
    /// Sets a value of the meta table.
    fn meta_set(&mut self, name: &str, value: &str) -> Result<()>;
    /// The key check's meta rows (format, key id, key ids) in one statement,
    /// locked as `lock` says until the transaction ends.
    fn key_meta(&mut self, lock: MetaLock) -> Result<KeyMeta>;
    /// Whether any entry's value starts with one of `prefixes` (the v2 magic
    /// and a key id): a store holding such blobs is v2, whatever its meta
    /// table says (SPEC §3).
    fn has_value_prefixed(&mut self, prefixes: &[Vec<u8>]) -> Result<bool>;

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
    /// Deletes a vault and its entries; how many entries went with it.
    /// Their versions stay (they are keyed by the vault's name).
    fn delete_vault(&mut self, id: i64) -> Result<u64>;
    /// Every vault with its entry count, sorted by name (byte order).
    fn list_vaults(&mut self) -> Result<Vec<VaultSummary>>;

    /// A vault's row, and `each` called for every entry of it sorted by key
    /// (byte order), all read in one snapshot (SQLite: two statements under
    /// one implicit read transaction; PostgreSQL: one statement); `None`
    /// (and no call) when there is no such vault.
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
    /// Replaces the ciphertext of a page of entries without touching their
    /// timestamps (a backend may send it with its next statement: nothing
    /// waits for its answer).
    fn update_values(&mut self, page: Rewrites) -> Result<()>;

    // ---- versions (SPEC §12), in `runqy_vault_versions`, by vault name and key

    /// The newest kept version of a key, if any.
    fn newest_version(&mut self, vault: &str, key: &str) -> Result<Option<Head>>;
    /// The newest kept version's number of each of `keys` of `vault`, in
    /// their order (an import's next values). The default asks key by key,
    /// which costs SQLite nothing; PostgreSQL asks in one round trip.
    fn newest_versions(&mut self, vault: &str, keys: &[&str]) -> Result<Vec<Option<i64>>> {
        keys.iter()
            .map(|key| Ok(self.newest_version(vault, key)?.map(|head| head.version)))
            .collect()
    }
    /// Adds a version row, stamped now, written by `actor`.
    #[allow(clippy::too_many_arguments)]
    fn insert_version(
        &mut self,
        vault: &str,
        key: &str,
        version: i64,
        value: &[u8],
        is_secret: bool,
        entry_digest: &[u8],
        actor: &str,
    ) -> Result<()>;
    /// Deletes the versions of a key numbered `up_to` or lower (a backend
    /// may send it with its next statement: nothing waits for its answer).
    fn prune_versions(&mut self, vault: &str, key: &str, up_to: i64) -> Result<()>;
    /// Keeps only the newest `keep` versions of every key; how many were deleted.
    fn prune_all_versions(&mut self, keep: i64) -> Result<u64>;
    /// The entry's row with its timestamps (`each(vault, Some(entry))`),
    /// `each(vault, None)` when the vault exists without it, nothing when
    /// there is no such vault; then `version` called for every kept version
    /// of the key, newest first, with timestamps.
    fn key_history(
        &mut self,
        vault: &str,
        key: &str,
        each: &mut Each<'_>,
        version: &mut EachVersion<'_>,
    ) -> Result<()>;
    /// Calls `each` with one kept version, if it exists (timestamps not read).
    fn version_of(
        &mut self,
        vault: &str,
        key: &str,
        version: i64,
        each: &mut EachVersion<'_>,
    ) -> Result<()>;
    /// At most `limit` versions with an id above `after`, in id order
    /// (timestamps not read): rotation and the key probe, a page at a time.
    fn versions_after(&mut self, after: i64, limit: u32, each: &mut EachVersion<'_>) -> Result<()>;
    /// Replaces the blobs of a page of versions (a backend may send it with
    /// its next statement).
    fn update_version_values(&mut self, page: Rewrites) -> Result<()>;
    /// Rewrites `entry_digest` from old to new on each moved key's version
    /// rows that hold the old one (the current one, when it is ours):
    /// rotation rewrites the entries' blobs and their digests together (a
    /// backend may send it with its next statement).
    fn update_entry_digests(&mut self, page: DigestMoves) -> Result<()>;
    /// Deletes every version of `key` in `vault`, or of every key in `vault`
    /// when `key` is `None`; how many.
    fn delete_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64>;
    /// The keys of `vault` that have kept versions, sorted (byte order).
    fn history_keys(&mut self, vault: &str) -> Result<Vec<String>>;
    /// How many versions `key` of `vault` (or every key of it) has kept.
    fn count_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64>;
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

    /// At most `limit` rows of the runqy server's `autoscale_providers`
    /// table with an id above `after`, in id order (the caller checks the
    /// table exists).
    fn providers_after(
        &mut self,
        after: i64,
        limit: u32,
        each: &mut dyn FnMut(ProviderRow<'_>) -> Result<()>,
    ) -> Result<()>;
    /// Replaces the encrypted `config` of a page of providers without
    /// touching anything else (a backend may send it with its next statement).
    fn update_provider_configs(&mut self, page: Rewrites) -> Result<()>;

    // ---- the audit log (SPEC §13), in `runqy_vault_audit`

    /// The audit head of the meta table (locked until commit where the
    /// write transaction does not already serialize writers) and whether
    /// the audit table exists, as cheaply as the backend can.
    fn audit_head(&mut self) -> Result<(Option<String>, bool)>;
    /// Creates the audit table when missing.
    fn audit_create(&mut self) -> Result<()>;
    /// Appends a record.
    fn audit_insert(&mut self, row: &AuditRow<'_>) -> Result<()>;
    /// At most `limit` records with a sequence number above `after`, in order.
    fn audit_after(&mut self, after: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()>;
    /// At most `limit` records with a sequence number below `before`, newest first.
    fn audit_before(&mut self, before: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()>;
    /// The newest record's sequence number and MAC.
    fn audit_last(&mut self) -> Result<Option<(i64, String)>>;
    /// Replaces the MAC of a page of records, and the fingerprint where a
    /// seal is given (rotation re-keys the chain and an anchor's seal; a
    /// backend may send it with its next statement).
    fn audit_set_macs(&mut self, page: MacRewrites) -> Result<()>;
    /// Replaces the record `row.seq` whole (prune's anchor).
    fn audit_replace(&mut self, row: &AuditRow<'_>) -> Result<()>;
    /// The newest sequence number of a record written before `at` (RFC 3339).
    fn audit_last_before(&mut self, at: &str) -> Result<Option<i64>>;
    /// Deletes the records numbered below `seq`; how many.
    fn audit_delete_below(&mut self, seq: i64) -> Result<u64>;
    /// Newest first, at most `limit` records below `before` that may have
    /// handed out `key` of `vault`: a `get`/`get-version` of it, an export,
    /// or a payload/resolve whose detail holds `needle`.
    fn audit_reads_of(
        &mut self,
        vault: &str,
        key: &str,
        needle: &str,
        before: i64,
        limit: u32,
        each: &mut EachAudit<'_>,
    ) -> Result<()>;
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
    /// Whether the database was opened read-only (a SQLite file or directory
    /// that is not writable): every write is then refused.
    pub(crate) fn is_read_only(&self) -> bool {
        match self {
            Backend::Sqlite(p) => p.is_read_only(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => false,
        }
    }

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

    /// Whether reads that hand out plaintext are audited (`audit_reads` in
    /// the meta table, on unless `off`). SQLite keeps the answer per
    /// connection until the content revision changes.
    pub(crate) fn audit_reads(&self) -> Result<bool> {
        match self {
            Backend::Sqlite(p) => p.audit_reads(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.read_one(|tx| {
                Ok(tx.meta_get(crate::schema::META_AUDIT_READS)?.as_deref()
                    != Some(AUDIT_READS_OFF))
            }),
        }
    }

    /// A write transaction of the audit log alone (a read's record): on
    /// SQLite committed without an fsync of its own (`synchronous=NORMAL`
    /// in WAL mode: durable when the process dies, see docs/architecture.md),
    /// and without dropping the connection's payload rows.
    pub(crate) fn append<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.append(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.write(f),
        }
    }

    /// Runs `f`, a small read that hands out plaintext together with its
    /// audit record, in one transaction on one connection: on SQLite see
    /// `sqlite::Pool::audited_read`; on PostgreSQL `postgres::Pool::audited_read`,
    /// which sends what `op` will read ([`Op::reads`]) with BEGIN (a read
    /// that says nothing runs as it is).
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn audited_read<T>(&self, op: &Op<'_>, f: impl FnOnce() -> Result<T>) -> Result<T> {
        match self {
            // SQLite's statements cost no round trip: nothing to send ahead,
            // so `op.reads()` (a payload's winners, a set and a list) is
            // never built on this, the hottest path.
            Backend::Sqlite(p) => p.audited_read(f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.audited_read(&op.reads(), f),
        }
    }

    /// A write transaction: committed when `f` succeeds, rolled back when it
    /// fails. `bulk`: it writes many rows, one per statement (import, rotation, migration).
    pub(crate) fn write<T>(
        &self,
        bulk: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        match self {
            Backend::Sqlite(p) => p.write(bulk, f),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.write(f),
        }
    }

    /// After a committed purge: makes the freed bytes leave the database's
    /// files where the backend can (SQLite: checkpoints the WAL into the
    /// zeroed pages and truncates it). Returns a warning when it could not.
    pub(crate) fn scrub(&self) -> Result<Option<String>> {
        match self {
            Backend::Sqlite(p) => p.scrub(),
            // Dead rows stay until VACUUM (docs/postgres.md).
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Ok(None),
        }
    }
}

/// Runs `f`, and `cleanup` too if `f` panics (while the stack unwinds): an
/// audited read pins its connection to the thread inside a transaction, and a
/// panic must not leave it there, so both backends' `audited_read` take it out
/// of the pin and drop it this way.
pub(crate) fn cleanup_on_panic<T>(cleanup: impl FnMut(), f: impl FnOnce() -> T) -> T {
    struct Guard<C: FnMut()>(C);
    impl<C: FnMut()> Drop for Guard<C> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let guard = Guard(cleanup);
    let out = f();
    std::mem::forget(guard); // returned: the caller ends the transaction itself
    out
}

#[cfg(test)]
mod tests {
    use super::cleanup_on_panic;

    #[test]
    fn cleanup_on_panic_runs_the_cleanup_only_when_f_panics() {
        let mut cleaned = 0;
        assert_eq!(cleanup_on_panic(|| cleaned += 1, || 7), 7);
        assert_eq!(cleaned, 0, "f returned: the caller ends the transaction");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cleanup_on_panic(|| cleaned += 1, || -> i32 { panic!("inside f") })
        }));
        assert!(caught.is_err());
        assert_eq!(cleaned, 1, "f panicked: the pinned connection is dropped");
    }
}
