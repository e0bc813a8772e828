//! The PostgreSQL backend: a pool of tokio-postgres clients, each on a
//! current-thread runtime of its own, and the primitive queries.
//!
//! Every wait is bounded (SPEC §2, issue 16): connecting by libpq's
//! `connect_timeout` (10 s when not given), every round trip by the
//! statement timeout (libpq's `options=-c statement_timeout=...`, 30 s when
//! not given, also set on the server) plus a grace, and a silent peer by TCP
//! keepalives and `tcp_user_timeout`. A frozen server (`kill -STOP`) answers
//! nothing yet keeps the TCP connection up, so only the client's own
//! deadline ends that wait: the sync `postgres` client has none, hence
//! tokio-postgres under our own `block_on`.
//!
//! A connection found dead on the first round trip of a call (a server
//! restart or failover closed it while it sat in the pool) is replaced and
//! that round trip sent again: nothing of the call had happened yet, so this
//! holds for reads and writes alike (a write's first round trip carries its
//! BEGIN). A connection lost later fails the call; a write then was not committed.
//! Every error names the host and database, never the password.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, Config, NoTls, Row, RowStream, Socket, Statement};

use super::backend::{
    cleanup_on_panic, Ahead, AuditRow, DigestMoves, Each, EachAudit, EachVersion, EntryRow, Head,
    KeyMeta, MacRewrites, MetaLock, Newest, ProviderRow, QueueRowFn, Reads, Rewrites, Stamp, Tx,
    VaultRow, VersionRow, AUDIT_READS_OFF,
};
use super::location::PostgresUrl;
use super::pg_tls::{self, Tls};
use super::pg_url::Parts;
use crate::error::{Error, Result, StorageError};
use crate::model::VaultSummary;
use crate::schema;

/// Connections open at once per `Store`, at most.
const MAX_CONNECTIONS: u32 = 16;
/// How long connecting may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The statement timeout when the URL's `options` set none.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the statement timeout the client waits for any
/// answer: on a live server the server's own cancel arrives first.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// TCP keepalives and the unacknowledged-data limit, when the URL sets none:
/// a host that vanished (a failover) is noticed in about a minute.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a call waits for a free pooled connection (or a new one).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// The advisory lock that serializes schema creation between processes ("runqyvlt").
const SCHEMA_LOCK: i64 = 0x7275_6e71_7976_6c74;

/// The statements [`Tx::ahead`] may send before they are asked (each
/// method below takes its answer instead of asking again).
const META_GET: &str = "SELECT value FROM runqy_vault_meta WHERE name = $1";
const KEY_META: &str =
    "SELECT name, value FROM runqy_vault_meta WHERE name IN ('format', 'key_id', 'key_ids')";
const KEY_META_SHARE: &str = "SELECT name, value FROM runqy_vault_meta
     WHERE name IN ('format', 'key_id', 'key_ids') FOR SHARE";
const KEY_META_UPDATE: &str = "SELECT name, value FROM runqy_vault_meta
     WHERE name IN ('format', 'key_id', 'key_ids') FOR UPDATE";
const TOUCH_VAULT: &str =
    "UPDATE vaults SET updated_at = NOW() WHERE name = $1 RETURNING id::bigint";
const NEWEST_VERSION: &str = "SELECT version, is_secret, entry_digest FROM runqy_vault_versions
     WHERE vault = $1 AND key = $2 ORDER BY version DESC LIMIT 1";
// One row per key given, in their order: the key's newest version or NULL
// (each `max` one probe of the UNIQUE (vault, key, version) index).
const NEWEST_VERSIONS: &str = "SELECT (SELECT max(v.version) FROM runqy_vault_versions v
             WHERE v.vault = $1 AND v.key = k.key)
     FROM unnest($2::text[]) WITH ORDINALITY AS k(key, n) ORDER BY k.n";
// The head's row is locked until commit: appends from every server
// sharing the database take their turn, so the chain never forks.
const AUDIT_HEAD: &str =
    "SELECT (SELECT value FROM runqy_vault_meta WHERE name = 'audit_head' FOR UPDATE),
            to_regclass('runqy_vault_audit') IS NOT NULL";

const GET_ENTRY: &str = "SELECT e.id::bigint, e.key, e.value, e.is_secret FROM vaults v
     LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = $2
     WHERE v.name = $1";
// The payload's rows: see `listed_entries`.
const LISTED_ENTRIES: &str = "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret,
            h.version, h.is_secret, h.entry_digest
     FROM unnest($1::text[]) WITH ORDINALITY AS l(name, pos)
     JOIN vaults v ON v.name = l.name
     LEFT JOIN vault_entries e ON e.vault_id = v.id
     LEFT JOIN LATERAL (
         SELECT version, is_secret, entry_digest FROM runqy_vault_versions
         WHERE vault = v.name AND key = e.key ORDER BY version DESC LIMIT 1
     ) h ON TRUE
     ORDER BY l.pos";

/// What an audited read ([`Pool::audited_read`]) sends with BEGIN. First
/// the `audit_reads` flag ($1, on unless $2) and, in the same statement and
/// only when the flag it read is on, the audit head locked as [`AUDIT_HEAD`]
/// locks it: a read with audit-reads off never waits for the head, nor
/// makes another read wait. One statement, so the flag the store goes by
/// and the lock always agree. Then what the read hands out, each in one
/// statement with the newest versions its record names, so a value and its
/// version come from one snapshot; taken after the head's lock, they also
/// see every write recorded before the read's record.
const READ_FLAG_AND_HEAD: &str = "SELECT f.value,
            (SELECT value FROM runqy_vault_meta
             WHERE name = 'audit_head' AND f.value IS DISTINCT FROM $2 FOR UPDATE),
            to_regclass('runqy_vault_audit') IS NOT NULL
     FROM (SELECT (SELECT value FROM runqy_vault_meta WHERE name = $1) AS value) f";
// GET_ENTRY's row, then the key's newest version as NEWEST_VERSION reads it.
const ENTRY_AND_NEWEST: &str = "SELECT e.id::bigint, e.key, e.value, e.is_secret,
            h.version, h.is_secret, h.entry_digest
     FROM vaults v
     LEFT JOIN vault_entries e ON e.vault_id = v.id AND e.key = $2
     LEFT JOIN LATERAL (
         SELECT version, is_secret, entry_digest FROM runqy_vault_versions
         WHERE vault = $1 AND key = $2 ORDER BY version DESC LIMIT 1
     ) h ON TRUE
     WHERE v.name = $1";

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

/// What every connection of a store is opened with.
struct Settings {
    config: Config,
    tls: Tls,
    /// "PostgreSQL database 'db' at host:port", for every error.
    label: String,
    /// The whole connect (socket, TLS, startup, authentication); `None`: no limit.
    connect_timeout: Option<Duration>,
    /// Any one round trip; `None` when the statement timeout is 0 (no limit).
    deadline: Option<Duration>,
    /// Round trips sent on this store's connections after they were opened
    /// (each query, prepare, batch, BEGIN, COMMIT): what the round-trip
    /// tests assert (`test_hooks::postgres_round_trips`).
    trips: AtomicU64,
}

/// A client on a runtime of its own, and the statements it has prepared:
/// each query is then one round trip (bind + execute) instead of two.
pub(crate) struct Conn {
    rt: tokio::runtime::Runtime,
    client: Client,
    statements: HashMap<&'static str, Statement>,
    /// Set when the connection failed or timed out: the pool drops it.
    broken: Cell<bool>,
}

/// A round trip's outcome before it is judged.
enum Trip<T> {
    Done(std::result::Result<T, tokio_postgres::Error>),
    TimedOut,
}

/// Runs `f` on the connection's runtime, within `deadline`.
fn block<F: Future<Output = std::result::Result<T, tokio_postgres::Error>>, T>(
    rt: &tokio::runtime::Runtime,
    deadline: Option<Duration>,
    f: F,
) -> Trip<T> {
    match deadline {
        Some(d) => match rt.block_on(async { tokio::time::timeout(d, f).await }) {
            Ok(out) => Trip::Done(out),
            Err(_) => Trip::TimedOut,
        },
        None => Trip::Done(rt.block_on(f)),
    }
}

impl Settings {
    fn from_url(url: &str) -> Result<Settings> {
        let parts = Parts::split(url).map_err(|reason| {
            Error::storage(format!("{}: {reason}", super::pg_url::describe(url)))
        })?;
        let label = parts.describe();
        let fail = |m: String| Error::storage(format!("{label}: {m}"));
        let tls = Tls::from_parts(&parts).map_err(fail)?;
        // tokio-postgres reads the rest; the TLS parameters are ours.
        let mut rest = format!("{}://", parts.scheme);
        if let Some(user) = parts.user {
            rest.push_str(user);
        }
        if let Some(password) = parts.password() {
            rest.push(':');
            rest.push_str(password);
        }
        if parts.user.is_some() || parts.password().is_some() {
            rest.push('@');
        }
        rest.push_str(parts.hosts);
        rest.push('/');
        rest.push_str(parts.dbname);
        let kept: Vec<String> = parts
            .params
            .iter()
            .filter(|(k, _)| !pg_tls::PARAMS.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !kept.is_empty() {
            rest.push('?');
            rest.push_str(&kept.join("&"));
        }
        let mut config: Config = rest.parse().map_err(|e| storage(&label, e))?;
        config.ssl_mode(tls.mode.client_mode());
        let given = |key: &str| parts.param(key).is_some();

        let connect_timeout = match parts.param("connect_timeout") {
            // libpq: zero or negative waits for ever (tokio-postgres agrees).
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.unsigned_abs())),
            None => {
                config.connect_timeout(CONNECT_TIMEOUT);
                Some(CONNECT_TIMEOUT)
            }
        };
        let options = config.get_options().unwrap_or("").to_owned();
        let statement_timeout = match statement_timeout_in(&options).map_err(fail)? {
            Some(t) => t,
            None => {
                let ms = STATEMENT_TIMEOUT.as_millis();
                config.options(format!("{options} -c statement_timeout={ms}").trim_start());
                STATEMENT_TIMEOUT
            }
        };
        let deadline = (!statement_timeout.is_zero()).then(|| statement_timeout + DEADLINE_GRACE);
        if !given("keepalives_idle") {
            config.keepalives_idle(KEEPALIVES_IDLE);
        }
        if !given("keepalives_interval") {
            config.keepalives_interval(KEEPALIVES_INTERVAL);
        }
        if !given("keepalives_retries") {
            config.keepalives_retries(KEEPALIVES_RETRIES);
        }
        if !given("tcp_user_timeout") {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("runqy-vault");
        }
        Ok(Settings {
            config,
            tls,
            label,
            connect_timeout,
            deadline,
            trips: AtomicU64::new(0),
        })
    }

    /// A new connection, within the connect timeout.
    fn connect(&self) -> Result<Conn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::storage(format!("{}: cannot start a runtime: {e}", self.label)))?;
        let config = &self.config;
        let opened = block(&rt, self.connect_timeout, async {
            match &self.tls.connector {
                None => open(config, NoTls).await,
                Some(tls) => open(config, tls.clone()).await,
            }
        });
        let client = match opened {
            Trip::Done(Ok(client)) => client,
            Trip::Done(Err(e)) => {
                return Err(match self.tls.explain(&e) {
                    // The rustls text is in `why`; the client's own adds nothing.
                    Some(why) => Error::Storage(
                        StorageError::new(format!("{}: TLS: {why}", self.label))
                            .caused_by(e, false),
                    ),
                    None => storage(&self.label, e),
                });
            }
            Trip::TimedOut => {
                return Err(Error::Storage(
                    StorageError::new(format!(
                        "{}: could not connect within {} s (connect_timeout): the server may be \
                         down, stopped or unreachable",
                        self.label,
                        self.connect_timeout.unwrap_or_default().as_secs()
                    ))
                    .retry(true),
                ))
            }
        };
        Ok(Conn {
            rt,
            client,
            statements: HashMap::new(),
            broken: Cell::new(false),
        })
    }
}

/// Connects and hands the connection's I/O to a task on the current runtime.
async fn open<T>(config: &Config, tls: T) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The statement timeout set by libpq's `options` (`-c statement_timeout=5s`,
/// `-cstatement_timeout=5000`, `--statement_timeout=5s`), in PostgreSQL's
/// units (ms when none); `None` when it sets none.
fn statement_timeout_in(options: &str) -> std::result::Result<Option<Duration>, String> {
    let mut found = None;
    let mut words = options.split_whitespace();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next().unwrap_or(""),
            w => w
                .strip_prefix("--")
                .or_else(|| w.strip_prefix("-c"))
                .unwrap_or(""),
        };
        let Some((name, value)) = setting.split_once('=') else {
            continue;
        };
        if name.replace('-', "_") != "statement_timeout" {
            continue;
        }
        let value = value.trim_matches(['\'', '"']);
        let digits = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let (number, unit) = value.split_at(digits);
        let ms_per: u64 = match unit.trim() {
            "" | "ms" => 1,
            "s" => 1_000,
            "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => 0,
        };
        let n: u64 = number.parse().unwrap_or(u64::MAX);
        if ms_per == 0 || n == u64::MAX {
            return Err(format!(
                "options: statement_timeout '{}' is not a duration (e.g. 5000, 5s, 2min)",
                value.escape_debug()
            ));
        }
        found = Some(Duration::from_millis(n.saturating_mul(ms_per)));
    }
    Ok(found)
}

/// Opens connections for r2d2. (`r2d2_postgres` hands out a bare client,
/// with no place for the statement cache or the deadlines.)
struct Manager {
    settings: Arc<Settings>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn> {
        self.settings.connect()
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<()> {
        match block(
            &conn.rt,
            self.settings.deadline,
            conn.client.batch_execute(""),
        ) {
            Trip::Done(Ok(())) => Ok(()),
            Trip::Done(Err(e)) => Err(storage(&self.settings.label, e)),
            Trip::TimedOut => Err(Error::storage("no answer")),
        }
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken.get() || conn.client.is_closed()
    }
}

/// A PostgreSQL store's connections.
pub(crate) struct Pool {
    pool: r2d2::Pool<Manager>,
    settings: Arc<Settings>,
    /// Set once the server refused an audited read's first round trip for
    /// good (see [`Pool::audited_read`]): this store's reads then go as
    /// they would without it.
    read_ahead_refused: AtomicBool,
}

/// An audited read's connection and what its call has sent and read so
/// far, pinned to the thread for the call: the read's statements and its
/// record all run in its one transaction.
struct Held {
    conn: r2d2::PooledConnection<Manager>,
    state: Suspended,
    /// Its transaction was ended; otherwise dropping it drops the
    /// connection (a panic), so none goes back to the pool inside one.
    ended: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.broken.set(true);
        }
    }
}

impl Held {
    /// Runs `f` in the held transaction, then keeps what it sent and left.
    fn run<T>(
        &mut self,
        settings: &Settings,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        let mut pg = Pg::resume(&mut self.conn, settings, std::mem::take(&mut self.state));
        let out = f(&mut pg);
        self.state = pg.suspend();
        out
    }
}

std::thread_local! {
    /// The connection an audited read holds its transaction on, with the
    /// address of its pool (as SQLite's pin, `sqlite.rs`).
    static PINNED: RefCell<Option<(usize, Held)>> = const { RefCell::new(None) };
}

impl Pool {
    /// Reads the URL and its TLS files, then checks the server by opening one
    /// connection now, so a bad URL, password, certificate or server fails
    /// `open` at once with the reason.
    pub(crate) fn connect(url: &PostgresUrl) -> Result<Pool> {
        let settings = Arc::new(Settings::from_url(url.expose())?);
        drop(settings.connect()?);
        let manager = Manager {
            settings: Arc::clone(&settings),
        };
        let pool = r2d2::Pool::builder()
            .max_size(MAX_CONNECTIONS)
            .min_idle(Some(0))
            // A dead connection shows on its first round trip, which is then
            // sent again on a new one (`Pg::settle`); a check on every
            // checkout would double the round trips.
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
        Ok(Pool {
            pool,
            settings,
            read_ahead_refused: AtomicBool::new(false),
        })
    }

    /// This thread's pinned connection of this pool, taken out of the pin.
    fn unpin(&self) -> Option<Held> {
        let me = self as *const Pool as usize;
        PINNED.with(|p| {
            let mut p = p.borrow_mut();
            match p.take() {
                Some((pool, held)) if pool == me => Some(held),
                other => {
                    *p = other;
                    None
                }
            }
        })
    }

    /// Puts `held` back into this thread's pin.
    fn pin(&self, held: Held) {
        let me = self as *const Pool as usize;
        // Replaces nothing: `audited_read` pins only when no call of this thread is pinned.
        let before = PINNED.with(|p| p.borrow_mut().replace((me, held)));
        drop(before);
    }

    fn is_pinned(&self) -> bool {
        PINNED.with(|p| p.borrow().is_some())
    }

    /// Runs `f`, a small read that hands out plaintext (its body, and its
    /// audit record while audit-reads is on), in one READ COMMITTED
    /// transaction on one connection, pinned to this thread for the call:
    /// `read_one`, `listed_entries`, the flag and `write` of this pool on
    /// this thread run in it. Its first round trip is BEGIN, the flag with
    /// the audit head locked only when the flag is on, and `reads` (see
    /// [`READ_FLAG_AND_HEAD`]); `f`'s asks are answered from those, so a
    /// `get` or a payload, its git token included, costs 2 round trips:
    /// that one, and the record's insert and head with COMMIT, or COMMIT
    /// alone with audit-reads off (5 and 4 before, as the flag, the reads
    /// and the record's own transaction of 2 came one after the other; off,
    /// 2 then too; a payload's git token added 2, or 1 off, until it was
    /// said ahead as well).
    ///
    /// A first round trip the server refuses for what its statements are
    /// (`refused_for_good`: a history table dropped by hand, which the reads
    /// do without) is rolled back, and `f` runs as it would without, meeting
    /// the error there if it needs what is missing; so do this store's
    /// reads from then on: only that first read pays for the attempt.
    pub(crate) fn audited_read<T>(
        &self,
        reads: &Reads<'_>,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if reads.is_empty() || self.read_ahead_refused.load(Ordering::Relaxed) || self.is_pinned() {
            return f();
        }
        let mut conn = self.get()?;
        let mut pg = Pg::new(&mut conn, &self.settings);
        pg.begin = Some("BEGIN");
        if let Err(e) = pg.read_first(reads) {
            pg.rollback();
            if pg.conn.broken.get() || !refused_for_good(&e) {
                return Err(e);
            }
            self.read_ahead_refused.store(true, Ordering::Relaxed);
            drop(conn);
            return f();
        }
        let state = pg.suspend();
        self.pin(Held {
            conn,
            state,
            ended: false,
        });
        // A panic in `f` leaves the connection pinned inside its transaction:
        // it is taken out and dropped (`Held`'s drop).
        let out = cleanup_on_panic(|| drop(self.unpin()), f);
        let Some(mut held) = self.unpin() else {
            return Err(Error::storage(format!(
                "{}: an audited read's connection was not handed back",
                self.settings.label
            )));
        };
        let state = std::mem::take(&mut held.state);
        let out = Pg::resume(&mut held.conn, &self.settings, state).end(out);
        held.ended = true;
        out
    }

    /// Round trips sent so far (see `Settings::trips`).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn round_trips(&self) -> u64 {
        self.settings.trips.load(Ordering::Relaxed)
    }

    fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(|e| {
            Error::Storage(
                StorageError::new(format!(
                    "{}: no connection within {} s: {e}",
                    self.settings.label,
                    CHECKOUT_TIMEOUT.as_secs()
                ))
                .retry(true),
            )
        })
    }

    /// One statement, in autocommit: no BEGIN/COMMIT round trips (inside
    /// an audited read, in its transaction, answered from what it read ahead).
    pub(crate) fn read_one<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        if let Some(mut held) = self.unpin() {
            let out = held.run(&self.settings, f);
            self.pin(held);
            return out;
        }
        let mut conn = self.get()?;
        let mut pg = Pg::new(&mut conn, &self.settings);
        let out = f(&mut pg)?;
        pg.flush()?;
        Ok(out)
    }

    /// A REPEATABLE READ, READ ONLY transaction: its statements see one snapshot.
    pub(crate) fn read_snapshot<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.get()?;
        let mut pg = Pg::new(&mut conn, &self.settings);
        pg.begin = Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        match f(&mut pg) {
            Ok(out) => match pg.commit() {
                Ok(()) => Ok(out),
                Err(e) => {
                    pg.rollback();
                    Err(e)
                }
            },
            Err(e) => {
                pg.rollback();
                Err(e)
            }
        }
    }

    /// A READ COMMITTED write transaction, committed when `f` succeeds and
    /// rolled back when it fails. A connection lost before COMMIT leaves
    /// nothing written (the server rolls back), and the error says so.
    /// Inside an audited read (its record), `f` runs in the read's
    /// transaction, which `audited_read` ends the same way.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        if let Some(mut held) = self.unpin() {
            let out = held.run(&self.settings, f);
            self.pin(held);
            return out;
        }
        let mut conn = self.get()?;
        let mut pg = Pg::new(&mut conn, &self.settings);
        // BEGIN goes out with the first statement, and the writes whose
        // answer nothing waits for go out with the next statement or with COMMIT.
        pg.begin = Some("BEGIN");
        let out = f(&mut pg);
        pg.end(out)
    }
}

/// Whether the server's refusal of an audited read's first round trip
/// would come back on every such read, while the read itself may do
/// without what was refused: a table or column missing or a privilege
/// lacking (class 42: a history table dropped by hand; a role that may read
/// but not lock the audit head, which the server checks before it knows
/// whether the flag is on), or a read-only transaction (which refuses
/// `FOR UPDATE` the same way). Not a timeout or a lost connection: trying
/// again the other way would only wait twice.
fn refused_for_good(e: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(db) = c
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.as_db_error())
        {
            let code = db.code();
            return code.code().starts_with("42")
                || *code == tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION;
        }
        cause = c.source();
    }
    false
}

impl Pg<'_> {
    /// Ends a write transaction as `out` says: COMMIT (with the writes
    /// held back) after a success, ROLLBACK after a failure. A connection
    /// lost on the way says what became of the write.
    fn end<T>(&mut self, out: Result<T>) -> Result<T> {
        match out {
            Ok(out) => match self.commit() {
                Ok(()) => Ok(out),
                Err(Error::Storage(s)) if self.conn.broken.get() => Err(Error::Storage(s.noted(
                    "the connection was lost during COMMIT: the write may or may not have been committed",
                ))),
                Err(e) => {
                    // A held-back write that could not even be prepared left
                    // the transaction open: end it before the pool takes the connection.
                    self.rollback();
                    Err(e)
                }
            },
            Err(e) => {
                self.rollback();
                match e {
                    Error::Storage(s) if self.conn.broken.get() => Err(Error::Storage(
                        s.noted("the write was not committed: nothing changed"),
                    )),
                    e => Err(e),
                }
            }
        }
    }
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
    if lost(e) {
        return true;
    }
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(db) = c
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.as_db_error())
        {
            use tokio_postgres::error::SqlState;
            let code = db.code();
            return *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED;
        }
        cause = c.source();
    }
    false
}

/// Whether the connection itself is gone: closed, an I/O error, or the
/// server ending the session (shutdown, restart, `pg_terminate_backend`).
fn lost(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(pg) = c.downcast_ref::<tokio_postgres::Error>() {
            if pg.is_closed() {
                return true;
            }
            if let Some(db) = pg.as_db_error() {
                use tokio_postgres::error::SqlState;
                let code = db.code();
                return *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW;
            }
        }
        if c.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The primitive queries of one call, on one pooled connection.
struct Pg<'a> {
    conn: &'a mut Conn,
    settings: &'a Settings,
    /// Round trips of this call that got an answer.
    answered: usize,
    /// Whether the connection was replaced once already in this call.
    replaced: bool,
    /// The BEGIN of this call's transaction, not sent yet: it goes out with
    /// the first statement, in the same round trip.
    begin: Option<&'static str>,
    /// Writes whose answer nothing waits for, sent with the next round trip
    /// (in order, before its statements) or with COMMIT. One that fails
    /// aborts the transaction, so COMMIT then rolls back: nothing half-written.
    pending: Vec<Deferred>,
    /// Answers read ahead by [`Tx::ahead`], each taken by the call that asks it.
    ahead: Vec<ReadAhead>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];
/// A parameter owned by a write sent later.
type Owned = Box<dyn ToSql + Sync + Send>;
/// The most writes held back before they are sent on their own.
const MAX_PENDING: usize = 256;

/// A write put off to the next round trip.
struct Deferred {
    sql: &'static str,
    params: Vec<Owned>,
}

/// An answer read ahead: the statement that would be asked, what about, and
/// its answer.
struct ReadAhead {
    sql: &'static str,
    about: String,
    answer: Known,
}

/// What was read ahead for one ask.
enum Known {
    /// The statement's own rows.
    Rows(Vec<Row>),
    /// A meta value ([`META_GET`]'s answer), read in another statement.
    Meta(Option<String>),
    /// The audit head, locked, and whether the table exists ([`AUDIT_HEAD`]'s answer).
    Head(Option<String>, bool),
    /// A key's newest version ([`NEWEST_VERSION`]'s answer).
    Newest(Option<Head>),
}

/// What a [`Pg`] has sent and read, kept while an audited read's connection
/// is pinned between the calls that use it ([`Held`]).
#[derive(Default)]
struct Suspended {
    answered: usize,
    replaced: bool,
    begin: Option<&'static str>,
    pending: Vec<Deferred>,
    ahead: Vec<ReadAhead>,
}

/// One statement of a round trip.
enum Ask<'p> {
    /// A prepared statement whose rows are wanted.
    Rows(&'static str, Params<'p>),
    /// A prepared statement whose count of rows changed is wanted.
    Count(&'static str, Params<'p>),
    /// A prepared statement whose rows are read one at a time as they arrive
    /// ([`Pg::each_row`]); only ever the last ask of a round trip, since
    /// the answers behind it would wait for rows nobody reads yet.
    Stream(&'static str, Params<'p>),
    /// Statements without parameters, by the simple protocol (BEGIN, COMMIT, DDL).
    Simple(&'p str),
}

/// An answer to an [`Ask`].
enum Answer {
    Rows(Vec<Row>),
    Count(u64),
    Stream(Pin<Box<RowStream>>),
}

type PgResult<T> = std::result::Result<T, tokio_postgres::Error>;
type Pending<'f> = Pin<Box<dyn Future<Output = PgResult<Answer>> + 'f>>;

/// Polls `futures` in their order until every one is done: each sends its
/// request on its first poll, so they leave as one pipeline, in order, and
/// the server answers them in one round trip. (A join of our own: the
/// order of the first polls is the point, and `join_all` does not promise it.)
/// One that fails on its first poll was not sent (a parameter that would not
/// encode, a closed connection): none after it is sent either, so a COMMIT
/// behind it never commits the transaction without it. The first error in
/// order wins: the later statements of a failed transaction only say it was aborted.
async fn in_order(mut futures: Vec<Pending<'_>>) -> PgResult<Vec<Answer>> {
    let mut answers: Vec<Option<PgResult<Answer>>> = futures.iter().map(|_| None).collect();
    let mut started = 0;
    let mut unsent = false;
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, (f, answer)) in futures.iter_mut().zip(answers.iter_mut()).enumerate() {
            if answer.is_some() || (i >= started && unsent) {
                continue;
            }
            let first = i >= started;
            started = started.max(i + 1);
            match f.as_mut().poll(cx) {
                Poll::Ready(a) => {
                    unsent |= first && a.is_err();
                    *answer = Some(a);
                }
                Poll::Pending => done = false,
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    answers.into_iter().flatten().collect()
}

impl<'a> Pg<'a> {
    fn new(conn: &'a mut Conn, settings: &'a Settings) -> Pg<'a> {
        Pg {
            conn,
            settings,
            answered: 0,
            replaced: false,
            begin: None,
            pending: Vec::new(),
            ahead: Vec::new(),
        }
    }

    /// A call's transaction picked up where [`Pg::suspend`] left it.
    fn resume(conn: &'a mut Conn, settings: &'a Settings, state: Suspended) -> Pg<'a> {
        Pg {
            conn,
            settings,
            answered: state.answered,
            replaced: state.replaced,
            begin: state.begin,
            pending: state.pending,
            ahead: state.ahead,
        }
    }

    /// What this call has sent and read so far, for [`Pg::resume`].
    fn suspend(self) -> Suspended {
        Suspended {
            answered: self.answered,
            replaced: self.replaced,
            begin: self.begin,
            pending: self.pending,
            ahead: self.ahead,
        }
    }

    /// Sends one round trip on the connection's runtime, within the deadline, and counts it.
    fn send<F: Future<Output = std::result::Result<T, tokio_postgres::Error>>, T>(
        &self,
        f: F,
    ) -> Trip<T> {
        self.settings.trips.fetch_add(1, Ordering::Relaxed);
        block(&self.conn.rt, self.settings.deadline, f)
    }

    /// Judges a round trip: `Ok(Some(v))` answered, `Ok(None)` send it again
    /// (the connection was dead before anything of this call happened, and
    /// has been replaced), `Err` the call fails.
    fn settle<T>(&mut self, trip: Trip<T>) -> Result<Option<T>> {
        match trip {
            Trip::Done(Ok(v)) => {
                self.answered += 1;
                Ok(Some(v))
            }
            Trip::Done(Err(e)) => {
                if !lost(&e) {
                    return Err(storage(&self.settings.label, e));
                }
                self.conn.broken.set(true);
                if self.answered > 0 || self.replaced {
                    return Err(storage(&self.settings.label, e));
                }
                self.replaced = true;
                *self.conn = self.settings.connect()?;
                Ok(None)
            }
            Trip::TimedOut => {
                self.conn.broken.set(true);
                let secs = self.settings.deadline.unwrap_or_default().as_secs();
                Err(Error::Storage(
                    StorageError::new(format!(
                        "{}: no answer within {secs} s (the statement timeout and {} s of grace): \
                         the server may be stopped or unreachable; the connection was dropped",
                        self.settings.label,
                        DEADLINE_GRACE.as_secs()
                    ))
                    .retry(true),
                ))
            }
        }
    }

    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(st) = self.conn.statements.get(sql) {
            return Ok(st.clone());
        }
        loop {
            let trip = self.send(self.conn.client.prepare(sql));
            if let Some(st) = self.settle(trip)? {
                self.conn.statements.insert(sql, st.clone());
                return Ok(st);
            }
        }
    }

    /// One round trip: the BEGIN not sent yet, the writes put off, then
    /// `asks`, pipelined; the answers to `asks`. Statements not prepared on
    /// this connection yet are prepared first, a round trip each.
    fn trip(&mut self, asks: &[Ask<'_>]) -> Result<Vec<Answer>> {
        if asks.is_empty() && self.pending.is_empty() {
            return Ok(Vec::new());
        }
        loop {
            let mut statements = Vec::with_capacity(self.pending.len() + asks.len());
            for i in 0..self.pending.len() {
                statements.push(self.statement(self.pending[i].sql)?);
            }
            for ask in asks {
                match ask {
                    Ask::Rows(sql, _) | Ask::Count(sql, _) | Ask::Stream(sql, _) => {
                        statements.push(self.statement(sql)?)
                    }
                    Ask::Simple(_) => {}
                }
            }
            let deferred: Vec<Vec<&(dyn ToSql + Sync)>> = self
                .pending
                .iter()
                .map(|d| {
                    d.params
                        .iter()
                        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                        .collect()
                })
                .collect();
            let client = &self.conn.client;
            let mut futures: Vec<Pending<'_>> = Vec::new();
            if let Some(begin) = self.begin {
                futures.push(Box::pin(async move {
                    client.batch_execute(begin).await.map(|()| Answer::Count(0))
                }));
            }
            let mut prepared = statements.iter();
            for params in &deferred {
                let st = prepared.next();
                futures.push(Box::pin(async move {
                    match st {
                        Some(st) => client.execute(st, params).await.map(Answer::Count),
                        None => Ok(Answer::Count(0)), // one statement per write, above
                    }
                }));
            }
            for ask in asks {
                let st = match ask {
                    Ask::Simple(_) => None,
                    _ => prepared.next(),
                };
                futures.push(Box::pin(async move {
                    match (ask, st) {
                        (Ask::Rows(_, params), Some(st)) => {
                            client.query(st, params).await.map(Answer::Rows)
                        }
                        (Ask::Count(_, params), Some(st)) => {
                            client.execute(st, params).await.map(Answer::Count)
                        }
                        // Done once the server has bound the statement: the
                        // rows follow, read by the caller.
                        (Ask::Stream(_, params), Some(st)) => client
                            .query_raw(st, params.iter().copied())
                            .await
                            .map(|rows| Answer::Stream(Box::pin(rows))),
                        (Ask::Simple(sql), _) => {
                            client.batch_execute(sql).await.map(|()| Answer::Count(0))
                        }
                        _ => Ok(Answer::Count(0)), // every prepared ask has its statement
                    }
                }));
            }
            let trip = self.send(in_order(futures));
            let skip = usize::from(self.begin.is_some()) + self.pending.len();
            let settled = self.settle(trip);
            if !matches!(settled, Ok(None)) {
                // Answered or refused, BEGIN and the held-back writes went
                // out: a refused trip left the transaction open (aborted),
                // and only a ROLLBACK ends it before the pool takes the
                // connection back. (Kept as unsent, `rollback` sent none.)
                self.begin = None;
                self.pending.clear();
            }
            if let Some(mut answers) = settled? {
                return Ok(answers.split_off(skip.min(answers.len())));
            }
        }
    }

    /// Sends the writes put off, if any (before a read-only call ends).
    fn flush(&mut self) -> Result<()> {
        self.trip(&[]).map(drop)
    }

    /// Puts off a write whose answer nothing waits for to the next round trip.
    fn defer(&mut self, sql: &'static str, params: Vec<Owned>) -> Result<()> {
        self.pending.push(Deferred { sql, params });
        if self.pending.len() >= MAX_PENDING {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the transaction: the writes put off and COMMIT, in one round
    /// trip. A transaction that sent nothing yet has nothing to end.
    fn commit(&mut self) -> Result<()> {
        if self.begin.is_some() && self.pending.is_empty() {
            self.begin = None;
            return Ok(());
        }
        self.trip(&[Ask::Simple("COMMIT")]).map(drop)
    }

    /// Statements without parameters (the schema).
    fn batch(&mut self, sql: &str) -> Result<()> {
        self.trip(&[Ask::Simple(sql)]).map(drop)
    }

    /// Ends a failed transaction; a connection that cannot is dropped.
    fn rollback(&mut self) {
        self.pending.clear();
        self.ahead.clear();
        if self.begin.take().is_some() || self.conn.broken.get() {
            return; // nothing of it was sent
        }
        let trip = self.send(self.conn.client.batch_execute("ROLLBACK"));
        if !matches!(trip, Trip::Done(Ok(()))) {
            self.conn.broken.set(true);
        }
    }

    /// The answer to `sql` about `about` read ahead, if it was.
    fn read_ahead(&mut self, sql: &'static str, about: &str) -> Option<Known> {
        let at = self
            .ahead
            .iter()
            .position(|a| a.sql == sql && a.about == about)?;
        Some(self.ahead.swap_remove(at).answer)
    }

    /// The rows of `sql` about `about` read ahead, if they were.
    fn rows_ahead(&mut self, sql: &'static str, about: &str) -> Option<Vec<Row>> {
        match self.read_ahead(sql, about)? {
            Known::Rows(rows) => Some(rows),
            _ => None, // never stored under a statement of rows: asked again
        }
    }

    /// An audited read's first round trip, with BEGIN: the flag and the
    /// head ([`READ_FLAG_AND_HEAD`]), then what `reads` says, each kept as
    /// the answer of the ask it stands for.
    fn read_first(&mut self, reads: &Reads<'_>) -> Result<()> {
        let flag: [&(dyn ToSql + Sync); 2] = [&schema::META_AUDIT_READS, &AUDIT_READS_OFF];
        let entry: Option<[&(dyn ToSql + Sync); 2]> = reads.entry.as_ref().map(|(v, k)| {
            let pair: [&(dyn ToSql + Sync); 2] = [v, k];
            pair
        });
        let listed: Option<[&(dyn ToSql + Sync); 1]> = reads.listed.as_ref().map(|names| {
            let one: [&(dyn ToSql + Sync); 1] = [names];
            one
        });
        // In the body's order (a payload's vaults, then its git token); each
        // answer is kept under its own ask, so both are answered.
        let mut asks = vec![Ask::Rows(READ_FLAG_AND_HEAD, &flag)];
        if let Some(params) = listed.as_ref() {
            asks.push(Ask::Rows(LISTED_ENTRIES, params));
        }
        if let Some(params) = entry.as_ref() {
            asks.push(Ask::Rows(ENTRY_AND_NEWEST, params));
        }
        let mut answers = self.trip(&asks)?.into_iter();
        let mut rows = || match answers.next() {
            Some(Answer::Rows(rows)) => Some(rows),
            _ => None,
        };

        let head = rows().ok_or_else(|| self.no_answer())?;
        let head = self.at_most_one(head)?.ok_or_else(|| self.no_answer())?;
        let flag: Option<String> = self.col(&head, 0)?;
        // The statement's own test, so the head is taken as locked exactly
        // when it was: the core's flag check then asks for it.
        if flag.as_deref() != Some(AUDIT_READS_OFF) {
            let head = Known::Head(self.col(&head, 1)?, self.col(&head, 2)?);
            self.keep(AUDIT_HEAD, String::new(), head);
        }
        let about = schema::META_AUDIT_READS.to_owned();
        self.keep(META_GET, about, Known::Meta(flag));

        if let Some(names) = &reads.listed {
            let found = rows().ok_or_else(|| self.no_answer())?;
            self.keep(LISTED_ENTRIES, listed_about(names), Known::Rows(found));
        }
        if let Some((vault, key)) = reads.entry {
            let found = rows().ok_or_else(|| self.no_answer())?;
            let about = entry_about(vault, key);
            // No row: no such vault, and the read asks no version.
            if let [r] = &found[..] {
                let newest = match self.col::<Option<i64>>(r, 4)? {
                    Some(version) => Some(Head {
                        version,
                        is_secret: self.col::<Option<bool>>(r, 5)?.unwrap_or(true),
                        entry_digest: self.col(r, 6)?,
                    }),
                    None => None,
                };
                self.keep(NEWEST_VERSION, about.clone(), Known::Newest(newest));
            }
            self.keep(ENTRY_AND_NEWEST, about, Known::Rows(found));
        }
        Ok(())
    }

    fn keep(&mut self, sql: &'static str, about: String, answer: Known) {
        self.ahead.push(ReadAhead { sql, about, answer });
    }

    fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        match self.trip(&[Ask::Rows(sql, params)])?.pop() {
            Some(Answer::Rows(rows)) => Ok(rows),
            _ => Err(self.no_answer()),
        }
    }

    /// A pipeline that did not end with the answer its last request asks
    /// for: a bug of ours, never a server's state. An error, not an empty
    /// answer, so no scan (rotation's, an export's) takes it for an empty
    /// store and carries on.
    fn no_answer(&self) -> Error {
        Error::storage(format!(
            "{}: a statement's answer was missing or of another kind (an internal error)",
            self.settings.label
        ))
    }

    /// Calls `f` on each row of `sql` as it arrives, so a page of large rows
    /// (audit records' details) is never held whole: tokio-postgres hands
    /// rows over through a channel of one message batch, and stops reading
    /// the socket while that is full. One round trip, like [`Pg::query`]
    /// (the waits for more rows send nothing, so they are not counted as
    /// round trips), each wait bounded by the deadline too. `f` runs outside
    /// the runtime, between waits: the server waits meanwhile.
    fn each_row(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
        mut f: impl FnMut(&Self, &Row) -> Result<()>,
    ) -> Result<()> {
        let Some(Answer::Stream(mut rows)) = self.trip(&[Ask::Stream(sql, params)])?.pop() else {
            return Err(self.no_answer());
        };
        loop {
            let next =
                std::future::poll_fn(|cx| rows.as_mut().poll_next(cx).map(Option::transpose));
            let trip = block(&self.conn.rt, self.settings.deadline, next);
            // Answered already, so a lost connection fails the call (`settle`
            // replaces one only before a call's first answer).
            match self.settle(trip)? {
                Some(Some(row)) => f(self, &row)?,
                Some(None) => return Ok(()),
                None => {
                    return Err(Error::storage(format!(
                        "{}: the connection was lost while rows were read",
                        self.settings.label
                    )))
                }
            }
        }
    }

    fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>> {
        let rows = self.query(sql, params)?;
        self.at_most_one(rows)
    }

    /// The one row of an answer, if any; more is an error, as `query_opt` says.
    fn at_most_one(&self, mut rows: Vec<Row>) -> Result<Option<Row>> {
        if rows.len() > 1 {
            return Err(Error::storage(format!(
                "{}: a query of one row returned {}",
                self.settings.label,
                rows.len()
            )));
        }
        Ok(rows.pop())
    }

    fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        match self.trip(&[Ask::Count(sql, params)])?.pop() {
            Some(Answer::Count(n)) => Ok(n),
            _ => Err(self.no_answer()),
        }
    }

    fn col<'r, T: FromSql<'r>>(&self, row: &'r Row, idx: usize) -> Result<T> {
        row.try_get(idx)
            .map_err(|e| storage(&self.settings.label, e))
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
            id: Some(id),
            key: self.col(row, at + 1)?,
            value: self.col(row, at + 2)?,
            is_secret: self.col::<Option<bool>>(row, at + 3)?.unwrap_or(true),
            created_at,
            updated_at,
            newest: None,
            memo: None,
        }))
    }

    /// `entry` with its key's newest kept version from columns `at..`
    /// (`version, is_secret, entry_digest`; NULL: none).
    fn versioned<'r>(
        &self,
        entry: Option<EntryRow<'r>>,
        row: &'r Row,
        at: usize,
    ) -> Result<Option<EntryRow<'r>>> {
        let Some(mut entry) = entry else {
            return Ok(None);
        };
        if let Some(version) = self.col::<Option<i64>>(row, at)? {
            entry.newest = Some(Newest {
                version,
                is_secret: self.col::<Option<bool>>(row, at + 1)?.unwrap_or(true),
                digest: self.col(row, at + 2)?,
            });
        }
        Ok(Some(entry))
    }

    /// An audit record from columns `seq, at, actor, operation, vault, key,
    /// version, fingerprint, detail, mac`.
    fn audit_at<'r>(&self, row: &'r Row) -> Result<AuditRow<'r>> {
        Ok(AuditRow {
            seq: self.col(row, 0)?,
            at: self.col(row, 1)?,
            actor: self.col(row, 2)?,
            operation: self.col(row, 3)?,
            vault: self.col(row, 4)?,
            key: self.col(row, 5)?,
            version: self.col(row, 6)?,
            fingerprint: self.col(row, 7)?,
            detail: self.col(row, 8)?,
            mac: self.col(row, 9)?,
        })
    }
}

impl Pg<'_> {
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

/// The key-check statement for `lock`.
fn key_meta_sql(lock: MetaLock) -> &'static str {
    match lock {
        MetaLock::None => KEY_META,
        MetaLock::Shared => KEY_META_SHARE,
        MetaLock::Exclusive => KEY_META_UPDATE,
    }
}

/// What a read ahead of one entry was about.
fn entry_about(vault: &str, key: &str) -> String {
    format!("{vault}\0{key}")
}

/// What a read ahead of listed vaults was about: each name after its
/// length, so no two lists are told apart by a separator a name may hold.
fn listed_about(names: &[&str]) -> String {
    let mut about = String::with_capacity(names.iter().map(|n| n.len() + 4).sum());
    for name in names {
        let _ = write!(about, "{}:{name}", name.len()); // writing to a String cannot fail
    }
    about
}

impl Tx for Pg<'_> {
    fn ahead(&mut self, ahead: &Ahead<'_>) -> Result<()> {
        // In the order the operation asks them, so its locks are taken in
        // the same order as without the read-ahead.
        let limit_name = crate::schema::META_HISTORY_LIMIT;
        let mut asks: Vec<Ask<'_>> = Vec::new();
        let mut about: Vec<(&'static str, String)> = Vec::new();
        if let Some(lock) = ahead.key_meta {
            asks.push(Ask::Rows(key_meta_sql(lock), &[]));
            about.push((key_meta_sql(lock), String::new()));
        }
        let vault: Option<[&(dyn ToSql + Sync); 1]> = ahead.vault.as_ref().map(|v| {
            let one: [&(dyn ToSql + Sync); 1] = [v];
            one
        });
        if let (Some(params), Some(name)) = (vault.as_ref(), ahead.vault) {
            asks.push(Ask::Rows(TOUCH_VAULT, params));
            about.push((TOUCH_VAULT, name.to_owned()));
        }
        let entry: Option<[&(dyn ToSql + Sync); 2]> = ahead.entry.as_ref().map(|(v, k)| {
            let pair: [&(dyn ToSql + Sync); 2] = [v, k];
            pair
        });
        if let (Some(params), Some((v, k))) = (entry.as_ref(), ahead.entry) {
            asks.push(Ask::Rows(NEWEST_VERSION, params));
            about.push((NEWEST_VERSION, entry_about(v, k)));
        }
        let limit: [&(dyn ToSql + Sync); 1] = [&limit_name];
        if ahead.history_limit {
            asks.push(Ask::Rows(META_GET, &limit));
            about.push((META_GET, limit_name.to_owned()));
        }
        if ahead.audit_head {
            asks.push(Ask::Rows(AUDIT_HEAD, &[]));
            about.push((AUDIT_HEAD, String::new()));
        }
        let answers = self.trip(&asks)?;
        for ((sql, about), answer) in about.into_iter().zip(answers) {
            if let Answer::Rows(rows) = answer {
                self.keep(sql, about, Known::Rows(rows));
            }
        }
        Ok(())
    }

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
        self.batch(schema::PG_UPSTREAM_TABLES)?;
        self.batch(schema::META_TABLE)?;
        self.batch(schema::PG_VERSIONS_TABLE)?;
        self.batch(schema::PG_AUDIT_TABLE)
    }

    fn meta_get(&mut self, name: &str) -> Result<Option<String>> {
        let rows = match self.read_ahead(META_GET, name) {
            Some(Known::Meta(value)) => return Ok(value),
            Some(Known::Rows(rows)) => rows,
            _ => self.query(META_GET, &[&name])?,
        };
        match self.at_most_one(rows)? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn meta_set(&mut self, name: &str, value: &str) -> Result<()> {
        self.defer(
            "INSERT INTO runqy_vault_meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            vec![Box::new(name.to_owned()), Box::new(value.to_owned())],
        )
    }

    fn key_meta(&mut self, lock: MetaLock) -> Result<KeyMeta> {
        // Rotation takes the rows exclusively: a second rotation (or a write
        // from a server on the old key) waits, then reads the new key id.
        let sql = key_meta_sql(lock);
        let rows = match self.rows_ahead(sql, "") {
            Some(rows) => rows,
            None => self.query(sql, &[])?,
        };
        let mut meta = KeyMeta::default();
        for row in rows {
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
                self.settings.label
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
        self.defer(
            "INSERT INTO vault_entries (vault_id, key, value, is_secret)
             VALUES ($1::bigint, $2, $3, $4)
             ON CONFLICT (vault_id, key) DO UPDATE SET
                 value = excluded.value, is_secret = excluded.is_secret, updated_at = NOW()",
            vec![
                Box::new(vault_id),
                Box::new(key.to_owned()),
                Box::new(value.to_vec()),
                Box::new(is_secret),
            ],
        )
    }

    fn touch_vault(&mut self, name: &str) -> Result<Option<i64>> {
        // The UPDATE locks the row: a vault deleted meanwhile gives no row
        // (`VaultNotFound`), never a foreign-key error on the entry's insert.
        let rows = match self.rows_ahead(TOUCH_VAULT, name) {
            Some(rows) => rows,
            None => self.query(TOUCH_VAULT, &[&name])?,
        };
        match self.at_most_one(rows)? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn get_entry(&mut self, vault: &str, key: &str, each: &mut Each<'_>) -> Result<()> {
        // ENTRY_AND_NEWEST's row starts with GET_ENTRY's columns.
        let rows = match self.rows_ahead(ENTRY_AND_NEWEST, &entry_about(vault, key)) {
            Some(rows) => rows,
            None => self.query(GET_ENTRY, &[&vault, &key])?,
        };
        match self.at_most_one(rows)? {
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
        let query = match self.rows_ahead(LISTED_ENTRIES, &listed_about(names)) {
            Some(rows) => Ok(rows),
            None => self.query(LISTED_ENTRIES, &[&names]),
        };
        let rows = match query {
            Ok(rows) => rows,
            // The history's table gone from under the store: the payload does not need it.
            Err(_) if !self.table_exists("runqy_vault_versions")? => self.query(
                "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret,
                        NULL::bigint, NULL::boolean, NULL::bytea
                 FROM unnest($1::text[]) WITH ORDINALITY AS l(name, pos)
                 JOIN vaults v ON v.name = l.name
                 LEFT JOIN vault_entries e ON e.vault_id = v.id
                 ORDER BY l.pos",
                &[&names],
            )?,
            Err(e) => return Err(e),
        };
        for r in &rows {
            let entry = self.entry_at(r, 1, false)?;
            each(self.col(r, 0)?, self.versioned(entry, r, 5)?)?;
        }
        Ok(())
    }

    // The pages of a scan over the whole store are streamed like the audit
    // log's: a page of values at the size limit (64 KiB) would be 64 MB.
    fn entries_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        self.each_row(
            "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret FROM vault_entries e
             JOIN vaults v ON v.id = e.vault_id WHERE e.id > $1::bigint
             ORDER BY e.id LIMIT $2::bigint",
            &[&after, &i64::from(limit)],
            |pg, r| match pg.entry_at(r, 1, false)? {
                Some(e) => each(pg.col(r, 0)?, Some(e)),
                None => Ok(()),
            },
        )
    }

    fn update_values(&mut self, page: Rewrites) -> Result<()> {
        // A page in one statement, sent with the next page's read: a
        // rotation's round trips grow with its pages, not its rows.
        self.defer(
            "UPDATE vault_entries AS t SET value = u.value
             FROM unnest($1::bigint[], $2::bytea[]) AS u(id, value) WHERE t.id = u.id",
            vec![Box::new(page.ids), Box::new(page.blobs)],
        )
    }

    fn newest_version(&mut self, vault: &str, key: &str) -> Result<Option<Head>> {
        let rows = match self.read_ahead(NEWEST_VERSION, &entry_about(vault, key)) {
            Some(Known::Newest(head)) => return Ok(head),
            Some(Known::Rows(rows)) => rows,
            _ => self.query(NEWEST_VERSION, &[&vault, &key])?,
        };
        match self.at_most_one(rows)? {
            Some(r) => Ok(Some(Head {
                version: self.col(&r, 0)?,
                is_secret: self.col::<Option<bool>>(&r, 1)?.unwrap_or(true),
                entry_digest: self.col(&r, 2)?,
            })),
            None => Ok(None),
        }
    }

    fn newest_versions(&mut self, vault: &str, keys: &[&str]) -> Result<Vec<Option<i64>>> {
        let rows = self.query(NEWEST_VERSIONS, &[&vault, &keys])?;
        if rows.len() != keys.len() {
            return Err(self.no_answer());
        }
        rows.iter().map(|r| self.col(r, 0)).collect()
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
        self.defer(
            "INSERT INTO runqy_vault_versions
                 (vault, key, version, value, is_secret, entry_digest, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                Box::new(vault.to_owned()),
                Box::new(key.to_owned()),
                Box::new(version),
                Box::new(value.to_vec()),
                Box::new(is_secret),
                Box::new(entry_digest.to_vec()),
                Box::new(actor.to_owned()),
            ],
        )
    }

    fn prune_versions(&mut self, vault: &str, key: &str, up_to: i64) -> Result<()> {
        self.defer(
            "DELETE FROM runqy_vault_versions WHERE vault = $1 AND key = $2 AND version <= $3",
            vec![
                Box::new(vault.to_owned()),
                Box::new(key.to_owned()),
                Box::new(up_to),
            ],
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
        self.each_row(
            "SELECT id, vault, key, version, value, is_secret, entry_digest FROM runqy_vault_versions
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &i64::from(limit)],
            |pg, r| each(pg.version_at(r, 0, false)?),
        )
    }

    fn vault_names(&mut self) -> Result<Vec<String>> {
        let rows = self.query("SELECT name FROM vaults ORDER BY name COLLATE \"C\"", &[])?;
        rows.iter().map(|r| self.col(r, 0)).collect()
    }

    // `check`'s pages are of 10,000 entries: up to 650 MB held whole.
    fn entries_stamped_after(&mut self, after: i64, limit: u32, each: &mut Each<'_>) -> Result<()> {
        self.each_row(
            concat!(
                "SELECT v.name, e.id::bigint, e.key, e.value, e.is_secret, ",
                rfc3339!("e.created_at"),
                ", ",
                rfc3339!("e.updated_at"),
                " FROM vault_entries e JOIN vaults v ON v.id = e.vault_id
                 WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2::bigint"
            ),
            &[&after, &i64::from(limit)],
            |pg, r| match pg.entry_at(r, 1, true)? {
                Some(e) => each(pg.col(r, 0)?, Some(e)),
                None => Ok(()),
            },
        )
    }

    fn update_version_values(&mut self, page: Rewrites) -> Result<()> {
        self.defer(
            "UPDATE runqy_vault_versions AS t SET value = u.value
             FROM unnest($1::bigint[], $2::bytea[]) AS u(id, value) WHERE t.id = u.id",
            vec![Box::new(page.ids), Box::new(page.blobs)],
        )
    }

    fn update_entry_digests(&mut self, page: DigestMoves) -> Result<()> {
        // A key is moved once a page, so no version row matches two moves.
        self.defer(
            "UPDATE runqy_vault_versions AS t SET entry_digest = u.new
             FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[])
                 AS u(vault, key, old, new)
             WHERE t.vault = u.vault AND t.key = u.key AND t.entry_digest = u.old",
            vec![
                Box::new(page.vaults),
                Box::new(page.keys),
                Box::new(page.old),
                Box::new(page.new),
            ],
        )
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
        self.each_row(
            "SELECT id::bigint, name, config FROM autoscale_providers WHERE id > $1::bigint
             ORDER BY id LIMIT $2::bigint",
            &[&after, &i64::from(limit)],
            |pg, r| {
                each(ProviderRow {
                    id: pg.col(r, 0)?,
                    name: pg.col(r, 1)?,
                    config: pg.col(r, 2)?,
                })
            },
        )
    }

    fn update_provider_configs(&mut self, page: Rewrites) -> Result<()> {
        self.defer(
            "UPDATE autoscale_providers AS t SET config = u.config
             FROM unnest($1::bigint[], $2::bytea[]) AS u(id, config) WHERE t.id = u.id",
            vec![Box::new(page.ids), Box::new(page.blobs)],
        )
    }

    fn audit_head(&mut self) -> Result<(Option<String>, bool)> {
        let rows = match self.read_ahead(AUDIT_HEAD, "") {
            Some(Known::Head(head, table)) => return Ok((head, table)),
            Some(Known::Rows(rows)) => rows,
            _ => self.query(AUDIT_HEAD, &[])?,
        };
        match self.at_most_one(rows)? {
            Some(r) => Ok((self.col(&r, 0)?, self.col(&r, 1)?)),
            None => Ok((None, false)),
        }
    }

    fn audit_create(&mut self) -> Result<()> {
        self.batch(schema::PG_AUDIT_TABLE)
    }

    fn audit_insert(&mut self, row: &AuditRow<'_>) -> Result<()> {
        let text = |t: Option<&str>| t.map(str::to_owned);
        self.defer(
            "INSERT INTO runqy_vault_audit
                 (seq, at, actor, operation, vault, key, version, fingerprint, detail, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                Box::new(row.seq),
                Box::new(row.at.to_owned()),
                Box::new(row.actor.to_owned()),
                Box::new(row.operation.to_owned()),
                Box::new(text(row.vault)),
                Box::new(text(row.key)),
                Box::new(row.version),
                Box::new(text(row.fingerprint)),
                Box::new(text(row.detail)),
                Box::new(row.mac.to_owned()),
            ],
        )
    }

    // Audit records are streamed: a detail has no size bound (an import's
    // record lists every key it wrote), so a page of them may be hundreds of MB.
    fn audit_after(&mut self, after: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()> {
        self.each_row(
            "SELECT seq, at, actor, operation, vault, key, version, fingerprint, detail, mac
             FROM runqy_vault_audit WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &i64::from(limit)],
            |pg, r| each(pg.audit_at(r)?),
        )
    }

    fn audit_before(&mut self, before: i64, limit: u32, each: &mut EachAudit<'_>) -> Result<()> {
        self.each_row(
            "SELECT seq, at, actor, operation, vault, key, version, fingerprint, detail, mac
             FROM runqy_vault_audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
            &[&before, &i64::from(limit)],
            |pg, r| each(pg.audit_at(r)?),
        )
    }

    fn audit_last(&mut self) -> Result<Option<(i64, String)>> {
        match self.query_opt(
            "SELECT seq, mac FROM runqy_vault_audit ORDER BY seq DESC LIMIT 1",
            &[],
        )? {
            Some(r) => Ok(Some((self.col(&r, 0)?, self.col(&r, 1)?))),
            None => Ok(None),
        }
    }

    fn audit_set_macs(&mut self, page: MacRewrites) -> Result<()> {
        self.defer(
            "UPDATE runqy_vault_audit AS t SET mac = u.mac,
                 fingerprint = COALESCE(u.seal, t.fingerprint)
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(seq, mac, seal)
             WHERE t.seq = u.seq",
            vec![
                Box::new(page.seqs),
                Box::new(page.macs),
                Box::new(page.seals),
            ],
        )
    }

    fn audit_replace(&mut self, row: &AuditRow<'_>) -> Result<()> {
        self.execute(
            "UPDATE runqy_vault_audit SET at = $2, actor = $3, operation = $4, vault = $5,
                 key = $6, version = $7, fingerprint = $8, detail = $9, mac = $10
             WHERE seq = $1",
            &[
                &row.seq,
                &row.at,
                &row.actor,
                &row.operation,
                &row.vault,
                &row.key,
                &row.version,
                &row.fingerprint,
                &row.detail,
                &row.mac,
            ],
        )?;
        Ok(())
    }

    fn audit_last_before(&mut self, at: &str) -> Result<Option<i64>> {
        match self.query_opt(
            "SELECT MAX(seq) FROM runqy_vault_audit WHERE at < $1",
            &[&at],
        )? {
            Some(r) => self.col(&r, 0),
            None => Ok(None),
        }
    }

    fn audit_delete_below(&mut self, seq: i64) -> Result<u64> {
        self.execute("DELETE FROM runqy_vault_audit WHERE seq < $1", &[&seq])
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
        self.each_row(
            "SELECT seq, at, actor, operation, vault, key, version, fingerprint, detail, mac
             FROM runqy_vault_audit
             WHERE seq < $4 AND (
                 (operation IN ('get', 'get-version') AND vault = $1 AND key = $2)
                 OR operation = 'export'
                 OR (operation IN ('payload', 'resolve') AND strpos(detail, $3) > 0))
             ORDER BY seq DESC LIMIT $5",
            &[&vault, &key, &needle, &before, &i64::from(limit)],
            |pg, r| each(pg.audit_at(r)?),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{statement_timeout_in, Pool};
    use crate::schema;
    use crate::store::location::Location;
    use std::time::Duration;

    /// A database of its own holding 16 audit records of 2 MB: far more
    /// than the client's channel and the socket buffers hold. Dropped after.
    struct BigPage {
        admin: postgres::Client,
        name: String,
        /// The store's URL, TLS parameters kept (`with-postgres.sh --tls`).
        url: String,
        /// For the tests' own sync client, which knows no `verify-full`:
        /// plaintext on loopback (as tests/support's `plain`).
        plain: String,
    }

    /// `url` without its TLS parameters, with `sslmode=disable`.
    fn plain(url: &str) -> String {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("ssl"))
            .chain(["sslmode=disable"])
            .collect();
        format!("{base}?{}", kept.join("&"))
    }

    impl BigPage {
        fn new(tag: &str, params: &str) -> BigPage {
            let admin_url = std::env::var("RUNQY_VAULT_TEST_POSTGRES_URL").unwrap();
            let name = format!("rqv_unit_{tag}_{}", std::process::id());
            let mut admin = postgres::Client::connect(&plain(&admin_url), postgres::NoTls).unwrap();
            let drop_it = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.batch_execute(&drop_it).unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            // The admin URL with its database replaced (as tests/support's
            // `with_database`), and `params` added.
            let (scheme, rest) = admin_url.split_once("://").unwrap();
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let query = rest[end..].find('?').map_or("", |i| &rest[end + i + 1..]);
            let query: Vec<&str> = [query, params]
                .into_iter()
                .filter(|q| !q.is_empty())
                .collect();
            let mut url = format!("{scheme}://{}/{name}", &rest[..end]);
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let page = BigPage {
                admin,
                name,
                plain: plain(&url),
                url,
            };
            let mut c = page.client();
            c.batch_execute(schema::PG_AUDIT_TABLE).unwrap();
            c.batch_execute(
                "INSERT INTO runqy_vault_audit (seq, at, actor, operation, detail, mac)
                 SELECT n, '2026-01-01T00:00:00Z', 'test', 'import', repeat('x', 2000000), 'm'
                 FROM generate_series(1, 16) AS n",
            )
            .unwrap();
            page
        }

        fn client(&self) -> postgres::Client {
            postgres::Client::connect(&self.plain, postgres::NoTls).unwrap()
        }

        fn pool(&self) -> Pool {
            let Location::Postgres(url) = Location::parse(&self.url) else {
                panic!("{}: not a PostgreSQL URL", self.url);
            };
            Pool::connect(&url).unwrap()
        }
    }

    impl Drop for BigPage {
        fn drop(&mut self) {
            let drop_it = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = self.admin.batch_execute(&drop_it);
        }
    }

    /// The server process running the page's query, seen from `probe`.
    const PAGE_QUERY: &str = "SELECT pid, state FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND query LIKE '%FROM runqy_vault_audit WHERE seq > $1%'";

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
    )]
    fn audit_records_are_handed_over_while_the_server_still_sends_the_page() {
        // A backend that streams sees its first record while the server is
        // still sending the page (the query `active`); one that collects
        // the page first sees it ended (`idle`).
        let page = BigPage::new("stream", "");
        let mut probe = page.client();
        let pool = page.pool();
        let mut seqs = Vec::new();
        let mut state_at_first = String::new();
        pool.read_one(|tx| {
            tx.audit_after(0, 100, &mut |r| {
                if seqs.is_empty() {
                    state_at_first = probe.query_one(PAGE_QUERY, &[]).unwrap().get(1);
                }
                assert_eq!(r.detail.map(str::len), Some(2_000_000), "record {}", r.seq);
                seqs.push(r.seq);
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(
            seqs,
            (1..=16).collect::<Vec<i64>>(),
            "every record, in order"
        );
        assert_eq!(
            state_at_first, "active",
            "the first record was handed over after the server had sent the whole page"
        );
    }

    #[test]
    #[cfg_attr(
        not(runqy_vault_pg_fault_tests),
        ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
    )]
    fn a_server_process_frozen_while_a_page_streams_fails_the_read_at_the_deadline() {
        // The wait for the next rows is bounded like a round trip (issue
        // 16): statement timeout 1 s, so 3 s with the grace.
        let page = BigPage::new("frozen", "options=-c%20statement_timeout%3D1s");
        let mut probe = page.client();
        let pool = page.pool();
        let mut frozen: Option<i32> = None;
        let mut seen = 0;
        let err = pool
            .read_one(|tx| {
                tx.audit_after(0, 100, &mut |_| {
                    if frozen.is_none() {
                        let pid: i32 = probe.query_one(PAGE_QUERY, &[]).unwrap().get(0);
                        assert_eq!(
                            unsafe { libc::kill(pid, libc::SIGSTOP) },
                            0,
                            "SIGSTOP {pid}"
                        );
                        frozen = Some(pid);
                    }
                    seen += 1;
                    Ok(())
                })
            })
            .map(|()| "every record was read");
        if let Some(pid) = frozen {
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("no answer within 3 s"), "{msg}");
        assert!(
            (1..16).contains(&seen),
            "{seen} of 16 records before the wait"
        );
    }

    #[test]
    fn statement_timeout_is_read_from_libpq_options_in_every_spelling_and_unit() {
        for (options, want) in [
            ("-c statement_timeout=5s", Some(5_000)),
            ("-cstatement_timeout=250", Some(250)),
            ("--statement_timeout=2min -c search_path=x", Some(120_000)),
            ("-c statement-timeout=1h", Some(3_600_000)),
            ("-c search_path=x", None),
        ] {
            assert_eq!(
                statement_timeout_in(options).unwrap(),
                want.map(Duration::from_millis),
                "{options}"
            );
        }
        assert_eq!(
            statement_timeout_in("-c statement_timeout=0").unwrap(),
            Some(Duration::ZERO)
        );
        assert!(statement_timeout_in("-c statement_timeout=soon").is_err());
    }
}
