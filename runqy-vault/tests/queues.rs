//! Queue configurations, `usage` and `check` (SPEC §14): stores and
//! configurations built to hit every finding of `check`, each line and the
//! exit status asserted; `usage` and `check` reading the same queues from
//! YAML and from a server `queues` table, on SQLite and PostgreSQL; `--json`
//! shapes; completions and the manual page.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use runqy_vault::cipher::{Binding, Cipher};
use runqy_vault::queues::QueueConfigs;
use runqy_vault::{Format, KeySet, MasterKey, Store};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/queues");

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

    fn db(&self) -> PathBuf {
        self.dir.path().join("vault.db")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self) -> Store {
        Store::open(self.db(), Some(&self.key)).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The binary on this store with `key` (or none) as the only
    /// RUNQY_VAULT_* variable, no QUEUE_WORKERS_DIR, under umask 077 so the
    /// files it creates are private (the mode check is tested on its own).
    fn cmd(&self, key: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("umask 077 && exec \"$0\" \"$@\"")
            .arg(BIN);
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("RUNQY_VAULT_") || n == "QUEUE_WORKERS_DIR" {
                cmd.env_remove(&name);
            }
        }
        if let Some(key) = key {
            cmd.env("RUNQY_VAULT_MASTER_KEY", key);
        }
        cmd.arg("--db").arg(self.db()).args(args);
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.cmd(Some(&self.key), args), "")
    }

    /// Makes the database files private, as issue 16's store creates them.
    fn private(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", self.db().display()));
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }

    fn sql(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.execute_batch(sql).unwrap();
    }
}

fn run(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// stdout of a run that exited with `code`.
fn exited(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The upstream server's SQLite `queues` table (UPSTREAM.md), with rows
/// `(name, deployment JSON or NULL, enabled)`.
fn sqlite_queues_table(dir: &Dir, rows: &[(&str, Option<&str>, bool)]) {
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS queues (id INTEGER PRIMARY KEY AUTOINCREMENT,
             name TEXT UNIQUE NOT NULL, provider TEXT DEFAULT '', deployment TEXT,
             input_schema TEXT, output_schema TEXT, description TEXT DEFAULT '',
             enabled INTEGER DEFAULT 1, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
             updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);",
    )
    .unwrap();
    for (name, deployment, enabled) in rows {
        conn.execute(
            "INSERT INTO queues (name, deployment, enabled) VALUES (?1, ?2, ?3)",
            rusqlite::params![name, deployment, enabled],
        )
        .unwrap();
    }
}

/// An entry written straight into the tables, as an older server could
/// have, encrypted so that it decrypts where it lies.
fn raw_entry(dir: &Dir, vault: &str, key: &str, value: &str) {
    let cipher = Cipher::new(&KeySet {
        current: MasterKey::parse(&dir.key, "test").unwrap(),
        previous: vec![],
    });
    let blob = cipher.encrypt(
        Format::V2,
        Binding {
            vault,
            key,
            is_secret: true,
        },
        value.as_bytes(),
    );
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute(
        "INSERT OR IGNORE INTO vaults (name, description) VALUES (?1, '')",
        [vault],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO vault_entries (vault_id, key, value, is_secret)
         VALUES ((SELECT id FROM vaults WHERE name = ?1), ?2, ?3, 1)",
        rusqlite::params![vault, key, blob],
    )
    .unwrap();
}

/// The store of the examples: every vault examples/queues names except
/// project-b-secrets, one unused, one key shadowed in inference's vaults.
fn example_store(dir: &Dir) -> Store {
    let s = dir.store();
    for v in [
        "api-keys",
        "model-credentials",
        "github",
        "shared-infrastructure",
        "project-a-secrets",
        "old-stuff",
    ] {
        s.create_vault(v, "").unwrap();
    }
    s.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true)
        .unwrap();
    s.set("model-credentials", "OPENAI_API_KEY", "sk-other-9876", true)
        .unwrap();
    s.set("model-credentials", "HF_TOKEN", "hf_secretvalue", true)
        .unwrap();
    s.set("github", "GIT_TOKEN", "ghp_secrettoken", true)
        .unwrap();
    s.set(
        "shared-infrastructure",
        "DATABASE_URL",
        "postgres://u:p@db/x",
        true,
    )
    .unwrap();
    s.set("project-a-secrets", "STRIPE_KEY", "sk_live_secret", true)
        .unwrap();
    s
}

// ------------------------------------------------------------------ usage

#[test]
fn usage_of_the_examples_lists_each_vaults_queues_unused_and_missing() {
    let d = Dir::new();
    drop(example_store(&d));
    let out = d.run(&["usage", "--config", EXAMPLES]);
    assert_eq!(
        exited(&out, 0),
        "VAULT                  QUEUES                GIT_TOKEN_OF\n\
         api-keys               inference             -\n\
         github                 -                     inference\n\
         model-credentials      inference             -\n\
         old-stuff              (unused)              -\n\
         project-a-secrets      project-a             -\n\
         shared-infrastructure  project-a, project-b  -\n\
         \n\
         MISSING            QUEUES     GIT_TOKEN_OF\n\
         project-b-secrets  project-b  -\n"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn usage_reads_queue_workers_dir_by_default_and_needs_no_key() {
    let d = Dir::new();
    drop(example_store(&d));
    let mut cmd = d.cmd(None, &["usage", "shared-infrastructure"]);
    cmd.env("QUEUE_WORKERS_DIR", EXAMPLES);
    assert_eq!(
        exited(&run(cmd, ""), 0),
        "VAULT                  QUEUES                GIT_TOKEN_OF\n\
         shared-infrastructure  project-a, project-b  -\n"
    );
}

#[test]
fn usage_of_one_vault_shows_a_missing_one_and_refuses_an_unknown_one() {
    let d = Dir::new();
    drop(example_store(&d));
    let out = d.run(&["usage", "project-b-secrets", "--config", EXAMPLES]);
    assert_eq!(
        exited(&out, 0),
        "MISSING            QUEUES     GIT_TOKEN_OF\nproject-b-secrets  project-b  -\n"
    );
    let out = d.run(&["usage", "nowhere", "--config", EXAMPLES]);
    assert_eq!(exited(&out, 1), "");
    assert_eq!(text(&out.stderr), "error: vault 'nowhere' not found\n");
}

#[test]
fn usage_json_is_the_model_shape() {
    let d = Dir::new();
    drop(example_store(&d));
    let out = d.run(&["usage", "github", "--json", "--config", EXAMPLES]);
    let v: serde_json::Value = serde_json::from_str(&exited(&out, 0)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "vaults": [{"vault": "github", "queues": [], "git_token_of": ["inference"]}],
            "missing": [],
            "problems": []
        })
    );
}

#[test]
fn a_config_path_that_does_not_exist_is_one_error_line() {
    let d = Dir::new();
    drop(example_store(&d));
    for cmd in ["usage", "check"] {
        let out = d.run(&[cmd, "--config", "nope.yaml"]);
        assert_eq!(exited(&out, 1), "");
        assert_eq!(
            text(&out.stderr),
            "error: nope.yaml: queue configuration not found\n",
            "{cmd}"
        );
    }
    // Nothing is written when the configuration is wrong.
    let out = d.run(&["set", "api-keys", "NEW", "v", "--config", "nope.yaml"]);
    assert_eq!(exited(&out, 1), "");
    assert!(d.store().get("api-keys", "NEW").is_err());
}

// ---------------------------------------------------------- set, unset, delete

#[test]
fn set_and_unset_name_the_queues_that_get_the_change() {
    let d = Dir::new();
    drop(example_store(&d));
    let out = d.run(&[
        "set",
        "shared-infrastructure",
        "REDIS_URL",
        "redis://x",
        "--config",
        EXAMPLES,
    ]);
    assert_eq!(
        exited(&out, 0),
        "Entry 'REDIS_URL' set in vault 'shared-infrastructure'.\n"
    );
    assert_eq!(
        text(&out.stderr),
        "Queues that get this change at their workers' next registration: project-a, project-b.\n"
    );
    let out = d.run(&[
        "set",
        "github",
        "GIT_TOKEN",
        "ghp_new",
        "--config",
        EXAMPLES,
    ]);
    assert_eq!(
        text(&out.stderr),
        "Queues that get this change at their workers' next registration: inference.\n"
    );
    let out = d.run(&["unset", "old-stuff", "X", "--config", EXAMPLES]);
    assert_eq!(exited(&out, 1), "");
    let out = d.run(&["set", "old-stuff", "X", "1", "--config", EXAMPLES]);
    assert_eq!(
        text(&out.stderr),
        "No queue lists vault 'old-stuff': no worker gets this change.\n"
    );
    let out = d.run(&[
        "unset",
        "shared-infrastructure",
        "REDIS_URL",
        "--config",
        EXAMPLES,
    ]);
    assert_eq!(
        exited(&out, 0),
        "Entry 'REDIS_URL' removed from vault 'shared-infrastructure'.\n"
    );
    assert_eq!(
        text(&out.stderr),
        "Queues that get this change at their workers' next registration: project-a, project-b.\n"
    );
    // Nothing known about queues: nothing said.
    let out = d.run(&["set", "old-stuff", "Y", "1"]);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn set_names_the_queues_of_the_servers_table_without_a_config() {
    let d = Dir::new();
    drop(example_store(&d));
    sqlite_queues_table(&d, &[("batch", Some(r#"{"vaults":["old-stuff"]}"#), true)]);
    let out = d.run(&["set", "old-stuff", "K", "v"]);
    assert_eq!(
        text(&out.stderr),
        "Queues that get this change at their workers' next registration: batch.\n"
    );
}

#[test]
fn delete_names_the_queues_before_its_question() {
    let d = Dir::new();
    drop(example_store(&d));
    let out = run(
        d.cmd(
            Some(&d.key),
            &["delete", "shared-infrastructure", "--config", EXAMPLES],
        ),
        "n\n",
    );
    assert_eq!(
        exited(&out, 0),
        "Queues that list vault 'shared-infrastructure': project-a, project-b (their workers \
         will fail to register).\nThe versions of its entries are kept until `runqy-vault \
         purge shared-infrastructure`.\nAre you sure you want to delete vault \
         'shared-infrastructure' and all its entries? (y/N): Cancelled.\n"
    );
    let out = run(
        d.cmd(Some(&d.key), &["delete", "old-stuff", "--config", EXAMPLES]),
        "y\n",
    );
    assert_eq!(
        exited(&out, 0),
        "No queue lists vault 'old-stuff'.\nThe versions of its entries are kept until \
         `runqy-vault purge old-stuff`.\nAre you sure you want to delete vault 'old-stuff' \
         and all its entries? (y/N): Vault 'old-stuff' deleted successfully.\n"
    );
    let out = run(d.cmd(Some(&d.key), &["delete", "github"]), "n\n");
    assert_eq!(
        exited(&out, 0),
        "The versions of its entries are kept until `runqy-vault purge github`.\nAre you sure \
         you want to delete vault 'github' and all its entries? (y/N): Cancelled.\n"
    );
}

// ------------------------------------------------------------------ check

#[test]
fn check_of_a_healthy_store_says_so_and_exits_0() {
    let d = Dir::new();
    let s = d.store();
    s.create_vault("api-keys", "").unwrap();
    s.set("api-keys", "K", "v", true).unwrap();
    drop(s);
    let cfg = d.write(
        "q.yaml",
        "queues:\n  q:\n    deployment: {vaults: [api-keys]}\n",
    );
    d.private();
    let out = d.run(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(exited(&out, 0), "0 errors, 0 warnings.\n");
    assert_eq!(text(&out.stderr), "");
}

/// Every finding about queues, vaults and entries, from one store and one
/// directory of configurations, each line asserted in order.
#[test]
fn check_reports_every_queue_vault_and_entry_finding_line_by_line() {
    let d = Dir::new();
    let s = example_store(&d);
    s.create_vault("empty-listed", "").unwrap();
    s.create_vault("tokens", "").unwrap();
    s.set("tokens", "OTHER", "x", true).unwrap();
    s.set("old-stuff", "ANCIENT", "x", true).unwrap();
    s.set("old-stuff", "BROKEN", "x", true).unwrap();
    drop(s);
    // Written by an older server: a reserved key, an ill-formed key, a reserved vault name.
    raw_entry(&d, "old-stuff", "LD_PRELOAD", "/tmp/evil.so");
    raw_entry(&d, "old-stuff", "BAD-KEY", "x");
    raw_entry(&d, "path", "K", "x");
    d.sql(
        "UPDATE vault_entries SET updated_at = '2020-01-02 03:04:05' WHERE key = 'ANCIENT';
         UPDATE vault_entries SET value = (SELECT value FROM vault_entries WHERE key = 'OTHER')
             WHERE key = 'BROKEN';",
    );
    sqlite_queues_table(
        &d,
        &[
            (
                "inference",
                Some(r#"{"vaults":["api-keys"],"git_token":"vault://github/GIT_TOKEN"}"#),
                true,
            ),
            ("rowbroken", Some(r#"{"vaults": ["api-keys",}"#), true),
            ("paused", Some(r#"{"vaults":["nowhere"]}"#), false),
        ],
    );
    let conf = d.path("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::copy(
        format!("{EXAMPLES}/inference.yaml"),
        conf.join("inference.yaml"),
    )
    .unwrap();
    std::fs::copy(
        format!("{EXAMPLES}/projects.yaml"),
        conf.join("projects.yaml"),
    )
    .unwrap();
    std::fs::write(
        conf.join("broken.yml"),
        "queues:\n  a:\n    deployment: [x\n",
    )
    .unwrap();
    std::fs::write(conf.join("notes.txt"), "not yaml: [").unwrap(); // not *.yaml: skipped
    std::fs::write(conf.join("other.yaml"), "name: single-form\n").unwrap(); // no queues: skipped
    std::fs::write(
        conf.join("tokens.yaml"),
        "queues:
  plain:
    deployment: {vaults: [empty-listed], git_token: ghp_PLAINTEXT_TOKEN_123}
  badref:
    deployment: {git_token: 'vault://tokens'}
  gone:
    deployment: {git_token: 'vault://no-such-vault/T'}
  nokey:
    deployment: {git_token: 'vault://tokens/GIT_TOKEN'}
  nodeploy:
    priority: 1
  notlist:
    deployment: {vaults: api-keys}
",
    )
    .unwrap();
    d.private();
    let out = d.run(&["check", "--config", conf.to_str().unwrap()]);
    let stdout = exited(&out, 1);
    assert_eq!(text(&out.stderr), "");
    let conf = conf.display();
    let expected = [
        format!("error: {conf}/broken.yml: YAML error at line 4, column 1: did not find expected ',' or ']' at line 4 column 1, while parsing a flow sequence at line 3 column 17"),
        format!("error: {conf}/tokens.yaml: queue 'nodeploy' has no deployment (the runqy server refuses it; its workers get no vaults)"),
        format!("error: {conf}/tokens.yaml: queue 'notlist' has deployment.vaults that is not a list (write `vaults: [name, ...]`)"),
        "error: the server's queues table: queue 'rowbroken' has a deployment that is not valid JSON (line 1, column 24)".to_owned(),
        "note: queue 'paused' is disabled in the server's queues table: not checked".to_owned(),
        format!("warning: queue 'inference' lists vaults [api-keys, model-credentials] in {conf}/inference.yaml but [api-keys] in the server's queues table: workers get what the server loaded last"),
        "error: queue 'project-b' lists vault 'project-b-secrets', which does not exist: its workers fail to register".to_owned(),
        "warning: vault 'empty-listed' is empty: queue 'plain' gets nothing from it".to_owned(),
        "warning: queue 'badref': git_token is not a valid vault:// reference: it has no '/' between vault and key; its workers get no git token".to_owned(),
        "warning: queue 'gone': git_token points to vault 'no-such-vault', which does not exist; its workers get no git token".to_owned(),
        "warning: queue 'nokey': git_token points to key 'GIT_TOKEN', which vault 'tokens' does not hold; its workers get no git token".to_owned(),
        "warning: queue 'plain': git_token is not a vault:// reference (its text is not shown: it may be a plaintext token, which the runqy server logs verbatim); store the token in a vault and write vault://VAULT/KEY".to_owned(),
        "note: queue 'inference': key 'OPENAI_API_KEY' of vault 'api-keys' is shadowed by vault 'model-credentials' (listed later, it wins)".to_owned(),
        "error: vault 'old-stuff' key 'BROKEN' does not decrypt with this key: no queue lists the vault".to_owned(),
        "warning: reserved vault name 'path': PATH is reserved (written by an older server; this store refuses such a name)".to_owned(),
        "warning: vault 'old-stuff': reserved key 'LD_PRELOAD': names starting with LD_ are reserved (written by an older server; payloads leave it out with a warning)".to_owned(),
        "warning: vault 'old-stuff': invalid key 'BAD-KEY': may contain only letters, digits and '_' (pattern ^[A-Za-z_][A-Za-z0-9_]*$) (written by an older server; workers refuse it as an environment variable)".to_owned(),
        "warning: vault 'old-stuff' key 'ANCIENT' was last updated 2020-01-02T03:04:05Z, more than 90 days ago".to_owned(),
        "6 errors, 10 warnings.".to_owned(),
    ];
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got.len(), expected.len(), "{stdout}");
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
    // Never a value, never the plaintext token.
    for secret in ["PLAINTEXT_TOKEN", "ghp_secret", "sk-proj", "evil.so"] {
        assert!(!stdout.contains(secret), "{secret} in {stdout}");
    }
}

#[test]
fn check_max_age_is_taken_in_days() {
    let d = Dir::new();
    let s = d.store();
    s.create_vault("v", "").unwrap();
    s.set("v", "K", "x", true).unwrap();
    drop(s);
    let ago = |days: i64| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - days * 86_400;
        runqy_vault::timestamp::from_unix(t)
            .replace('T', " ")
            .replace('Z', "")
    };
    d.sql(&format!(
        "UPDATE vault_entries SET updated_at = '{}'",
        ago(10)
    ));
    d.private();
    assert_eq!(exited(&d.run(&["check"]), 0), "0 errors, 0 warnings.\n");
    let out = exited(&d.run(&["check", "--max-age", "5"]), 0);
    assert!(
        out.starts_with("warning: vault 'v' key 'K' was last updated "),
        "{out}"
    );
    assert!(
        out.ends_with(", more than 5 days ago\n0 errors, 1 warnings.\n"),
        "{out}"
    );
}

#[test]
fn check_without_a_key_reports_disabled_and_still_checks_the_queues() {
    let d = Dir::new();
    drop(example_store(&d));
    d.private();
    let out = run(d.cmd(None, &["check", "--config", EXAMPLES]), "");
    assert_eq!(
        exited(&out, 1),
        format!(
            "error: store {}: vaults not configured: set RUNQY_VAULT_MASTER_KEY (or \
             RUNQY_VAULT_MASTER_KEY_FILE) to a key made by `openssl rand -base64 32`; entries \
             were not decrypted, and workers of every queue that lists a vault fail to register\n\
             error: queue 'project-b' lists vault 'project-b-secrets', which does not exist: its \
             workers fail to register\n\
             note: vault 'old-stuff' is empty: no queue lists it\n\
             note: queue 'inference': key 'OPENAI_API_KEY' of vault 'api-keys' is shadowed by \
             vault 'model-credentials' (listed later, it wins)\n\
             2 errors, 0 warnings.\n",
            d.db().display()
        )
    );
}

#[test]
fn check_with_the_wrong_key_reports_the_mismatch_and_still_checks() {
    let d = Dir::new();
    drop(example_store(&d));
    d.private();
    let other = MasterKey::generate().to_base64().expose().to_owned();
    let out = run(d.cmd(Some(&other), &["check", "--config", EXAMPLES]), "");
    let stdout = exited(&out, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "error: store {}: master key mismatch: ",
            d.db().display()
        )),
        "{stdout}"
    );
    assert!(lines[0].ends_with("; entries were not decrypted, and workers of every queue that lists a vault fail to register"));
    assert!(lines[1].starts_with("error: queue 'project-b' lists vault 'project-b-secrets'"));
    assert_eq!(*lines.last().unwrap(), "2 errors, 0 warnings.");
    // An invalid key is reported the same way, without echoing it.
    let out = run(d.cmd(Some("not-a-key-s3cr3t"), &["check"]), "");
    let stdout = exited(&out, 1);
    assert!(
        stdout.starts_with(&format!(
            "error: store {}: invalid master key from RUNQY_VAULT_MASTER_KEY",
            d.db().display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t"));
}

#[test]
fn check_warns_of_a_database_readable_by_group_or_others() {
    let d = Dir::new();
    drop(d.store());
    d.private();
    std::fs::set_permissions(d.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    // SQLite gives the -wal and -shm files the database file's mode.
    let out = d.run(&["check"]);
    let line = |suffix: &str| {
        format!(
            "warning: database file {}{suffix} is readable by group or others (mode 0644): vault \
             names, keys and timestamps are not encrypted; run chmod 600 on it\n",
            d.db().display()
        )
    };
    assert_eq!(
        exited(&out, 0),
        format!(
            "{}{}{}0 errors, 3 warnings.\n",
            line(""),
            line("-wal"),
            line("-shm")
        )
    );
}

#[test]
fn check_warns_of_a_legacy_store() {
    let d = Dir::new();
    d.sql(support::UPSTREAM_SQLITE_TABLES);
    d.private();
    let out = d.run(&["check"]);
    assert_eq!(
        exited(&out, 0),
        format!(
            "warning: store {} is in the legacy format: its values are not bound to their vault \
             and key; run `runqy-vault migrate` once no older runqy server reads it\n\
             0 errors, 1 warnings.\n",
            d.db().display()
        )
    );
}

#[test]
fn check_reports_quick_check_failures() {
    let d = Dir::new();
    let s = d.store();
    s.create_vault("v", "").unwrap();
    for i in 0..300 {
        s.set("v", &format!("KEY_{i:04}"), "x", true).unwrap();
    }
    drop(s);
    // Break a page of an index the scan does not read: the file still opens.
    let conn = rusqlite::Connection::open(d.db()).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        .unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'idx_vault_entries_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(d.db()).unwrap();
    let at = ((root - 1) * page) as usize;
    bytes[at] = 0x77; // not a b-tree page type
    std::fs::write(d.db(), bytes).unwrap();
    d.private();
    let out = d.run(&["check"]);
    let stdout = exited(&out, 1);
    let prefix = format!("error: store {}: PRAGMA quick_check: ", d.db().display());
    assert!(
        stdout.lines().next().unwrap().starts_with(&prefix),
        "{stdout}"
    );
    assert!(stdout.ends_with(" errors, 0 warnings.\n"), "{stdout}");
}

#[test]
fn check_of_a_file_that_is_not_a_store_or_does_not_exist_is_a_finding() {
    let d = Dir::new();
    let out = d.run(&["check"]);
    assert_eq!(
        exited(&out, 1),
        format!(
            "error: store {0}: cannot be read: {0}: the database file does not exist\n\
             1 errors, 0 warnings.\n",
            d.db().display()
        )
    );
    assert!(!d.db().exists(), "check must not create a store");
    std::fs::write(
        d.db(),
        b"this is not a database, just text, long enough to look like a header ...",
    )
    .unwrap();
    d.private();
    let out = d.run(&["check"]);
    let stdout = exited(&out, 1);
    assert!(
        stdout.starts_with(&format!(
            "error: store {}: cannot be read: ",
            d.db().display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("not a database"), "{stdout}");
}

#[test]
fn check_json_is_the_model_shape() {
    let d = Dir::new();
    drop(example_store(&d));
    d.private();
    let out = d.run(&["check", "--json", "--config", EXAMPLES]);
    let v: serde_json::Value = serde_json::from_str(&exited(&out, 1)).unwrap();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["warnings"], 0);
    assert_eq!(
        v["findings"][0],
        serde_json::json!({
            "severity": "error",
            "check": "missing_vault",
            "queue": "project-b",
            "vault": "project-b-secrets",
            "key": null,
            "message": "queue 'project-b' lists vault 'project-b-secrets', which does not exist: its workers fail to register"
        })
    );
    assert_eq!(v["findings"][2]["check"], "shadowed_key");
    assert_eq!(v["findings"][2]["key"], "OPENAI_API_KEY");
    assert_eq!(v["findings"][2]["vault"], "model-credentials");
}

// ------------------------------------------------------------------ --json

#[test]
fn list_show_and_entries_json_are_the_model_shapes_with_values_masked() {
    let d = Dir::new();
    let s = d.store();
    s.create_vault("api-keys", "keys").unwrap();
    s.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true)
        .unwrap();
    s.set("api-keys", "REGION", "eu-west-1", false).unwrap();
    let detail = s.show("api-keys").unwrap();
    drop(s);
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&exited(&d.run(args), 0)).unwrap()
    };
    assert_eq!(
        json(&["list", "--json"]),
        serde_json::json!([{"name": "api-keys", "description": "keys", "entry_count": 2}])
    );
    let show = json(&["show", "api-keys", "--json"]);
    assert_eq!(show, serde_json::to_value(&detail).unwrap());
    assert_eq!(show["entries"][0]["value"], "sk****xx");
    assert_eq!(show["entries"][1]["value"], "eu-west-1");
    assert_eq!(
        json(&["entries", "api-keys", "--json"]),
        serde_json::to_value(&detail.entries).unwrap()
    );
    assert_eq!(json(&["list", "--json"]).as_array().unwrap().len(), 1);
}

// --------------------------------------------- both sources, both backends

const SAME_YAML: &str = "queues:
  inference:
    deployment:
      vaults: [api-keys, model-credentials]
      git_token: vault://github/GIT_TOKEN
  project-b:
    deployment: {vaults: [shared-infrastructure, project-b-secrets]}
";

const SAME_ROWS: &[(&str, &str)] = &[
    (
        "inference",
        r#"{"git_url":"https://github.com/example/inference.git","vaults":["api-keys","model-credentials"],"git_token":"vault://github/GIT_TOKEN"}"#,
    ),
    (
        "project-b",
        r#"{"vaults":["shared-infrastructure","project-b-secrets"]}"#,
    ),
];

/// Usage and check lines with the sources left out, to compare them.
fn answers(store: &Store, configs: &QueueConfigs) -> (runqy_vault::Usage, Vec<String>) {
    let usage = store.usage(configs).unwrap();
    let report = store.check(configs, 90);
    let lines = report
        .findings
        .iter()
        // About the store's location, not its queues (tested on their own).
        .filter(|f| f.check != "file_mode" && f.check != "postgres_tls")
        .map(ToString::to_string)
        .collect();
    (usage, lines)
}

fn fill(store: &Store) {
    for v in [
        "api-keys",
        "model-credentials",
        "github",
        "shared-infrastructure",
    ] {
        store.create_vault(v, "").unwrap();
    }
    store.set("api-keys", "OPENAI_API_KEY", "a", true).unwrap();
    store
        .set("model-credentials", "OPENAI_API_KEY", "b", true)
        .unwrap();
    store.set("shared-infrastructure", "DB", "c", true).unwrap();
}

fn expected_lines() -> Vec<String> {
    vec![
        "error: queue 'project-b' lists vault 'project-b-secrets', which does not exist: its workers fail to register".to_owned(),
        "warning: vault 'github' is empty: no queue lists it".replace("warning", "note"),
        "warning: queue 'inference': git_token points to key 'GIT_TOKEN', which vault 'github' does not hold; its workers get no git token".to_owned(),
        "note: queue 'inference': key 'OPENAI_API_KEY' of vault 'api-keys' is shadowed by vault 'model-credentials' (listed later, it wins)".to_owned(),
    ]
}

#[test]
fn usage_and_check_read_the_same_queues_from_yaml_and_the_sqlite_queues_table() {
    let yaml_dir = Dir::new();
    let store = yaml_dir.store();
    fill(&store);
    let from_yaml = answers(&store, &QueueConfigs::from_yaml(SAME_YAML, "q.yaml"));

    let table_dir = Dir::new();
    let store = table_dir.store();
    fill(&store);
    let rows: Vec<(&str, Option<&str>, bool)> = SAME_ROWS
        .iter()
        .map(|(n, d)| (*n, Some(*d), true))
        .collect();
    sqlite_queues_table(&table_dir, &rows);
    let from_table = answers(&store, &QueueConfigs::none());

    assert_eq!(from_yaml, from_table);
    assert_eq!(from_yaml.1, expected_lines());
    assert_eq!(from_yaml.0.missing[0].vault, "project-b-secrets");
    assert_eq!(from_yaml.0.vaults[1].git_token_of, ["inference"]);
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "needs RUNQY_VAULT_TEST_POSTGRES_URL (bash scripts/with-postgres.sh cargo test)"
)]
fn usage_and_check_read_the_same_queues_from_yaml_and_the_postgres_queues_table() {
    let admin = support::postgres_url();
    let key = MasterKey::generate().to_base64().expose().to_owned();

    let yaml_db = support::TempDatabase::new(&admin);
    let store = Store::open(yaml_db.url.as_str(), Some(&key)).unwrap();
    fill(&store);
    let from_yaml = answers(&store, &QueueConfigs::from_yaml(SAME_YAML, "q.yaml"));

    let table_db = support::TempDatabase::new(&admin);
    let store = Store::open(table_db.url.as_str(), Some(&key)).unwrap();
    fill(&store);
    let mut client = table_db.client();
    client
        .batch_execute(
            "CREATE TABLE queues (id SERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL,
                 provider TEXT DEFAULT '', deployment JSONB, input_schema JSONB,
                 output_schema JSONB, description TEXT DEFAULT '', enabled BOOLEAN DEFAULT TRUE,
                 created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
                 updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW())",
        )
        .unwrap();
    for (name, deployment) in SAME_ROWS {
        client
            .execute(
                "INSERT INTO queues (name, deployment) VALUES ($1, $2::text::jsonb)",
                &[name, deployment],
            )
            .unwrap();
    }
    client
        .execute(
            "INSERT INTO queues (name, deployment, enabled) VALUES ('paused', '{\"vaults\":[\"x\"]}', FALSE)",
            &[],
        )
        .unwrap();
    let (usage, mut lines) = answers(&store, &QueueConfigs::none());
    assert_eq!(
        lines.remove(0),
        "note: queue 'paused' is disabled in the server's queues table: not checked"
    );
    assert_eq!((usage, lines), from_yaml);
    assert_eq!(from_yaml.1, expected_lines());
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "needs RUNQY_VAULT_TEST_POSTGRES_URL (bash scripts/with-postgres.sh cargo test)"
)]
fn check_warns_of_a_postgres_connection_that_does_not_verify_the_server() {
    let admin = support::postgres_url();
    let key = MasterKey::generate().to_base64().expose().to_owned();
    let db = support::TempDatabase::new(&admin);
    let url = support::plain(&db.url);
    let store = Store::open(url.as_str(), Some(&key)).unwrap();
    let report = store.check(&QueueConfigs::none(), 90);
    let tls: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.check == "postgres_tls")
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        tls,
        [
            "warning: the PostgreSQL connection does not verify the server (sslmode=disable): its \
          password and every ciphertext can be read or changed on the way; use \
          sslmode=verify-full with sslrootcert"
        ]
    );
}

// ------------------------------------------------------- completions, man

#[test]
fn completions_are_scripts_for_each_shell_naming_the_commands() {
    let d = Dir::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef runqy-vault"),
        ("fish", "complete -c runqy-vault"),
    ] {
        let out = run(d.cmd(None, &["completions", shell]), "");
        let script = exited(&out, 0);
        assert!(script.contains(marker), "{shell}");
        for command in ["usage", "check", "rotate-key", "completions"] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    let out = run(d.cmd(None, &["completions", "tcsh"]), "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_manual_page_names_every_command_and_the_db_help_names_postgresql_urls() {
    let d = Dir::new();
    let page = exited(&run(d.cmd(None, &["man"]), ""), 0);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq") || page.contains(".TH runqy-vault"),
        "{page}"
    );
    let help = exited(&run(d.cmd(None, &["--help"]), ""), 0);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 17, "{commands:?}");
    for c in &commands {
        assert!(
            page.contains(&format!("runqy\\-vault\\-{}", c.replace('-', "\\-")))
                || page.contains(c),
            "{c} not in the page"
        );
    }
    assert!(!commands.contains(&"man"), "man is hidden");
    for c in ["usage", "check", "completions"] {
        assert!(commands.contains(&c), "{c}");
    }
    assert!(help.contains("PostgreSQL URL (postgres://"), "{help}");
    assert!(
        page.contains("PostgreSQL URL"),
        "the page has the --db help too"
    );
}

#[test]
fn messages_not_sanitised_queue_names_from_yaml_cannot_forge_a_check_line() {
    let yaml = "queues:\n  \"evil\\nerror: forged \\e[31mred\":\n    priority: 1\n  \"ok\\u202e\":\n    deployment: {vaults: [\"gone\\nwarning: x\"]}\n";
    let configs = QueueConfigs::from_yaml(yaml, "dir/q\n.yaml");
    assert!(!configs.problems.is_empty());
    for p in &configs.problems {
        let line = p.to_string();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("dir/q\\n.yaml"), "{line}");
    }
    let d = Dir::new();
    let store = Store::open(d.db(), Some(&d.key)).unwrap();
    let report = store.check(&configs, 90);
    assert!(!report.findings.is_empty());
    for f in &report.findings {
        let line = f.to_string();
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{line:?}"
        );
    }
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("'gone\\nwarning: x'")),
        "{:?}",
        report.findings
    );
}
