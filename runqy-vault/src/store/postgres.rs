//! The PostgreSQL backend: an r2d2 pool of `postgres` clients, each with its
//! own cache of prepared statements, and the primitive queries.
//!
//! No TLS: the backend is meant for a server on loopback or a private network.
//! Every error names the host and database, never the password.

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{FromSql, ToSql};
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use super::{
    EachEntry, EntryAt, EntryRow, FullEntry, StoredEntry, Tx, VaultEntryRow, VaultRow, VaultSummary,
};
use crate::error::{Error, Result};
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
    pub(crate) fn connect(url: &str) -> Result<Pool> {
        let label = describe(url);
        let mut config: Config = url.parse().map_err(|e| storage(&label, &e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("runqy-vault");
        }
        let manager = Manager { config };
        drop(r2d2::ManageConnection::connect(&manager).map_err(|e| storage(&label, &e))?);
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
        self.pool.get().map_err(|e| storage(&self.label, &e))
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

    /// A READ COMMITTED write transaction, committed when `f` succeeds and
    /// rolled back (by dropping it) when `f` fails.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let Conn { client, statements } = &mut *conn;
        let mut tx = client.transaction().map_err(|e| storage(&self.label, &e))?;
        let out = f(&mut Pg {
            client: &mut tx,
            statements,
            label: &self.label,
        })?;
        tx.commit().map_err(|e| storage(&self.label, &e))?;
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
fn storage(label: &str, e: &dyn std::error::Error) -> Error {
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
    Error::storage(format!("{label}: {}", msg.replace('\n', "; ")))
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
        storage(self.label, &e)
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

    /// `key, value, is_secret` from columns `at`, `at + 1`, `at + 2`.
    fn stored_entry(&self, row: &Row, at: usize) -> Result<StoredEntry> {
        Ok(StoredEntry {
            key: self.col(row, at)?,
            value: self.col(row, at + 1)?,
            is_secret: self.col::<Option<bool>>(row, at + 2)?.unwrap_or(true),
        })
    }

    /// A LEFT JOIN row: vault name, description, then an entry or NULLs.
    fn vault_entry_row(&self, row: &Row) -> Result<VaultEntryRow> {
        let key: Option<String> = self.col(row, 2)?;
        Ok(VaultEntryRow {
            vault: self.col(row, 0)?,
            description: self.col(row, 1)?,
            entry: match key {
                Some(_) => Some(self.stored_entry(row, 2)?),
                None => None,
            },
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
            .map_err(|e| storage(self.label, &e))?;
        self.client
            .batch_execute(schema::META_TABLE)
            .map_err(|e| storage(self.label, &e))
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

    fn lock_key_id(&mut self, exclusive: bool) -> Result<Option<String>> {
        // Rotation takes the row exclusively: a second rotation (or a write
        // from a server on the old key) waits, then reads the new key id.
        let sql = if exclusive {
            "SELECT value FROM runqy_vault_meta WHERE name = 'key_id' FOR UPDATE"
        } else {
            "SELECT value FROM runqy_vault_meta WHERE name = 'key_id' FOR SHARE"
        };
        match self.query_opt(sql, &[])? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
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

    fn delete_vault(&mut self, id: i64) -> Result<()> {
        self.execute(
            "DELETE FROM vault_entries WHERE vault_id = $1::bigint",
            &[&id],
        )?;
        self.execute("DELETE FROM vaults WHERE id = $1::bigint", &[&id])?;
        Ok(())
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

    fn vault_detail(&mut self, name: &str) -> Result<Option<(VaultRow, Vec<EntryRow>)>> {
        let rows = self.query(
            concat!(
                "SELECT COALESCE(v.description, ''), ",
                rfc3339!("v.created_at"),
                ", ",
                rfc3339!("v.updated_at"),
                ", e.key, e.value, e.is_secret, ",
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
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            if self.col::<Option<&str>>(r, 3)?.is_none() {
                break; // the vault has no entries
            }
            entries.push(EntryRow {
                entry: self.stored_entry(r, 3)?,
                created_at: self.col(r, 6)?,
                updated_at: self.col(r, 7)?,
            });
        }
        Ok(Some((vault, entries)))
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

    fn get_entry(&mut self, vault: &str, key: &str) -> Result<Option<Option<StoredEntry>>> {
        let row = self.query_opt(
            "SELECT e.key, e.value, e.is_secret FROM vaults v
             LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = $2
             WHERE v.name = $1",
            &[&vault, &key],
        )?;
        match row {
            None => Ok(None),
            Some(r) => match self.col::<Option<String>>(&r, 0)? {
                None => Ok(Some(None)),
                Some(_) => Ok(Some(Some(self.stored_entry(&r, 0)?))),
            },
        }
    }

    fn delete_entry(&mut self, vault_id: i64, key: &str) -> Result<bool> {
        let n = self.execute(
            "DELETE FROM vault_entries WHERE vault_id = $1::bigint AND key = $2",
            &[&vault_id, &key],
        )?;
        Ok(n > 0)
    }

    fn listed_entries(&mut self, names: &[&str], each: &mut EachEntry<'_>) -> Result<()> {
        // One statement with the names as an array: one round trip however
        // many vaults; rows grouped by vault in the order asked, as the
        // store's payload expects.
        let rows = self.query(
            "SELECT v.name, e.key, e.value, e.is_secret FROM vaults v
             LEFT JOIN vault_entries e ON e.vault_id = v.id
             WHERE v.name = ANY($1) ORDER BY array_position($1, v.name)",
            &[&names],
        )?;
        for r in &rows {
            let entry = match self.col::<Option<&str>>(r, 1)? {
                None => None,
                Some(key) => Some(EntryAt {
                    key,
                    value: self.col(r, 2)?,
                    is_secret: self.col::<Option<bool>>(r, 3)?.unwrap_or(true),
                }),
            };
            each(self.col(r, 0)?, entry)?;
        }
        Ok(())
    }

    fn export_rows(&mut self) -> Result<Vec<VaultEntryRow>> {
        let rows = self.query(
            "SELECT v.name, COALESCE(v.description, ''), e.key, e.value, e.is_secret
             FROM vaults v LEFT JOIN vault_entries e ON e.vault_id = v.id
             ORDER BY v.name COLLATE \"C\", e.key COLLATE \"C\"",
            &[],
        )?;
        rows.iter().map(|r| self.vault_entry_row(r)).collect()
    }

    fn all_entries(&mut self, limit: Option<u32>) -> Result<Vec<FullEntry>> {
        let limit: Option<i64> = limit.map(i64::from); // NULL: no limit
        let rows = self.query(
            "SELECT e.id::bigint, v.name, e.key, e.value, e.is_secret FROM vault_entries e
             JOIN vaults v ON v.id = e.vault_id ORDER BY e.id LIMIT $1::bigint",
            &[&limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(FullEntry {
                    id: self.col(r, 0)?,
                    vault: self.col(r, 1)?,
                    entry: self.stored_entry(r, 2)?,
                })
            })
            .collect()
    }

    fn update_value(&mut self, entry_id: i64, value: &[u8]) -> Result<()> {
        self.execute(
            "UPDATE vault_entries SET value = $2 WHERE id = $1::bigint",
            &[&entry_id, &value],
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
