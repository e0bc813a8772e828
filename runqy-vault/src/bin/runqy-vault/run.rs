//! `run`: a command started as a runqy worker starts a task (SPEC §11), its
//! environment built by the core's rules and its output redacted by the
//! core's redactor; this module reads the inputs and supervises the child.
//!
//! The environment, in layers, later wins: run's own environment, then each
//! `--env-file`, each without the `RUNQY_*` variables (`--keep` passes one
//! on); then the vault values (`--vault`, or `--payload`), which win as a
//! payload's values win over inherited ones (SPEC §7). A value
//! `vault://VAULT/KEY` in the first two layers is replaced by the entry's
//! value, which is then treated as a vault value (checked, listed in
//! `RUNQY_VAULT_KEYS`, redacted). The store is opened only when something is
//! read from it, so a worker that has only a payload needs no master key.
//!
//! Supervision. Output: one thread per pipe (standard output, standard
//! error), each reading up to 1 MiB at a time, redacting it and writing
//! what may be shown at once, so a slow reader of one never holds up the
//! other and each line shows as soon as its newline arrives; poll(2) would
//! need non-blocking writes as well for that, for no gain here. When run's
//! own output is closed (`run ... | head -1`), the pipe from the child is
//! closed too, so the child's next write fails as it would have without run
//! in between (SIGPIPE: status 141), and run never dies of SIGPIPE itself.
//! run ends when the child has exited and both pipes are closed, as a shell
//! pipeline does: a background process that keeps them open keeps run
//! waiting (and its output redacted).
//!
//! Signals. The child stays in run's process group, so a terminal's Ctrl-C,
//! Ctrl-\ or hangup reaches it directly; run survives them and is not a
//! second sender. SIGTERM and SIGHUP sent to run by a process are forwarded
//! to the child, once each as delivered; those sent by the kernel (a
//! terminal's hangup, which the child has too) are not. A supervisor that
//! signals the whole process group or cgroup (systemd's default
//! `KillMode=control-group`) reaches the child directly as well, so it
//! should signal run alone (`KillMode=mixed`). Once the child has exited,
//! these signals end run at once, with status 128 + N.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::SeqCst};

use clap::Args;
use runqy_vault::payload::{child_env, passes_on};
use runqy_vault::redact::{Stream, GIT_TOKEN_NAME};
use runqy_vault::{env_file, EntryReference, Location, Redactor, RegistrationPayload};
use runqy_vault::{SecretString, Store};
use zeroize::Zeroizing;

use crate::Failure;

// `run`'s arguments; its help text is the doc comment of `Command::Run`.
#[derive(Args)]
#[command(after_help = "Example: runqy-vault run --vault api-keys -- python main.py")]
pub(crate) struct RunArgs {
    /// A vault whose entries the command gets (repeatable; later vaults win).
    /// Reserved keys an older store holds are left out with a warning.
    #[arg(long = "vault", value_name = "VAULT", conflicts_with = "payload")]
    vaults: Vec<String>,
    /// A registration payload, as the runqy server hands a worker (or the
    /// whole registration response), from FILE or `-` for standard input.
    /// One with a reserved or ill-formed key, a value that is not a string or
    /// a NUL byte is refused whole, before the command starts.
    #[arg(long, value_name = "FILE|-", allow_hyphen_values = true)]
    payload: Option<PathBuf>,
    /// A file of NAME=VALUE lines to add to the environment (repeatable): as
    /// Docker's --env-file, values verbatim (quotes and # kept), whole lines
    /// starting with # are comments, blank lines are skipped.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Pass on the inherited variable NAME although it starts with RUNQY_
    /// (repeatable).
    #[arg(long = "keep", value_name = "NAME")]
    keep: Vec<String>,
    /// Pass the command's output through unchanged.
    #[arg(long)]
    no_redact: bool,
    /// The command and its arguments, after `--`; started without a shell.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// What each pipe thread reads at a time (the pipes are made this big).
const CHUNK: usize = 1 << 20;

pub(crate) fn run(location: Location, args: RunArgs) -> Result<ExitCode, Failure> {
    let mut store: Option<Store> = None;

    // Layers 1 and 2: run's environment and the env files. Variables that are
    // not UTF-8 cannot be vault values or references; they pass on as they are.
    let mut base: Vec<(String, SecretString)> = Vec::new();
    let mut raw: Vec<(OsString, OsString)> = Vec::new();
    for (name, value) in std::env::vars_os() {
        match (name.to_str(), value.to_str()) {
            (Some(n), Some(v)) => base.push((n.to_owned(), v.into())),
            _ if passes_on(name.as_bytes(), &args.keep) => raw.push((name, value)),
            _ => {}
        }
    }
    for file in &args.env_files {
        let text = read_text(file, "--env-file")?;
        let vars = env_file::parse(&text)
            .map_err(|e| Failure(format!("--env-file {}: {e}", file.display())))?;
        for (name, value) in vars {
            if !passes_on(name.as_bytes(), &args.keep) {
                warn(&format!(
                    "--env-file {}: {name} is not passed on (RUNQY_* variables are the worker's \
                     own; --keep {name} passes it)",
                    file.display()
                ));
            }
            base.push((name, value));
        }
    }

    // Layer 3: the vault values, references first so the payload wins.
    let mut injected: BTreeMap<String, SecretString> = BTreeMap::new();
    let mut referenced: BTreeMap<String, EntryReference> = BTreeMap::new();
    for (name, value) in &base {
        if !passes_on(name.as_bytes(), &args.keep) {
            continue;
        }
        match EntryReference::in_value(value.expose()) {
            None => {
                referenced.remove(name.as_str()); // a later layer set a plain value
            }
            Some(Ok(reference)) => {
                referenced.insert(name.clone(), reference);
            }
            Some(Err(e)) => return Err(Failure(format!("variable {name}: {e}"))),
        }
    }
    for (name, reference) in referenced {
        let value = opened(&mut store, &location)?
            .get(&reference.vault, &reference.key)
            .map_err(|e| Failure(format!("variable {name} (a vault:// reference): {e}")))?;
        injected.insert(name, value);
    }
    let payload = if !args.vaults.is_empty() {
        let payload = opened(&mut store, &location)?.registration_payload(&args.vaults, None)?;
        for warning in &payload.warnings {
            warn(warning);
        }
        payload
    } else if let Some(path) = &args.payload {
        let text = if path.as_os_str() == "-" {
            read_stdin()?
        } else {
            read_text(path, "--payload")?
        };
        // Refused whole, naming the key, before anything starts.
        RegistrationPayload::from_json(&text)
            .and_then(|p| runqy_vault::payload::injection(&p.vaults).map(|_| p))
            .map_err(|e| Failure(format!("--payload {}: {e}", path.display())))?
    } else {
        RegistrationPayload::default()
    };
    injected.extend(payload.vaults.iter().map(|(k, v)| (k.clone(), v.clone())));

    // Every rule of the environment is the core's; a refused entry stops here.
    let env = child_env(
        &injected,
        base.iter().map(|(n, v)| (n.as_str(), v.expose())),
        &args.keep,
    )
    .map_err(|e| Failure(format!("{e}; the command was not started")))?;
    drop(base);

    let redactor = if args.no_redact {
        None
    } else {
        let token = payload
            .git_token
            .as_ref()
            .map(|t| (GIT_TOKEN_NAME, t.expose()));
        let values = injected.iter().map(|(n, v)| (n.as_str(), v.expose()));
        let redactor = Redactor::new(values.chain(token))?;
        if !redactor.skipped().is_empty() {
            warn(&format!(
                "not redacted, shorter than {} characters: {}",
                runqy_vault::redact::MIN_CHARS,
                redactor.skipped().join(", ")
            ));
        }
        // Nothing long enough to mask: the output needs no pipe.
        (!redactor.is_empty()).then_some(redactor)
    };
    drop(injected);
    drop(payload);

    let program = args.command[0].clone();
    let mut cmd = Command::new(&program);
    cmd.args(&args.command[1..])
        .env_clear()
        .envs(raw)
        .envs(env.iter().map(|(n, v)| (n, v.expose())))
        .stdin(Stdio::inherit());
    if redactor.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // SAFETY: setrlimit is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Our own outputs, duplicated so the threads write without Rust's buffering.
    let outputs = match &redactor {
        Some(_) => Some((dup(io::stdout().as_fd())?, dup(io::stderr().as_fd())?)),
        None => None,
    };

    signals::install()?;
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ok(cannot_start(&program, &e)),
    };
    drop(env);
    signals::started(child.id());

    let pumps = match (redactor, outputs) {
        (Some(redactor), Some((out, err))) => {
            let stdout = child.stdout.take().map(OwnedFd::from);
            let stderr = child.stderr.take().map(OwnedFd::from);
            let mut threads = Vec::new();
            for (from, to) in [(stdout, out), (stderr, err)] {
                if let Some(from) = from {
                    let stream = redactor.stream();
                    threads.push(std::thread::spawn(move || pump(from, to, stream)));
                }
            }
            threads
        }
        _ => Vec::new(),
    };
    let status = wait(&mut child)?;
    for pump in pumps {
        let _ = pump.join();
    }
    Ok(exit_code(status))
}

/// The store, opened the first time it is needed.
fn opened<'a>(slot: &'a mut Option<Store>, location: &Location) -> Result<&'a Store, Failure> {
    if slot.is_none() {
        *slot = Some(Store::open(location.clone(), None)?);
    }
    Ok(slot.as_ref().expect("opened above"))
}

fn warn(message: &str) {
    eprintln!("warning: {}", message.replace(['\n', '\r'], " "));
}

fn read_text(path: &Path, option: &str) -> Result<Zeroizing<String>, Failure> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| Failure(format!("{option} {}: {}", path.display(), io_reason(&e))))?,
    );
    utf8(bytes, &format!("{option} {}", path.display()))
}

fn read_stdin() -> Result<Zeroizing<String>, Failure> {
    let mut bytes = Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure(format!("--payload -: cannot read standard input: {e}")))?;
    utf8(bytes, "--payload - (standard input)")
}

fn utf8(mut bytes: Zeroizing<Vec<u8>>, what: &str) -> Result<Zeroizing<String>, Failure> {
    if std::str::from_utf8(&bytes).is_err() {
        return Err(Failure(format!("{what} is not UTF-8 text")));
    }
    let text = String::from_utf8(std::mem::take(&mut *bytes)).expect("checked above");
    Ok(Zeroizing::new(text))
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<File, Failure> {
    fd.try_clone_to_owned()
        .map(File::from)
        .map_err(|e| Failure(format!("cannot use run's own output: {e}")))
}

/// What a shell says and exits with when a command cannot start.
fn cannot_start(program: &OsStr, e: &io::Error) -> ExitCode {
    let name = program.to_string_lossy();
    let (code, why) = match e.kind() {
        io::ErrorKind::NotFound if name.contains('/') => (127, "no such file".to_owned()),
        io::ErrorKind::NotFound => (127, "command not found".to_owned()),
        io::ErrorKind::PermissionDenied => (126, "permission denied (not executable)".to_owned()),
        _ => (126, e.to_string()),
    };
    eprintln!(
        "error: cannot run '{}': {why}",
        name.escape_debug().collect::<String>()
    );
    ExitCode::from(code)
}

/// Copies one pipe of the child to one of run's outputs through `stream`.
fn pump(from: OwnedFd, mut to: File, mut stream: Stream) {
    let mut from = File::from(from);
    grow_pipe(&from);
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    let mut out = Zeroizing::new(Vec::with_capacity(CHUNK + 4096));
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        out.clear();
        stream.feed_into(&buf[..n], &mut out);
        if to.write_all(&out).is_err() {
            // Nobody reads run's output any more: close the child's pipe too,
            // so its next write fails as it would have without run.
            return;
        }
    }
    out.clear();
    stream.finish_into(&mut out);
    let _ = to.write_all(&out);
}

/// Makes a pipe hold up to CHUNK bytes, so a fast writer and this reader
/// trade fewer, larger reads. Best effort: the default 64 KiB works too.
fn grow_pipe(pipe: &File) {
    #[cfg(target_os = "linux")]
    // SAFETY: F_SETPIPE_SZ on a descriptor we own; failure changes nothing.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pipe;
}

/// Waits for the child to exit, stops forwarding signals to it while it
/// cannot yet be reaped (so its pid cannot have been reused), then reaps it.
fn wait(child: &mut Child) -> Result<ExitStatus, Failure> {
    // SAFETY: waitid on our own child with WNOWAIT leaves it to be reaped below.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        ) != 0
        {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Failure(format!("cannot wait for the command: {e}")));
            }
        }
    }
    signals::exited();
    child
        .wait()
        .map_err(|e| Failure(format!("cannot wait for the command: {e}")))
}

/// The child's status as run's: its code, or 128 + N for death by signal N.
fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from((128 + signal) as u8),
        (None, None) => ExitCode::FAILURE,
    }
}

/// Signal handling: see the module docs. The handlers only touch atomics and
/// call kill(2) and _exit(2), which are async-signal-safe.
mod signals {
    use super::*;

    /// The child: 0 before it starts, its pid while it runs, -1 after it exited.
    static CHILD: AtomicI32 = AtomicI32::new(0);
    /// Handlers between reading CHILD and their kill(2): the child is not
    /// reaped while one may still signal it.
    static BUSY: AtomicUsize = AtomicUsize::new(0);
    /// SIGTERM and SIGHUP that arrived before the child started.
    static PENDING: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    const FORWARDED: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGHUP];
    /// What a terminal sends to its whole foreground process group.
    const SURVIVED: [libc::c_int; 2] = [libc::SIGINT, libc::SIGQUIT];

    pub(super) fn install() -> Result<(), Failure> {
        if INSTALLED.swap(true, SeqCst) {
            return Ok(());
        }
        for (i, &signal) in FORWARDED.iter().enumerate() {
            // SAFETY: the action is async-signal-safe (atomics, kill, _exit).
            unsafe {
                signal_hook_registry::register_sigaction(signal, move |info: &libc::siginfo_t| {
                    // si_code > 0: sent by the kernel (a terminal's hangup),
                    // which signals the child's process group too.
                    if info.si_code <= 0 {
                        forward(i, signal);
                    } else if CHILD.load(SeqCst) < 0 {
                        libc::_exit(128 + signal);
                    }
                })
            }
            .map_err(|e| Failure(format!("cannot handle signal {signal}: {e}")))?;
        }
        for &signal in &SURVIVED {
            // SAFETY: as above.
            unsafe {
                signal_hook_registry::register_sigaction(signal, move |_: &libc::siginfo_t| {
                    if CHILD.load(SeqCst) < 0 {
                        libc::_exit(128 + signal);
                    }
                })
            }
            .map_err(|e| Failure(format!("cannot handle signal {signal}: {e}")))?;
        }
        Ok(())
    }

    fn forward(i: usize, signal: libc::c_int) {
        BUSY.fetch_add(1, SeqCst);
        let pid = CHILD.load(SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) is async-signal-safe; the child is not reaped yet.
            unsafe { libc::kill(pid, signal) };
        } else if pid == 0 {
            PENDING[i].store(true, SeqCst);
            // The child may have started meanwhile: whoever takes the flag sends it.
            let pid = CHILD.load(SeqCst);
            if pid > 0 && PENDING[i].swap(false, SeqCst) {
                // SAFETY: as above.
                unsafe { libc::kill(pid, signal) };
            }
        } else {
            // SAFETY: _exit(2) is async-signal-safe; the child is gone.
            unsafe { libc::_exit(128 + signal) };
        }
        BUSY.fetch_sub(1, SeqCst);
    }

    /// The child runs: signals from now on go to it, and those that came before.
    pub(super) fn started(pid: u32) {
        let pid = pid as i32;
        CHILD.store(pid, SeqCst);
        for (i, &signal) in FORWARDED.iter().enumerate() {
            if PENDING[i].swap(false, SeqCst) {
                // SAFETY: kill(2) on our own child, not yet reaped.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }

    /// The child exited (not yet reaped): no signal is sent to its pid again.
    pub(super) fn exited() {
        CHILD.store(-1, SeqCst);
        while BUSY.load(SeqCst) > 0 {
            std::thread::yield_now();
        }
    }
}
