//! `export FILE --to AGE_RECIPIENT` / `import FILE --identity IDENTITY_FILE`
//! (issue 16: no plaintext copy of every secret on disk by default), with
//! key pairs made by the test.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use runqy_vault::{ErrorKind, ExportDocument, MasterKey, Store};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");

struct Dir {
    dir: tempfile::TempDir,
    key: String,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
            key: MasterKey::generate().to_base64().expose().to_owned(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self, db: &str) -> Store {
        Store::open(self.path(db), Some(&self.key)).unwrap()
    }

    fn run(&self, db: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .env_remove("RUNQY_VAULT_MASTER_KEY_FILE")
            .env_remove("RUNQY_VAULT_MASTER_KEY_COMMAND")
            .env("RUNQY_VAULT_MASTER_KEY", &self.key)
            .arg("--db")
            .arg(self.path(db))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// A new age key pair: the identity file's path and the recipient.
    fn age_key(&self, name: &str) -> (String, String) {
        let identity = age::x25519::Identity::generate();
        let path = self.path(name);
        use age::secrecy::ExposeSecret;
        std::fs::write(&path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
        (
            path.to_str().unwrap().to_owned(),
            identity.to_public().to_string(),
        )
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sample(d: &Dir) -> Store {
    let store = d.store("a.db");
    store.create_vault("api-keys", "model APIs").unwrap();
    store
        .set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true)
        .unwrap();
    store.set("api-keys", "REGION", "eu", false).unwrap();
    store
}

#[test]
fn export_to_an_age_recipient_round_trips_through_import_with_its_identity() {
    let d = Dir::new();
    let a = sample(&d);
    let (identity, recipient) = d.age_key("me.key");
    let out = d.run("a.db", &["export", "backup.age", "--to", &recipient]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "Exported 1 vaults (2 entries) to backup.age, encrypted to 1 age recipient.\n"
    );
    let sealed = std::fs::read(d.path("backup.age")).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!String::from_utf8_lossy(&sealed).contains("sk-proj"));
    let mode = std::fs::metadata(d.path("backup.age"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let out = d.run("b.db", &["import", "backup.age", "--identity", &identity]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Imported 2 entries.\n"
    );
    assert_eq!(d.store("b.db").export().unwrap(), a.export().unwrap());
}

#[test]
fn an_export_for_two_recipients_opens_with_either_identity_and_the_core_reads_it_too() {
    let d = Dir::new();
    let a = sample(&d);
    let (first, r1) = d.age_key("one.key");
    let (second, r2) = d.age_key("two.key");
    let out = d.run("a.db", &["export", "both.age", "--to", &r1, "--to", &r2]);
    assert!(out.status.success(), "{}", stderr(&out));
    for identity in [&first, &second] {
        let doc =
            ExportDocument::read_encrypted_file(&d.path("both.age"), identity.as_ref()).unwrap();
        assert_eq!(doc, a.export().unwrap());
    }
}

#[test]
fn import_with_a_wrong_identity_is_refused_clearly_and_imports_nothing() {
    let d = Dir::new();
    sample(&d);
    let (_, recipient) = d.age_key("right.key");
    let (wrong, _) = d.age_key("wrong.key");
    assert!(d
        .run("a.db", &["export", "backup.age", "--to", &recipient])
        .status
        .success());
    let out = d.run("b.db", &["import", "backup.age", "--identity", &wrong]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: backup.age: no identity in {wrong} can decrypt it: it was encrypted to other recipients\n"
        )
    );
    assert!(d.store("b.db").list_vaults().unwrap().is_empty());
    // The core says the same with its kind.
    let err =
        ExportDocument::read_encrypted_file(&d.path("backup.age"), wrong.as_ref()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn plain_export_without_plaintext_or_to_is_refused_naming_both_and_writes_nothing() {
    let d = Dir::new();
    sample(&d);
    let out = d.run("a.db", &["export", "backup.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--to <AGE_RECIPIENT>") && err.contains("--plaintext"),
        "{err}"
    );
    assert!(!d.path("backup.json").exists());
    let (_, recipient) = d.age_key("k");
    let out = d.run(
        "a.db",
        &["export", "backup.json", "--plaintext", "--to", &recipient],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!d.path("backup.json").exists());
}

#[test]
fn an_encrypted_export_needs_identity_to_import_and_a_bad_recipient_is_refused() {
    let d = Dir::new();
    sample(&d);
    let (identity, recipient) = d.age_key("me.key");
    assert!(d
        .run("a.db", &["export", "backup.age", "--to", &recipient])
        .status
        .success());
    let out = d.run("b.db", &["import", "backup.age"]);
    assert_eq!(
        stderr(&out),
        "error: backup.age: it is encrypted with age: decrypt it with its identity \
         (runqy-vault import FILE --identity IDENTITY_FILE)\n"
    );
    // A plaintext export given an identity is refused too: the operator expected age.
    assert!(d
        .run("a.db", &["export", "plain.json", "--plaintext"])
        .status
        .success());
    let out = d.run("b.db", &["import", "plain.json", "--identity", &identity]);
    assert_eq!(
        stderr(&out),
        "error: plain.json: it is not encrypted with age: import it without --identity\n"
    );
    // An identity where the recipient belongs.
    let secret = std::fs::read_to_string(&identity).unwrap();
    let out = d.run("a.db", &["export", "x.age", "--to", secret.trim()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not an age recipient"),
        "{}",
        stderr(&out)
    );
    assert!(!d.path("x.age").exists());
}
