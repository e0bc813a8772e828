//! The SQLite backend: a small pool of connections and the primitive queries.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::backend::{
    cleanup_on_panic, AuditRow, DigestMoves, Each, EachAudit, EachVersion, EntryRow, Head, KeyMeta,
    MacRewrites, MetaLock, Newest, ProviderRow, QueueRowFn, Rewrites, Stamp, Tx, VaultRow,
    VersionRow,
};
use super::location::{sqlite_uri, SqliteTarget};
use super::row_cache::RowCache;
use crate::error::{Error, Result};
use crate::model::VaultSummary;
use crate::schema;

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// WAL pages between automatic checkpoints (SQLite's default is 1000): see
/// `open_connection`. The audit bench's commit floor uses the same figure.
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;
/// The size the WAL file is cut back to after a checkpoint resets it: above
/// what it reaches between two checkpoints (10,000 frames of 4 KiB and their
/// headers, ~40 MiB), so it is never cut. A WAL cut back to 4 MiB grew again
/// after every checkpoint, and each frame written past its end made the file
/// system allocate a block: 8 of an audited payload's ~37 µs went to that and
/// to the truncation (perf, 2026-12-02). The file goes when the last
/// connection closes, as SQLite checkpoints and removes it then.
pub(crate) const WAL_SIZE_LIMIT_BYTES: u64 = 48 << 20;
/// Idle connections kept for reuse; more may be open while threads are busy.
const MAX_IDLE_CONNECTIONS: usize = 8;

/// A small pool of SQLite connections, each set up the same way.
pub(crate) struct Pool {
    path: PathBuf,
    /// Set when the file or its directory is not writable by this process
    /// (or the location is a `mode=ro` URI): connections are then opened
    /// read-only and every write is refused.
    read_only: Option<ReadOnly>,
    idle: Mutex<Vec<Pooled>>,
}

/// How a read-only store opens its connections.
struct ReadOnly {
    /// The database file itself, for the WAL checks.
    file: PathBuf,
    /// The location as a `file:` URI with `mode=ro`, before `immutable`.
    uri: String,
}

/// A connection, the fork generation of the process that opened it, and the
/// rows it read last for a payload.
struct Pooled {
    generation: u64,
    conn: Connection,
    rows: RowCache,
    /// Opened with `immutable=1` (a read-only WAL database nobody had open).
    immutable: bool,
    /// What the connection last read of the meta table, for one data version.
    seen: Option<Seen>,
    /// Lent out by [`Pool::audited_read`]: goes back to this thread's pin, not the idle list.
    pinned: bool,
    /// `seen` was checked against the data version during the pinned call:
    /// the call's later checks trust it (the call reads the store as of
    /// that check, as it would had it run a moment earlier).
    checked: bool,
}

std::thread_local! {
    /// The connection an audited read holds its transaction on, with the
    /// address of its pool: the read's statements and its record run on it.
    static PINNED: std::cell::RefCell<Option<(usize, Pooled)>> = const { std::cell::RefCell::new(None) };
}

/// The content revision and the `audit_reads` flag as one connection last
/// read them, valid while its `PRAGMA data_version` stays the same.
#[derive(Debug, Clone, Copy)]
struct Seen {
    data_version: i64,
    /// The row cache's generation: the content revision, or (when the meta
    /// table has none) a number that changes with every commit.
    generation: i64,
    audit_reads: bool,
}

impl Pool {
    /// A pool for the database at `path`, read-only when it cannot be written.
    pub(crate) fn new(path: &Path) -> Pool {
        Pool {
            path: path.to_path_buf(),
            read_only: read_only_target(path),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Whether the database is opened read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    fn get(&self) -> Result<Pooled> {
        if let Some(pooled) = self.unpin() {
            return Ok(pooled);
        }
        let generation = crate::nonce::fork_generation();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(pooled) = idle.pop() {
            if pooled.generation != generation {
                abandon(pooled);
            } else if pooled.immutable && self.read_only.as_ref().is_some_and(|r| !r.immutable()) {
                // A writer opened the database since: read through its WAL index
                // instead of a snapshot that no longer follows the file.
                drop(pooled);
            } else {
                return Ok(pooled);
            }
        }
        drop(idle);
        let (conn, immutable) = match &self.read_only {
            None => (open_connection(&self.path)?, false),
            Some(ro) => ro.open()?,
        };
        Ok(Pooled {
            generation,
            conn,
            rows: RowCache::default(),
            immutable,
            seen: None,
            pinned: false,
            checked: false,
        })
    }

    fn put(&self, pooled: Pooled) {
        if pooled.pinned {
            let me = self as *const Pool as usize;
            return PINNED.with(|p| *p.borrow_mut() = Some((me, pooled)));
        }
        if pooled.generation != crate::nonce::fork_generation() {
            return abandon(pooled);
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(pooled);
        }
    }

    /// Runs `f`, which issues one statement (or several while the first is
    /// still active, as `vault_detail` does), on a pooled connection without
    /// BEGIN/ROLLBACK: statements in autocommit read one snapshot anyway,
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
        if !conn.conn.is_autocommit() {
            // An audited read's transaction: one snapshot already.
            let out = f(&mut Sqlite(&conn.conn));
            self.put(conn);
            return out;
        }
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
    /// `bulk`: a write of many rows, a row per statement (import, rotation,
    /// migration), whose statement journals are kept in memory.
    pub(crate) fn write<T>(
        &self,
        bulk: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        if self.read_only.is_some() {
            return Err(Error::storage(format!(
                "{}: the database is read-only (the file or its directory is not writable by this \
                 process, or it was opened with mode=ro): it can be read, but nothing can be \
                 written to it",
                self.path.display()
            )));
        }
        let mut conn = self.get()?;
        // A connection's own commits leave its data version as it was.
        conn.rows.forget();
        conn.seen = None;
        // Connections commit with synchronous=NORMAL (the audit log's read
        // records); a write of values is made durable on disk before it
        // returns: FULL for this transaction, back to NORMAL after.
        // A bulk write's statement journals in memory: SQLite copies each page
        // a statement changes there first, and once spilled past 64 KiB to a
        // temporary file that was 12 pwrite calls per imported entry. Each of
        // its statements changes one row, so they stay small. Taken at BEGIN.
        let pragmas = match bulk {
            true => "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY",
            false => "PRAGMA synchronous = FULL",
        };
        if let Err(e) = conn.conn.execute_batch(pragmas) {
            drop(conn); // unknown state: not reused
            return Err(e.into());
        }
        let out = {
            let tx = conn
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            match f(&mut Sqlite(&tx)) {
                Ok(v) => tx.commit().map(|()| v).map_err(Error::from),
                Err(e) => Err(e), // dropping `tx` rolls back
            }
        };
        // The page cache and temporary files as SQLite's default again, after a bulk write.
        if conn
            .conn
            .execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{DEFAULT_CACHE_KIB}; \
                 PRAGMA temp_store = DEFAULT"
            ))
            .is_ok()
        {
            self.put(conn); // else dropped: it would make reads' records fsync
        }
        out
    }

    /// A write transaction of the audit log alone (a read's record),
    /// committed with the connection's `synchronous=NORMAL`: in WAL mode
    /// that commit is durable when the process dies (the frames are in the
    /// WAL file, which the OS keeps), not across a power loss until the next
    /// fsync of the WAL (the next write of values, or a checkpoint). It
    /// changes no entry, so the connection keeps its payload rows.
    pub(crate) fn append<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        if self.read_only.is_some() {
            return Err(Error::storage(format!(
                "{}: the database is read-only and audit-reads is on: a read that hands out a \
                 value must write its audit record first, so it is refused (listings still \
                 work; open the store with write access, or turn audit-reads off)",
                self.path.display()
            )));
        }
        let conn = self.get()?;
        if !conn.conn.is_autocommit() {
            // Inside an audited read's transaction ([`Pool::audited_read`]),
            // which commits the record with the read.
            let out = f(&mut Sqlite(&conn.conn));
            self.put(conn);
            return out;
        }
        let out = in_transaction(&conn.conn, |c| f(&mut Sqlite(c)));
        if conn.conn.is_autocommit() {
            self.put(conn);
        }
        out
    }

    /// Runs `f` (a read that hands out plaintext, and its audit record) on
    /// one connection, pinned to this thread for the call: every statement
    /// `f` makes through this pool on this thread runs on it (`get` hands
    /// out the pinned one), and its data version is read once per call, not
    /// once by the flag check and again by the row cache.
    /// When this connection last saw `audit-reads` on, the call is also one
    /// `BEGIN IMMEDIATE` transaction: the read's checks, its rows and its
    /// record then share one snapshot and one set of locks, instead of
    /// taking them three times. `f` still asks [`Pool::audit_reads`] inside,
    /// so a flag turned off meanwhile is honoured; one turned on meanwhile
    /// (or a fresh connection) commits its record in a transaction of its
    /// own ([`Pool::append`]). A read-only store's reads run as any read.
    pub(crate) fn audited_read<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.read_only.is_some() {
            return f();
        }
        let mut conn = self.get()?;
        if conn.pinned || !conn.conn.is_autocommit() {
            self.put(conn);
            return f();
        }
        if conn.seen.is_some_and(|s| s.audit_reads) {
            if let Err(e) = conn
                .conn
                .prepare_cached("BEGIN IMMEDIATE")
                .and_then(|mut s| s.execute([]))
            {
                self.put(conn);
                return Err(e.into());
            }
        }
        conn.pinned = true;
        conn.checked = false;
        self.put(conn); // into the pin

        // A panic in `f` leaves the connection pinned inside its transaction:
        // it is taken out and dropped (closing it rolls back).
        let out = cleanup_on_panic(|| drop(self.unpin()), f);
        let Some(mut pooled) = self.unpin() else {
            // `f` kept the connection past its return: nothing to reuse.
            return Err(Error::storage(format!(
                "{}: an audited read's connection was not handed back",
                self.path.display()
            )));
        };
        pooled.pinned = false;
        pooled.checked = false;
        let end = finish(&pooled.conn, out.is_ok()); // nothing to end when audit-reads was off
        if pooled.conn.is_autocommit() {
            self.put(pooled);
        }
        match (out, end) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }

    /// This thread's pinned connection of this pool, taken out of the pin.
    fn unpin(&self) -> Option<Pooled> {
        let me = self as *const Pool as usize;
        PINNED.with(|p| {
            let mut p = p.borrow_mut();
            match p.take() {
                Some((pool, pooled)) if pool == me => Some(pooled),
                other => {
                    *p = other;
                    None
                }
            }
        })
    }

    /// Whether reads that hand out plaintext are audited, as [`Seen`] keeps it.
    pub(crate) fn audit_reads(&self) -> Result<bool> {
        let mut pooled = self.get()?;
        let out = seen(&mut pooled).map(|s| s.audit_reads);
        self.put(pooled);
        out
    }
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction of `c`, committed when it
/// succeeds. BEGIN and COMMIT come from the statement cache: at one small
/// commit per audited read, parsing them each time (as rusqlite's
/// `Transaction` does) shows in the profile.
fn in_transaction<T>(c: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let out = f(c);
    let end = finish(c, out.is_ok());
    match (out, end) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// Ends the open transaction of `c`: COMMIT when `commit`, else ROLLBACK.
/// A COMMIT that fails (SQLITE_BUSY, a full disk) leaves the transaction
/// open, so it is rolled back then: the connection is reusable either way.
fn finish(c: &Connection, commit: bool) -> Result<()> {
    if c.is_autocommit() {
        return Ok(());
    }
    let end = c
        .prepare_cached(if commit { "COMMIT" } else { "ROLLBACK" })
        .and_then(|mut s| s.execute([]).map(|_| ()));
    if end.is_err() && !c.is_autocommit() {
        let _ = c.execute_batch("ROLLBACK");
    }
    Ok(end?)
}

/// The connection's [`Seen`], read again only when its data version moved;
/// checked once per pinned call ([`Pool::audited_read`]).
fn seen(p: &mut Pooled) -> Result<Seen> {
    if let Some(s) = p.seen.filter(|_| p.checked) {
        return Ok(s);
    }
    let dv = data_version(&p.conn)?;
    let s = match p.seen.filter(|s| s.data_version == dv) {
        Some(s) => s,
        None => read_seen(&p.conn, dv)?,
    };
    p.seen = Some(s);
    p.checked = p.pinned;
    Ok(s)
}

/// The revision and the flag in one statement.
fn read_seen(conn: &Connection, data_version: i64) -> Result<Seen> {
    let (revision, flag): (Option<String>, Option<String>) = conn
        .prepare_cached(
            "SELECT (SELECT value FROM runqy_vault_meta WHERE name = 'revision'),
                    (SELECT value FROM runqy_vault_meta WHERE name = 'audit_reads')",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let generation = match revision.as_deref().map(str::parse::<i64>) {
        Some(Ok(r)) if r >= 0 => r,
        // No usable revision: trust the rows for this data version only.
        _ => -data_version - 1,
    };
    Ok(Seen {
        data_version,
        generation,
        audit_reads: flag.as_deref() != Some("off"),
    })
}

impl Pool {
    /// Checkpoints the WAL into the database file and truncates it, so the
    /// pages a purge zeroed (secure_delete) replace the old ones on disk and
    /// no frame of the log still holds a destroyed blob. A reader that keeps
    /// an old snapshot open can stop it: that is a warning, not a failure
    /// (the purge is committed; the next checkpoint finishes the job).
    pub(crate) fn scrub(&self) -> Result<Option<String>> {
        let conn = self.get()?;
        let out = conn
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(Error::from);
        self.put(conn);
        let (busy, log, done) = out?;
        Ok((busy != 0 || log != done).then(|| {
            format!(
                "{}: the write-ahead log could not be checkpointed and truncated now (another \
                 connection is reading); the purged blobs leave the log at the next checkpoint",
                self.path.display()
            )
        }))
    }
}

fn listed_entries_cached(p: &mut Pooled, names: &[&str], each: &mut Each<'_>) -> Result<()> {
    let generation = seen(p)?.generation;
    if !p.rows.holds(generation, names) {
        // The missing vaults and the revision they belong to, in one snapshot,
        // so a payload never mixes rows from before and after a commit (an
        // audited read's transaction is one already).
        let tx = if p.conn.is_autocommit() {
            Some(p.conn.unchecked_transaction()?) // DEFERRED
        } else {
            None
        };
        let tx: &Connection = tx.as_deref().unwrap_or(&p.conn);
        let now = read_seen(tx, data_version(tx)?)?;
        p.seen = Some(now);
        p.rows.at_version(now.generation);
        p.rows.trim();
        let missing: Vec<&str> = names.iter().copied().filter(|n| !p.rows.has(n)).collect();
        let rows = &mut p.rows;
        Sqlite(tx).listed_entries(&missing, &mut |vault, entry| {
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

/// Whether `e` is SQLite's "no such table: `table`" (a statement that names it
/// did not prepare).
fn is_no_such_table(e: &rusqlite::Error, table: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(m))
        if m.strip_prefix("no such table: ").is_some_and(|t| t == table || t.strip_prefix("main.") == Some(table)))
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

/// How a store at `path` that cannot be written is opened read-only, or
/// `None` when it can be written (or does not exist yet: creating it shows
/// whether it can be).
///
/// A read-only store must not take the write transaction every open takes
/// for the schema, and must leave no `-wal`/`-shm` files behind in a
/// directory it may be able to write, so it is decided here, before any
/// connection, from `access(2)` (which also sees a read-only file system)
/// or a `mode=ro` / `immutable=1` URI. Root passes `access` for any file on
/// a writable file system, as it can indeed write it.
fn read_only_target(path: &Path) -> Option<ReadOnly> {
    let target = SqliteTarget::of(path);
    let asked = target.has_param("mode", "ro") || target.has_param("immutable", "1");
    if !asked && (!target.file.exists() || writable(&target.file)) {
        return None;
    }
    Some(ReadOnly::of(path))
}

/// Whether this process may write `file` and create files (a journal, the
/// `-wal` and `-shm`) beside it.
fn writable(file: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    [file, dir].iter().all(|p| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            // SAFETY: a NUL-terminated path; access(2) only reads it.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
    })
}

impl ReadOnly {
    /// How to open `path` read-only: as a `file:` URI with `mode=ro` (a
    /// URI given keeps its own parameters).
    fn of(path: &Path) -> ReadOnly {
        let target = SqliteTarget::of(path);
        let uri = if target.uri {
            let text = path.to_string_lossy();
            let sep = if text.contains('?') { '&' } else { '?' };
            if target.has_param("mode", "ro") {
                text.into_owned()
            } else {
                format!("{text}{sep}mode=ro")
            }
        } else {
            format!("{}?mode=ro", sqlite_uri(path))
        };
        ReadOnly {
            file: target.file,
            uri,
        }
    }

    /// Whether connections must be opened with `immutable=1`: a WAL database
    /// without its `-shm` file (no process has it open). SQLite cannot read
    /// such a database read-only otherwise, and would create the `-wal` and
    /// `-shm` files in a directory it can write, leaving them behind.
    fn immutable(&self) -> bool {
        let mut shm = self.file.clone().into_os_string();
        shm.push("-shm");
        is_wal(&self.file) && !Path::new(&shm).exists()
    }

    fn open(&self) -> Result<(Connection, bool)> {
        let immutable = self.immutable();
        let uri = if immutable {
            format!("{}&immutable=1", self.uri)
        } else {
            self.uri.clone()
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let at = |e| storage_at(&self.file, e);
        let conn = Connection::open_with_flags(&uri, flags).map_err(at)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(at)?;
        conn.execute_batch("PRAGMA query_only = ON;").map_err(at)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok((conn, immutable))
    }
}

/// Whether the file's SQLite header says WAL (its read and write versions, bytes 18 and 19).
fn is_wal(file: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| header[18] == 2 || header[19] == 2)
}

fn open_connection(path: &Path) -> Result<Connection> {
    create_private(path);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage_at(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage_at(path, e))?;
    // WAL lets readers run beside a writer; FULL (in `Pool::write`) makes a returned `set` durable;
    // foreign keys make ON DELETE CASCADE hold for every connection.
    set_wal(&conn).map_err(|e| storage_at(path, e))?;
    // secure_delete: a pruned or purged version, a removed entry and an
    // overwritten value leave zeros behind in the pages, not their blob
    // (SPEC §12); it costs no extra sync (docs/formats.md has the figures).
    // NORMAL is for the audit records of reads only: `Pool::write` commits
    // every write of values with FULL.
    // wal_autocheckpoint: a checkpoint fsyncs the WAL and the database, and
    // each audited read appends 2-3 pages (its record, the head in the meta
    // table). At SQLite's default of 1000 pages a busy fleet checkpointed
    // every ~400 reads, which cost a third of an audited payload; at 10000
    // it is every ~4000, and the pages written again and again (the meta
    // page, the log's last leaf) are copied once per checkpoint. The WAL can
    // reach ~40 MiB between checkpoints, and is then reused from its start,
    // not cut back (`WAL_SIZE_LIMIT_BYTES`).
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
    ))
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
/// writer store TEXT there; both are read the same way. Anything else (an
/// integer or a real tampered into the column) reads as no bytes, which
/// fails to decrypt: `DecryptionFailed` naming the vault and key, where a
/// column-type error would name neither.
fn value_ref<'r>(row: &'r rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b),
        _ => Ok(&[]),
    }
}

/// The `is_secret` column: NULL reads as true, the column's default.
fn is_secret_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<bool> {
    Ok(r.get::<_, Option<bool>>(at)?.unwrap_or(true))
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
        id: Some(id),
        key: text_ref(r, at + 1)?,
        value: value_ref(r, at + 2)?,
        is_secret: is_secret_at(r, at + 3)?,
        created_at,
        updated_at,
        newest: None,
        memo: None,
    }))
}

/// `entry` with its current version, from the newest kept version's
/// `version, is_secret, entry_digest` in columns `at..` (NULL: none).
fn versioned<'r>(
    entry: Option<EntryRow<'r>>,
    r: &'r rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<EntryRow<'r>>> {
    use rusqlite::types::ValueRef;
    let Some(mut entry) = entry else {
        return Ok(None);
    };
    if let Some(version) = r.get::<_, Option<i64>>(at)? {
        entry.newest = Some(Newest {
            version,
            is_secret: is_secret_at(r, at + 1)?,
            digest: match r.get_ref(at + 2)? {
                ValueRef::Blob(b) => Some(b),
                _ => None,
            },
        });
    }
    Ok(Some(entry))
}

/// A kept version borrowed from columns `at..`: `id, vault, key, version,
/// value, is_secret, entry_digest`, then `created_at, actor` when `stamps`.
fn version_at<'r>(
    r: &'r rusqlite::Row<'_>,
    at: usize,
    stamps: bool,
) -> rusqlite::Result<VersionRow<'r>> {
    use rusqlite::types::ValueRef;
    let entry_digest = match r.get_ref(at + 6)? {
        ValueRef::Blob(b) => Some(b),
        _ => None,
    };
    let (created_at, actor) = if stamps {
        let actor = match r.get_ref(at + 8)? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        };
        (stamp_at(r, at + 7)?, actor)
    } else {
        (Stamp::NotRead, None)
    };
    Ok(VersionRow {
        id: r.get(at)?,
        vault: text_ref(r, at + 1)?,
        key: text_ref(r, at + 2)?,
        version: r.get(at + 3)?,
        value: value_ref(r, at + 4)?,
        is_secret: is_secret_at(r, at + 5)?,
        entry_digest,
        created_at,
        actor,
    })
}

/// The columns [`version_at`] reads, with timestamps.
const VERSION_COLUMNS: &str =
    "id, vault, key, version, value, is_secret, entry_digest, created_at, actor";

/// The primitive queries on one SQLite transaction.
/// The page cache of a bulk write (`Tx::bulk`), KiB: a transaction of a
/// million rows otherwise spills the default 2 MiB to the WAL many times over.
const BULK_CACHE_KIB: u32 = 64 * 1024;
/// SQLite's default page cache, KiB (`SQLITE_DEFAULT_CACHE_SIZE`).
const DEFAULT_CACHE_KIB: u32 = 2000;

struct Sqlite<'a>(&'a Connection);

impl Tx for Sqlite<'_> {
    fn lock_schema(&mut self) -> Result<()> {
        Ok(()) // BEGIN IMMEDIATE already holds the database's write lock
    }

    fn bulk(&mut self) -> Result<()> {
        // Back to the default when the write ends (`Pool::write`).
        self.0
            .execute_batch(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))?;
        Ok(())
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
        self.0.execute_batch(schema::VERSIONS_TABLE)?;
        self.0.execute_batch(schema::AUDIT_TABLE)?;
        self.0.execute_batch(schema::REVISION_TRIGGERS)?;
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

    fn key_meta(&mut self, _lock: MetaLock) -> Result<KeyMeta> {
        // Writes run under BEGIN IMMEDIATE: no other writer until commit.
        let mut stmt = self.0.prepare_cached(
            "SELECT name, value FROM runqy_vault_meta WHERE name IN ('format', 'key_id', 'key_ids')",
        )?;
        let mut rows = stmt.query([])?;
        let mut meta = KeyMeta::default();
        while let Some(r) = rows.next()? {
            let value = Some(r.get::<_, String>(1)?);
            match text_ref(r, 0)? {
                schema::META_FORMAT => meta.format = value,
                schema::META_KEY_ID => meta.key_id = value,
                _ => meta.key_ids = value,
            }
        }
        Ok(meta)
    }

    fn has_value_prefixed(&mut self, prefixes: &[Vec<u8>]) -> Result<bool> {
        let mut stmt = self.0.prepare_cached(
            "SELECT 1 FROM vault_entries WHERE substr(value, 1, ?2) = ?1 LIMIT 1",
        )?;
        for prefix in prefixes {
            if stmt.exists(params![prefix, prefix.len() as i64])? {
                return Ok(true);
            }
        }
        Ok(false)
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

    fn delete_vault(&mut self, id: i64) -> Result<u64> {
        let n = self
            .0
            .prepare_cached("DELETE FROM vault_entries WHERE vault_id = ?1")?
            .execute([id])?;
        self.0
            .prepare_cached("DELETE FROM vaults WHERE id = ?1")?
            .execute([id])?;
        Ok(n as u64)
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
        // Two statements, not one join (which produced the vault's columns
        // again for every entry row): 4% of a 50-entry `show`. The first is
        // left active, its row read but the statement not done, while the
        // second runs: SQLite keeps an implicit read transaction open until
        // every statement of the connection finishes, so both read one
        // snapshot without BEGIN and COMMIT (see `Pool::read_one`).
        let mut vault_stmt = self.0.prepare_cached(
            "SELECT id, COALESCE(description, ''), created_at, updated_at
             FROM vaults WHERE name = ?1",
        )?;
        let mut vault_rows = vault_stmt.query([name])?;
        let Some(v) = vault_rows.next()? else {
            return Ok(None);
        };
        let id: i64 = v.get(0)?;
        let vault = VaultRow {
            description: v.get(1)?,
            created_at: stamp_at(v, 2)?.to_rfc3339(),
            updated_at: stamp_at(v, 3)?.to_rfc3339(),
        };
        // Without `e.id`, which nothing shown needs: reading it cost 5% of
        // a 50-entry `show`.
        let mut stmt = self.0.prepare_cached(
            "SELECT e.key, e.value, e.is_secret, e.created_at, e.updated_at
             FROM vault_entries e WHERE e.vault_id = ?1 ORDER BY e.key",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(r) = rows.next()? {
            let entry = EntryRow {
                id: None,
                key: text_ref(r, 0)?,
                value: value_ref(r, 1)?,
                is_secret: is_secret_at(r, 2)?,
                created_at: stamp_at(r, 3)?,
                updated_at: stamp_at(r, 4)?,
                newest: None,
                memo: None,
            };
            each(name, Some(entry))?;
        }
        drop(rows);
        drop(vault_rows); // ends the snapshot
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
        // The listed names as one JSON array parameter, with their positions
        // (json_each's key), so the rows come grouped in list order (the
        // port's ordering contract): one statement however many names, never
        // past SQLite's limit of 32,766 bound variables, and one prepared
        // statement for every count. Each entry comes with its key's newest
        // version, for the audit log's record of a payload.
        let listed = serde_json::to_string(names)
            .map_err(|e| Error::storage(format!("cannot list the vault names: {e}")))?;
        const WITH_VERSIONS: &str = "WITH listed(pos, name) AS (SELECT key, value FROM json_each(?1))
             SELECT v.name, e.id, e.key, e.value, e.is_secret, h.version, h.is_secret, h.entry_digest
             FROM listed l
             JOIN vaults v ON v.name = l.name
             LEFT JOIN vault_entries e ON e.vault_id = v.id
             LEFT JOIN runqy_vault_versions h ON h.vault = v.name AND h.key = e.key AND h.version =
                 (SELECT MAX(m.version) FROM runqy_vault_versions m WHERE m.vault = v.name AND m.key = e.key)
             ORDER BY l.pos";
        // The history's table gone from under the store: the payload does not need it.
        const WITHOUT: &str = "WITH listed(pos, name) AS (SELECT key, value FROM json_each(?1))
             SELECT v.name, e.id, e.key, e.value, e.is_secret, NULL, NULL, NULL FROM listed l
             JOIN vaults v ON v.name = l.name
             LEFT JOIN vault_entries e ON e.vault_id = v.id
             ORDER BY l.pos";
        let sql = match self.0.prepare_cached(WITH_VERSIONS) {
            Ok(_) => WITH_VERSIONS,
            Err(_) if !self.table_exists("runqy_vault_versions")? => WITHOUT,
            Err(e) => return Err(e.into()),
        };
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query([listed])?;
        while let Some(r) = rows.next()? {
            each(text_ref(r, 0)?, versioned(entry_at(r, 1, false)?, r, 5)?)?;
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

    fn update_values(&mut self, page: Rewrites) -> Result<()> {
        let mut st = self
            .0
            .prepare_cached("UPDATE vault_entries SET value = ?2 WHERE id = ?1")?;
        for (id, value) in page.rows() {
            st.execute(params![id, value])?;
        }
        Ok(())
    }

    fn newest_version(&mut self, vault: &str, key: &str) -> Result<Option<Head>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT version, is_secret, entry_digest FROM runqy_vault_versions
                 WHERE vault = ?1 AND key = ?2 ORDER BY version DESC LIMIT 1",
            )?
            .query_row([vault, key], |r| {
                Ok(Head {
                    version: r.get(0)?,
                    is_secret: is_secret_at(r, 1)?,
                    entry_digest: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn insert_version(
        &mut self,
        vault: &str,
        key: &str,
        version: i64,
        value: &[u8],
        is_secret: bool,
        entry_digest: &[u8],
        actor: &str,
    ) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO runqy_vault_versions
                     (vault, key, version, value, is_secret, entry_digest, actor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                vault,
                key,
                version,
                value,
                is_secret,
                entry_digest,
                actor
            ])?;
        Ok(())
    }

    fn prune_versions(&mut self, vault: &str, key: &str, up_to: i64) -> Result<()> {
        self.0
            .prepare_cached(
                "DELETE FROM runqy_vault_versions WHERE vault = ?1 AND key = ?2 AND version <= ?3",
            )?
            .execute(params![vault, key, up_to])?;
        Ok(())
    }

    fn prune_all_versions(&mut self, keep: i64) -> Result<u64> {
        let n = self
            .0
            .prepare_cached(
                "DELETE FROM runqy_vault_versions AS h WHERE h.version <= (
                     SELECT MAX(n.version) FROM runqy_vault_versions n
                     WHERE n.vault = h.vault AND n.key = h.key) - ?1",
            )?
            .execute([keep])?;
        Ok(n as u64)
    }

    fn key_history(
        &mut self,
        vault: &str,
        key: &str,
        each: &mut Each<'_>,
        version: &mut EachVersion<'_>,
    ) -> Result<()> {
        {
            let mut stmt = self.0.prepare_cached(
                "SELECT e.id, e.key, e.value, e.is_secret, e.created_at, e.updated_at FROM vaults v
                 LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = ?2
                 WHERE v.name = ?1",
            )?;
            let mut rows = stmt.query([vault, key])?;
            if let Some(r) = rows.next()? {
                each(vault, entry_at(r, 0, true)?)?;
            }
        }
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM runqy_vault_versions
             WHERE vault = ?1 AND key = ?2 ORDER BY version DESC"
        ))?;
        let mut rows = stmt.query([vault, key])?;
        while let Some(r) = rows.next()? {
            version(version_at(r, 0, true)?)?;
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
        let mut stmt = self.0.prepare_cached(
            "SELECT id, vault, key, version, value, is_secret, entry_digest FROM runqy_vault_versions
             WHERE vault = ?1 AND key = ?2 AND version = ?3",
        )?;
        let mut rows = stmt.query(params![vault, key, version])?;
        if let Some(r) = rows.next()? {
            each(version_at(r, 0, false)?)?;
        }
        Ok(())
    }

    fn versions_after(&mut self, after: i64, limit: u32, each: &mut EachVersion<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, vault, key, version, value, is_secret, entry_digest FROM runqy_vault_versions
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            each(version_at(r, 0, false)?)?;
        }
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

    fn update_version_values(&mut self, page: Rewrites) -> Result<()> {
        let mut st = self
            .0
            .prepare_cached("UPDATE runqy_vault_versions SET value = ?2 WHERE id = ?1")?;
        for (id, value) in page.rows() {
            st.execute(params![id, value])?;
        }
        Ok(())
    }

    fn update_entry_digests(&mut self, page: DigestMoves) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE runqy_vault_versions SET entry_digest = ?4
             WHERE vault = ?1 AND key = ?2 AND entry_digest = ?3",
        )?;
        for (vault, key, old, new) in page.rows() {
            st.execute(params![vault, key, old, new])?;
        }
        Ok(())
    }

    fn delete_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64> {
        let n = match key {
            Some(key) => self
                .0
                .prepare_cached("DELETE FROM runqy_vault_versions WHERE vault = ?1 AND key = ?2")?
                .execute([vault, key])?,
            None => self
                .0
                .prepare_cached("DELETE FROM runqy_vault_versions WHERE vault = ?1")?
                .execute([vault])?,
        };
        Ok(n as u64)
    }

    fn count_versions(&mut self, vault: &str, key: Option<&str>) -> Result<u64> {
        let n: i64 = match key {
            Some(key) => self
                .0
                .prepare_cached(
                    "SELECT COUNT(*) FROM runqy_vault_versions WHERE vault = ?1 AND key = ?2",
                )?
                .query_row([vault, key], |r| r.get(0))?,
            None => self
                .0
                .prepare_cached("SELECT COUNT(*) FROM runqy_vault_versions WHERE vault = ?1")?
                .query_row([vault], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    fn history_keys(&mut self, vault: &str) -> Result<Vec<String>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT DISTINCT key FROM runqy_vault_versions WHERE vault = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map([vault], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
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

    fn providers_after(
        &mut self,
        after: i64,
        limit: u32,
        each: &mut dyn FnMut(ProviderRow<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, name, config FROM autoscale_providers WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            each(ProviderRow {
                id: r.get(0)?,
                name: text_ref(r, 1)?,
                config: value_ref(r, 2)?,
            })?;
        }
        Ok(())
    }

    fn update_provider_configs(&mut self, page: Rewrites) -> Result<()> {
        let mut st = self
            .0
            .prepare_cached("UPDATE autoscale_providers SET config = ?2 WHERE id = ?1")?;
        for (id, config) in page.rows() {
            st.execute(params![id, config])?;
        }
        Ok(())
    }

    fn audit_head(&mut self) -> Result<(Option<String>, bool)> {
        // BEGIN IMMEDIATE already serializes the appends. The table is
        // found by naming it (a statement that does not prepare when it is
        // missing) rather than by a scan of sqlite_master on every append.
        let head = |sql| -> rusqlite::Result<Option<String>> {
            self.0.prepare_cached(sql)?.query_row([], |r| r.get(0))
        };
        match head(
            "SELECT (SELECT value FROM runqy_vault_meta WHERE name = 'audit_head'),
                    (SELECT 1 FROM runqy_vault_audit WHERE 0)",
        ) {
            Ok(h) => Ok((h, true)),
            Err(e) if is_no_such_table(&e, "runqy_vault_audit") => Ok((
                head("SELECT (SELECT value FROM runqy_vault_meta WHERE name = 'audit_head')")?,
                false,
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn audit_create(&mut self) -> Result<()> {
        Ok(self.0.execute_batch(schema::AUDIT_TABLE)?)
    }

    fn audit_insert(&mut self, row: &AuditRow<'_>) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO runqy_vault_audit
                     (seq, at, actor, operation, vault, key, version, fingerprint, detail, mac)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                row.seq,
                row.at,
                row.actor,
                row.operation,
                row.vault,
                row.key,
                row.version,
                row.fingerprint,
                row.detail,
                row.mac
            ])?;
        Ok(())
    }

    fn audit_after(&mut self, after: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM runqy_vault_audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![after, limit])?;
        while let Some(r) = rows.next()? {
            each(audit_at(r)?)?;
        }
        Ok(())
    }

    fn audit_before(&mut self, before: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM runqy_vault_audit WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![before, limit])?;
        while let Some(r) = rows.next()? {
            each(audit_at(r)?)?;
        }
        Ok(())
    }

    fn audit_last(&mut self) -> Result<Option<(i64, String)>> {
        Ok(self
            .0
            .prepare_cached("SELECT seq, mac FROM runqy_vault_audit ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn audit_set_macs(&mut self, page: MacRewrites) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE runqy_vault_audit SET mac = ?2, fingerprint = COALESCE(?3, fingerprint)
             WHERE seq = ?1",
        )?;
        for (seq, mac, seal) in page.rows() {
            st.execute(params![seq, mac, seal])?;
        }
        Ok(())
    }

    fn audit_replace(&mut self, row: &AuditRow<'_>) -> Result<()> {
        self.0
            .prepare_cached(
                "UPDATE runqy_vault_audit SET at = ?2, actor = ?3, operation = ?4, vault = ?5,
                     key = ?6, version = ?7, fingerprint = ?8, detail = ?9, mac = ?10
                 WHERE seq = ?1",
            )?
            .execute(params![
                row.seq,
                row.at,
                row.actor,
                row.operation,
                row.vault,
                row.key,
                row.version,
                row.fingerprint,
                row.detail,
                row.mac
            ])?;
        Ok(())
    }

    fn audit_last_before(&mut self, at: &str) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached("SELECT MAX(seq) FROM runqy_vault_audit WHERE at < ?1")?
            .query_row([at], |r| r.get(0))?)
    }

    fn audit_delete_below(&mut self, seq: i64) -> Result<u64> {
        let n = self
            .0
            .prepare_cached("DELETE FROM runqy_vault_audit WHERE seq < ?1")?
            .execute([seq])?;
        Ok(n as u64)
    }

    fn audit_reads_of(
        &mut self,
        vault: &str,
        key: &str,
        needle: &str,
        before: i64,
        limit: u32,
        each: &mut EachAudit<'_>,
    ) -> Result<()> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM runqy_vault_audit
             WHERE seq < ?4 AND (
                 (operation IN ('get', 'get-version') AND vault = ?1 AND key = ?2)
                 OR operation = 'export'
                 OR (operation IN ('payload', 'resolve') AND instr(detail, ?3) > 0))
             ORDER BY seq DESC LIMIT ?5"
        ))?;
        let mut rows = stmt.query(params![vault, key, needle, before, limit])?;
        while let Some(r) = rows.next()? {
            each(audit_at(r)?)?;
        }
        Ok(())
    }
}

/// The columns [`audit_at`] reads.
const AUDIT_COLUMNS: &str =
    "seq, at, actor, operation, vault, key, version, fingerprint, detail, mac";

/// An audit record borrowed from a row of [`AUDIT_COLUMNS`]. Text edited
/// into another type reads as empty, which fails the record's MAC.
fn audit_at<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<AuditRow<'r>> {
    use rusqlite::types::ValueRef;
    let text = |i: usize| -> rusqlite::Result<Option<&'r str>> {
        Ok(match r.get_ref(i)? {
            ValueRef::Text(t) => Some(std::str::from_utf8(t).unwrap_or("")),
            ValueRef::Null => None,
            _ => Some(""),
        })
    };
    let number = |i: usize| -> rusqlite::Result<Option<i64>> {
        Ok(match r.get_ref(i)? {
            ValueRef::Integer(n) => Some(n),
            ValueRef::Null => None,
            _ => Some(i64::MIN),
        })
    };
    Ok(AuditRow {
        seq: number(0)?.unwrap_or(i64::MIN),
        at: text(1)?.unwrap_or(""),
        actor: text(2)?.unwrap_or(""),
        operation: text(3)?.unwrap_or(""),
        vault: text(4)?,
        key: text(5)?,
        version: number(6)?,
        fingerprint: text(7)?,
        detail: text(8)?,
        mac: text(9)?.unwrap_or(""),
    })
}

/// Runs `f` on a read-only connection to an existing database, set up for
/// nothing but reading: `check` inspects a store this way when no key opens
/// it, without creating the file, its schema or a journal mode.
pub(crate) fn read_only<T>(path: &Path, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
    // As a read-only store opens: no -wal/-shm files made or left behind.
    let (conn, _) = ReadOnly::of(path).open()?;
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

    /// The bundled SQLite is built as `.cargo/config.toml` asks: no memory
    /// statistics and no shared page-cache group, so two threads' payloads
    /// take no process-wide mutex per allocation or page. Without that file
    /// (a build from outside the repository) this fails, and says why.
    #[test]
    fn bundled_sqlite_is_built_without_its_process_wide_mutexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join("o.db")).unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let hint = "LIBSQLITE3_FLAGS from .cargo/config.toml did not reach libsqlite3-sys's build";
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{hint}: {options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{hint}: {options:?}"
        );
        // The runtime state agrees: SQLite counts no memory.
        assert_eq!(unsafe { rusqlite::ffi::sqlite3_memory_used() }, 0);
    }
}
