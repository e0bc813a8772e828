//! Private files (SPEC §2): a SQLite database runqy-vault creates, and its
//! `-wal` and `-shm`, are mode 0600 whatever the umask; an existing file
//! keeps its mode. Its own test binary: the umask is the whole process's.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use runqy_vault::{MasterKey, Store};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sidecar(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Opens (or creates) the store at `db` under `umask`, writes one entry and,
/// with the store still open (so the -wal and -shm files exist), returns the
/// modes of the three files.
fn modes_under_umask(db: &Path, umask: libc::mode_t) -> [u32; 3] {
    let old = unsafe { libc::umask(umask) };
    let key = MasterKey::generate();
    let store = Store::open(db, Some(key.to_base64().expose())).unwrap();
    unsafe { libc::umask(old) };
    store.create_vault("ci", "").unwrap();
    store.set("ci", "TOKEN", "t", true).unwrap();
    let modes = [
        mode(db),
        mode(&sidecar(db, "-wal")),
        mode(&sidecar(db, "-shm")),
    ];
    drop(store);
    modes
}

#[test]
fn a_new_database_and_its_wal_and_shm_are_0600_whatever_the_umask_and_existing_files_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    for umask in [0o022, 0o000, 0o077] {
        let db = dir.path().join(format!("new-{umask:o}.db"));
        assert_eq!(modes_under_umask(&db, umask), [0o600; 3], "umask {umask:o}");
    }
    // An existing database, made readable by its group on purpose, stays so;
    // SQLite gives the new -wal and -shm the same mode.
    let db = dir.path().join("shared.db");
    std::fs::File::create(&db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(modes_under_umask(&db, 0o000), [0o640; 3]);
    // A database made by a runqy server before keeps 0644.
    let db = dir.path().join("server.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(modes_under_umask(&db, 0o022), [0o644; 3]);
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_creates_its_database_0600_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let key = MasterKey::generate();
    let out = std::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_runqy-vault"))
        .arg("--db")
        .arg(&db)
        .args(["create", "ci"])
        .env("RUNQY_VAULT_MASTER_KEY", key.to_base64().expose())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db), 0o600);
}
