//! Where the CLI's master key comes from (SPEC §1), run as a user runs it:
//! `_FILE`, `_COMMAND`, `_PREVIOUS_FILE`, standard input for `rotate-key`,
//! and what the process does while it holds the key (no core files).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use runqy_vault::{MasterKey, Store};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");

struct Dir {
    dir: tempfile::TempDir,
    key: String,
}

impl Dir {
    fn new() -> Dir {
        let d = Dir {
            dir: tempfile::tempdir().unwrap(),
            key: MasterKey::generate().to_base64().expose().to_owned(),
        };
        Store::open(d.db(), Some(&d.key))
            .unwrap()
            .create_vault("ci", "")
            .unwrap();
        d
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("vault.db")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name).to_str().unwrap().to_owned()
    }

    /// The binary on this store with only the RUNQY_VAULT_* variables given.
    fn command(&self, vars: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("RUNQY_VAULT_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(vars.iter().copied());
        cmd.arg("--db").arg(self.db()).args(args);
        cmd.current_dir(self.dir.path());
        cmd
    }
}

/// Runs `cmd` with `input` on standard input, which it may not read whole.
fn feed(mut cmd: Command, input: Vec<u8>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // EPIPE once the CLI stops reading
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one `error: ` line of a command that must fail with status 1.
fn failure(out: Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(text(&out.stdout), "");
    assert!(
        stderr.starts_with("error: ") && stderr.ends_with('\n'),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

fn success(out: Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn the_master_key_printed_in_an_error_list_and_rotate_key_new_key_file_never_echo_it() {
    let d = Dir::new();
    // The key pasted where the path belongs.
    let out = d
        .command(&[("RUNQY_VAULT_MASTER_KEY_FILE", &d.key)], &["list"])
        .output()
        .unwrap();
    let err = failure(out);
    assert!(!err.contains(&d.key), "{err}");
    assert!(
        err.starts_with(
            "error: invalid master key from RUNQY_VAULT_MASTER_KEY_FILE: cannot read the file"
        ),
        "{err}"
    );
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    let out = d
        .command(
            &[("RUNQY_VAULT_MASTER_KEY", &d.key)],
            &["rotate-key", "--new-key-file", &new_key],
        )
        .output()
        .unwrap();
    let err = failure(out);
    assert!(!err.contains(&new_key), "{err}");
    assert!(
        err.starts_with("error: invalid master key from --new-key-file: cannot read the file"),
        "{err}"
    );
    // Nothing was rotated.
    assert!(Store::open(d.db(), Some(&d.key)).is_ok());
}

#[test]
fn unbounded_key_input_urandom_zero_fifo_and_endless_stdin_fail_at_once() {
    let d = Dir::new();
    let fifo = d.path("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (file, want) in [
        (
            "/dev/urandom",
            "it is a character device; a key file must be a regular file",
        ),
        (
            fifo.to_str().unwrap(),
            "it is a FIFO; a key file must be a regular file",
        ),
    ] {
        let out = d
            .command(&[("RUNQY_VAULT_MASTER_KEY_FILE", file)], &["list"])
            .output()
            .unwrap();
        let err = failure(out);
        assert!(err.contains(want), "{err}");
    }
    let out = d
        .command(
            &[("RUNQY_VAULT_MASTER_KEY", &d.key)],
            &["rotate-key", "--new-key-file", "/dev/zero"],
        )
        .output()
        .unwrap();
    assert!(failure(out).contains("character device"));
    // `yes | rotate-key`: a megabyte offered, no more than 4 KiB read.
    let out = feed(
        d.command(&[("RUNQY_VAULT_MASTER_KEY", &d.key)], &["rotate-key"]),
        b"y\n".repeat(1 << 19),
    );
    assert_eq!(
        failure(out),
        "error: invalid master key from standard input: it holds more than 4096 bytes; \
         a master key is 44 characters of base64\n"
    );
    assert!(Store::open(d.db(), Some(&d.key)).is_ok());
}

#[test]
fn key_command_gives_the_key_passes_its_stderr_through_and_starts_without_core_files() {
    let d = Dir::new();
    let file = d.write("key.txt", &format!("{}\n", d.key));
    // The CLI turned core files off before it ran the command, which inherits the limit.
    let command = format!("sh -c 'echo \"core limit $(ulimit -c)\" >&2; cat \"$0\"' '{file}'");
    let out = d
        .command(&[("RUNQY_VAULT_MASTER_KEY_COMMAND", &command)], &["list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "core limit 0\n");
    assert!(
        text(&out.stdout).starts_with("NAME"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn key_command_failing_missing_or_printing_garbage_is_one_error_line_without_its_output() {
    let d = Dir::new();
    for (command, want) in [
        (
            "sh -c 'echo garbage-never-shown; exit 4'".to_owned(),
            "error: invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: the command `sh` exited with status 4\n".to_owned(),
        ),
        (
            format!("/no/such/prog {}", d.key),
            "error: invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: its program cannot be started: No such file or directory (os error 2)\n".to_owned(),
        ),
    ] {
        let out = d
            .command(&[("RUNQY_VAULT_MASTER_KEY_COMMAND", &command)], &["list"])
            .output()
            .unwrap();
        assert_eq!(failure(out), want);
    }
    let out = d
        .command(
            &[("RUNQY_VAULT_MASTER_KEY_COMMAND", "echo garbage-never-shown")],
            &["list"],
        )
        .output()
        .unwrap();
    let err = failure(out);
    assert!(!err.contains("garbage"), "{err}");
    assert!(
        err.starts_with(
            "error: invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND (the output of `echo`)"
        ),
        "{err}"
    );
    let out = d
        .command(
            &[
                ("RUNQY_VAULT_MASTER_KEY", &d.key),
                ("RUNQY_VAULT_MASTER_KEY_COMMAND", "true"),
            ],
            &["list"],
        )
        .output()
        .unwrap();
    assert_eq!(
        failure(out),
        "error: invalid master key from RUNQY_VAULT_MASTER_KEY and \
         RUNQY_VAULT_MASTER_KEY_COMMAND: both are set; set only one\n"
    );
}

#[test]
fn previous_keys_from_a_file_read_values_written_under_an_old_key() {
    let d = Dir::new();
    let old = d.key.clone();
    Store::open(d.db(), Some(&old))
        .unwrap()
        .set("ci", "TOKEN", "t-old", true)
        .unwrap();
    // Rolling rotation: a second process writes under a new key with the old as previous.
    let new_key = MasterKey::generate().to_base64().expose().to_owned();
    let previous = d.write("previous.keys", &format!("{old}\n"));
    let vars = [
        ("RUNQY_VAULT_MASTER_KEY", new_key.as_str()),
        ("RUNQY_VAULT_MASTER_KEY_PREVIOUS_FILE", previous.as_str()),
    ];
    success(
        d.command(&vars, &["set", "ci", "NEW", "n"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        success(d.command(&vars, &["get", "ci", "TOKEN"]).output().unwrap()),
        "t-old\n"
    );
    // Without the previous key the store refuses the new key alone.
    let out = d
        .command(
            &[("RUNQY_VAULT_MASTER_KEY", &new_key)],
            &["get", "ci", "NEW"],
        )
        .output()
        .unwrap();
    assert!(failure(out).contains("master key mismatch"));
}
