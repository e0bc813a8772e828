//! The `runqy-vault` binary's main flow on PostgreSQL (`--db postgres://...`
//! and `RUNQY_VAULT_DB`): create, set, show, get, payload, rotate-key, and a
//! connection error that names the database but not the password. Runs only
//! with `RUNQY_VAULT_TEST_POSTGRES_URL` set (`bash scripts/with-postgres.sh
//! cargo test`); otherwise says so once and passes.
#![cfg(feature = "postgres")]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use runqy_vault::MasterKey;
use support::{postgres_url, with_user, TempDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");

/// The binary with only `key` among the RUNQY_VAULT_* variables, and `extra` set.
fn command(key: &str, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("RUNQY_VAULT_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("RUNQY_VAULT_MASTER_KEY", key).args(args);
    for (name, value) in extra {
        cmd.env(name, value);
    }
    cmd
}

fn run(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
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
    child.wait_with_output().unwrap()
}

/// Runs `args` on `db`, which must succeed; returns standard output.
fn ok(db: &str, key: &str, args: &[&str], input: &str) -> String {
    let mut full = vec!["--db", db];
    full.extend_from_slice(args);
    let out = run(command(key, &full, &[]), input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, which must fail with exit status 1; returns standard error.
fn fail(cmd: Command) -> String {
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
    stderr
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn cli_main_flow_on_postgres_create_set_show_get_payload_rotate() {
    let url = postgres_url();
    let db = TempDatabase::new(&url);
    let key = MasterKey::generate().to_base64().expose().to_owned();
    let d = db.url.as_str();

    assert_eq!(
        ok(d, &key, &["create", "api-keys", "-d", "model keys"], ""),
        "Vault 'api-keys' created successfully.\n"
    );
    ok(d, &key, &["create", "ci"], "");
    assert_eq!(
        ok(
            d,
            &key,
            &["set", "api-keys", "OPENAI_API_KEY", "-"],
            "sk-proj-abc123xx\n"
        ),
        "Entry 'OPENAI_API_KEY' set in vault 'api-keys'.\n"
    );
    ok(
        d,
        &key,
        &["set", "api-keys", "REGION", "eu-west-1", "--no-secret"],
        "",
    );
    ok(d, &key, &["set", "ci", "GITHUB_TOKEN", "ghp_abc"], "");

    let show = ok(d, &key, &["show", "api-keys"], "");
    let lines: Vec<&str> = show.lines().collect();
    assert_eq!(lines[0], "Vault: api-keys");
    assert_eq!(lines[1], "Description: model keys");
    for (line, label) in [(lines[2], "Created: "), (lines[3], "Updated: ")] {
        let ts = line.strip_prefix(label).unwrap();
        assert!(ts.len() == 20 && ts.ends_with('Z'), "{line}");
    }
    assert_eq!(
        &lines[4..],
        [
            "",
            "Entries (2):",
            "KEY             VALUE      SECRET",
            "OPENAI_API_KEY  sk****xx   yes",
            "REGION          eu-west-1  no",
        ]
    );
    assert_eq!(
        ok(d, &key, &["get", "api-keys", "OPENAI_API_KEY"], ""),
        "sk-proj-abc123xx\n"
    );
    assert_eq!(
        ok(
            d,
            &key,
            &["payload", "api-keys", "--git-token", "vault://ci/GITHUB_TOKEN"],
            ""
        ),
        "{\"git_token\":\"ghp_abc\",\"vaults\":{\"OPENAI_API_KEY\":\"sk-proj-abc123xx\",\"REGION\":\"eu-west-1\"}}\n"
    );

    // rotate-key reads the new key from standard input; the old key is refused after.
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    let out = ok(d, &key, &["rotate-key"], &format!("{new_key}\n"));
    assert!(out.starts_with("Master key rotated: 3 entries"), "{out}");
    let err = fail(command(
        &key,
        &["--db", d, "get", "ci", "GITHUB_TOKEN"],
        &[],
    ));
    assert!(err.contains("master key mismatch"), "{err}");

    // RUNQY_VAULT_DB names the database as --db does.
    let out = run(
        command(
            &new_key,
            &["get", "ci", "GITHUB_TOKEN"],
            &[("RUNQY_VAULT_DB", d)],
        ),
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"ghp_abc\n");
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn cli_history_on_postgres_rollback_cas_restore_purge() {
    let url = postgres_url();
    let db = TempDatabase::new(&url);
    let key = MasterKey::generate().to_base64().expose().to_owned();
    let d = db.url.as_str();
    ok(d, &key, &["create", "ci"], "");
    ok(d, &key, &["set", "ci", "TOKEN", "ghp_first_value"], "");
    ok(d, &key, &["set", "ci", "TOKEN", "ghp_second_value"], "");
    let history = ok(d, &key, &["history", "ci", "TOKEN"], "");
    let states: Vec<(&str, &str)> = history
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            // VERSION VALUE SECRET CREATED ACTOR STATE LAST-READ: the state is the 6th.
            (cells[0], cells[5])
        })
        .collect();
    assert_eq!(states, [("2", "current"), ("1", "replaced")], "{history}");
    assert_eq!(
        ok(d, &key, &["rollback", "ci", "TOKEN", "1"], ""),
        "Entry 'TOKEN' in vault 'ci' rolled back to version 1 (now version 3).\n"
    );
    let err = fail(command(
        &key,
        &["--db", d, "set", "ci", "TOKEN", "x", "--cas", "2"],
        &[],
    ));
    assert!(err.ends_with("but the current version is 3\n"), "{err}");
    ok(d, &key, &["unset", "ci", "TOKEN"], "");
    assert_eq!(
        ok(d, &key, &["restore", "ci", "TOKEN"], ""),
        "Entry 'TOKEN' restored in vault 'ci' (version 4).\n"
    );
    assert_eq!(
        ok(d, &key, &["purge", "ci", "TOKEN", "--force"], ""),
        "Purged 4 versions of entry 'TOKEN' in vault 'ci'.\n"
    );
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_URL not set (bash scripts/with-postgres.sh cargo test runs these)"
)]
fn cli_on_an_unreachable_postgres_names_host_and_database_but_not_the_password() {
    let url = postgres_url();
    let key = MasterKey::generate().to_base64().expose().to_owned();
    let db = with_user(
        &support::with_database(&url, "vaultdb"),
        "runqy",
        "pw-never-shown",
    );
    // Port 1 on loopback: nothing listens there.
    let db = db.replacen(&support::host_port(&url), "127.0.0.1:1", 1);
    let err = fail(command(&key, &["--db", &db, "list"], &[]));
    assert!(
        err.contains("PostgreSQL database 'vaultdb' at 127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("pw-never-shown"), "{err}");
}
