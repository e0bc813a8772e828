//! The schema on each backend: the runqy server's tables verbatim, plus our
//! own tables (the meta table and the versions of values), which a runqy
//! server sharing the database never reads.

/// The runqy server's tables and indexes, exactly, so its database opens as it is.
pub(crate) const UPSTREAM_TABLES: &str = "
CREATE TABLE IF NOT EXISTS vaults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    description TEXT DEFAULT '',
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_vaults_name ON vaults(name);
CREATE TABLE IF NOT EXISTS vault_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    is_secret INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(vault_id, key)
);
CREATE INDEX IF NOT EXISTS idx_vault_entries_vault_id ON vault_entries(vault_id);
CREATE INDEX IF NOT EXISTS idx_vault_entries_key ON vault_entries(vault_id, key);
";

/// Our one table: the store's format and the id of the key its values are under.
pub(crate) const META_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS runqy_vault_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Every version of every value (SPEC §12), keyed by vault *name* and key so
/// that a deleted vault's history is still found. `value` is a version blob
/// (always v2, the version in its associated data); `entry_digest` is the
/// SHA-256 of the `vault_entries` blob written with this version, so the
/// newest version is known to be the current value only while that blob is
/// still the one in `vault_entries` (a runqy server writing straight into the
/// upstream tables makes an unversioned current value). `actor` is filled by
/// the audit log; NULL until then.
pub(crate) const VERSIONS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS runqy_vault_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vault TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    value BLOB NOT NULL,
    is_secret INTEGER NOT NULL,
    entry_digest BLOB,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    actor TEXT,
    UNIQUE(vault, key, version)
);
";

/// The audit log (SPEC §13): one record per operation, chained by `mac`
/// (hex of HMAC-SHA256 over the record and the previous record's MAC, see
/// `store/audit.rs`). `detail` is JSON (a payload's delivered keys, counts);
/// `fingerprint` is `hmac-sha256:` + hex, never a value.
pub(crate) const AUDIT_TABLE: &str = "
CREATE TABLE IF NOT EXISTS runqy_vault_audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    vault TEXT,
    key TEXT,
    version INTEGER,
    fingerprint TEXT,
    detail TEXT,
    mac TEXT NOT NULL
);
";

/// [`AUDIT_TABLE`] on PostgreSQL.
#[cfg(feature = "postgres")]
pub(crate) const PG_AUDIT_TABLE: &str = "
CREATE TABLE IF NOT EXISTS runqy_vault_audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    vault TEXT,
    key TEXT,
    version BIGINT,
    fingerprint TEXT,
    detail TEXT,
    mac TEXT NOT NULL
);
";

/// SQLite only: every change to the vaults and their entries bumps the
/// content revision in the meta table, whoever makes it (a runqy server
/// writing straight into its tables too). The payload row cache is valid
/// for one revision, so the audit log's own commits, which change no
/// entry, do not drop it (`PRAGMA data_version` alone counts every commit).
pub(crate) const REVISION_TRIGGERS: &str = "
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_entry_insert AFTER INSERT ON vault_entries
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_entry_update AFTER UPDATE ON vault_entries
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_entry_delete AFTER DELETE ON vault_entries
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_vault_insert AFTER INSERT ON vaults
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_vault_rename AFTER UPDATE OF name ON vaults
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
CREATE TRIGGER IF NOT EXISTS runqy_vault_revision_vault_delete AFTER DELETE ON vaults
BEGIN INSERT INTO runqy_vault_meta (name, value) VALUES ('revision', '1')
      ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1; END;
";

/// The audit log's head: `seq:mac:head_mac` (hex), the last record's
/// sequence number and MAC, MAC'd, so removing the newest records is found.
pub(crate) const META_AUDIT_HEAD: &str = "audit_head";
/// The sequence number of the newest restart record (a dropped table
/// recreated), so every open can say the log is broken until it is pruned.
pub(crate) const META_AUDIT_RESTART: &str = "audit_restart";
/// `on` (the default) or `off`: whether `get`, `resolve`, `payload` and
/// `export` are recorded (SPEC §13).
pub(crate) const META_AUDIT_READS: &str = "audit_reads";
/// The content revision (SQLite): bumped by [`REVISION_TRIGGERS`] and by
/// a change of [`META_AUDIT_READS`].
pub(crate) const META_REVISION: &str = "revision";

pub(crate) const META_FORMAT: &str = "format";
/// How many versions of each key are kept, the current one included (SPEC §12).
pub(crate) const META_HISTORY_LIMIT: &str = "history_limit";
/// `history_limit` when the meta table has none: HashiCorp Vault KV v2's `max_versions`.
pub(crate) const DEFAULT_HISTORY_LIMIT: u32 = 10;
pub(crate) const META_KEY_ID: &str = "key_id";
/// Every key that may still have values in the store, comma-separated (the
/// current one and, during a rolling rotation, older ones). Absent: `key_id` alone.
pub(crate) const META_KEY_IDS: &str = "key_ids";

/// The runqy server's PostgreSQL tables and indexes, exactly (SPEC §2).
#[cfg(feature = "postgres")]
pub(crate) const PG_UPSTREAM_TABLES: &str = "
CREATE TABLE IF NOT EXISTS vaults (
    id SERIAL PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    description TEXT DEFAULT '',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_vaults_name ON vaults(name);
CREATE TABLE IF NOT EXISTS vault_entries (
    id SERIAL PRIMARY KEY,
    vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    is_secret BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(vault_id, key)
);
CREATE INDEX IF NOT EXISTS idx_vault_entries_vault_id ON vault_entries(vault_id);
CREATE INDEX IF NOT EXISTS idx_vault_entries_key ON vault_entries(vault_id, key);
";

/// [`VERSIONS_TABLE`] on PostgreSQL.
#[cfg(feature = "postgres")]
pub(crate) const PG_VERSIONS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS runqy_vault_versions (
    id BIGSERIAL PRIMARY KEY,
    vault TEXT NOT NULL,
    key TEXT NOT NULL,
    version BIGINT NOT NULL,
    value BYTEA NOT NULL,
    is_secret BOOLEAN NOT NULL,
    entry_digest BYTEA,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    actor TEXT,
    UNIQUE(vault, key, version)
);
";
