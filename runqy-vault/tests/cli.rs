//! The `runqy-vault` binary, run as a user runs it (SPEC §8): exact outputs,
//! exit statuses, error lines, and several processes on one store.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use runqy_vault::cipher::{Binding, Cipher};
use runqy_vault::model::AuditFilter;
use runqy_vault::{ErrorKind, ExportDocument, ExportEntry, ExportVault, Format, KeySet};
use runqy_vault::{MasterKey, Store};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");

/// A temporary directory with a store in it and the key that opens it.
struct Vault {
    dir: tempfile::TempDir,
    key: String,
}

impl Vault {
    fn new() -> Vault {
        Vault {
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

    /// The binary with `--db` on this store, `key` as the only RUNQY_VAULT_* variable.
    fn command_with_key(&self, key: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("RUNQY_VAULT_") {
                cmd.env_remove(name);
            }
        }
        if let Some(key) = key {
            cmd.env("RUNQY_VAULT_MASTER_KEY", key);
        }
        // Who acts, as the audit log and the history name it (else user@host).
        cmd.env("RUNQY_VAULT_ACTOR", "cli-test");
        cmd.arg("--db").arg(self.db()).args(args);
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_with_key(Some(&self.key), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, b"")
    }

    fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        feed(self.command(args), input)
    }

    /// Runs a command that must succeed silently on stderr; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        success(self.run(args))
    }

    /// Runs a command that must fail with one `error: ` line; returns that line.
    fn fail(&self, args: &[&str]) -> String {
        failure(self.run(args))
    }

    fn store(&self) -> Store {
        Store::open(self.db(), Some(&self.key)).unwrap()
    }
}

fn feed(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A command that does not read its input may have exited already.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn success(out: Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "");
    text(&out.stdout)
}

fn failure(out: Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(text(&out.stdout), "");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.ends_with('\n'), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

fn key_id(key: &str) -> String {
    MasterKey::parse(key, "test").unwrap().key_id().to_string()
}

// ---------------------------------------------------------------- outputs

#[test]
fn list_on_an_empty_store_says_no_vaults_found() {
    let v = Vault::new();
    assert_eq!(v.ok(&["list"]), "No vaults found.\n");
}

#[test]
fn create_confirms_and_list_prints_a_table_padded_by_two_spaces() {
    let v = Vault::new();
    assert_eq!(
        v.ok(&["create", "api-keys", "-d", "keys for the model APIs"]),
        "Vault 'api-keys' created successfully.\n"
    );
    assert_eq!(
        v.ok(&["create", "b", "--description", ""]),
        "Vault 'b' created successfully.\n"
    );
    v.ok(&["set", "api-keys", "A", "1"]);
    v.ok(&["set", "api-keys", "B", "2"]);
    assert_eq!(
        v.ok(&["list"]),
        "NAME      DESCRIPTION              ENTRIES\n\
         api-keys  keys for the model APIs  2\n\
         b                                  0\n"
    );
}

#[test]
fn list_cuts_descriptions_to_40_characters_counting_characters_not_bytes() {
    let v = Vault::new();
    let long = "é".repeat(41);
    let exact = "ü".repeat(40);
    v.ok(&["create", "long", "-d", &long]);
    v.ok(&["create", "exact", "-d", &exact]);
    let cut = format!("{}...", "é".repeat(37));
    assert_eq!(
        v.ok(&["list"]),
        format!(
            "NAME   DESCRIPTION{pad}  ENTRIES\n\
             exact  {exact}  0\n\
             long   {cut}  0\n",
            pad = " ".repeat(40 - "DESCRIPTION".len())
        )
    );
}

#[test]
fn show_prints_the_header_and_a_table_of_masked_entries() {
    let v = Vault::new();
    v.ok(&["create", "api-keys", "-d", "model keys"]);
    v.ok(&["set", "api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx"]);
    v.ok(&["set", "api-keys", "SHORT", "abcd"]);
    v.ok(&["set", "api-keys", "REGION", "eu-west-1", "--no-secret"]);
    let d = v.store().show("api-keys").unwrap();
    assert_eq!(
        v.ok(&["show", "api-keys"]),
        format!(
            "Vault: api-keys\n\
             Description: model keys\n\
             Created: {}\n\
             Updated: {}\n\
             \n\
             Entries (3):\n\
             KEY             VALUE      SECRET\n\
             OPENAI_API_KEY  sk****xx   yes\n\
             REGION          eu-west-1  no\n\
             SHORT           ****       yes\n",
            d.created_at, d.updated_at
        )
    );
}

#[test]
fn show_of_an_empty_vault_leaves_out_the_description_and_says_no_entries() {
    let v = Vault::new();
    v.ok(&["create", "empty"]);
    let d = v.store().show("empty").unwrap();
    assert!(d.created_at.ends_with('Z') && d.created_at.contains('T'));
    assert_eq!(
        v.ok(&["show", "empty"]),
        format!(
            "Vault: empty\nCreated: {}\nUpdated: {}\n\nNo entries.\n",
            d.created_at, d.updated_at
        )
    );
}

#[test]
fn entries_prints_masked_values_with_secret_and_updated_columns() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "GITHUB_TOKEN", "ghp_0123456789"]);
    v.ok(&["set", "ci", "BRANCH", "main", "--no-secret"]);
    let e = v.store().entries("ci").unwrap();
    assert_eq!(
        v.ok(&["entries", "ci"]),
        format!(
            "KEY           VALUE     SECRET  UPDATED\n\
             BRANCH        main      no      {}\n\
             GITHUB_TOKEN  gh****89  yes     {}\n",
            e[0].updated_at, e[1].updated_at
        )
    );
}

#[test]
fn entries_of_an_empty_vault_says_no_entries() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn tables_escape_control_characters_so_each_entry_stays_on_one_line() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "MULTI", "a\tb\nc", "--no-secret"]);
    let out = v.ok(&["entries", "ci"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("MULTI  a\\tb\\nc  no  "));
}

#[test]
fn set_confirms_and_get_prints_the_exact_value_and_one_newline() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let value = "p@ss = \"quoted\" 'single' $HOME\nsecond line  ";
    assert_eq!(
        v.ok(&["set", "ci", "TOKEN", value]),
        "Entry 'TOKEN' set in vault 'ci'.\n"
    );
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), format!("{value}\n"));
}

#[test]
fn set_accepts_a_value_that_starts_with_a_dash() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "FLAGS", "--verbose", "--no-secret"]);
    assert_eq!(v.ok(&["get", "ci", "FLAGS"]), "--verbose\n");
    assert!(!v.store().entries("ci").unwrap()[0].is_secret);
}

#[test]
fn set_replaces_an_existing_value() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "old"]);
    v.ok(&["set", "ci", "TOKEN", "new"]);
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "new\n");
}

#[test]
fn set_dash_reads_stdin_and_strips_exactly_one_trailing_newline() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let cases: &[(&[u8], &str)] = &[
        (b"secret\n", "secret"),
        (b"secret\r\n", "secret"),
        (b"secret", "secret"),
        (b"two\n\n", "two\n"),
        (b"multi\nline\n", "multi\nline"),
        (b"", ""),
        (b"\n", ""),
        (b"-", "-"),
    ];
    for (input, stored) in cases {
        let out = v.run_with_input(&["set", "ci", "TOKEN", "-"], input);
        assert_eq!(success(out), "Entry 'TOKEN' set in vault 'ci'.\n");
        assert_eq!(
            v.store().get("ci", "TOKEN").unwrap().expose(),
            *stored,
            "input {input:?}"
        );
    }
}

#[test]
fn set_dash_refuses_invalid_utf8_on_stdin_and_stores_nothing() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let err = failure(v.run_with_input(&["set", "ci", "TOKEN", "-"], b"ok\xff\xfe\n"));
    assert_eq!(
        err,
        "error: invalid value for key 'TOKEN' in vault 'ci': standard input is not valid UTF-8\n"
    );
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn set_dash_refuses_a_nul_byte_naming_vault_and_key_but_not_the_value() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let err = failure(v.run_with_input(&["set", "ci", "TOKEN", "-"], b"hunter2\0tail\n"));
    assert!(err.contains("'TOKEN'") && err.contains("'ci'"), "{err}");
    assert!(err.contains("NUL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn set_dash_refuses_a_value_over_65536_bytes_and_accepts_exactly_65536() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let big = "s".repeat(65_537);
    let err = failure(v.run_with_input(&["set", "ci", "BIG", "-"], big.as_bytes()));
    assert!(err.contains("'BIG'") && err.contains("'ci'"), "{err}");
    assert!(
        err.contains("65,537 bytes") && err.contains("65,536"),
        "{err}"
    );
    assert!(!err.contains("sssss"), "{err}");
    // Far larger input is refused too, without the whole of it being needed.
    let huge = vec![b'x'; 1 << 22];
    failure(v.run_with_input(&["set", "ci", "BIG", "-"], &huge));
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");

    let max = format!("{}\n", "m".repeat(65_536));
    success(v.run_with_input(&["set", "ci", "BIG", "-"], max.as_bytes()));
    assert_eq!(v.store().get("ci", "BIG").unwrap().expose().len(), 65_536);
}

#[test]
fn unset_confirms_and_the_entry_is_gone() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "t"]);
    assert_eq!(
        v.ok(&["unset", "ci", "TOKEN"]),
        "Entry 'TOKEN' removed from vault 'ci'.\n"
    );
    assert_eq!(
        v.fail(&["get", "ci", "TOKEN"]),
        "error: entry 'TOKEN' not found in vault 'ci'\n"
    );
}

const PROMPT: &str = "The versions of its entries are kept until `runqy-vault purge ci`.\n\
                      Are you sure you want to delete vault 'ci' and all its entries? (y/N): ";

#[test]
fn delete_asks_and_deletes_on_y_or_capital_y() {
    for answer in ["y\n", "Y\n", "y"] {
        let v = Vault::new();
        v.ok(&["create", "ci"]);
        v.ok(&["set", "ci", "TOKEN", "t"]);
        let out = success(v.run_with_input(&["delete", "ci"], answer.as_bytes()));
        assert_eq!(out, format!("{PROMPT}Vault 'ci' deleted successfully.\n"));
        assert_eq!(v.ok(&["list"]), "No vaults found.\n");
    }
}

#[test]
fn delete_cancels_on_n_empty_input_end_of_input_or_anything_else() {
    for answer in ["n\n", "\n", "", "yes\n", "N\n"] {
        let v = Vault::new();
        v.ok(&["create", "ci"]);
        let out = success(v.run_with_input(&["delete", "ci"], answer.as_bytes()));
        assert_eq!(out, format!("{PROMPT}Cancelled.\n"), "answer {answer:?}");
        assert!(v.store().vault_exists("ci").unwrap());
    }
}

#[test]
fn delete_with_force_does_not_ask_and_removes_the_entries_too() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "t"]);
    assert_eq!(
        v.ok(&["delete", "ci", "--force"]),
        "Vault 'ci' deleted successfully.\n"
    );
    v.ok(&["create", "ci"]);
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn delete_of_a_missing_vault_fails_before_asking() {
    let v = Vault::new();
    v.ok(&["list"]);
    let err = failure(v.run_with_input(&["delete", "ghost"], b"y\n"));
    assert_eq!(err, "error: vault 'ghost' not found\n");
}

#[test]
fn keygen_prints_a_fresh_valid_key_and_needs_no_store() {
    let v = Vault::new();
    let out = success(feed(v.command_with_key(None, &["keygen"]), b""));
    let again = success(feed(v.command_with_key(None, &["keygen"]), b""));
    assert!(out.ends_with('\n') && out.lines().count() == 1);
    assert_eq!(out.trim_end().len(), 44);
    MasterKey::parse(&out, "keygen").unwrap();
    assert_ne!(out, again);
    assert!(!v.db().exists());
}

#[test]
fn payload_prints_the_merged_json_later_vaults_winning() {
    let v = Vault::new();
    v.ok(&["create", "api-keys"]);
    v.ok(&["create", "model-credentials"]);
    v.ok(&["create", "ci"]);
    v.ok(&["set", "api-keys", "API_KEY", "old"]);
    v.ok(&["set", "api-keys", "ONLY_HERE", "x=1"]);
    v.ok(&["set", "model-credentials", "API_KEY", "new"]);
    v.ok(&["set", "ci", "GITHUB_TOKEN", "ghp_abc"]);
    assert_eq!(
        v.ok(&[
            "payload",
            "api-keys",
            "model-credentials",
            "--git-token",
            "vault://ci/GITHUB_TOKEN"
        ]),
        "{\"git_token\":\"ghp_abc\",\"vaults\":{\"API_KEY\":\"new\",\"ONLY_HERE\":\"x=1\"}}\n"
    );
}

#[test]
fn payload_with_a_bad_git_token_reference_warns_on_stderr_and_leaves_it_out() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "A", "1"]);
    let out = v.run(&["payload", "ci", "--git-token", "vault://ci/MISSING"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{\"vaults\":{\"A\":\"1\"}}\n");
    assert_eq!(
        text(&out.stderr),
        "warning: git_token left out: entry 'MISSING' not found in vault 'ci'\n"
    );
}

#[test]
fn payload_names_every_missing_vault_at_once() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    assert_eq!(
        v.fail(&["payload", "ci", "one", "two"]),
        "error: vaults 'one', 'two' not found\n"
    );
}

#[test]
fn the_master_key_can_come_from_runqy_vault_master_key_file_but_not_from_both() {
    let v = Vault::new();
    std::fs::write(v.path("master.key"), format!("{}\n", v.key)).unwrap();
    let mut cmd = v.command_with_key(None, &["create", "ci"]);
    cmd.env("RUNQY_VAULT_MASTER_KEY_FILE", v.path("master.key"));
    success(feed(cmd, b""));
    v.ok(&["set", "ci", "TOKEN", "t"]);
    let mut cmd = v.command_with_key(None, &["get", "ci", "TOKEN"]);
    cmd.env("RUNQY_VAULT_MASTER_KEY_FILE", v.path("master.key"));
    assert_eq!(success(feed(cmd, b"")), "t\n");
    let mut both = v.command(&["get", "ci", "TOKEN"]);
    both.env("RUNQY_VAULT_MASTER_KEY_FILE", v.path("master.key"));
    let err = failure(feed(both, b""));
    assert!(err.contains("both are set"), "{err}");
}

#[test]
fn the_db_comes_from_runqy_vault_db_or_defaults_to_runqy_vault_db_in_the_working_dir() {
    let v = Vault::new();
    // An empty RUNQY_VAULT_DB counts as unset, as in the core.
    let mut cmd = Command::new(BIN);
    cmd.env("RUNQY_VAULT_DB", "")
        .env("RUNQY_VAULT_MASTER_KEY", &v.key)
        .current_dir(v.dir.path())
        .args(["list"]);
    assert_eq!(success(feed(cmd, b"")), "No vaults found.\n");
    assert!(v.path("runqy-vault.db").exists());
    let mut cmd = Command::new(BIN);
    cmd.env_remove("RUNQY_VAULT_DB")
        .env("RUNQY_VAULT_MASTER_KEY", &v.key)
        .current_dir(v.dir.path())
        .args(["create", "here"]);
    success(feed(cmd, b""));
    assert!(v.path("runqy-vault.db").exists());

    let mut cmd = Command::new(BIN);
    cmd.env("RUNQY_VAULT_DB", v.path("other.db"))
        .env("RUNQY_VAULT_MASTER_KEY", &v.key)
        .current_dir(v.dir.path())
        .args(["create", "there"]);
    success(feed(cmd, b""));
    let other = Store::open(v.path("other.db"), Some(&v.key)).unwrap();
    assert!(other.vault_exists("there").unwrap());
    assert!(!other.vault_exists("here").unwrap());
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_vault_names_are_refused_naming_the_name() {
    let v = Vault::new();
    for name in ["-dash", "has space", "dot.ted", &"a".repeat(65)] {
        let err = failure(v.run(&["create", "--", name]));
        assert!(
            err.starts_with(&format!("error: invalid vault name '{name}': ")),
            "{err}"
        );
    }
    assert_eq!(v.ok(&["list"]), "No vaults found.\n");
}

#[test]
fn reserved_vault_names_are_refused_in_any_case() {
    let v = Vault::new();
    for name in ["PATH", "path", "Home", "virtual_env", "tmpdir"] {
        let err = failure(v.run(&["create", name]));
        assert!(
            err.starts_with(&format!("error: reserved vault name '{name}': ")),
            "{err}"
        );
    }
}

#[test]
fn bad_and_reserved_keys_are_refused_naming_the_key_but_never_the_value() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let secret = "sk-super-secret-value";
    for key in ["1ABC", "WITH-DASH", "SPACE KEY"] {
        let err = failure(v.run(&["set", "ci", key, secret]));
        assert!(
            err.starts_with(&format!("error: invalid key '{key}': ")),
            "{err}"
        );
        assert!(!err.contains(secret), "{err}");
    }
    for key in [
        "ld_preload",
        "Path",
        "DYLD_INSERT_LIBRARIES",
        "runqy_x",
        "BASH_ENV",
    ] {
        let err = failure(v.run(&["set", "ci", key, secret]));
        assert!(
            err.starts_with(&format!("error: reserved key '{key}': ")),
            "{err}"
        );
        assert!(!err.contains(secret), "{err}");
    }
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn missing_vaults_and_entries_are_named_in_the_error() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let not_found = "error: vault 'ghost' not found\n";
    assert_eq!(v.fail(&["show", "ghost"]), not_found);
    assert_eq!(v.fail(&["entries", "ghost"]), not_found);
    assert_eq!(v.fail(&["set", "ghost", "K", "secret-v"]), not_found);
    assert_eq!(v.fail(&["get", "ghost", "K"]), not_found);
    assert_eq!(v.fail(&["unset", "ghost", "K"]), not_found);
    assert_eq!(v.fail(&["delete", "ghost", "--force"]), not_found);
    assert_eq!(
        v.fail(&["get", "ci", "NOPE"]),
        "error: entry 'NOPE' not found in vault 'ci'\n"
    );
    assert_eq!(
        v.fail(&["unset", "ci", "NOPE"]),
        "error: entry 'NOPE' not found in vault 'ci'\n"
    );
    assert_eq!(
        v.fail(&["create", "ci"]),
        "error: vault 'ci' already exists\n"
    );
}

#[test]
fn without_a_master_key_every_command_says_vaults_not_configured_and_how_to_make_a_key() {
    let v = Vault::new();
    for args in [
        &["list"][..],
        &["create", "ci"],
        &["set", "ci", "K", "v"],
        &["get", "ci", "K"],
        &["payload", "ci"],
        &["export", "out.json", "--plaintext"],
        &["migrate"],
    ] {
        let err = failure(feed(v.command_with_key(None, args), b""));
        assert!(err.contains("vaults not configured"), "{err}");
        assert!(err.contains("openssl rand -base64 32"), "{err}");
    }
    assert!(!v.path("out.json").exists());
}

#[test]
fn a_master_key_of_the_wrong_length_is_refused_without_echoing_it() {
    let v = Vault::new();
    let short = "c2hvcnQta2V5LW9mLTE2Yg=="; // 16 bytes
    let err = failure(feed(v.command_with_key(Some(short), &["list"]), b""));
    assert!(err.contains("invalid master key"), "{err}");
    assert!(err.contains("16 bytes"), "{err}");
    assert!(!err.contains(short), "{err}");
    let err = failure(feed(
        v.command_with_key(Some("not base64!"), &["list"]),
        b"",
    ));
    assert!(err.contains("invalid master key"), "{err}");
    assert!(err.contains("alphabet"), "{err}");
}

#[test]
fn the_wrong_master_key_is_refused_at_open_naming_both_key_ids() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "t"]);
    let other = MasterKey::generate().to_base64().expose().to_owned();
    let err = failure(feed(
        v.command_with_key(Some(&other), &["get", "ci", "TOKEN"]),
        b"",
    ));
    assert_eq!(
        err,
        format!(
            "error: master key mismatch: the store's values are under key id {}, \
             but the master key given has key id {}\n",
            key_id(&v.key),
            key_id(&other)
        )
    );
}

#[test]
fn a_db_file_that_is_not_sqlite_is_refused_and_left_unchanged() {
    let v = Vault::new();
    let junk = "this is a text file, not a SQLite database at all\n".repeat(40);
    std::fs::write(v.db(), &junk).unwrap();
    let err = v.fail(&["list"]);
    assert!(err.contains(&v.db().display().to_string()), "{err}");
    assert!(err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read_to_string(v.db()).unwrap(), junk);
}

#[test]
fn a_read_only_db_refuses_writes_with_a_storage_error() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "t"]);
    std::fs::set_permissions(v.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = v.command(&["set", "ci", "TOKEN", "new-secret"]);
    // Root writes to any file: the write must then come from an unprivileged user.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let err = failure(feed(cmd, b""));
    std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(err.starts_with("error: storage error: "), "{err}");
    assert!(
        err.contains("readonly") || err.contains("read-only"),
        "{err}"
    );
    assert!(!err.contains("new-secret"), "{err}");
    assert_eq!(v.store().get("ci", "TOKEN").unwrap().expose(), "t");
}

#[test]
fn usage_errors_exit_2() {
    let v = Vault::new();
    for args in [
        &["set", "ci"][..],
        &["no-such-command"],
        &["payload"],
        &["create"],
        &["list", "--bogus"],
    ] {
        let out = v.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}");
        assert_eq!(text(&out.stdout), "");
    }
    assert!(!v.db().exists());
}

#[test]
fn help_says_how_set_dash_treats_the_trailing_newline() {
    let v = Vault::new();
    let help = success(v.run(&["set", "--help"]));
    assert!(
        help.contains("echo secret | runqy-vault set VAULT KEY -"),
        "{help}"
    );
    assert!(help.contains("one trailing newline"), "{help}");
}

// ---------------------------------------------------------------- export / import

fn sample(v: &Vault) {
    v.ok(&["create", "api-keys", "-d", "model keys"]);
    v.ok(&["create", "empty"]);
    v.ok(&["set", "api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx"]);
    v.ok(&["set", "api-keys", "REGION", "eu", "--no-secret"]);
    success(v.run_with_input(
        &["set", "api-keys", "PEM", "-"],
        "-----BEGIN-----\nl1\nl2 é\n".as_bytes(),
    ));
}

#[test]
fn export_writes_a_0600_file_and_nothing_to_stdout() {
    let v = Vault::new();
    sample(&v);
    let out = v.run(&["export", "backup.json", "--plaintext"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "Exported 2 vaults (3 entries) to backup.json, in plaintext.\n"
    );
    let meta = std::fs::metadata(v.path("backup.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let doc = ExportDocument::from_json(&std::fs::read_to_string(v.path("backup.json")).unwrap())
        .unwrap();
    assert_eq!(doc, v.store().export().unwrap());
    let pem = &doc.vaults[0].entries[1];
    assert_eq!(
        (pem.key.as_str(), pem.value.expose()),
        ("PEM", "-----BEGIN-----\nl1\nl2 é")
    );
}

#[test]
fn export_refuses_a_file_that_exists_and_leaves_it_untouched() {
    let v = Vault::new();
    sample(&v);
    std::fs::write(v.path("taken.json"), "keep me").unwrap();
    assert_eq!(
        v.fail(&["export", "taken.json", "--plaintext"]),
        "error: taken.json: already exists; export writes only to a new file\n"
    );
    assert_eq!(
        std::fs::read_to_string(v.path("taken.json")).unwrap(),
        "keep me"
    );
    // A symlink is refused too, not followed.
    std::os::unix::fs::symlink(v.path("target.json"), v.path("link.json")).unwrap();
    v.fail(&["export", "link.json", "--plaintext"]);
    assert!(!v.path("target.json").exists());
}

#[test]
fn import_of_an_export_into_another_store_round_trips_every_entry() {
    let a = Vault::new();
    sample(&a);
    let file = a.path("a.json");
    assert!(a
        .run(&["export", file.to_str().unwrap(), "--plaintext"])
        .status
        .success());
    let b = Vault::new();
    b.ok(&["create", "api-keys"]);
    b.ok(&["set", "api-keys", "OPENAI_API_KEY", "replaced-by-import"]);
    b.ok(&["set", "api-keys", "KEEP", "kept"]);
    assert_eq!(
        b.ok(&["import", file.to_str().unwrap()]),
        "Imported 3 entries.\n"
    );
    let exported_a = a.store().export().unwrap();
    let mut expected = exported_a.clone();
    expected.vaults[0].entries.insert(
        0,
        ExportEntry {
            key: "KEEP".into(),
            value: "kept".into(),
            is_secret: true,
        },
    );
    assert_eq!(b.store().export().unwrap(), expected);
    assert_eq!(
        b.ok(&["get", "api-keys", "OPENAI_API_KEY"]),
        "sk-proj-abc123xx\n"
    );
}

#[test]
fn an_import_document_with_one_bad_entry_changes_nothing() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "before"]);
    let before = v.store().export().unwrap();
    std::fs::write(
        v.path("bad.json"),
        r#"{"format": 1, "vaults": [
            {"name": "ci", "description": "", "entries": [{"key": "TOKEN", "value": "after", "is_secret": true}]},
            {"name": "new-vault", "description": "", "entries": [
                {"key": "GOOD", "value": "g", "is_secret": true},
                {"key": "LD_PRELOAD", "value": "/tmp/evil-secret.so", "is_secret": true}]}]}"#,
    )
    .unwrap();
    let err = v.fail(&["import", "bad.json"]);
    assert!(err.contains("'LD_PRELOAD'"), "{err}");
    assert!(!err.contains("evil-secret"), "{err}");
    assert_eq!(v.store().export().unwrap(), before);
}

#[test]
fn import_of_a_missing_or_non_json_file_fails_cleanly() {
    let v = Vault::new();
    v.ok(&["list"]);
    let err = v.fail(&["import", "nope.json"]);
    assert!(err.starts_with("error: nope.json: "), "{err}");
    std::fs::write(
        v.path("junk.json"),
        "{\"format\": 1, \"vaults\": [sk-secret",
    )
    .unwrap();
    let err = v.fail(&["import", "junk.json"]);
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(!err.contains("sk-secret"), "{err}");
}

// ---------------------------------------------------------------- rotate-key

#[test]
fn rotate_key_from_stdin_reencrypts_everything_and_the_old_key_is_refused_afterwards() {
    let v = Vault::new();
    sample(&v);
    let before = v.store().export().unwrap();
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    let out = success(v.run_with_input(&["rotate-key"], format!("{new_key}\n").as_bytes()));
    assert_eq!(
        out,
        format!(
            "Master key rotated: 3 entries re-encrypted under key id {}.\n\
             Set RUNQY_VAULT_MASTER_KEY (or the file RUNQY_VAULT_MASTER_KEY_FILE names) \
             to the new key now: the old key no longer opens this store.\n",
            key_id(&new_key)
        )
    );
    assert!(!out.contains(&new_key));
    let err = v.fail(&["list"]);
    assert!(err.starts_with("error: master key mismatch"), "{err}");
    let after = Store::open(v.db(), Some(&new_key)).unwrap();
    assert_eq!(after.export().unwrap(), before);
}

#[test]
fn rotate_key_reads_the_new_key_from_a_file() {
    let v = Vault::new();
    sample(&v);
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    std::fs::write(v.path("new.key"), format!("  {new_key}\n")).unwrap();
    let out = success(v.run_with_input(&["rotate-key", "--new-key-file", "new.key"], b"ignored"));
    assert!(out.starts_with("Master key rotated: 3 entries re-encrypted under key id "));
    let err = v.fail(&["get", "api-keys", "REGION"]);
    assert!(err.starts_with("error: master key mismatch"), "{err}");
    let mut cmd = v.command_with_key(Some(&new_key), &["get", "api-keys", "REGION"]);
    cmd.stdin(Stdio::null());
    assert_eq!(success(cmd.output().unwrap()), "eu\n");
}

#[test]
fn rotate_key_refuses_the_current_key_and_invalid_keys_and_changes_nothing() {
    let v = Vault::new();
    sample(&v);
    let before = v.store().export().unwrap();
    let err = failure(v.run_with_input(&["rotate-key"], v.key.as_bytes()));
    assert!(err.contains("current key"), "{err}");
    let err = failure(v.run_with_input(&["rotate-key"], b"c2hvcnQ=\n"));
    assert!(
        err.contains("invalid master key from standard input"),
        "{err}"
    );
    assert!(err.contains("5 bytes"), "{err}");
    let err = failure(v.run_with_input(&["rotate-key"], b""));
    assert!(err.contains("empty"), "{err}");
    let err = failure(v.run_with_input(&["rotate-key"], b"\xff\xfe"));
    assert!(err.contains("not UTF-8"), "{err}");
    // The file is read by the core's key-file rules, as RUNQY_VAULT_MASTER_KEY_FILE is.
    let err = v.fail(&["rotate-key", "--new-key-file", "missing.key"]);
    assert!(
        err.starts_with(
            "error: invalid master key from --new-key-file (missing.key): cannot read the file"
        ),
        "{err}"
    );
    assert_eq!(v.store().export().unwrap(), before);
}

// ---------------------------------------------------------------- migrate

/// A runqy server's database: the upstream tables, legacy blobs, no meta table.
fn legacy_store(v: &Vault, entries: &[(&str, &str, &str, bool)]) {
    let conn = rusqlite::Connection::open(v.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
             description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
             updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
         CREATE INDEX idx_vaults_name ON vaults(name);
         CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
             vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
             key TEXT NOT NULL, value BLOB NOT NULL, is_secret INTEGER DEFAULT 1,
             created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
             updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(vault_id, key));
         CREATE INDEX idx_vault_entries_vault_id ON vault_entries(vault_id);
         CREATE INDEX idx_vault_entries_key ON vault_entries(vault_id, key);",
    )
    .unwrap();
    let cipher = Cipher::new(&KeySet {
        current: MasterKey::parse(&v.key, "test").unwrap(),
        previous: vec![],
    });
    for (vault, key, value, is_secret) in entries {
        conn.execute(
            "INSERT OR IGNORE INTO vaults (name, description) VALUES (?1, '')",
            [vault],
        )
        .unwrap();
        let entry = Binding {
            vault,
            key,
            is_secret: *is_secret,
        };
        let blob = cipher.encrypt(Format::Legacy, entry, value.as_bytes());
        assert!(!blob.starts_with(b"RQV\x02"));
        conn.execute(
            "INSERT INTO vault_entries (vault_id, key, value, is_secret)
             VALUES ((SELECT id FROM vaults WHERE name = ?1), ?2, ?3, ?4)",
            rusqlite::params![vault, key, blob, is_secret],
        )
        .unwrap();
    }
}

#[test]
fn migrate_rewrites_a_legacy_store_to_v2_and_then_says_it_is_already_v2() {
    let v = Vault::new();
    legacy_store(
        &v,
        &[
            ("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true),
            ("api-keys", "REGION", "eu", false),
            ("ci", "GITHUB_TOKEN", "ghp_x", true),
        ],
    );
    // Read and written as legacy until migrated (a Go server may share it).
    assert_eq!(
        v.ok(&["get", "api-keys", "OPENAI_API_KEY"]),
        "sk-proj-abc123xx\n"
    );
    assert_eq!(v.store().format(), Some(Format::Legacy));
    assert_eq!(
        v.ok(&["migrate"]),
        "Store migrated to v2: 3 entries re-encrypted.\n"
    );
    assert_eq!(v.store().format(), Some(Format::V2));
    let conn = rusqlite::Connection::open(v.db()).unwrap();
    let blobs: Vec<Vec<u8>> = conn
        .prepare("SELECT value FROM vault_entries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(blobs.len(), 3);
    assert!(blobs.iter().all(|b| b.starts_with(b"RQV\x02")));
    assert_eq!(
        v.ok(&["get", "api-keys", "OPENAI_API_KEY"]),
        "sk-proj-abc123xx\n"
    );
    assert_eq!(v.ok(&["get", "api-keys", "REGION"]), "eu\n");
    assert_eq!(v.ok(&["get", "ci", "GITHUB_TOKEN"]), "ghp_x\n");
    assert_eq!(v.ok(&["migrate"]), "Store is already v2.\n");
}

#[test]
fn a_legacy_store_is_refused_under_the_wrong_key() {
    let v = Vault::new();
    legacy_store(&v, &[("ci", "GITHUB_TOKEN", "ghp_x", true)]);
    let other = MasterKey::generate().to_base64().expose().to_owned();
    let err = failure(feed(v.command_with_key(Some(&other), &["migrate"]), b""));
    assert!(err.starts_with("error: master key mismatch"), "{err}");
    assert_eq!(v.ok(&["get", "ci", "GITHUB_TOKEN"]), "ghp_x\n");
}

// ---------------------------------------------------------------- several processes

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_processes_doing_the_first_set_of_one_key_both_succeed() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    for round in 0..20 {
        let key = format!("KEY_{round}");
        let mut a = spawn(&mut v.command(&["set", "ci", &key, "from-a"]));
        let mut b = spawn(&mut v.command(&["set", "ci", &key, "from-b"]));
        a.wait().unwrap();
        b.wait().unwrap();
        let expected = format!("Entry '{key}' set in vault 'ci'.\n");
        assert_eq!(success(a.wait_with_output().unwrap()), expected);
        assert_eq!(success(b.wait_with_output().unwrap()), expected);
        let value = v.ok(&["get", "ci", &key]);
        assert!(value == "from-a\n" || value == "from-b\n", "{value}");
    }
    assert_eq!(v.store().entries("ci").unwrap().len(), 20);
}

#[test]
fn two_processes_racing_set_cas_on_one_version_give_one_success_and_one_conflict() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "start"]);
    for round in 1..=10 {
        let cas = round.to_string();
        let a = spawn(&mut v.command(&["set", "ci", "TOKEN", "from-a", "--cas", &cas]));
        let b = spawn(&mut v.command(&["set", "ci", "TOKEN", "from-b", "--cas", &cas]));
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let (wins, losses): (Vec<&Output>, Vec<&Output>) =
            outs.iter().partition(|o| o.status.success());
        assert_eq!((wins.len(), losses.len()), (1, 1), "round {round}");
        assert_eq!(text(&wins[0].stdout), "Entry 'TOKEN' set in vault 'ci'.\n");
        assert_eq!(
            text(&losses[0].stderr),
            format!(
                "error: version conflict on key 'TOKEN' in vault 'ci': expected version \
                 {round}, but the current version is {}\n",
                round + 1
            )
        );
        assert_eq!(losses[0].status.code(), Some(1));
    }
    let history = v.store().history("ci", "TOKEN").unwrap();
    assert_eq!(history.len(), 10, "the default limit keeps 10 of the 11");
    assert_eq!(history[0].version, Some(11));
}

/// Runs two `create NAME` at once: exactly one must succeed, the other say it exists.
fn race_create(v: &Vault, name: &str) {
    let a = spawn(&mut v.command(&["create", name]));
    let b = spawn(&mut v.command(&["create", name]));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let (wins, losses): (Vec<&Output>, Vec<&Output>) =
        outs.iter().partition(|o| o.status.success());
    assert_eq!(
        (wins.len(), losses.len()),
        (1, 1),
        "{name}: {:?}",
        outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
    );
    assert_eq!(
        text(&wins[0].stdout),
        format!("Vault '{name}' created successfully.\n")
    );
    assert_eq!(
        text(&losses[0].stderr),
        format!("error: vault '{name}' already exists\n")
    );
    assert_eq!(losses[0].status.code(), Some(1));
}

#[test]
fn two_processes_creating_one_vault_give_one_success_and_one_already_exists() {
    let v = Vault::new();
    v.ok(&["list"]);
    for round in 0..20 {
        race_create(&v, &format!("vault-{round}"));
    }
}

#[test]
fn two_processes_creating_one_vault_in_a_new_store_give_one_success_and_one_already_exists() {
    for _ in 0..100 {
        race_create(&Vault::new(), "ci");
    }
}

/// 20,000 entries in 20 vaults, values that say where they belong.
fn big_document() -> ExportDocument {
    ExportDocument {
        format: 1,
        vaults: (0..20)
            .map(|v| ExportVault {
                name: format!("vault-{v:02}"),
                description: String::new(),
                entries: (0..1000)
                    .map(|e| ExportEntry {
                        key: format!("KEY_{e:04}"),
                        value: format!("value {v}/{e} é").into(),
                        is_secret: e % 7 != 0,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Starts `rotate-key` to a fresh key on a copy of `template`'s store.
fn start_rotation(template: &Vault) -> (Vault, String, Child) {
    let v = Vault {
        dir: tempfile::tempdir().unwrap(),
        key: template.key.clone(),
    };
    std::fs::copy(template.db(), v.db()).unwrap();
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    let mut child = v
        .command(&["rotate-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Dropped at once: the child reads to the end of its input.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(new_key.as_bytes())
        .unwrap();
    (v, new_key, child)
}

#[test]
fn kill_9_during_rotate_key_leaves_exactly_one_key_working_and_every_entry_intact() {
    use std::time::{Duration, Instant};
    let template = Vault::new();
    assert_eq!(template.store().import(&big_document()).unwrap(), 20_000);
    let expected = template.store().export().unwrap();
    assert_eq!(expected.vaults.len(), 20);

    // One rotation left to finish, to learn how long one takes here, so that
    // some kills below land near the commit and not only early in the work.
    let started = Instant::now();
    let (v, new_key, mut child) = start_rotation(&template);
    assert!(child.wait().unwrap().success());
    let full = started.elapsed().as_millis() as u64;
    let err = Store::open(v.db(), Some(&v.key)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyMismatch);
    let rotated = Store::open(v.db(), Some(&new_key)).unwrap();
    assert_eq!(rotated.export().unwrap(), expected);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut delays = vec![5, 20, 50, 100, 200, 5 + seed % 196];
    delays.extend([full * 8 / 10, full * 95 / 100, full, full * 105 / 100]);
    for delay in delays {
        let (v, new_key, mut child) = start_rotation(&template);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL (or nothing, if it has finished)
        child.wait().unwrap();

        let old = Store::open(v.db(), Some(&v.key));
        let new = Store::open(v.db(), Some(&new_key));
        let store = match (old, new) {
            (Ok(store), Err(e)) | (Err(e), Ok(store)) => {
                assert_eq!(e.kind(), ErrorKind::KeyMismatch, "delay {delay} ms: {e}");
                store
            }
            (old, new) => panic!(
                "delay {delay} ms: exactly one key must open the store: old {:?}, new {:?}",
                old.map(|_| ()),
                new.map(|_| ())
            ),
        };
        assert_eq!(store.export().unwrap(), expected, "delay {delay} ms");
    }
}

// ---------------------------------------------------------------- history (SPEC §12)

/// A store with `ci/TOKEN` at versions 1 (`ghp_first_value`) and 2
/// (`ghp_second_value`) and `ci/LEVEL` at version 1 (`info`, not secret).
fn with_history() -> Vault {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "ghp_first_value"]);
    v.ok(&["set", "ci", "TOKEN", "ghp_second_value"]);
    v.ok(&["set", "ci", "LEVEL", "info", "--no-secret"]);
    v
}

/// The table with each timestamp (not known in advance) replaced by `T`
/// and as many spaces, so the columns stay aligned.
fn without_times(table: &str) -> String {
    let mut out = String::new();
    let mut rest = table;
    while let Some(c) = rest.chars().next() {
        if is_stamp(rest) {
            out.push_str("T                   ");
            rest = &rest[20..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Whether `s` starts with an RFC 3339 UTC stamp such as `2024-01-15T10:30:00Z`.
fn is_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..20].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn history_prints_the_versions_newest_first_in_a_table_values_masked() {
    let v = with_history();
    assert_eq!(
        without_times(&v.ok(&["history", "ci", "TOKEN"])),
        "VERSION  VALUE     SECRET  CREATED               ACTOR     STATE     LAST READ\n\
         2        gh****ue  yes     T                     cli-test  current   -\n\
         1        gh****ue  yes     T                     cli-test  replaced  -\n"
    );
    v.ok(&["unset", "ci", "LEVEL"]);
    assert_eq!(
        without_times(&v.ok(&["history", "ci", "LEVEL"])),
        "VERSION  VALUE  SECRET  CREATED               ACTOR     STATE    LAST READ\n\
         1        info   no      T                     cli-test  removed  -\n"
    );
    assert_eq!(
        v.fail(&["history", "ci", "NOPE"]),
        "error: entry 'NOPE' not found in vault 'ci'\n"
    );
    assert_eq!(
        v.fail(&["history", "ghost", "TOKEN"]),
        "error: vault 'ghost' not found\n"
    );
}

#[test]
fn history_json_is_one_document_of_the_same_data() {
    let v = with_history();
    let out = v.ok(&["history", "ci", "TOKEN", "--json"]);
    assert!(out.ends_with("]\n"), "{out}");
    // One document, as the other commands' --json (a second would not parse).
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = doc.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, (version, state)) in rows.iter().zip([(2, "current"), (1, "replaced")]) {
        let obj = row.as_object().unwrap();
        assert_eq!(
            obj.keys().collect::<Vec<_>>(),
            [
                "actor",
                "created_at",
                "is_secret",
                "last_read",
                "state",
                "value",
                "version"
            ]
        );
        assert_eq!(row["version"], version);
        assert_eq!(row["value"], "gh****ue");
        assert_eq!(row["is_secret"], true);
        assert_eq!(row["actor"], "cli-test");
        assert_eq!(row["last_read"], serde_json::Value::Null);
        assert_eq!(row["state"], state);
        assert!(is_stamp(row["created_at"].as_str().unwrap()));
    }
    assert!(!out.contains("ghp_"), "values are masked: {out}");
}

#[test]
fn get_version_prints_that_version_and_bad_versions_fail_naming_it() {
    let v = with_history();
    assert_eq!(
        v.ok(&["get", "ci", "TOKEN", "--version", "1"]),
        "ghp_first_value\n"
    );
    assert_eq!(
        v.ok(&["get", "ci", "TOKEN", "--version", "2"]),
        "ghp_second_value\n"
    );
    for (arg, reason) in [
        ("0", "versions count from 1"),
        ("-1", "versions count from 1"),
        ("3", "the newest version is 2"),
    ] {
        assert_eq!(
            v.fail(&["get", "ci", "TOKEN", "--version", arg]),
            format!("error: version {arg} of key 'TOKEN' in vault 'ci' not found: {reason}\n")
        );
    }
    // Not a number: a usage error (exit 2), as clap reports it.
    let out = v.run(&["get", "ci", "TOKEN", "--version", "two"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'two'"));
}

#[test]
fn set_cas_writes_over_the_expected_version_only() {
    let v = with_history();
    assert_eq!(
        v.ok(&["set", "ci", "NEW", "x", "--cas", "0"]),
        "Entry 'NEW' set in vault 'ci'.\n"
    );
    assert_eq!(
        v.fail(&["set", "ci", "NEW", "y", "--cas", "0"]),
        "error: version conflict on key 'NEW' in vault 'ci': expected no entry \
         (check-and-set 0), but the current version is 1\n"
    );
    assert_eq!(
        v.fail(&["set", "ci", "TOKEN", "y", "--cas", "1"]),
        "error: version conflict on key 'TOKEN' in vault 'ci': expected version 1, but the \
         current version is 2\n"
    );
    assert!(v
        .fail(&["set", "ci", "TOKEN", "y", "--cas", "-2"])
        .starts_with("error: invalid check-and-set version -2 for key 'TOKEN' in vault 'ci'"));
    let out = v.run_with_input(&["set", "ci", "TOKEN", "-", "--cas", "2"], b"from-stdin\n");
    assert_eq!(success(out), "Entry 'TOKEN' set in vault 'ci'.\n");
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "from-stdin\n");
    assert_eq!(v.ok(&["get", "ci", "NEW"]), "x\n");
}

#[test]
fn rollback_and_restore_print_the_new_version() {
    let v = with_history();
    assert_eq!(
        v.ok(&["rollback", "ci", "TOKEN", "1"]),
        "Entry 'TOKEN' in vault 'ci' rolled back to version 1 (now version 3).\n"
    );
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "ghp_first_value\n");
    assert_eq!(
        v.fail(&["restore", "ci", "TOKEN"]),
        "error: entry 'TOKEN' in vault 'ci' is current (version 3): restore brings back a \
         removed entry (rollback goes back to an older version)\n"
    );
    v.ok(&["unset", "ci", "TOKEN"]);
    assert_eq!(
        v.fail(&["rollback", "ci", "TOKEN", "2"]),
        "error: entry 'TOKEN' not found in vault 'ci': it was removed (its last version is \
         3); restore brings it back\n"
    );
    assert_eq!(
        v.ok(&["restore", "ci", "TOKEN"]),
        "Entry 'TOKEN' restored in vault 'ci' (version 4).\n"
    );
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "ghp_first_value\n");
    assert_eq!(
        v.fail(&["rollback", "ci", "TOKEN", "-1"]),
        "error: version -1 of key 'TOKEN' in vault 'ci' not found: versions count from 1\n"
    );
    assert_eq!(v.run(&["rollback", "ci", "TOKEN"]).status.code(), Some(2));
}

#[test]
fn delete_keeps_the_history_and_restore_brings_an_entry_back_after_the_vault_is_recreated() {
    let v = with_history();
    v.ok(&["delete", "ci", "--force"]);
    assert_eq!(
        without_times(&v.ok(&["history", "ci", "TOKEN"])),
        "VERSION  VALUE     SECRET  CREATED               ACTOR     STATE     LAST READ\n\
         2        gh****ue  yes     T                     cli-test  removed   -\n\
         1        gh****ue  yes     T                     cli-test  replaced  -\n"
    );
    assert_eq!(
        v.fail(&["restore", "ci", "TOKEN"]),
        "error: vault 'ci' not found\n"
    );
    v.ok(&["create", "ci"]);
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
    assert_eq!(
        v.ok(&["restore", "ci", "TOKEN"]),
        "Entry 'TOKEN' restored in vault 'ci' (version 3).\n"
    );
}

const PURGE_KEY_PROMPT: &str = "Are you sure you want to purge entry 'TOKEN' of vault 'ci' and \
                                its 2 versions? This cannot be undone. (y/N): ";

#[test]
fn purge_asks_and_cancels_on_anything_but_y_changing_nothing() {
    for answer in ["n\n", "\n", "", "yes\n"] {
        let v = with_history();
        let out = success(v.run_with_input(&["purge", "ci", "TOKEN"], answer.as_bytes()));
        assert_eq!(out, format!("{PURGE_KEY_PROMPT}Cancelled.\n"), "{answer:?}");
        assert_eq!(v.store().history("ci", "TOKEN").unwrap().len(), 2);
        assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "ghp_second_value\n");
    }
}

#[test]
fn purge_of_an_entry_on_y_destroys_it_and_its_versions() {
    let v = with_history();
    let out = success(v.run_with_input(&["purge", "ci", "TOKEN"], b"y\n"));
    assert_eq!(
        out,
        format!("{PURGE_KEY_PROMPT}Purged 2 versions of entry 'TOKEN' in vault 'ci'.\n")
    );
    assert_eq!(
        v.fail(&["history", "ci", "TOKEN"]),
        "error: entry 'TOKEN' not found in vault 'ci'\n"
    );
    assert_eq!(v.ok(&["get", "ci", "LEVEL"]), "info\n");
    // Nothing left: fails before asking.
    assert_eq!(
        failure(v.run_with_input(&["purge", "ci", "TOKEN"], b"y\n")),
        "error: entry 'TOKEN' not found in vault 'ci'\n"
    );
}

#[test]
fn purge_of_a_vault_with_force_destroys_the_vault_entries_and_versions() {
    let v = with_history();
    let out = success(v.run_with_input(&["purge", "ci"], b"Y\n"));
    assert_eq!(
        out,
        "Are you sure you want to purge vault 'ci', its 2 entries and their 3 versions? This \
         cannot be undone. (y/N): Purged 3 versions of vault 'ci'; the vault and its 2 entries \
         are deleted.\n"
    );
    assert_eq!(v.ok(&["list"]), "No vaults found.\n");
    let v = with_history();
    v.ok(&["delete", "ci", "--force"]);
    assert_eq!(
        v.ok(&["purge", "ci", "--force"]),
        "Purged 3 versions of vault 'ci' (deleted earlier).\n"
    );
    assert_eq!(
        v.fail(&["purge", "ci", "--force"]),
        "error: vault 'ci' not found\n"
    );
    assert_eq!(
        v.fail(&["history", "ci", "TOKEN"]),
        "error: vault 'ci' not found\n"
    );
}

#[test]
fn history_limit_shows_sets_prunes_and_refuses_bad_numbers() {
    let v = with_history();
    assert_eq!(
        v.ok(&["history-limit"]),
        "History limit: 10 versions per key.\n"
    );
    assert_eq!(
        v.ok(&["history-limit", "1"]),
        "History limit set to 1 version per key (only the current value); 1 older version \
         pruned.\n"
    );
    assert_eq!(
        v.ok(&["history-limit"]),
        "History limit: 1 version per key (only the current value).\n"
    );
    for bad in ["0", "-3", "4294967296"] {
        assert_eq!(
            v.fail(&["history-limit", bad]),
            format!(
                "error: invalid history limit {bad}: give a number of versions from 1 (only the \
                 current values) to 4294967295\n"
            )
        );
    }
    assert_eq!(
        v.ok(&["history-limit", "5"]),
        "History limit set to 5 versions per key; 0 older versions pruned.\n"
    );
}

// ---- The defects a hostile review found (issue 17), each named after it ----

#[test]
fn plaintext_token_echoed_payload_never_prints_a_token_given_for_its_reference() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "A", "1"]);
    let out = v.run(&["payload", "ci", "--git-token", "ghp_0123456789SECRETsecret"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{\"vaults\":{\"A\":\"1\"}}\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("warning: git_token left out: invalid vault reference"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRET"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn messages_not_sanitised_escape_sequences_and_newlines_never_reach_the_terminal() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let esc = "\u{1b}]0;owned\u{7}\u{1b}[31mred";
    for args in [
        vec!["get", esc, "K"],
        vec!["get", "ci", esc],
        vec!["create", esc],
        vec!["show", esc],
    ] {
        let err = v.fail(&args);
        let line = err.trim_end_matches('\n');
        assert!(!line.chars().any(char::is_control), "{args:?}: {err:?}");
        assert!(line.contains("\\u{1b}[31mred"), "{err}");
    }
    let out = v.run(&[
        "payload",
        "ci",
        "--git-token",
        "vault://ci/X\nwarning: forged",
    ]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("X\\nwarning: forged"), "{stderr}");
}

#[test]
fn inaccurate_messages_a_10_mb_value_on_stdin_is_more_than_the_limit_not_65539_bytes() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    let ten_mb = vec![b'x'; 10 << 20];
    let err = failure(v.run_with_input(&["set", "ci", "BIG", "-"], &ten_mb));
    assert_eq!(
        err,
        "error: invalid value for key 'BIG' in vault 'ci': is more than 65,536 bytes, the limit\n"
    );
    assert_eq!(v.ok(&["entries", "ci"]), "No entries.\n");
}

#[test]
fn inaccurate_messages_a_whitespace_only_master_key_is_invalid_not_unconfigured() {
    let v = Vault::new();
    let err = failure(feed(v.command_with_key(Some("   \n"), &["list"]), b""));
    assert!(
        err.starts_with("error: invalid master key from RUNQY_VAULT_MASTER_KEY: "),
        "{err}"
    );
    assert!(!err.contains("not configured"), "{err}");
    // An empty variable is unset, as upstream reads it.
    let err = failure(feed(v.command_with_key(Some(""), &["list"]), b""));
    assert!(err.contains("vaults not configured"), "{err}");
}

#[test]
fn in_memory_and_empty_paths_are_refused_by_the_cli() {
    let v = Vault::new();
    for db in [":memory:", "file::memory:?cache=shared"] {
        let mut cmd = v.command(&["list"]);
        cmd.arg("--db").arg(db);
        let err = failure(feed(cmd, b""));
        assert!(err.contains("in-memory"), "{err}");
    }
}

/// The files in `dir`, sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `args` run by a user who cannot write the database (nobody, when the tests run as root).
fn run_as_reader(v: &Vault, args: &[&str]) -> Output {
    let mut cmd = v.command(args);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    feed(cmd, b"")
}

#[test]
fn a_read_only_database_cannot_be_read_no_more_and_reads_leave_no_wal_files() {
    // The directory writable by the reader or not: both are read, and neither
    // is left with -wal or -shm files.
    for dir_mode in [0o555, 0o777] {
        let v = Vault::new();
        v.ok(&["create", "ci"]);
        v.ok(&["set", "ci", "TOKEN", "t-value"]);
        // A read's audit record cannot be written to a read-only file: with
        // audit-reads on, the reads are refused.
        v.ok(&["audit-reads", "off"]);
        assert_eq!(listing(v.dir.path()), ["vault.db"]);
        std::fs::set_permissions(v.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(dir_mode)).unwrap();
        let got = run_as_reader(&v, &["get", "ci", "TOKEN"]);
        let listed = run_as_reader(&v, &["list"]);
        let payload = run_as_reader(&v, &["payload", "ci"]);
        let set = run_as_reader(&v, &["set", "ci", "TOKEN", "new-secret"]);
        let files = listing(v.dir.path());
        std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(success(got), "t-value\n", "dir {dir_mode:o}");
        assert!(success(listed).contains("ci"));
        assert_eq!(success(payload), "{\"vaults\":{\"TOKEN\":\"t-value\"}}\n");
        let err = failure(set);
        assert!(err.starts_with("error: storage error: "), "{err}");
        assert!(
            err.contains("read-only") && err.contains("vault.db"),
            "{err}"
        );
        assert!(!err.contains("new-secret"), "{err}");
        assert_eq!(files, ["vault.db"], "dir {dir_mode:o}");
    }
}

#[test]
fn with_audit_reads_on_a_read_only_database_refuses_values_but_lists() {
    let v = Vault::new();
    v.ok(&["create", "ci"]);
    v.ok(&["set", "ci", "TOKEN", "t-value"]);
    std::fs::set_permissions(v.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let got = run_as_reader(&v, &["get", "ci", "TOKEN"]);
    let payload = run_as_reader(&v, &["payload", "ci"]);
    let listed = run_as_reader(&v, &["entries", "ci"]);
    std::fs::set_permissions(v.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for refused in [got, payload] {
        let err = failure(refused);
        assert!(
            err.contains("read-only and audit-reads is on") && err.contains("turn audit-reads off"),
            "{err}"
        );
        assert!(!err.contains("t-value"), "{err}");
    }
    assert!(success(listed).contains("t-****ue"));
}

// ---------------------------------------------------------------- audit (SPEC §13)

#[test]
fn an_audit_session_lists_verifies_and_names_the_first_bad_record() {
    let v = with_history();
    let mut worker = v.command(&["payload", "ci"]);
    worker.env("RUNQY_VAULT_ACTOR", "worker:7 queue:inference");
    success(feed(worker, b""));
    assert_eq!(v.ok(&["get", "ci", "TOKEN"]), "ghp_second_value\n");
    assert_eq!(
        without_times(&v.ok(&["audit", "log"])),
        "SEQ  TIME                  ACTOR                     OPERATION  VAULT  KEY          VERSION\n\
         1    T                     cli-test                  create     ci     -            -\n\
         2    T                     cli-test                  set        ci     TOKEN        1\n\
         3    T                     cli-test                  set        ci     TOKEN        2\n\
         4    T                     cli-test                  set        ci     LEVEL        1\n\
         5    T                     worker:7 queue:inference  payload    ci     LEVEL,TOKEN  -\n\
         6    T                     cli-test                  get        ci     TOKEN        2\n"
    );
    assert_eq!(
        without_times(&v.ok(&["audit", "log", "--actor", "worker:7 queue:inference"])),
        "SEQ  TIME                  ACTOR                     OPERATION  VAULT  KEY          VERSION\n\
         5    T                     worker:7 queue:inference  payload    ci     LEVEL,TOKEN  -\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&v.ok(&["audit", "log", "--key", "TOKEN", "--limit", "2", "--json"]))
            .unwrap();
    let seqs: Vec<i64> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 6]);
    assert!(doc[1]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    assert_eq!(doc[0]["detail"]["delivered"][1]["version"], 2);
    let everything = v.ok(&["audit", "log", "--json"]);
    assert!(
        !everything.contains("ghp_"),
        "no value in the log: {everything}"
    );
    // Written as the records come, yet the very bytes of the whole list
    // pretty-printed and a newline, empty or not.
    let store = v.store();
    let whole = |filter: &AuditFilter| {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&store.audit_log(filter).unwrap()).unwrap()
        )
    };
    assert_eq!(everything, whole(&AuditFilter::default()));
    let two = AuditFilter {
        key: Some("TOKEN".into()),
        limit: Some(2),
        ..AuditFilter::default()
    };
    assert_eq!(
        v.ok(&["audit", "log", "--key", "TOKEN", "--limit", "2", "--json"]),
        whole(&two)
    );
    assert_eq!(
        v.ok(&["audit", "log", "--since", "2999-01-01", "--json"]),
        "[]\n"
    );
    assert_eq!(v.ok(&["audit", "verify"]), "Audit log intact: 6 records.\n");
    // history's LAST READ comes from the log.
    let history = v.ok(&["history", "ci", "TOKEN"]);
    assert!(history.lines().nth(1).unwrap().ends_with('Z'), "{history}");
    // Tampering: verify names the first bad record and exits 1.
    let conn = rusqlite::Connection::open(v.db()).unwrap();
    conn.execute(
        "UPDATE runqy_vault_audit SET actor = 'mallory' WHERE seq = 6",
        [],
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        v.fail(&["audit", "verify"]),
        "error: audit record 6: does not verify (edited, inserted or moved)\n"
    );
    // Every other command works and says so once, on standard error.
    let out = v.run(&["list"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "NAME  DESCRIPTION  ENTRIES\nci                 2\n"
    );
    assert_eq!(
        text(&out.stderr),
        "warning: the audit log is broken: audit record 6: does not verify (edited, inserted or \
         moved); run `runqy-vault audit verify`\n"
    );
}

#[test]
fn audit_filters_with_bad_input_fail_with_one_clear_line() {
    let v = with_history();
    assert_eq!(
        v.fail(&["audit", "log", "--since", "last week"]),
        "error: invalid since time 'last week': give a date (2024-01-15) or an RFC 3339 \
         time with its zone (2024-01-15T10:30:00Z)\n"
    );
    assert!(v
        .fail(&["audit", "log", "--operation", "steal"])
        .starts_with("error: unknown operation 'steal': one of create, delete, set,"));
    assert_eq!(
        v.fail(&["audit", "log", "--limit", "0"]),
        "error: invalid limit 0: give how many records to show, at least 1\n"
    );
    assert!(v
        .fail(&["audit", "prune", "--before", "2024-02-30x"])
        .starts_with("error: invalid before date '2024-02-30x'"));
    assert_eq!(
        v.ok(&["audit", "log", "--since", "2999-01-01"]),
        "No audit records.\n"
    );
}

#[test]
fn audit_reads_switches_and_prune_keeps_the_log_verifiable() {
    let v = with_history();
    assert_eq!(v.ok(&["audit-reads"]), "Audit of reads: on.\n");
    assert_eq!(
        v.ok(&["audit-reads", "off"]),
        "Audit of reads turned off.\n"
    );
    v.ok(&["get", "ci", "TOKEN"]);
    assert_eq!(v.ok(&["audit-reads"]), "Audit of reads: off.\n");
    let ops: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&v.ok(&["audit", "log", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["operation"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(ops, ["create", "set", "set", "set", "audit-reads"]);
    assert_eq!(
        v.ok(&["audit", "prune", "--before", "2999-01-01"]),
        "Pruned 5 audit records written before 2999-01-01T00:00:00Z.\n"
    );
    assert_eq!(v.ok(&["audit", "verify"]), "Audit log intact: 2 records.\n");
    assert_eq!(v.ok(&["audit-reads", "on"]), "Audit of reads turned on.\n");
}
