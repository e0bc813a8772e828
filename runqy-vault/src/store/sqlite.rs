//! The SQLite backend: a small pool of connections and the primitive queries.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::backend::{Each, EntryRow, QueueRowFn, Stamp, Tx, VaultRow};
use super::row_cache::RowCache;
use crate::error::{Error, Result};
use crate::model::VaultSummary;
use crate::schema;

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for reuse; more may be open while threads are busy.
const MAX_IDLE_CONNECTIONS: usize = 8;

/// A small pool of SQLite connections, each set up the same way.
pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Pooled>>,
}

/// A connection, the fork generation of the process that opened it, and the
/// rows it read last for a payload.
struct Pooled {
    generation: u64,
    conn: Connection,
    rows: RowCache,
}

impl Pool {
    pub(crate) fn new(path: &Path) -> Pool {
        Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn get(&self) -> Result<Pooled> {
        let generation = crate::nonce::fork_generation();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(pooled) = idle.pop() {
            if pooled.generation == generation {
                return Ok(pooled);
            }
            abandon(pooled);
        }
        drop(idle);
        Ok(Pooled {
            generation,
            conn: open_connection(&self.path)?,
            rows: RowCache::default(),
        })
    }

    fn put(&self, pooled: Pooled) {
        if pooled.generation != crate::nonce::fork_generation() {
            return abandon(pooled);
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(pooled);
        }
    }

    /// Runs `f`, which issues one statement, on a pooled connection without
    /// BEGIN/ROLLBACK: a statement in autocommit reads one snapshot anyway,
    /// and the two extra statements cost more than a small `get`.
    pub(crate) fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let conn = self.get()?;
        let out = f(&mut Sqlite(&conn.conn));
        self.put(conn);
        out
    }

    /// Runs `f` in a read transaction (`BEGIN DEFERRED`), so its statements
    /// see one snapshot; rolled back at the end, as nothing was written.
    pub(crate) fn read_snapshot<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let conn = self.get()?;
        let out = conn
            .conn
            .unchecked_transaction()
            .map_err(Error::from)
            .and_then(|tx| f(&mut Sqlite(&tx)));
        self.put(conn);
        out
    }

    /// The listed vaults' rows, as [`Tx::listed_entries`] gives them: from the
    /// connection's row cache when nobody committed since they were read
    /// (one `PRAGMA data_version` instead of a query over every entry).
    pub(crate) fn listed_entries(&self, names: &[&str], each: &mut Each<'_>) -> Result<()> {
        let mut pooled = self.get()?;
        let out = listed_entries_cached(&mut pooled, names, each);
        self.put(pooled);
        out
    }

    /// Runs `f` in a write transaction, taken at once (`BEGIN IMMEDIATE`) so
    /// concurrent writers queue on the busy timeout instead of failing later.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        // A connection's own commits leave its data version as it was.
        conn.rows.forget();
        let out = {
            let tx = conn
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            match f(&mut Sqlite(&tx)) {
                Ok(v) => tx.commit().map(|()| v).map_err(Error::from),
                Err(e) => Err(e), // dropping `tx` rolls back
            }
        };
        self.put(conn);
        out
    }
}

fn listed_entries_cached(p: &mut Pooled, names: &[&str], each: &mut Each<'_>) -> Result<()> {
    if !p.rows.holds(data_version(&p.conn)?, names) {
        // The missing vaults and the version they belong to, in one snapshot,
        // so a payload never mixes rows from before and after a commit.
        let tx = p
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        p.rows.at_version(data_version(&tx)?);
        p.rows.trim();
        let missing: Vec<&str> = names.iter().copied().filter(|n| !p.rows.has(n)).collect();
        let rows = &mut p.rows;
        Sqlite(&tx).listed_entries(&missing, &mut |vault, entry| {
            rows.add(vault, entry);
            Ok(())
        })?;
        // read-only: dropping the transaction rolls back, the same as committing
    }
    for name in names {
        p.rows.visit(name, each)?;
    }
    Ok(())
}

/// Changes whenever another connection commits to the database.
fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// A connection a forked child inherited from its parent: SQLite must not use
/// it across `fork()`, and closing it could disturb the parent's locks and WAL
/// files, so the child leaves it alone (a small leak, once per fork).
fn abandon(pooled: Pooled) {
    std::mem::forget(pooled);
}

fn open_connection(path: &Path) -> Result<Connection> {
    create_private(path);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage_at(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage_at(path, e))?;
    // WAL lets readers run beside a writer; FULL makes a returned `set` durable;
    // foreign keys make ON DELETE CASCADE hold for every connection.
    set_wal(&conn).map_err(|e| storage_at(path, e))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| storage_at(path, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Creates the database file, empty, with mode 0600 whatever the umask,
/// when it does not exist (SPEC §2: names, descriptions and timestamps are
/// not encrypted). SQLite gives the `-wal` and `-shm` files it makes the
/// mode of the database file, so they are 0600 too. An existing file keeps
/// its mode. Any other failure is left to SQLite's open, which reports it.
fn create_private(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let text = path.as_os_str().as_encoded_bytes();
    // SQLite's special names: a memory database, a temporary one, a URI.
    if text.is_empty() || text == b":memory:" || text.starts_with(b"file:") {
        return;
    }
    if let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true) // O_EXCL: never touches a file that exists
        .mode(0o600)
        .open(path)
    {
        // The umask can only take bits away from 0600; this makes it exact.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
}

/// Switches the database to WAL. SQLite answers `SQLITE_BUSY` at once, without
/// its busy handler, when processes open a new file together, so the switch is
/// retried here for as long as the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A SQLite error (with its hint, see `Error::from`) behind the database path.
fn storage_at(path: &Path, e: rusqlite::Error) -> Error {
    with_path(Error::from(e), path)
}

/// Prefixes a storage error met while opening with the database path.
pub(crate) fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Storage(s) if !s.message().starts_with(&*path.to_string_lossy()) => {
            Error::Storage(s.prefixed(&path.display().to_string()))
        }
        other => other,
    }
}

/// The `value` column as bytes. Upstream declares it BLOB, but SQLite lets any
/// writer store TEXT there; both are read the same way.
fn value_ref<'r>(row: &'r rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b),
        other => Err(rusqlite::Error::InvalidColumnType(
            idx,
            "value".into(),
            other.data_type(),
        )),
    }
}

/// A TEXT column borrowed from the row.
fn text_ref<'r>(row: &'r rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<&'r str> {
    let value = row.get_ref(idx)?;
    value
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, value.data_type(), e.into()))
}

/// A timestamp column: text as SQLite or the Go driver writes it, or an
/// integer of Unix seconds; anything else reads as missing.
fn stamp_at<'r>(r: &'r rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Stamp<'r>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(at)? {
        ValueRef::Text(t) => std::str::from_utf8(t).map_or(Stamp::NotRead, Stamp::Text),
        ValueRef::Integer(i) => Stamp::Unix(i),
        ValueRef::Real(_) | ValueRef::Null | ValueRef::Blob(_) => Stamp::NotRead,
    })
}

/// An entry borrowed from columns `at..`: `id, key, value, is_secret`, then
/// `created_at, updated_at` when `stamps`. `None` when `id` is NULL (a
/// vault without entries, from a LEFT JOIN).
fn entry_at<'r>(
    r: &'r rusqlite::Row<'_>,
    at: usize,
    stamps: bool,
) -> rusqlite::Result<Option<EntryRow<'r>>> {
    let Some(id) = r.get::<_, Option<i64>>(at)? else {
        return Ok(None);
    };
    let (created_at, updated_at) = if stamps {
        (stamp_at(r, at + 4)?, stamp_at(r, at + 5)?)
    } else {
        (Stamp::NotRead, Stamp::NotRead)
    };
    Ok(Some(EntryRow {
        id,
        key: text_ref(r, at + 1)?,
        value: value_ref(r, at + 2)?,
        is_secret: r.get::<_, Option<bool>>(at + 3)?.unwrap_or(true),
        created_at,
        updated_at,
    }))
}

/// The primitive queries on one SQLite transaction.
struct Sqlite<'a>(&'a Connection);

impl Tx for Sqlite<'_> {
    fn lock_schema(&mut self) -> Result<()> {
        Ok(()) // BEGIN IMMEDIATE already holds the database's write lock
    }

    fn table_exists(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([name])?)
    }

    fn create_schema(&mut self) -> Result<()> {
        self.0.execute_batch(schema::UPSTREAM_TABLES)?;
        self.0.execute_batch(schema::META_TABLE)?;
        Ok(())
    }

    fn meta_get(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self
            .0
            .prepare_cached("SELECT value FROM runqy_vault_meta WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    fn meta_set(&mut self, name: &str, value: &str) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO runqy_vault_meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            )?
            .execute([name, value])?;
        Ok(())
    }

    fn lock_key_id(&mut self, _exclusive: bool) -> Result<Option<String>> {
        // Writes run under BEGIN IMMEDIATE: no other writer until commit.
        self.meta_get(schema::META_KEY_ID)
    }

    fn vault_id(&mut self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached("SELECT id FROM vaults WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    fn insert_vault(&mut self, name: &str, description: &str) -> Result<bool> {
        let n = self
            .0
            .prepare_cached(
                "INSERT INTO vaults (name, description) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            )?
            .execute(params![name, description])?;
        Ok(n > 0)
    }

    fn merge_vault(&mut self, name: &str, description: &str) -> Result<i64> {
        Ok(self
            .0
            .prepare_cached(
                "INSERT INTO vaults (name, description) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET
                     description = CASE WHEN excluded.description = '' THEN vaults.description
                                        ELSE excluded.description END,
                     updated_at = CURRENT_TIMESTAMP
                 RETURNING id",
            )?
            .query_row(params![name, description], |r| r.get(0))?)
    }

    fn delete_vault(&mut self, id: i64) -> Result<()> {
        self.0
            .prepare_cached("DELETE FROM vault_entries WHERE vault_id = ?1")?
            .execute([id])?;
        self.0
            .prepare_cached("DELETE FROM vaults WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    fn list_vaults(&mut self) -> Result<Vec<VaultSummary>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT v.name, COALESCE(v.description, ''),
                    (SELECT COUNT(*) FROM vault_entries e WHERE e.vault_id = v.id)
             FROM vaults v ORDER BY v.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(VaultSummary {
                name: r.get(0)?,
                description: r.get(1)?,
                entry_count: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn vault_detail(&mut self, name: &str, each: &mut Each<'_>) -> Result<Option<VaultRow>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT COALESCE(v.description, ''), v.created_at, v.updated_at,
                    e.id, e.key, e.value, e.is_secret, e.created_at, e.updated_at
             FROM vaults v LEFT JOIN vault_entries e ON e.vault_id = v.id
             WHERE v.name = ?1 ORDER BY e.key",
        )?;
        let mut rows = stmt.query([name])?;
        let Some(first) = rows.next()? else {
            return Ok(None);
        };
        let vault = VaultRow {
            description: first.get(0)?,
            created_at: stamp_at(first, 1)?.to_rfc3339(),
            updated_at: stamp_at(first, 2)?.to_rfc3339(),
        };
        let mut row = Some(first);
        while let Some(r) = row {
            match entry_at(r, 3, true)? {
                Some(entry) => each(name, Some(entry))?,
                None => break, // the vault has no entries
            }
            row = rows.next()?;
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
        self.0
            .prepare_cached(
                "INSERT INTO vault_entries (vault_id, key, value, is_secret) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(vault_id, key) DO UPDATE SET
                     value = excluded.value, is_secret = excluded.is_secret,
                     updated_at = CURRENT_TIMESTAMP",
            )?
            .execute(params![vault_id, key, value, is_secret])?;
        Ok(())
    }

    fn touch_vault(&mut self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached(
                "UPDATE vaults SET updated_at = CURRENT_TIMESTAMP WHERE name = ?1 RETURNING id",
            )?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    fn get_entry(&mut self, vault: &str, key: &str, each: &mut Each<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT e.id, e.key, e.value, e.is_secret FROM vaults v
             LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = ?2
             WHERE v.name = ?1",
        )?;
        let mut rows = stmt.query([vault, key])?;
        if let Some(r) = rows.next()? {
            each(vault, entry_at(r, 0, false)?)?;
        }
        Ok(())
    }

    fn delete_entry(&mut self, vault_id: i64, key: &str) -> Result<bool> {
        let n = self
            .0
            .prepare_cached("DELETE FROM vault_entries WHERE vault_id = ?1 AND key = ?2")?
            .execute(params![vault_id, key])?;
        Ok(n > 0)
    }

    fn listed_entries(&mut self, names: &[&str], each: &mut Each<'_>) -> Result<()> {
        // The listed names with their positions, so the rows come grouped in
        // list order (the port's ordering contract), sorted by SQLite.
        let listed = vec!["(?, ?)"; names.len()].join(",");
        let sql = format!(
            "WITH listed(pos, name) AS (VALUES {listed})
             SELECT v.name, e.id, e.key, e.value, e.is_secret FROM listed l
             JOIN vaults v ON v.name = l.name
             LEFT JOIN vault_entries e ON e.vault_id = v.id
             ORDER BY l.pos"
        );
        let mut stmt = self.0.prepare_cached(&sql)?;
        let positions: Vec<i64> = (0..names.len() as i64).collect();
        let params: Vec<&dyn rusqlite::ToSql> = positions
            .iter()
            .zip(names)
            .flat_map(|(pos, name)| [pos as &dyn rusqlite::ToSql, name])
            .collect();
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(r) = rows.next()? {
            each(text_ref(r, 0)?, entry_at(r, 1, false)?)?;
        }
        Ok(())
    }

    fn entries_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT v.name, e.id, e.key, e.value, e.is_secret FROM vault_entries e
             JOIN vaults v ON v.id = e.vault_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            let vault = text_ref(r, 0)?;
            if let Some(e) = entry_at(r, 1, false)? {
                each(vault, Some(e))?;
            }
        }
        Ok(())
    }

    fn update_value(&mut self, entry_id: i64, value: &[u8]) -> Result<()> {
        self.0
            .prepare_cached("UPDATE vault_entries SET value = ?2 WHERE id = ?1")?
            .execute(params![entry_id, value])?;
        Ok(())
    }

    fn vault_names(&mut self) -> Result<Vec<String>> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT name FROM vaults ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    fn entries_stamped_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT v.name, e.id, e.key, e.value, e.is_secret, e.created_at, e.updated_at
             FROM vault_entries e JOIN vaults v ON v.id = e.vault_id
             WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            let vault = text_ref(r, 0)?;
            if let Some(e) = entry_at(r, 1, true)? {
                each(vault, Some(e))?;
            }
        }
        Ok(())
    }

    fn server_queues(&mut self, each: &mut QueueRowFn<'_>) -> Result<bool> {
        if !self.table_exists("queues")? {
            return Ok(false);
        }
        let mut stmt = self
            .0
            .prepare("SELECT name, deployment, COALESCE(enabled, 1) FROM queues ORDER BY name")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            use rusqlite::types::ValueRef;
            let name = text_ref(r, 0)?;
            // TEXT as upstream declares it; a driver may have stored the JSON as a BLOB.
            let deployment = match r.get_ref(1)? {
                ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t)),
                _ => None,
            };
            let enabled = r.get::<_, Option<i64>>(2)?.unwrap_or(1) != 0;
            each(name, deployment.as_deref(), enabled)?;
        }
        Ok(true)
    }

    fn quick_check(&mut self) -> Result<Vec<String>> {
        let mut stmt = self.0.prepare("PRAGMA quick_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let lines = rows.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(lines.into_iter().filter(|l| l != "ok").collect())
    }
}

/// Runs `f` on a read-only connection to an existing database, set up for
/// nothing but reading: `check` inspects a store this way when no key opens
/// it, without creating the file, its schema or a journal mode.
pub(crate) fn read_only<T>(path: &Path, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage_at(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage_at(path, e))?;
    let tx = conn
        .unchecked_transaction()
        .map_err(|e| storage_at(path, e))?;
    f(&mut Sqlite(&tx)).map_err(|e| with_path(e, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_never_hands_a_forked_child_its_parents_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::new(&dir.path().join("p.db"));
        let first = pool.get().unwrap();
        let parent_handle = unsafe { first.conn.handle() } as usize;
        pool.put(first);
        let again = pool.get().unwrap();
        assert_eq!(
            unsafe { again.conn.handle() } as usize,
            parent_handle,
            "reused before a fork"
        );
        pool.put(again);
        crate::nonce::simulate_fork();
        let child = pool.get().unwrap();
        assert_ne!(unsafe { child.conn.handle() } as usize, parent_handle);
        assert!(pool.idle.lock().unwrap().is_empty());
    }
}
