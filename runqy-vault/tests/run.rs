//! `runqy-vault run` (SPEC §11), run as a worker runs it: exit statuses,
//! signals, the child's environment, and its output through the redactor.
//! The signal tests' child is a small Python program (python3 is on every
//! machine the suite runs on: the quickstart needs it too).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use runqy_vault::cipher::{Binding, Cipher};
use runqy_vault::{Format, KeySet, MasterKey, Redactor, Store};

const BIN: &str = env!("CARGO_BIN_EXE_runqy-vault");
const SECRET: &str = "sk-proj-abc123";
const MASK: &str = "sk****23";

/// A temporary directory with a store and the key that opens it.
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

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A store with vault `a`: API_KEY = SECRET, PORT = 8080 (too short to mask).
    fn store(&self) -> Store {
        let s = Store::open(self.db(), Some(&self.key)).unwrap();
        if !s.vault_exists("a").unwrap() {
            s.create_vault("a", "").unwrap();
            s.set("a", "API_KEY", SECRET, true).unwrap();
            s.set("a", "PORT", "8080", false).unwrap();
        }
        s
    }

    /// `runqy-vault --db DB run ARGS`: the test's environment without any
    /// RUNQY_* variable, plus the master key.
    fn run(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            if name
                .to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("RUNQY_")
            {
                cmd.env_remove(name);
            }
        }
        cmd.env("RUNQY_VAULT_MASTER_KEY", &self.key)
            .arg("--db")
            .arg(self.db())
            .arg("run")
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }
}

fn output(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The exit code of a run, which must not have died of a signal itself.
fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| {
        panic!(
            "run itself died: {:?}; stderr: {}",
            out.status,
            text(&out.stderr)
        )
    })
}

fn ok(cmd: Command) -> (String, String) {
    let out = output(cmd);
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

/// The one `error: ` line of a run that exited `want` without starting anything.
fn refused(cmd: Command, want: i32) -> String {
    let out = output(cmd);
    assert_eq!(code(&out), want, "stdout: {}", text(&out.stdout));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn sh(script: &str) -> Vec<&str> {
    vec!["--", "sh", "-c", script]
}

fn with(args: &[&str], tail: Vec<&str>) -> Vec<String> {
    args.iter()
        .copied()
        .chain(tail)
        .map(str::to_owned)
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Reads lines of `from` on a thread, so a test waits for a line with a
/// hang guard instead of blocking forever when run holds it back.
fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line; a generous hang guard, not a timing assertion.
fn next(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(60))
        .expect("no line within 60 s: run held it back or hung")
}

fn wait_for(path: &Path, want: &str) {
    for _ in 0..6000 {
        if std::fs::read_to_string(path).is_ok_and(|s| s.contains(want)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} never held {want:?}", path.display());
}

fn kill(pid: i32, signal: libc::c_int) {
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

fn wait(mut child: Child) -> i32 {
    let status = child.wait().unwrap();
    status
        .code()
        .unwrap_or_else(|| panic!("run itself died: {status:?}"))
}

// --- exit statuses -----------------------------------------------------------

#[test]
fn exit_status_is_the_commands_own() {
    let d = Dir::new();
    assert_eq!(code(&output(d.run(&sh("exit 0")))), 0);
    assert_eq!(code(&output(d.run(&sh("exit 7")))), 7);
    assert_eq!(code(&output(d.run(&sh("exit 255")))), 255);
}

#[test]
fn death_by_signal_n_exits_128_plus_n() {
    let d = Dir::new();
    assert_eq!(code(&output(d.run(&sh("kill -KILL $$")))), 128 + 9);
    assert_eq!(code(&output(d.run(&sh("kill -TERM $$")))), 128 + 15);
    assert_eq!(code(&output(d.run(&sh("kill -SEGV $$")))), 128 + 11);
}

#[test]
fn a_command_not_found_exits_127_naming_it() {
    let d = Dir::new();
    let err = refused(d.run(&["--", "no-such-command-rqv"]), 127);
    assert_eq!(
        err,
        "error: cannot run 'no-such-command-rqv': command not found\n"
    );
    let err = refused(d.run(&["--", "./missing-script"]), 127);
    assert_eq!(err, "error: cannot run './missing-script': no such file\n");
}

#[test]
fn a_file_that_is_not_executable_exits_126_naming_it() {
    let d = Dir::new();
    let script = d.write("task.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused(d.run(&["--", script.to_str().unwrap()]), 126);
    assert_eq!(
        err,
        format!(
            "error: cannot run '{}': permission denied (not executable)\n",
            script.display()
        )
    );
}

// --- signals -----------------------------------------------------------------

/// A child that counts each signal it gets in a file, line by line, and says
/// `ready` once its handlers are in place; it exits when `stop` appears.
const COUNTER: &str = r#"
import os, signal, sys, time
log = sys.argv[1]
def note(sig, frame):
    with open(log, "a") as f:
        f.write(signal.Signals(sig).name + "\n")
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(s, note)
print("ready", flush=True)
while not os.path.exists(log + ".stop"):
    time.sleep(0.02)
time.sleep(0.3)  # a duplicate sent late would still be counted
sys.exit(3)
"#;

/// Tells the counter to exit when dropped, so a failed test leaves no process behind.
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

fn counter(d: &Dir, own_group: bool) -> (Child, Stop, PathBuf) {
    let log = d.path("signals.log");
    let script = d.write("counter.py", COUNTER);
    // A value to redact, so the output goes through run's pipes.
    d.store();
    let mut cmd = d.run(&[
        "--vault",
        "a",
        "--",
        "python3",
        script.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    if own_group {
        // run leads a group of its own, as a shell's job does, so the test
        // can signal the whole group without signalling itself.
        cmd.process_group(0);
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let stop = Stop(log.with_extension("log.stop"));
    let rx = lines(child.stdout.take().unwrap());
    assert_eq!(next(&rx), "ready");
    (child, stop, log)
}

fn counts(log: &Path) -> Vec<String> {
    let mut got: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    got
}

#[test]
fn sigterm_and_sighup_sent_to_run_reach_the_child_once_each() {
    let d = Dir::new();
    let (child, stop, log) = counter(&d, false);
    let pid = child.id() as i32;
    kill(pid, libc::SIGTERM);
    wait_for(&log, "SIGTERM");
    kill(pid, libc::SIGHUP);
    wait_for(&log, "SIGHUP");
    drop(stop);
    assert_eq!(
        wait(child),
        3,
        "run outlives the signals and passes the status"
    );
    assert_eq!(counts(&log), ["SIGHUP", "SIGTERM"]);
}

#[test]
fn sigint_to_the_process_group_reaches_the_child_once_and_run_outlives_it() {
    let d = Dir::new();
    let (child, stop, log) = counter(&d, true);
    // As a terminal's Ctrl-C: to every process of the foreground group.
    assert_eq!(unsafe { libc::killpg(child.id() as i32, libc::SIGINT) }, 0);
    wait_for(&log, "SIGINT");
    drop(stop);
    assert_eq!(wait(child), 3);
    assert_eq!(counts(&log), ["SIGINT"]);
}

#[test]
fn a_child_killed_by_ctrl_c_makes_run_exit_130() {
    let d = Dir::new();
    d.store();
    let mut cmd = d.run(&strs(&with(
        &["--vault", "a"],
        sh("echo ready; exec sleep 60"),
    )));
    cmd.process_group(0).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let rx = lines(child.stdout.take().unwrap());
    assert_eq!(next(&rx), "ready");
    assert_eq!(unsafe { libc::killpg(child.id() as i32, libc::SIGINT) }, 0);
    assert_eq!(wait(child), 128 + 2);
}

// --- output ------------------------------------------------------------------

#[test]
fn a_secret_split_across_writes_is_masked_on_both_outputs() {
    let d = Dir::new();
    d.store();
    let script = "printf 'key=sk-pr'; sleep 0.1; printf 'oj-abc'; sleep 0.1; printf '123\\n'; \
                  printf 'err=s' >&2; sleep 0.1; printf 'k-proj-abc123' >&2; printf ' tail' >&2";
    let (out, err) = ok(d.run(&strs(&with(&["--vault", "a"], sh(script)))));
    assert_eq!(out, format!("key={MASK}\n"));
    assert!(err.ends_with(&format!("err={MASK} tail")), "{err}");
}

/// The base64 characters fully decided by `value` when it starts `at` bytes
/// into a longer encoded text (what the redactor must not let through).
fn decided_base64(value: &[u8], at: usize, url: bool) -> String {
    let mut bytes = vec![b'x'; at];
    bytes.extend_from_slice(value);
    bytes.extend_from_slice(b"yyy");
    let encoded = if url {
        base64::engine::general_purpose::URL_SAFE.encode(&bytes)
    } else {
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    };
    let first = (8 * at).div_ceil(6);
    let end = (8 * (at + value.len())) / 6;
    encoded[first..end].to_owned()
}

#[test]
fn base64_of_a_secret_at_every_alignment_is_masked() {
    let d = Dir::new();
    let secret = "sk-proj-?>~abc123"; // '?' '>' '~' give '/' and '+' in base64
    let s = Store::open(d.db(), Some(&d.key)).unwrap();
    s.create_vault("b", "").unwrap();
    s.set("b", "TOKEN", secret, true).unwrap();
    let mut input = String::new();
    for prefix in ["", "u", "us", "use", "user:"] {
        for url in [false, true] {
            let text = format!("{prefix}{secret}!");
            let encoded = if url {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&text)
            } else {
                base64::engine::general_purpose::STANDARD.encode(&text)
            };
            input.push_str(&format!("Authorization: Basic {encoded}\n"));
        }
    }
    let file = d.write("b64.txt", &input);
    let (out, _) = ok(d.run(&strs(&with(
        &["--vault", "b"],
        vec!["--", "cat", file.to_str().unwrap()],
    ))));
    let redactor = Redactor::new([("TOKEN", secret)]).unwrap();
    assert_eq!(out, redactor.redact(&input));
    for at in 0..3 {
        for url in [false, true] {
            let decided = decided_base64(secret.as_bytes(), at, url);
            assert!(
                !out.contains(&decided),
                "alignment {at} url={url}: {decided} in\n{out}"
            );
        }
    }
    assert_eq!(out.matches("sk****23").count(), 10, "{out}");
}

#[test]
fn binary_output_passes_through_unchanged_around_a_masked_value() {
    let d = Dir::new();
    d.store();
    let mut data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    data.extend_from_slice(SECRET.as_bytes());
    data.extend((0..=255u8).rev().cycle().take(70_000));
    let file = d.path("blob.bin");
    std::fs::write(&file, &data).unwrap();
    let out = output(d.run(&strs(&with(
        &["--vault", "a"],
        vec!["--", "cat", file.to_str().unwrap()],
    ))));
    assert_eq!(code(&out), 0);
    let mut want = data[..300_000].to_vec();
    want.extend_from_slice(MASK.as_bytes());
    want.extend_from_slice(&data[300_000 + SECRET.len()..]);
    assert!(out.stdout == want, "binary output changed");
}

#[test]
fn a_hundred_megabytes_of_output_arrive_whole() {
    let d = Dir::new();
    d.store();
    let script = format!("head -c 100000000 /dev/zero; echo {SECRET}");
    let mut child = d
        .run(&strs(&with(&["--vault", "a"], sh(&script))))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (mut total, mut zeros, mut tail) = (0usize, 0usize, Vec::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        zeros += buf[..n].iter().filter(|&&b| b == 0).count();
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    assert_eq!(wait(child), 0);
    assert_eq!(zeros, 100_000_000);
    assert_eq!(total, 100_000_000 + MASK.len() + 1);
    assert!(tail.ends_with(format!("{MASK}\n").as_bytes()));
}

#[test]
fn a_command_that_closes_stdout_early_does_not_hang_run() {
    let d = Dir::new();
    d.store();
    let out = output(d.run(&strs(&with(
        &["--vault", "a"],
        sh("echo before; exec 1>&-; sleep 0.2; echo late-$0 >&2; exit 4"),
    ))));
    assert_eq!(code(&out), 4);
    assert_eq!(text(&out.stdout), "before\n");
    assert_eq!(
        text(&out.stderr),
        "warning: not redacted, shorter than 6 characters: PORT\nlate-sh\n"
    );
}

#[test]
fn a_reader_that_stops_early_ends_the_command_by_sigpipe_while_run_exits_141() {
    let d = Dir::new();
    d.store();
    let mut child = d
        .run(&strs(&with(
            &["--vault", "a"],
            sh(&format!("while :; do echo {SECRET}; done")),
        )))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, format!("{MASK}\n"));
    drop(stdout); // as `| head -1` does
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 13),
        "{status:?}: run must pass the status, not die"
    );
}

#[test]
fn stdout_and_stderr_each_show_a_line_as_soon_as_its_newline_arrives() {
    let d = Dir::new();
    d.store();
    let script = format!("echo out-{SECRET}; read x; echo err-{SECRET} >&2; read y; echo done");
    let mut child = d
        .run(&strs(&with(&["--vault", "a"], sh(&script))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    // The task waits for our answer after each line: a line held back would hang here.
    assert_eq!(next(&out), format!("out-{MASK}"));
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(
        next(&err),
        "warning: not redacted, shorter than 6 characters: PORT"
    );
    assert_eq!(next(&err), format!("err-{MASK}"));
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(next(&out), "done");
    assert_eq!(wait(child), 0);
}

#[test]
fn no_redact_passes_output_unchanged() {
    let d = Dir::new();
    d.store();
    let (out, _) = ok(d.run(&strs(&with(
        &["--vault", "a", "--no-redact"],
        sh("echo $API_KEY"),
    ))));
    assert_eq!(out, format!("{SECRET}\n"));
}

#[test]
fn short_values_are_warned_about_once_by_name_never_by_value() {
    let d = Dir::new();
    d.store();
    let (out, err) = ok(d.run(&strs(&with(&["--vault", "a"], sh("echo $PORT $API_KEY")))));
    assert_eq!(out, format!("8080 {MASK}\n"));
    assert_eq!(
        err,
        "warning: not redacted, shorter than 6 characters: PORT\n"
    );
}

// --- the environment ---------------------------------------------------------

fn env_of(stdout: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = stdout
        .split('\0')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once('=').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    vars.sort();
    vars
}

fn runqy_vars(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter()
        .filter(|(n, _)| n.to_ascii_uppercase().starts_with("RUNQY_"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

#[test]
fn the_child_sees_no_runqy_variable_but_those_kept_and_a_fresh_runqy_vault_keys() {
    // Issue 12's new user: run's environment holds the master key and the worker's API key.
    let d = Dir::new();
    d.store();
    let mut cmd = d.run(&strs(&with(
        &["--vault", "a", "--no-redact"],
        vec!["--", "env", "-0"],
    )));
    cmd.env("RUNQY_API_KEY", "worker-api-key")
        .env("RUNQY_GIT_TOKEN", "ghp_worker_token")
        .env("RUNQY_VAULT_KEYS", "STALE")
        .env("runqy_lower", "x")
        .env("PLAIN", "kept");
    let (out, _) = ok(cmd);
    let vars = env_of(&out);
    assert_eq!(runqy_vars(&vars), [("RUNQY_VAULT_KEYS", "API_KEY,PORT")]);
    assert!(vars.contains(&("API_KEY".into(), SECRET.into())));
    assert!(vars.contains(&("PLAIN".into(), "kept".into())));
    assert!(!out.contains(&d.key), "the master key reached the child");

    let mut cmd = d.run(&strs(&with(
        &[
            "--vault",
            "a",
            "--keep",
            "RUNQY_API_KEY",
            "--keep",
            "runqy_lower",
        ],
        vec!["--", "env", "-0"],
    )));
    cmd.env("RUNQY_API_KEY", "worker-api-key")
        .env("runqy_lower", "x");
    let (out, _) = ok(cmd);
    // Redacted: RUNQY_API_KEY's value is not a vault value, so it shows.
    assert_eq!(
        runqy_vars(&env_of(&out)),
        [
            ("RUNQY_API_KEY", "worker-api-key"),
            ("RUNQY_VAULT_KEYS", "API_KEY,PORT"),
            ("runqy_lower", "x")
        ]
    );
}

#[test]
fn variables_that_are_not_utf8_pass_on_by_the_same_rule() {
    use std::os::unix::ffi::OsStrExt;
    let d = Dir::new();
    d.store();
    let mut cmd = d.run(&strs(&with(&["--vault", "a"], vec!["--", "env", "-0"])));
    cmd.env(
        std::ffi::OsStr::from_bytes(b"LATIN1"),
        std::ffi::OsStr::from_bytes(b"caf\xe9"),
    )
    .env(std::ffi::OsStr::from_bytes(b"RUNQY_\xff"), "worker-only")
    .env("RUNQY_BYTES", std::ffi::OsStr::from_bytes(b"\xff"));
    let out = output(cmd);
    assert_eq!(code(&out), 0);
    let vars: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    assert!(vars.contains(&&b"LATIN1=caf\xe9"[..]));
    let runqy: Vec<&[u8]> = vars
        .iter()
        .copied()
        .filter(|v| v.starts_with(b"RUNQY_"))
        .collect();
    assert_eq!(runqy, [&b"RUNQY_VAULT_KEYS=API_KEY,PORT"[..]]);
}

#[test]
fn vault_references_in_the_environment_and_an_env_file_are_resolved_and_redacted() {
    let d = Dir::new();
    d.store();
    let env_file = d.write("task.env", "FROM_FILE=vault://a/API_KEY\n");
    let mut cmd = d.run(&strs(&with(
        &["--env-file", env_file.to_str().unwrap()],
        sh("echo $FROM_ENV $FROM_FILE $RUNQY_VAULT_KEYS"),
    )));
    cmd.env("FROM_ENV", "vault://a/API_KEY");
    let (out, _) = ok(cmd);
    assert_eq!(out, format!("{MASK} {MASK} FROM_ENV,FROM_FILE\n"));

    // A reference that does not resolve stops run before the command starts.
    let marker = d.path("started");
    let mut cmd = d.run(&strs(&with(
        &[],
        sh(&format!("touch {}", marker.display())),
    )));
    cmd.env("BROKEN", "vault://a/NOPE");
    let err = refused(cmd, 1);
    assert_eq!(
        err,
        "error: variable BROKEN (a vault:// reference): entry 'NOPE' not found in vault 'a'\n"
    );
    let mut cmd = d.run(&strs(&with(
        &[],
        sh(&format!("touch {}", marker.display())),
    )));
    cmd.env("BROKEN", "vault://a");
    let err = refused(cmd, 1);
    assert!(
        err.starts_with("error: variable BROKEN: invalid vault reference"),
        "{err}"
    );
    assert!(!marker.exists());
}

#[test]
fn env_file_lines_are_read_verbatim_and_a_bad_line_is_refused_by_number() {
    let d = Dir::new();
    let file = d.write(
        "task.env",
        "# comment\n\n  QUOTED=\"a # b\"\nSPACED= x \nRUNQY_TOKEN=t\nPLAIN=1\nPLAIN=2\n",
    );
    let (out, err) = ok(d.run(&strs(&with(
        &["--env-file", file.to_str().unwrap()],
        sh("printf '[%s]' \"$QUOTED\" \"$SPACED\" \"$PLAIN\" \"${RUNQY_TOKEN-unset}\""),
    ))));
    assert_eq!(out, "[\"a # b\"][ x ][2][unset]");
    assert_eq!(
        err,
        format!(
            "warning: --env-file {}: RUNQY_TOKEN is not passed on (RUNQY_* variables are the \
             worker's own; --keep RUNQY_TOKEN passes it)\n",
            file.display()
        )
    );
    let bad = d.write("bad.env", "A=1\nsk-pasted-token\n");
    let err = refused(
        d.run(&strs(&with(
            &["--env-file", bad.to_str().unwrap()],
            sh("true"),
        ))),
        1,
    );
    assert!(err.contains("bad.env: line 2: no '='"), "{err}");
    assert!(!err.contains("sk-pasted"), "{err}");
    let err = refused(
        d.run(&strs(&with(&["--env-file", "nope.env"], sh("true")))),
        1,
    );
    assert_eq!(err, "error: --env-file nope.env: no such file\n");
}

#[test]
fn a_payload_from_a_file_or_standard_input_becomes_the_environment_without_its_git_token() {
    let d = Dir::new();
    let payload = format!(
        r#"{{"redis":{{"addr":"localhost:6379"}},"vaults":{{"API_KEY":"{SECRET}"}},"git_token":"ghp_clone_token_1"}}"#
    );
    let file = d.write("payload.json", &payload);
    let script = "env | grep -c ghp_clone_token_1; echo $API_KEY; echo ghp_clone_token_1";
    let (out, _) = ok(d.run(&strs(&with(
        &["--payload", file.to_str().unwrap()],
        sh(script),
    ))));
    assert_eq!(out, format!("0\n{MASK}\ngh****_1\n"));
    let mut cmd = d.run(&strs(&with(&["--payload", "-"], sh(script))));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), format!("0\n{MASK}\ngh****_1\n"));
}

#[test]
fn a_payload_needs_no_master_key_and_opens_no_store() {
    let d = Dir::new();
    let file = d.write(
        "payload.json",
        &format!(r#"{{"vaults":{{"API_KEY":"{SECRET}"}}}}"#),
    );
    let mut cmd = d.run(&strs(&with(
        &["--payload", file.to_str().unwrap()],
        sh("echo $API_KEY"),
    )));
    cmd.env_remove("RUNQY_VAULT_MASTER_KEY");
    let (out, _) = ok(cmd);
    assert_eq!(out, format!("{MASK}\n"));
    assert!(!d.db().exists());
}

#[test]
fn a_payload_is_refused_whole_naming_the_key_before_the_command_starts() {
    let d = Dir::new();
    let marker = d.path("started");
    let touch = format!("touch {}", marker.display());
    for (vaults, want) in [
        (r#"{"OK":"fine-value","LD_PRELOAD":"/evil.so"}"#, "error: --payload p.json: reserved key 'LD_PRELOAD': "),
        (r#"{"OK":"fine-value","PYTHONWARNINGS":"x"}"#, "error: --payload p.json: reserved key 'PYTHONWARNINGS': "),
        (r#"{"OK":"fine-value","bad-name":"x"}"#, "error: --payload p.json: invalid key 'bad-name': "),
        (r#"{"OK":"fine-value","NUL":"a\u0000b"}"#, "error: --payload p.json: invalid value for key 'NUL' "),
        (r#"{"OK":"fine-value","NUM":12345678}"#, "error: --payload p.json: registration payload refused: the value of key 'NUM' is a number"),
    ] {
        d.write("p.json", &format!(r#"{{"vaults":{vaults}}}"#));
        let err = refused(d.run(&strs(&with(&["--payload", "p.json"], sh(&touch)))), 1);
        assert!(err.starts_with(want), "{err}");
        assert!(!err.contains("evil") && !err.contains("12345678"), "{err}");
        assert!(!marker.exists(), "the command started: {vaults}");
    }
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let d = Dir::new();
    d.write("p.json", r#"{"vaults":{"K":"sk-secret-value""#);
    let err = refused(d.run(&strs(&with(&["--payload", "p.json"], sh("true")))), 1);
    assert!(
        err.starts_with("error: --payload p.json: registration payload is not valid JSON"),
        "{err}"
    );
    assert!(!err.contains("sk-secret"), "{err}");
    let err = refused(
        d.run(&strs(&with(&["--payload", "missing.json"], sh("true")))),
        1,
    );
    assert_eq!(err, "error: --payload missing.json: no such file\n");
    std::fs::write(d.path("latin1.json"), b"{\"vaults\":{\"K\":\"\xe9\"}}").unwrap();
    let err = refused(
        d.run(&strs(&with(&["--payload", "latin1.json"], sh("true")))),
        1,
    );
    assert_eq!(err, "error: --payload latin1.json is not UTF-8 text\n");
    // Usage errors (exit 2): no `--`, no command, both sources.
    let err = refused(d.run(&["echo", "hi"]), 2);
    assert!(
        err.contains("unexpected argument 'echo'") && err.contains("-- <CMD>..."),
        "{err}"
    );
    let err = refused(d.run(&["--"]), 2);
    assert!(err.contains("<CMD>"), "{err}");
    let err = refused(
        d.run(&strs(&with(
            &["--vault", "a", "--payload", "p.json"],
            sh("true"),
        ))),
        2,
    );
    assert!(err.contains("cannot be used with"), "{err}");
    // A vault that does not exist.
    let err = refused(d.run(&strs(&with(&["--vault", "nope"], sh("true")))), 1);
    assert!(err.contains("'nope'"), "{err}");
}

/// An entry written straight into the tables, as an older server could have.
fn raw_entry(d: &Dir, vault: &str, key: &str, value: &str) {
    let cipher = Cipher::new(&KeySet {
        current: MasterKey::parse(&d.key, "test").unwrap(),
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
    let conn = rusqlite::Connection::open(d.db()).unwrap();
    conn.execute(
        "INSERT INTO vault_entries (vault_id, key, value, is_secret)
         VALUES ((SELECT id FROM vaults WHERE name = ?1), ?2, ?3, 1)",
        rusqlite::params![vault, key, blob],
    )
    .unwrap();
}

#[test]
fn reserved_keys_of_an_older_store_are_left_out_with_a_warning_naming_them() {
    let d = Dir::new();
    drop(d.store());
    raw_entry(&d, "a", "LD_PRELOAD", "/tmp/evil-library.so");
    raw_entry(&d, "a", "PYTHONSTARTUP", "/tmp/evil-startup.py");
    let payload = d.store().registration_payload(&["a"], None).unwrap();
    assert_eq!(
        payload.vaults.keys().collect::<Vec<_>>(),
        ["API_KEY", "PORT"]
    );
    assert_eq!(payload.warnings.len(), 2, "{:?}", payload.warnings);

    let (out, err) = ok(d.run(&strs(&with(
        &["--vault", "a"],
        sh("echo ${LD_PRELOAD-unset} ${PYTHONSTARTUP-unset} $RUNQY_VAULT_KEYS"),
    ))));
    assert_eq!(out, "unset unset API_KEY,PORT\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with(
            "warning: key 'LD_PRELOAD' of vault 'a' left out: names starting with LD_ are reserved"
        ),
        "{err}"
    );
    assert!(
        lines[1].starts_with("warning: key 'PYTHONSTARTUP' of vault 'a' left out"),
        "{err}"
    );
    assert!(!err.contains("evil"), "{err}");
}

#[test]
fn standard_input_is_inherited() {
    let d = Dir::new();
    d.store();
    let mut child = d
        .run(&strs(&with(&["--vault", "a"], vec!["--", "cat"])))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("piped {SECRET}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), format!("piped {MASK}\n"));
}

#[test]
fn core_dumps_are_off_for_the_command_whatever_runs_limit() {
    let d = Dir::new();
    let mut cmd = d.run(&sh("ulimit -c; ulimit -H -c"));
    // run itself may dump core; its command may not.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_CORE, &mut lim);
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_CORE, &lim);
            Ok(())
        });
    }
    let (out, _) = ok(cmd);
    assert_eq!(out, "0\n0\n");
}
