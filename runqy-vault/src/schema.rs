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
