//! kill -9 during a burst of registration payloads (SPEC §13): every payload
//! the child process reported as returned has its audit record, and the
//! chain still verifies. A read's record is committed without an fsync of
//! its own (WAL, synchronous=NORMAL), which survives the death of the
//! process: the frames are in the WAL file, which the OS keeps.
//!
//! The child is this same binary (no test harness: `main` below), run with
//! `RUNQY_VAULT_BURST_DB` set: it opens the store and calls the payload in a
//! loop, one actor per call, printing `returned N` after each call returns.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use runqy_vault::model::AuditFilter;
use runqy_vault::{MasterKey, Store};

const ENV_DB: &str = "RUNQY_VAULT_BURST_DB";
const KEY_BYTE: u8 = 9;
/// Payloads the parent waits for before the kill, in each round.
const BEFORE_KILL: usize = 200;
const ROUNDS: usize = 3;

fn key_text() -> String {
    MasterKey::from_bytes([KEY_BYTE; 32])
        .to_base64()
        .expose()
        .to_owned()
}

fn child(db: &str) -> ! {
    let store = Store::open(db, Some(&key_text())).expect("open");
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let actor = format!("burst:{}:{i}", std::process::id());
        store
            .with_actor(&actor)
            .and_then(|s| s.registration_payload(&["ci", "models"], None))
            .expect("payload");
        // Only after the call returned: the record must already be safe.
        writeln!(out, "returned {actor}").expect("stdout");
        out.flush().expect("stdout");
    }
    unreachable!()
}

fn every_returned_payload_survives_a_kill_9_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("burst.db");
    let db_text = db.to_str().unwrap().to_owned();
    {
        let store = Store::open(&db, Some(&key_text())).unwrap();
        for vault in ["ci", "models"] {
            store.create_vault(vault, "").unwrap();
            for k in 0..20 {
                store
                    .set(
                        vault,
                        &format!("KEY_{k}"),
                        &format!("{vault}-value-{k}"),
                        true,
                    )
                    .unwrap();
            }
        }
    }
    let mut reported: Vec<String> = Vec::new();
    for _ in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(ENV_DB, &db_text)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut this_round = 0;
        while this_round < BEFORE_KILL {
            let line = lines.next().expect("the child stopped early").unwrap();
            reported.push(line.strip_prefix("returned ").unwrap().to_owned());
            this_round += 1;
        }
        child.kill().unwrap(); // SIGKILL, in the middle of the burst
                               // What it printed before it died was returned too.
        for line in lines {
            reported.push(line.unwrap().strip_prefix("returned ").unwrap().to_owned());
        }
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
    let store = Store::open(&db, Some(&key_text())).unwrap();
    let recorded: std::collections::HashSet<String> = store
        .audit_log(&AuditFilter {
            operation: Some("payload".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.actor)
        .collect();
    assert!(reported.len() >= ROUNDS * BEFORE_KILL);
    let lost: Vec<&String> = reported.iter().filter(|a| !recorded.contains(*a)).collect();
    assert!(
        lost.is_empty(),
        "returned payloads without a record: {lost:?}"
    );
    // A kill between a record's statements leaves none of them: the chain is whole.
    assert!(store.audit_verify().unwrap() >= (40 + ROUNDS * BEFORE_KILL) as u64);
}

fn main() {
    if let Ok(db) = std::env::var(ENV_DB) {
        child(&db);
    }
    every_returned_payload_survives_a_kill_9_with_its_record();
    println!("audit_crash: 1 passed, 0 failed");
}
