//! The PostgreSQL backend: an r2d2 pool of `postgres` clients, each with its
//! own cache of prepared statements, and the primitive queries.
//!
//! No TLS: the backend is meant for a server on loopback or a private network.
//! Every error names the host and database, never the password.

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{FromSql, ToSql};
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use super::backend::{
    Each, EachVersion, EntryRow, Head, KeyMeta, MetaLock, ProviderRow, QueueRowFn, Stamp, Tx,
    VaultRow, VersionRow,
};
use super::location::PostgresUrl;
use crate::error::{Error, Result, StorageError};
use crate::model::VaultSummary;
use crate::schema;

/// Connections open at once per `Store`, at most.
const MAX_CONNECTIONS: u32 = 16;
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for a free pooled connection (or a new one).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// The advisory lock that serializes schema creation between processes ("runqyvlt").
const SCHEMA_LOCK: i64 = 0x7275_6e71_7976_6c74;

/// A timestamp column as RFC 3339 UTC text.
macro_rules! rfc3339 {
    ($column:literal) => {
        concat!(
            "COALESCE(to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
        )
    };
}

/// A pooled client and the statements it has prepared: each query is then one
/// round trip (bind + execute) instead of two (parse first).
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// Opens clients for r2d2. (`r2d2_postgres` hands out a bare `Client`, with no
/// place for the statement cache; this manager is the few lines it would save.)
struct Manager {
    config: Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// A PostgreSQL store's connections.
pub(crate) struct Pool {
    pool: r2d2::Pool<Manager>,
    /// "PostgreSQL database 'db' at host:port", for every error.
    label: String,
}

impl Pool {
    /// Checks the URL and the server by opening one connection now, so a bad
    /// URL, password or server fails `open` at once with the server's reason.
    pub(crate) fn connect(url: &PostgresUrl) -> Result<Pool> {
        let url = url.expose();
        let label = describe(url);
        let mut config: Config = url.parse().map_err(|e| storage(&label, e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("runqy-vault");
        }
        let manager = Manager { config };
        drop(r2d2::ManageConnection::connect(&manager).map_err(|e| storage(&label, e))?);
        let pool = r2d2::Pool::builder()
            .max_size(MAX_CONNECTIONS)
            .min_idle(Some(0))
            // A dead connection shows as an error on its next query and is then
            // dropped (`has_broken`); a check on every checkout would double the round trips.
            .test_on_check_out(false)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            // r2d2's default is 3 housekeeping threads per pool; one is plenty.
            .thread_pool(std::sync::Arc::new(
                scheduled_thread_pool::ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("runqy-vault-pg-{}")
                    .build(),
            ))
            .build_unchecked(manager);
        Ok(Pool { pool, label })
    }

    fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(|e| storage(&self.label, e))
    }

    /// One statement, in autocommit: no BEGIN/COMMIT round trips.
    pub(crate) fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        f(&mut Pg {
            client,
            statements,
            label: &self.label,
        })
    }

    /// A REPEATABLE READ, READ ONLY transaction: its statements see one snapshot.
    pub(crate) fn read_snapshot<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| storage(&self.label, e))?;
        let out = f(&mut Pg {
            client: &mut tx,
            statements,
            label: &self.label,
        })?;
        tx.commit().map_err(|e| storage(&self.label, e))?;
        Ok(out)
    }

    /// A READ COMMITTED write transaction, committed when `f` succeeds and
    /// rolled back (by dropping it) when `f` fails.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        let mut tx = client.transaction().map_err(|e| storage(&self.label, e))?;
        let out = f(&mut Pg {
            client: &mut tx,
            statements,
            label: &self.label,
        })?;
        tx.commit().map_err(|e| storage(&self.label, e))?;
        Ok(out)
    }
}

/// "PostgreSQL database 'db' at host:port", from the URL, without its password.
fn describe(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (userinfo.split(':').next().unwrap_or(""), host),
        None => ("", authority),
    };
    let db = tail
        .strip_prefix('/')
        .map(|p| p.split('?').next().unwrap_or(""))
        .unwrap_or("");
    let host = if host.is_empty() { "localhost" } else { host };
    let db = match (db, user) {
        ("", "") => "(the default)".to_owned(),
        ("", user) => user.to_owned(), // PostgreSQL's default: the user's name
        (db, _) => db.to_owned(),
    };
    format!("PostgreSQL database '{db}' at {host}")
}

/// A storage error naming the database, with the chain of causes (the
/// client's own message is only "db error" or "error connecting to server").
/// The client's messages carry SQL and server text, never bound values or the password.
fn storage<E: std::error::Error + Send + Sync + 'static>(label: &str, e: E) -> Error {
    let retryable = is_retryable(&e);
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    let message = format!("{label}: {}", msg.replace('\n', "; "));
    Error::Storage(StorageError::new(message).caused_by(e, retryable))
}

/// Whether a failure may pass on a retry: a connection lost (a server
/// restart or failover), a serialization failure or a deadlock.
fn is_retryable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(pg) = c.downcast_ref::<postgres::Error>() {
            if pg.is_closed() {
                return true;
            }
            if let Some(db) = pg.as_db_error() {
                use postgres::error::SqlState;
                let code = db.code();
                return *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN;
            }
        }
        if c.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The primitive queries on one client or transaction.
struct Pg<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<&'static str, Statement>,
    label: &'a str,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Pg<'_, C> {
    fn err(&self, e: postgres::Error) -> Error {
        storage(self.label, e)
    }

    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql).map_err(|e| self.err(e))?;
        self.statements.insert(sql, st.clone());
        Ok(st)
    }

    fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let st = self.statement(sql)?;
        self.client.query(&st, params).map_err(|e| self.err(e))
    }

    fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>> {
        let st = self.statement(sql)?;
        self.client.query_opt(&st, params).map_err(|e| self.err(e))
    }

    fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        let st = self.statement(sql)?;
        self.client.execute(&st, params).map_err(|e| self.err(e))
    }

    fn col<'r, T: FromSql<'r>>(&self, row: &'r Row, idx: usize) -> Result<T> {
        row.try_get(idx).map_err(|e| self.err(e))
    }

    /// An entry borrowed from columns `at..`: `id, key, value, is_secret`,
    /// then `created_at, updated_at` (RFC 3339 text) when `stamps`. `None`
    /// when `id` is NULL (a vault without entries, from a LEFT JOIN).
    fn entry_at<'r>(&self, row: &'r Row, at: usize, stamps: bool) -> Result<Option<EntryRow<'r>>> {
        let Some(id) = self.col::<Option<i64>>(row, at)? else {
            return Ok(None);
        };
        let (created_at, updated_at) = if stamps {
            (
                Stamp::Text(self.col(row, at + 4)?),
                Stamp::Text(self.col(row, at + 5)?),
            )
        } else {
            (Stamp::NotRead, Stamp::NotRead)
        };
        Ok(Some(EntryRow {
            id,
            key: self.col(row, at + 1)?,
            value: self.col(row, at + 2)?,
            is_secret: self.col::<Option<bool>>(row, at + 3)?.unwrap_or(true),
            created_at,
            updated_at,
        }))
    }
}

impl<C: GenericClient> Pg<'_, C> {
    /// A kept version borrowed from columns `at..`: `id, vault, key,
    /// version, value, is_secret, entry_digest`, then `created_at` (RFC 3339
    /// text) and `actor` when `stamps`.
    fn version_at<'r>(&self, row: &'r Row, at: usize, stamps: bool) -> Result<VersionRow<'r>> {
        let (created_at, actor) = if stamps {
            (Stamp::Text(self.col(row, at + 7)?), self.col(row, at + 8)?)
        } else {
            (Stamp::NotRead, None)
        };
        Ok(VersionRow {
            id: self.col(row, at)?,
            vault: self.col(row, at + 1)?,
            key: self.col(row, at + 2)?,
            version: self.col(row, at + 3)?,
            value: self.col(row, at + 4)?,
            is_secret: self.col::<Option<bool>>(row, at + 5)?.unwrap_or(true),
            entry_digest: self.col(row, at + 6)?,
            created_at,
            actor,
        })
    }
}

impl<C: GenericClient> Tx for Pg<'_, C> {
    fn lock_schema(&mut self) -> Result<()> {
        // CREATE TABLE IF NOT EXISTS run by two sessions at once can still fail
        // on the catalog's unique index: one at a time, until commit.
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        Ok(())
    }

    fn table_exists(&mut self, name: &str) -> Result<bool> {
        let row = self.query_opt("SELECT to_regclass($1::text) IS NOT NULL", &[&name])?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(false),
        }
    }

    fn create_schema(&mut self) -> Result<()> {
        self.client
            .batch_execute(schema::PG_UPSTREAM_TABLES)
            .map_err(|e| storage(self.label, e))?;
        self.client
            .batch_execute(schema::META_TABLE)
            .map_err(|e| storage(self.label, e))?;
        self.client
            .batch_execute(schema::PG_VERSIONS_TABLE)
            .map_err(|e| storage(self.label, e))
    }

    fn meta_get(&mut self, name: &str) -> Result<Option<String>> {
        match self.query_opt(
            "SELECT value FROM runqy_vault_meta WHERE name = $1",
            &[&name],
        )? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn meta_set(&mut self, name: &str, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO runqy_vault_meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )?;
        Ok(())
    }

    fn key_meta(&mut self, lock: MetaLock) -> Result<KeyMeta> {
        // Rotation takes the rows exclusively: a second rotation (or a write
        // from a server on the old key) waits, then reads the new key id.
        let sql = match lock {
            MetaLock::None => {
                "SELECT name, value FROM runqy_vault_meta WHERE name IN ('format', 'key_id', 'key_ids')"
            }
            MetaLock::Shared => {
                "SELECT name, value FROM runqy_vault_meta WHERE name IN ('format', 'key_id', 'key_ids')
                 FOR SHARE"
            }
            MetaLock::Exclusive => {
                "SELECT name, value FROM runqy_vault_meta WHERE name IN ('format', 'key_id', 'key_ids')
                 FOR UPDATE"
            }
        };
        let mut meta = KeyMeta::default();
        for row in self.query(sql, &[])? {
            let value: String = self.col(&row, 1)?;
            match self.col::<&str>(&row, 0)? {
                schema::META_FORMAT => meta.format = Some(value),
                schema::META_KEY_ID => meta.key_id = Some(value),
                _ => meta.key_ids = Some(value),
            }
        }
        Ok(meta)
    }

    fn has_value_prefixed(&mut self, prefixes: &[Vec<u8>]) -> Result<bool> {
        for prefix in prefixes {
            let len = prefix.len() as i32;
            let found = self.query_opt(
                "SELECT 1 FROM vault_entries WHERE substring(value from 1 for $2) = $1 LIMIT 1",
                &[prefix, &len],
            )?;
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn vault_id(&mut self, name: &str) -> Result<Option<i64>> {
        match self.query_opt("SELECT id::bigint FROM vaults WHERE name = $1", &[&name])? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn insert_vault(&mut self, name: &str, description: &str) -> Result<bool> {
        let n = self.execute(
            "INSERT INTO vaults (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &description],
        )?;
        Ok(n > 0)
    }

    fn merge_vault(&mut self, name: &str, description: &str) -> Result<i64> {
        let rows = self.query(
            "INSERT INTO vaults (name, description) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET
                 description = CASE WHEN excluded.description = '' THEN vaults.description
                                    ELSE excluded.description END,
                 updated_at = NOW()
             RETURNING id::bigint",
            &[&name, &description],
        )?;
        match rows.first() {
            Some(row) => self.col(row, 0),
            None => Err(Error::storage(format!(
                "{}: inserting vault '{name}' returned no id",
                self.label
            ))),
        }
    }

    fn delete_vault(&mut self, id: i64) -> Result<u64> {
        let n = self.execute(
            "DELETE FROM vault_entries WHERE vault_id = $1::bigint",
            &[&id],
        )?;
        self.execute("DELETE FROM vaults WHERE id = $1::bigint", &[&id])?;
        Ok(n)
    }

    fn list_vaults(&mut self) -> Result<Vec<VaultSummary>> {
        let rows = self.query(
            "SELECT v.name, COALESCE(v.description, ''),
                    (SELECT COUNT(*) FROM vault_entries e WHERE e.vault_id = v.id)
             FROM vaults v ORDER BY v.name COLLATE \"C\"",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(VaultSummary {
                    name: self.col(r, 0)?,
                    description: self.col(r, 1)?,
                    entry_count: self.col::<i64>(r, 2)?.try_into().unwrap_or(0),
                })
            })
            .collect()
    }

    fn vault_detail(&mut self, name: &str, each: &mut Each<'_>) -> Result<Option<VaultRow>> {
        let rows = self.query(
            concat!(
                "SELECT COALESCE(v.description, ''), ",
                rfc3339!("v.created_at"),
                ", ",
                rfc3339!("v.updated_at"),
                ", e.id::bigint, e.key, e.value, e.is_secret, ",
                rfc3339!("e.created_at"),
                ", ",
                rfc3339!("e.updated_at"),
                " FROM vaults v LEFT JOIN vault_entries e ON e.vault_id = v.id
                 WHERE v.name = $1 ORDER BY e.key COLLATE \"C\""
            ),
            &[&name],
        )?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let vault = VaultRow {
            description: self.col(first, 0)?,
            created_at: self.col(first, 1)?,
            updated_at: self.col(first, 2)?,
        };
        for r in &rows {
            match self.entry_at(r, 3, true)? {
                Some(entry) => each(name, Some(entry))?,
                None => break, // the vault has no entries
            }
        }
        Ok(Some(vault))
    }

    fn upsert_entry(
        &mut self,
        vault_id: i64,
        key: &str,
        value: &[u8],
        is_secret: bool,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO vault_entries (vault_id, key, value, is_secret)
             VALUES ($1::bigint, $2, $3, $4)
             ON CONFLICT (vault_id, key) DO UPDATE SET
                 value = excluded.value, is_secret = excluded.is_secret, updated_at = NOW()",
            &[&vault_id, &key, &value, &is_secret],
        )?;
        Ok(())
    }

    fn touch_vault(&mut self, name: &str) -> Result<Option<i64>> {
        // The UPDATE locks the row: a vault deleted meanwhile gives no row
        // (`VaultNotFound`), never a foreign-key error on the entry's insert.
        match self.query_opt(
            "UPDATE vaults SET updated_at = NOW() WHERE name = $1 RETURNING id::bigint",
            &[&name],
        )? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn get_entry(&mut self, vault: &str, key: &str, each: &mut Each<'_>) -> Result<()> {
        let row = self.query_opt(
            "SELECT e.id::bigint, e.key, e.value, e.is_secret FROM vaults v
             LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = $2
             WHERE v.name = $1",
            &[&vault, &key],
        )?;
        match row {
            Some(r) => each(vault, self.entry_at(&r, 0, false)?),
            None => Ok(()),
        }
    }

    fn delete_entry(&mut self, vault_id: i64, key: &str) -> Result<bool> {
        let n = self.execute(
            "DELETE FROM vault_entries WHERE vault_id = $1::bigint AND key = $2",
            &[&vault_id, &key],
        )?;
        Ok(n > 0)
    }

    fn listed_entries(&mut self, names: &[&str], each: &mut Each<'_>) -> Result<()> {
        // One statement with the names as an array: one round trip however
        // many vaults; rows grouped by vault in the order asked (the port's
        // ordering contract).
        // unnest ... WITH ORDINALITY numbers the names once; array_position
        // per row would cost names × rows.
        let rows = self.query(
            "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret
             FROM unnest($1::text[]) WITH ORDINALITY AS l(name, pos)
             JOIN vaults v ON v.name = l.name
             LEFT JOIN vault_entries e ON e.vault_id = v.id
             ORDER BY l.pos",
            &[&names],
        )?;
        for r in &rows {
            each(self.col(r, 0)?, self.entry_at(r, 1, false)?)?;
        }
        Ok(())
    }

    fn entries_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        let rows = self.query(
            "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret FROM vault_entries e
             JOIN vaults v ON v.id = e.vault_id WHERE e.id > $1::bigint
             ORDER BY e.id LIMIT $2::bigint",
            &[&after, &i64::from(limit)],
        )?;
        for r in &rows {
            if let Some(e) = self.entry_at(r, 1, false)? {
                each(self.col(r, 0)?, Some(e))?;
            }
        }
        Ok(())
    }

    fn update_value(&mut self, entry_id: i64, value: &[u8]) -> Result<()> {
        self.execute(
            "UPDATE vault_entries SET value = $2 WHERE id = $1::bigint",
            &[&entry_id, &value],
        )?;
        Ok(())
    }

    fn newest_version(&mut self, vault: &str, key: &str) -> Result<Option<Head>> {
        let row = self.query_opt(
            "SELECT version, is_secret, entry_digest FROM runqy_vault_versions
             WHERE vault = $1 AND key = $2 ORDER BY version DESC LIMIT 1",
            &[&vault, &key],
        )?;
        match row {
            Some(r) => Ok(Some(Head {
                version: self.col(&r, 0)?,
                is_secret: self.col::<Option<bool>>(&r, 1)?.unwrap_or(true),
                entry_digest: self.col(&r, 2)?,
            })),
            None => Ok(None),
        }
    }

    fn insert_version(
        &mut self,
        vault: &str,
        key: &str,
        version: i64,
        value: &[u8],
        is_secret: bool,
        entry_digest: &[u8],
    ) -> Result<()> {
        self.execute(
            "INSERT INTO runqy_vault_versions (vault, key, version, value, is_secret, entry_digest)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&vault, &key, &version, &value, &is_secret, &entry_digest],
        )?;
        Ok(())
    }

    fn prune_versions(&mut self, vault: &str, key: &str, up_to: i64) -> Result<u64> {
        self.execute(
            "DELETE FROM runqy_vault_versions WHERE vault = $1 AND key = $2 AND version <= $3",
            &[&vault, &key, &up_to],
        )
    }

    fn prune_all_versions(&mut self, keep: i64) -> Result<u64> {
        self.execute(
            "DELETE FROM runqy_vault_versions h WHERE h.version <= (
                 SELECT MAX(n.version) FROM runqy_vault_versions n
                 WHERE n.vault = h.vault AND n.key = h.key) - $1",
            &[&keep],
        )
    }

    fn key_history(
        &mut self,
        vault: &str,
        key: &str,
        each: &mut Each<'_>,
        version: &mut EachVersion<'_>,
    ) -> Result<()> {
        let row = self.query_opt(
            concat!(
                "SELECT e.id::bigint, e.key, e.value, e.is_secret, ",
                rfc3339!("e.created_at"),
                ", ",
                rfc3339!("e.updated_at"),
                " FROM vaults v LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = $2
                 WHERE v.name = $1"
            ),
            &[&vault, &key],
        )?;
        if let Some(r) = row {
            each(vault, self.entry_at(&r, 0, true)?)?;
        }
        let rows = self.query(
            concat!(
                "SELECT id, vault, key, version, value, is_secret, entry_digest, ",
                rfc3339!("created_at"),
                ", actor FROM runqy_vault_versions
                 WHERE vault = $1 AND key = $2 ORDER BY version DESC"
            ),
            &[&vault, &key],
        )?;
        for r in &rows {
            version(self.version_at(r, 0, true)?)?;
        }
        Ok(())
    }

    fn version_of(
        &mut self,
        vault: &str,
        key: &str,
        version: i64,
        each: &mut EachVersion<'_>,
    ) -> Result<()> {
        let row = self.query_opt(
            "SELECT id, vault, key, version, value, is_secret, entry_digest FROM runqy_vault_versions
             WHERE vault = $1 AND key = $2 AND version = $3",
            &[&vault, &key, &version],
        )?;
        match row {
            Some(r) => each(self.version_at(&r, 0, false)?),
            None => Ok(()),
        }
    }

    fn versions_after(&mut self, after: i64, limit: u32, each: &mut EachVersion<'_>) -> Result<()> {
        let rows = self.query(
            "SELECT id, vault, key, version, value, is_secret, entry_digest FROM runqy_vault_versions
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &i64::from(limit)],
        )?;
        for r in &rows {
            each(self.version_at(r, 0, false)?)?;
        }
        Ok(())
    }

    fn vault_names(&mut self) -> Result<Vec<String>> {
        let rows = self.query("SELECT name FROM vaults ORDER BY name COLLATE \"C\"", &[])?;
        rows.iter().map(|r| self.col(r, 0)).collect()
    }

    fn entries_stamped_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        let rows = self.query(
            concat!(
                "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret, ",
                rfc3339!("e.created_at"),
                ", ",
                rfc3339!("e.updated_at"),
                " FROM vault_entries e JOIN vaults v ON v.id = e.vault_id
                 WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2::bigint"
            ),
            &[&after, &i64::from(limit)],
        )?;
        for r in &rows {
            if let Some(e) = self.entry_at(r, 1, true)? {
                each(self.col(r, 0)?, Some(e))?;
            }
        }
        Ok(())
    }

    fn update_version_value(&mut self, id: i64, value: &[u8]) -> Result<()> {
        self.execute(
            "UPDATE runqy_vault_versions SET value = $2 WHERE id = $1",
            &[&id, &value],
        )?;
        Ok(())
    }

    fn update_entry_digest(
        &mut self,
        vault: &str,
        key: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<()> {
        self.execute(
            "UPDATE runqy_vault_versions SET entry_digest = $4
             WHERE vault = $1 AND key = $2 AND entry_digest = $3",
            &[&vault, &key, &old, &new],
        )?;
        Ok(())
    }

    fn delete_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64> {
        match key {
            Some(key) => self.execute(
                "DELETE FROM runqy_vault_versions WHERE vault = $1 AND key = $2",
                &[&vault, &key],
            ),
            None => self.execute(
                "DELETE FROM runqy_vault_versions WHERE vault = $1",
                &[&vault],
            ),
        }
    }

    fn count_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64> {
        let row = match key {
            Some(key) => self.query_opt(
                "SELECT COUNT(*) FROM runqy_vault_versions WHERE vault = $1 AND key = $2",
                &[&vault, &key],
            )?,
            None => self.query_opt(
                "SELECT COUNT(*) FROM runqy_vault_versions WHERE vault = $1",
                &[&vault],
            )?,
        };
        match row {
            Some(r) => Ok(self.col::<i64>(&r, 0)?.try_into().unwrap_or(0)),
            None => Ok(0),
        }
    }

    fn history_keys(&mut self, vault: &str) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT DISTINCT key COLLATE \"C\" FROM runqy_vault_versions WHERE vault = $1
             ORDER BY 1",
            &[&vault],
        )?;
        rows.iter().map(|r| self.col(r, 0)).collect()
    }

    fn server_queues(&mut self, each: &mut QueueRowFn<'_>) -> Result<bool> {
        if !self.table_exists("queues")? {
            return Ok(false);
        }
        // `deployment` is JSONB upstream; text whatever the column's type.
        let rows = self.query(
            "SELECT name, deployment::text, COALESCE(enabled::boolean, TRUE) FROM queues
             ORDER BY name COLLATE \"C\"",
            &[],
        )?;
        for r in &rows {
            let deployment: Option<&str> = self.col(r, 1)?;
            each(self.col(r, 0)?, deployment, self.col(r, 2)?)?;
        }
        Ok(true)
    }

    fn quick_check(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new()) // PostgreSQL checks its pages itself; nothing to ask here
    }

    fn providers_after(
        &mut self,
        after: i64,
        limit: u32,
        each: &mut dyn FnMut(ProviderRow<'_>) -> Result<()>,
    ) -> Result<()> {
        let rows = self.query(
            "SELECT id::bigint, name, config FROM autoscale_providers WHERE id > $1::bigint
             ORDER BY id LIMIT $2::bigint",
            &[&after, &i64::from(limit)],
        )?;
        for r in &rows {
            each(ProviderRow {
                id: self.col(r, 0)?,
                name: self.col(r, 1)?,
                config: self.col(r, 2)?,
            })?;
        }
        Ok(())
    }

    fn update_provider_config(&mut self, id: i64, config: &[u8]) -> Result<()> {
        self.execute(
            "UPDATE autoscale_providers SET config = $2 WHERE id = $1::bigint",
            &[&id, &config],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn describe_names_host_and_database_without_the_password() {
        assert_eq!(
            describe("postgres://u:s3cr3t@db.internal:5433/vault?sslmode=disable"),
            "PostgreSQL database 'vault' at db.internal:5433"
        );
        assert_eq!(
            describe("postgresql://runqy@10.0.0.5"),
            "PostgreSQL database 'runqy' at 10.0.0.5"
        );
        assert_eq!(
            describe("postgres:///x"),
            "PostgreSQL database 'x' at localhost"
        );
    }
}
