//! The schema on each backend: the runqy server's tables verbatim, plus our meta table.

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

pub(crate) const META_FORMAT: &str = "format";
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
