//! PostgreSQL faults, tried on a real server (issue 16): frozen with
//! `kill -STOP`, restarted, a session terminated mid-write. Every wait ends
//! in a Storage error naming host and database; a restart costs a long-lived
//! store no failed call; a write cut before COMMIT changes nothing.
//!
//! `bash scripts/with-postgres.sh cargo test -p runqy-vault --test
//! postgres_faults`: the script exports the cluster's data directory and a
//! pg_ctl for it. The tests take turns (one lock), since each stops the
//! whole server for a moment.

#![cfg(feature = "postgres")]

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use runqy_vault::{ErrorKind, MasterKey, Store};
use support::{admin, host_port, postgres_url, with_params, TempDatabase};

/// One fault at a time: each one stops or restarts the shared server.
static SERVER: Mutex<()> = Mutex::new(());

fn key() -> String {
    MasterKey::generate().to_base64().expose().to_owned()
}

fn data_dir() -> String {
    std::env::var("RUNQY_VAULT_TEST_POSTGRES_DATA").expect("RUNQY_VAULT_TEST_POSTGRES_DATA")
}

/// The postmaster's pid now (it changes with every restart).
fn postmaster() -> i32 {
    let pid = std::fs::read_to_string(format!("{}/postmaster.pid", data_dir())).unwrap();
    pid.lines().next().unwrap().trim().parse().unwrap()
}

/// The postmaster and every process it started (backends, background workers).
fn cluster_pids() -> Vec<i32> {
    let root = postmaster();
    let mut pids = vec![root];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command's closing parenthesis: state, then ppid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(root) {
            pids.push(pid);
        }
    }
    pids
}

/// The whole cluster stopped with SIGSTOP until dropped (then SIGCONT),
/// whatever the test does meanwhile.
struct Frozen(Vec<i32>);

impl Frozen {
    fn new() -> Frozen {
        let pids = cluster_pids();
        for &pid in &pids {
            assert_eq!(
                unsafe { libc::kill(pid, libc::SIGSTOP) },
                0,
                "SIGSTOP {pid}"
            );
        }
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &pid in &self.0 {
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

/// `pg_ctl restart -m fast`: every session is ended with "terminating
/// connection due to administrator command".
fn restart_server() {
    let ctl =
        std::env::var("RUNQY_VAULT_TEST_POSTGRES_CTL").expect("RUNQY_VAULT_TEST_POSTGRES_CTL");
    let out = std::process::Command::new(ctl)
        .args(["restart", "-m", "fast", "-w", "-t", "60"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_names_host_and_database(msg: &str, url: &str, db: &TempDatabase) {
    assert!(
        msg.contains(&format!(
            "PostgreSQL database '{}' at {}",
            db.name,
            host_port(url)
        )),
        "{msg}"
    );
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_fault_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
)]
fn a_frozen_server_fails_open_at_the_connect_timeout_naming_host_and_database() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let db = TempDatabase::new(&postgres_url());
    let url = with_params(&db.url, "connect_timeout=2");
    let frozen = Frozen::new();
    let err = Store::open(&url, Some(&key())).unwrap_err();
    drop(frozen);
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.is_retryable());
    let msg = err.to_string();
    assert_names_host_and_database(&msg, &url, &db);
    assert!(
        msg.contains("could not connect within 2 s (connect_timeout)"),
        "{msg}"
    );
}

#[cfg(feature = "cli")]
#[test]
#[cfg_attr(
    not(runqy_vault_pg_fault_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
)]
fn the_cli_against_a_frozen_server_exits_with_an_error_at_the_default_10_s_connect_timeout() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let db = TempDatabase::new(&postgres_url());
    let frozen = Frozen::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runqy-vault"))
        .args(["--db", &db.url, "list"])
        .env("RUNQY_VAULT_MASTER_KEY", key())
        .output()
        .unwrap();
    drop(frozen);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: storage error: PostgreSQL database '"),
        "{stderr}"
    );
    assert!(
        stderr.contains("could not connect within 10 s (connect_timeout)"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_fault_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
)]
fn a_call_on_a_server_frozen_mid_session_ends_at_the_statement_timeout_and_the_store_recovers() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let db = TempDatabase::new(&postgres_url());
    let url = with_params(
        &db.url,
        "connect_timeout=2&options=-c%20statement_timeout%3D1s",
    );
    let store = Store::open(&url, Some(&key())).unwrap();
    store.create_vault("ci", "").unwrap();
    store.set("ci", "TOKEN", "t", true).unwrap();
    let frozen = Frozen::new();
    let err = store.get("ci", "TOKEN").unwrap_err();
    drop(frozen);
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Storage, "{msg}");
    assert_names_host_and_database(&msg, &url, &db);
    assert!(msg.contains("no answer within 3 s"), "{msg}");
    // The connection that timed out left the pool: the next call works.
    assert_eq!(store.get("ci", "TOKEN").unwrap().expose(), "t");
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_fault_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
)]
fn after_a_server_restart_the_first_read_and_the_first_write_of_a_long_lived_store_succeed() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let db = TempDatabase::new(&postgres_url());
    let store = std::sync::Arc::new(Store::open(&db.url, Some(&key())).unwrap());
    store.create_vault("ci", "").unwrap();
    store.set("ci", "TOKEN", "t", true).unwrap();
    // Several pooled connections, all of which the restart will close.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let s = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    s.get("ci", "TOKEN").unwrap();
                }
            })
        })
        .collect();
    readers.into_iter().for_each(|r| r.join().unwrap());

    restart_server();
    assert_eq!(store.get("ci", "TOKEN").unwrap().expose(), "t");
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let s = std::sync::Arc::clone(&store);
            std::thread::spawn(move || s.list_vaults().map(|v| v.len()))
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap().unwrap(), 1);
    }
    restart_server();
    store.set("ci", "AFTER", "a", true).unwrap();
    assert_eq!(store.get("ci", "AFTER").unwrap().expose(), "a");
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_fault_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_CTL not set (bash scripts/with-postgres.sh runs these)"
)]
fn a_write_cut_before_its_commit_fails_clearly_and_changes_nothing() {
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let db = TempDatabase::new(&postgres_url());
    let store = std::sync::Arc::new(Store::open(&db.url, Some(&key())).unwrap());
    store.create_vault("ci", "").unwrap();
    let mut owner = db.client();
    let before: String = owner
        .query_one("SELECT updated_at::text FROM vaults WHERE name = 'ci'", &[])
        .unwrap()
        .get(0);
    // Hold the vault's row: the store's `set` begins, then waits on it.
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute("SELECT 1 FROM vaults WHERE name = 'ci' FOR UPDATE")
        .unwrap();
    let writer = {
        let s = std::sync::Arc::clone(&store);
        std::thread::spawn(move || s.set("ci", "TOKEN", "never-written", true))
    };
    // Wait (bounded) until the store's session is blocked inside its transaction.
    let mut admin = admin(&postgres_url());
    let start = Instant::now();
    let pid: i32 = loop {
        let row = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1
                 AND application_name = 'runqy-vault' AND wait_event_type = 'Lock'",
                &[&db.name],
            )
            .unwrap();
        if let Some(row) = row {
            break row.get(0);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the write never blocked"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let terminated: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(terminated);
    let err = writer.join().unwrap().unwrap_err();
    lock.rollback().unwrap();
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Storage, "{msg}");
    assert_names_host_and_database(&msg, &db.url, &db);
    assert!(
        msg.contains("terminating connection due to administrator command"),
        "{msg}"
    );
    assert!(
        msg.ends_with("the write was not committed: nothing changed"),
        "{msg}"
    );
    // Nothing changed: no entry, the vault's row as it was.
    let entries: i64 = owner
        .query_one("SELECT COUNT(*) FROM vault_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(entries, 0);
    let after: String = owner
        .query_one("SELECT updated_at::text FROM vaults WHERE name = 'ci'", &[])
        .unwrap()
        .get(0);
    assert_eq!(after, before);
    // And it was not sent again behind the caller's back; the store goes on.
    assert_eq!(
        store.get("ci", "TOKEN").unwrap_err().kind(),
        ErrorKind::EntryNotFound
    );
    store.set("ci", "TOKEN", "t", true).unwrap();
}
