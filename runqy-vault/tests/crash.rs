//! kill -9 inside the transaction of a `set` that prunes, a `rollback`, a
//! `purge` and a `rotate-key`, over a store with history (20,000 entries × 5
//! versions): afterwards every key has its old history, byte for byte, never
//! a mix, and the store opens under exactly one key (SPEC §2, §12).
//!
//! Each kill is proven to land inside the transaction: the binary is built
//! with the core's test hook (cargo feature `test-hooks`, which the crate's
//! dev-dependency on itself turns on for tests only), and
//! `RUNQY_VAULT_TEST_PAUSE=<op>` makes the process write `paused at <op>` to standard error once every
//! statement of the operation has run, just before the commit (or, for
//! `reencrypt-page`, half-way through a rotation), and sleep there. The
//! test waits for that line, then sends SIGKILL.
//!
//! SQLite only: a PostgreSQL client killed mid-transaction is rolled back by
//! the server, which the file-level crash here does not add to.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use runqy_vault::{ErrorKind, ExportDocument, ExportEntry, ExportVault, MasterKey, Store};
use rusqlite::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");
const VAULTS: usize = 20;
const PER_VAULT: usize = 1000;
const VERSIONS: usize = 5;

/// The template store: 20 vaults × 1000 keys, each written 5 times
/// (versions 1–5, `history_limit` 5, so a 6th write prunes version 1).
struct Template {
    _dir: tempfile::TempDir,
    db: PathBuf,
    key: String,
    rows: Rows,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("template.db");
        let key = MasterKey::generate().to_base64().expose().to_owned();
        {
            let store = Store::open(&db, Some(&key)).unwrap();
            store.set_history_limit(VERSIONS as i64).unwrap();
            for round in 1..=VERSIONS {
                assert_eq!(
                    store.import(&document(round)).unwrap(),
                    (VAULTS * PER_VAULT) as u64
                );
            }
        } // closed: the last connection checkpoints the WAL into the file
        let rows = Rows::read(&db);
        assert_eq!(rows.entries.len(), VAULTS * PER_VAULT);
        assert_eq!(rows.versions.len(), VAULTS * PER_VAULT * VERSIONS);
        Template {
            _dir: dir,
            db,
            key,
            rows,
        }
    })
}

/// Round `round` of every value: the value says where it belongs and when.
fn document(round: usize) -> ExportDocument {
    ExportDocument {
        format: 1,
        vaults: (0..VAULTS)
            .map(|v| ExportVault {
                name: format!("vault-{v:02}"),
                description: String::new(),
                entries: (0..PER_VAULT)
                    .map(|e| ExportEntry {
                        key: format!("KEY_{e:04}"),
                        value: format!("value {v}/{e} round {round}").into(),
                        is_secret: e % 7 != 0,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A `vault_entries` row: vault, key, value, is_secret.
type EntryRow = (String, String, Vec<u8>, bool);
/// A `runqy_vault_versions` row: vault, key, version, value, is_secret, entry_digest.
type VersionRow = (String, String, i64, Vec<u8>, bool, Option<Vec<u8>>);

/// Every stored row of both tables and the meta table, as bytes.
#[derive(Debug, PartialEq, Eq)]
struct Rows {
    entries: Vec<EntryRow>,
    versions: Vec<VersionRow>,
    meta: Vec<(String, String)>,
}

impl Rows {
    fn read(db: &Path) -> Rows {
        let c = Connection::open(db).unwrap();
        let entries = c
            .prepare(
                "SELECT v.name, e.key, e.value, e.is_secret FROM vault_entries e
                 JOIN vaults v ON v.id = e.vault_id ORDER BY v.name, e.key",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let versions = c
            .prepare(
                "SELECT vault, key, version, value, is_secret, entry_digest
                 FROM runqy_vault_versions ORDER BY vault, key, version",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let meta = c
            .prepare("SELECT name, value FROM runqy_vault_meta ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        Rows {
            entries,
            versions,
            meta,
        }
    }
}

/// A copy of the template store to run one command on.
struct Copy {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

fn copy() -> Copy {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vault.db");
    std::fs::copy(&template().db, &db).unwrap();
    Copy { _dir: dir, db }
}

fn command(db: &Path, key: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("RUNQY_VAULT_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("RUNQY_VAULT_MASTER_KEY", key)
        .arg("--db")
        .arg(db)
        .args(args);
    cmd
}

/// Runs `args` on `db` with the pause at `point`, waits until the process
/// says it is paused there (inside the transaction), and kills it with SIGKILL.
fn kill_at(db: &Path, point: &str, args: &[&str], input: &str) {
    let mut child = command(db, &template().key, args)
        .env("RUNQY_VAULT_TEST_PAUSE", point)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let want = format!("runqy-vault test hook: paused at {point}");
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(line) if line == want => break,
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "{args:?} never paused at {point} ({e}); it said {seen:?} and exited with {:?} \
                     (was the binary built without the core's test-hooks feature?)",
                    child.try_wait()
                );
            }
        }
    }
    assert_eq!(child.try_wait().unwrap(), None, "paused, so still running");
    child.kill().unwrap(); // SIGKILL, inside the transaction
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

/// Runs `args` on `db` to the end (no pause); it must succeed.
fn run(db: &Path, key: &str, args: &[&str], input: &str) {
    let mut child = command(db, key, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// After a kill: every row exactly as before, and the old key (only) opens it.
fn assert_untouched(db: &Path, new_key: Option<&str>) {
    let t = template();
    assert!(
        Rows::read(db) == t.rows,
        "the killed transaction left a change behind"
    );
    let store = Store::open(db, Some(&t.key)).expect("the old key still opens the store");
    assert_eq!(
        store
            .get_version("vault-03", "KEY_0042", 1)
            .unwrap()
            .expose(),
        "value 3/42 round 1"
    );
    if let Some(new_key) = new_key {
        assert_eq!(
            Store::open(db, Some(new_key)).unwrap_err().kind(),
            ErrorKind::KeyMismatch
        );
    }
}

#[test]
fn kill_9_during_a_set_that_prunes_leaves_that_key_with_its_old_history() {
    let args = ["set", "vault-00", "KEY_0000", "round 6"];
    let c = copy();
    kill_at(&c.db, "set", &args, "");
    assert_untouched(&c.db, None);
    // Finished, the same set is the new history: version 6 in, version 1 pruned.
    run(&c.db, &template().key, &args, "");
    let store = Store::open(&c.db, Some(&template().key)).unwrap();
    let versions: Vec<Option<i64>> = store
        .history("vault-00", "KEY_0000")
        .unwrap()
        .iter()
        .map(|h| h.version)
        .collect();
    assert_eq!(versions, [Some(6), Some(5), Some(4), Some(3), Some(2)]);
}

#[test]
fn kill_9_during_a_rollback_leaves_the_old_history() {
    let args = ["rollback", "vault-05", "KEY_0500", "2"];
    let c = copy();
    kill_at(&c.db, "rollback", &args, "");
    assert_untouched(&c.db, None);
    run(&c.db, &template().key, &args, "");
    let store = Store::open(&c.db, Some(&template().key)).unwrap();
    assert_eq!(
        store.get("vault-05", "KEY_0500").unwrap().expose(),
        "value 5/500 round 2"
    );
    assert_eq!(
        store.history("vault-05", "KEY_0500").unwrap()[0].version,
        Some(6)
    );
}

#[test]
fn kill_9_during_a_purge_leaves_the_vault_its_entries_and_all_their_versions() {
    let args = ["purge", "vault-01", "--force"];
    let c = copy();
    kill_at(&c.db, "purge", &args, "");
    assert_untouched(&c.db, None);
    run(&c.db, &template().key, &args, "");
    let after = Rows::read(&c.db);
    assert_eq!(after.entries.len(), (VAULTS - 1) * PER_VAULT);
    assert!(after.versions.iter().all(|v| v.0 != "vault-01"));
}

#[test]
fn kill_9_during_rotate_key_before_its_commit_or_half_way_leaves_the_old_key_and_history() {
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    for point in ["reencrypt-page", "rotate-key"] {
        let c = copy();
        kill_at(&c.db, point, &["rotate-key"], &new_key);
        assert_untouched(&c.db, Some(&new_key));
    }
    // Finished: the new key alone opens it, every version included.
    let c = copy();
    run(&c.db, &template().key, &["rotate-key"], &new_key);
    assert_eq!(
        Store::open(&c.db, Some(&template().key))
            .unwrap_err()
            .kind(),
        ErrorKind::KeyMismatch
    );
    let store = Store::open(&c.db, Some(&new_key)).unwrap();
    assert_eq!(
        store
            .get_version("vault-19", "KEY_0999", 1)
            .unwrap()
            .expose(),
        "value 19/999 round 1"
    );
    let after = Rows::read(&c.db);
    assert_eq!(after.versions.len(), template().rows.versions.len());
    assert!(after
        .versions
        .iter()
        .zip(&template().rows.versions)
        .all(|(new, old)| new.3 != old.3 && new.2 == old.2));
}
