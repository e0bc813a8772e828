//! The master key (SPEC §1): parsing, where it comes from, its key id.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The variable holding the master key as base64.
pub const ENV_MASTER_KEY: &str = "RUNQY_VAULT_MASTER_KEY";
/// The variable holding the path of a file that holds the master key.
pub const ENV_MASTER_KEY_FILE: &str = "RUNQY_VAULT_MASTER_KEY_FILE";
/// The variable holding a command whose standard output is the master key.
pub const ENV_MASTER_KEY_COMMAND: &str = "RUNQY_VAULT_MASTER_KEY_COMMAND";
/// The variable holding older keys, comma-separated, used only to read.
pub const ENV_MASTER_KEY_PREVIOUS: &str = "RUNQY_VAULT_MASTER_KEY_PREVIOUS";
/// The variable holding the path of a file that holds the `_PREVIOUS` list.
pub const ENV_MASTER_KEY_PREVIOUS_FILE: &str = "RUNQY_VAULT_MASTER_KEY_PREVIOUS_FILE";

/// The most key text read from a file, a command or standard input (SPEC §1):
/// a key is 44 characters; more is a mistake (`/dev/urandom`, `yes |`), not a key.
pub const MAX_KEY_TEXT: usize = 4096;
/// How long `RUNQY_VAULT_MASTER_KEY_COMMAND` may run before it is killed.
pub const KEY_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;
const INFO_ENC: &[u8] = b"runqy-vault v2 enc";
const INFO_KEY_ID: &[u8] = b"runqy-vault v2 key-id";
/// The audit log's fingerprints of values (SPEC §13).
const INFO_AUDIT: &[u8] = b"runqy-vault v2 audit";
/// The audit log's chain of record MACs: a key of its own, so that no
/// fingerprint of a value can ever be a record's MAC.
const INFO_AUDIT_CHAIN: &[u8] = b"runqy-vault v2 audit chain";

/// The 8-byte identifier of a master key, `HKDF-SHA256(key, info = "runqy-vault v2 key-id")`.
/// Shown as 16 lowercase hex digits. It reveals nothing usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Parses the 16-hex-digit form stored in the meta table.
    pub fn from_hex(s: &str) -> Option<KeyId> {
        let mut out = [0u8; 8];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(KeyId(out))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte AES-256 master key. Wiped on drop; `Debug` shows only its key id.
///
/// ```
/// use runqy_vault::MasterKey;
/// let key = MasterKey::generate();
/// let again = MasterKey::parse(key.to_base64().expose(), "example").unwrap();
/// assert_eq!(key.key_id(), again.key_id());
/// assert!(!format!("{key:?}").contains(key.to_base64().expose()));
/// ```
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    /// Parses the text form: standard base64 (surrounding whitespace trimmed)
    /// of exactly 32 bytes. `source_name` says where the text came from, for
    /// the error message; the text itself is never echoed.
    pub fn parse(text: &str, source_name: &str) -> Result<MasterKey> {
        let invalid = |reason: String| Error::InvalidMasterKey {
            source_name: source_name.to_owned(),
            reason,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty or only whitespace".to_owned()));
        }
        if let Some(pos) = text
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
        {
            return Err(invalid(format!(
                "character {} is outside the standard base64 alphabet (A-Z a-z 0-9 + / =)",
                pos + 1
            )));
        }
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    invalid(format!(
                        "{} characters of text are not valid standard base64 (bad padding or length); \
                         make one with `openssl rand -base64 32`",
                        text.len()
                    ))
                })?,
        );
        if decoded.len() != KEY_LEN {
            return Err(invalid(format!(
                "it decodes to {} bytes, but a master key is exactly {KEY_LEN} bytes \
                 (make one with `openssl rand -base64 32`)",
                decoded.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(MasterKey { bytes })
    }

    /// Reads a key from a file (as `rotate-key --new-key-file` does), by the
    /// same rules as the file `RUNQY_VAULT_MASTER_KEY_FILE` names: a regular
    /// file (after symlinks) of at most [`MAX_KEY_TEXT`] bytes. `source_name`
    /// (an option, a variable) names it in errors, with the path unless the
    /// path itself looks like a key.
    pub fn from_file(path: &Path, source_name: &str) -> Result<MasterKey> {
        let source = FileSource::new(source_name, &path.to_string_lossy());
        let text = read_key_file(path, &source)?;
        MasterKey::parse(&text, &source.name)
    }

    /// Reads a key from a stream (standard input), named `source_name` in
    /// errors: at most [`MAX_KEY_TEXT`] bytes are read.
    pub fn from_reader(reader: impl Read, source_name: &str) -> Result<MasterKey> {
        let bytes = read_bounded(reader, source_name, "it")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| Error::InvalidMasterKey {
            source_name: source_name.to_owned(),
            reason: "it is not UTF-8 text".to_owned(),
        })?;
        MasterKey::parse(text, source_name)
    }

    /// A new key of 32 bytes from the operating system's generator.
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut bytes[..]).expect("the operating system's random generator failed");
        MasterKey { bytes }
    }

    /// Builds a key from raw bytes (tests, vectors).
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> MasterKey {
        MasterKey {
            bytes: Zeroizing::new(raw),
        }
    }

    /// The text form, standard base64.
    pub fn to_base64(&self) -> SecretString {
        base64::engine::general_purpose::STANDARD
            .encode(&self.bytes[..])
            .into()
    }

    /// The raw bytes: the legacy format's AES key.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// `HKDF-SHA256(ikm = key, salt = empty, info = "runqy-vault v2 enc")`: the v2 AES key.
    pub(crate) fn v2_enc_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(None, &self.bytes[..])
            .expand(INFO_ENC, &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// `HKDF-SHA256(ikm = key, salt = empty, info = "runqy-vault v2 audit")`:
    /// the HMAC key of the audit log's fingerprints (SPEC §13).
    pub(crate) fn audit_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        self.derive(INFO_AUDIT)
    }

    /// `HKDF-SHA256(ikm = key, salt = empty, info = "runqy-vault v2 audit
    /// chain")`: the HMAC key of the audit log's chain and head.
    pub(crate) fn audit_chain_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        self.derive(INFO_AUDIT_CHAIN)
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(None, &self.bytes[..])
            .expand(info, &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        let mut out = [0u8; 8];
        Hkdf::<Sha256>::new(None, &self.bytes[..])
            .expand(INFO_KEY_ID, &mut out)
            .expect("8 bytes is a valid HKDF-SHA256 output length");
        KeyId(out)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MasterKey {{ key_id: {}, bytes: [REDACTED] }}",
            self.key_id()
        )
    }
}

/// The keys a store is opened with: the current one, which writes, and
/// older ones that may still be needed to read (rolling rotation).
#[derive(Clone, Debug)]
pub struct KeySet {
    /// The key new values are written under.
    pub current: MasterKey,
    /// Older keys, only to read values still under them.
    pub previous: Vec<MasterKey>,
}

/// Where the master key is to come from.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// `RUNQY_VAULT_MASTER_KEY`, `_FILE` or `_COMMAND`, and `_PREVIOUS` or
    /// `_PREVIOUS_FILE` (SPEC §1).
    #[default]
    Environment,
    /// A key given by the API; the environment is then not consulted.
    Explicit(KeySet),
    /// No key: the store opens disabled.
    None,
}

impl KeySource {
    /// A key given as text by the API (which wins over the environment).
    pub fn explicit(text: &str) -> Result<KeySource> {
        Ok(KeySource::Explicit(KeySet {
            current: MasterKey::parse(text, "the key given")?,
            previous: Vec::new(),
        }))
    }

    /// Resolves the source into keys; `Ok(None)` means no key is configured.
    /// From the environment this may read files and run
    /// `RUNQY_VAULT_MASTER_KEY_COMMAND`, so it is done once, at open.
    pub fn load(&self) -> Result<Option<KeySet>> {
        match self {
            KeySource::Explicit(keys) => Ok(Some(keys.clone())),
            KeySource::None => Ok(None),
            KeySource::Environment => load_from(|name| std::env::var_os(name)),
        }
    }
}

/// Reads the key configuration through `var` (the environment, or a test's map).
pub(crate) fn load_from(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<KeySet>> {
    load_with(var, KEY_COMMAND_TIMEOUT)
}

fn load_with(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
    command_timeout: Duration,
) -> Result<Option<KeySet>> {
    // A variable set to blanks counts as unset, as an empty one does.
    let text_of = |name: &str| -> Result<Option<Zeroizing<String>>> {
        match var(name) {
            None => Ok(None),
            Some(v) => v
                .into_string()
                .map(Zeroizing::new)
                // Empty is unset (as upstream reads it); whitespace only is a
                // key that is set but not valid, never "not configured" (SPEC §1).
                .map(|s| Some(s).filter(|s| !s.is_empty()))
                .map_err(|_| Error::InvalidMasterKey {
                    source_name: name.to_owned(),
                    reason: "it is not valid UTF-8 text".to_owned(),
                }),
        }
    };
    let direct = text_of(ENV_MASTER_KEY)?;
    let file = text_of(ENV_MASTER_KEY_FILE)?;
    let command = text_of(ENV_MASTER_KEY_COMMAND)?;
    only_one(&[
        (ENV_MASTER_KEY, direct.is_some()),
        (ENV_MASTER_KEY_FILE, file.is_some()),
        (ENV_MASTER_KEY_COMMAND, command.is_some()),
    ])?;
    let current = if let Some(text) = direct {
        MasterKey::parse(&text, ENV_MASTER_KEY)?
    } else if let Some(path) = file {
        let source = FileSource::new(ENV_MASTER_KEY_FILE, path.trim());
        let text = read_key_file(Path::new(path.trim()), &source)?;
        MasterKey::parse(&text, &source.name)?
    } else if let Some(line) = command {
        run_key_command(&line, command_timeout)?
    } else {
        return Ok(None);
    };

    let list = text_of(ENV_MASTER_KEY_PREVIOUS)?;
    let list_file = text_of(ENV_MASTER_KEY_PREVIOUS_FILE)?;
    only_one(&[
        (ENV_MASTER_KEY_PREVIOUS, list.is_some()),
        (ENV_MASTER_KEY_PREVIOUS_FILE, list_file.is_some()),
    ])?;
    let previous = match (list, list_file) {
        (Some(list), _) => parse_key_list(&list, ENV_MASTER_KEY_PREVIOUS)?,
        (None, Some(path)) => {
            let source = FileSource::new(ENV_MASTER_KEY_PREVIOUS_FILE, path.trim());
            let text = read_key_file(Path::new(path.trim()), &source)?;
            parse_key_list(&text, &source.name)?
        }
        (None, None) => Vec::new(),
    };
    Ok(Some(KeySet { current, previous }))
}

/// Refuses more than one of the variables that are set, naming them.
fn only_one(vars: &[(&str, bool)]) -> Result<()> {
    let set: Vec<&str> = vars.iter().filter(|v| v.1).map(|v| v.0).collect();
    let (names, reason) = match set.as_slice() {
        [] | [_] => return Ok(()),
        [a, b] => (format!("{a} and {b}"), "both are set; set only one"),
        [init @ .., last] => (
            format!("{} and {last}", init.join(", ")),
            "more than one is set; set only one",
        ),
    };
    Err(Error::InvalidMasterKey {
        source_name: names,
        reason: reason.to_owned(),
    })
}

/// Keys separated by commas (or, in a file, newlines); blank items skipped.
fn parse_key_list(list: &str, source: &str) -> Result<Vec<MasterKey>> {
    let mut keys = Vec::new();
    for (i, part) in list.split([',', '\n']).enumerate() {
        if part.trim().is_empty() {
            continue;
        }
        keys.push(MasterKey::parse(
            part,
            &format!("{source} (item {})", i + 1),
        )?);
    }
    Ok(keys)
}

/// How a key file is named in messages: by its variable or option, and by
/// its path only when the path holds no key (a key pasted where the path
/// belongs must not be echoed).
struct FileSource {
    name: String,
    /// Said after a failure to read, when the "path" looks like a key.
    hint: &'static str,
}

impl FileSource {
    fn new(what: &str, path: &str) -> FileSource {
        if holds_key_text(path) {
            FileSource {
                name: what.to_owned(),
                hint: "; its value looks like a key itself, not a path (not shown): \
                       put the key in the file it names instead",
            }
        } else {
            FileSource {
                name: format!("{what} ({path})"),
                hint: "",
            }
        }
    }

    fn error(&self, reason: String) -> Error {
        Error::InvalidMasterKey {
            source_name: self.name.clone(),
            reason: format!("{reason}{}", self.hint),
        }
    }
}

/// Whether `text` contains anything that parses as a master key: 44
/// characters of standard base64 ending in `=` that decode to 32 bytes.
fn holds_key_text(text: &str) -> bool {
    const LEN: usize = 44;
    let b = text.as_bytes();
    b.len() >= LEN
        && (0..=b.len() - LEN).any(|i| {
            let window = &b[i..i + LEN];
            window[LEN - 1] == b'='
                && std::str::from_utf8(window).is_ok_and(|w| MasterKey::parse(w, "").is_ok())
        })
}

/// The text of a key file: a regular file after symlinks (a FIFO would
/// block, a device never end), at most [`MAX_KEY_TEXT`] bytes, UTF-8.
fn read_key_file(path: &Path, source: &FileSource) -> Result<Zeroizing<String>> {
    use std::os::unix::fs::OpenOptionsExt;
    let meta =
        std::fs::metadata(path).map_err(|e| source.error(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(source.error(not_regular(&meta)));
    }
    // O_NONBLOCK: a FIFO swapped in after the check must not block the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| source.error(format!("cannot read the file: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| source.error(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(source.error(not_regular(&meta)));
    }
    let bytes = read_bounded(file, &source.name, "the file").map_err(|e| match e {
        Error::InvalidMasterKey { reason, .. } => source.error(reason),
        other => other,
    })?;
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => Err(source.error("the file is not UTF-8 text".to_owned())),
    }
}

fn not_regular(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    format!("it is {kind}; a key file must be a regular file")
}

/// Reads at most [`MAX_KEY_TEXT`] bytes into a buffer that is wiped on drop
/// and never grows (a grown vector would leave an unwiped copy behind).
fn read_bounded(
    mut reader: impl Read,
    source_name: &str,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_KEY_TEXT + 1]);
    let mut len = 0;
    while len < buf.len() {
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::InvalidMasterKey {
                    source_name: source_name.to_owned(),
                    reason: format!("cannot read {what}: {e}"),
                })
            }
        }
    }
    if len > MAX_KEY_TEXT {
        return Err(Error::InvalidMasterKey {
            source_name: source_name.to_owned(),
            reason: format!(
                "{what} holds more than {MAX_KEY_TEXT} bytes; a master key is 44 characters of base64"
            ),
        });
    }
    buf.truncate(len); // shrinks in place: no copy
    Ok(buf)
}

/// Runs `RUNQY_VAULT_MASTER_KEY_COMMAND` (SPEC §1): split into words as a
/// POSIX shell would, run without a shell, standard error passed through,
/// killed after `timeout`. Errors name the variable, the exit status and the
/// program once it was started, never the arguments or the output.
fn run_key_command(line: &str, timeout: Duration) -> Result<MasterKey> {
    let invalid = |reason: String| Error::InvalidMasterKey {
        source_name: ENV_MASTER_KEY_COMMAND.to_owned(),
        reason,
    };
    let words: Zeroizing<Vec<String>> = Zeroizing::new(shell_words::split(line).map_err(|_| {
        invalid(
            "it cannot be split into words: a quote is not closed, or it ends in a backslash"
                .to_owned(),
        )
    })?);
    let Some((program, args)) = words.split_first() else {
        return Err(invalid("it holds no command".to_owned()));
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        // io::Error's text names no program or argument.
        .map_err(|e| invalid(format!("its program cannot be started: {e}")))?;
    let shown = format!("`{}`", program.escape_debug());
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(invalid("its standard output could not be read".to_owned()));
    };
    // The output is read beside the wait, so a full pipe never stalls the command.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_bounded(stdout, ENV_MASTER_KEY_COMMAND, "its output"));
    });
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(invalid(format!(
                    "the command {shown} did not finish within {} s and was killed",
                    timeout.as_secs_f64()
                )));
            }
            Ok(None) => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(invalid(format!(
                    "waiting for the command {shown} failed: {e}"
                )));
            }
        }
    };
    // A process the command left behind may still hold the pipe open.
    let output = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(read) => read.map_err(|e| match e {
            Error::InvalidMasterKey { reason, .. } => {
                invalid(reason.replacen("its output", &format!("the output of {shown}"), 1))
            }
            other => other,
        })?,
        Err(_) => {
            return Err(invalid(format!(
                "the output of {shown} did not end within {} s \
                 (a process it started keeps its standard output open)",
                timeout.as_secs_f64()
            )))
        }
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            (None, None) => "failed".to_owned(),
        };
        return Err(invalid(format!("the command {shown} {how}")));
    }
    let source = format!("{ENV_MASTER_KEY_COMMAND} (the output of {shown})");
    let text = std::str::from_utf8(&output).map_err(|_| Error::InvalidMasterKey {
        source_name: source.clone(),
        reason: "it is not UTF-8 text".to_owned(),
    })?;
    MasterKey::parse(text, &source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::collections::HashMap;
    use std::ffi::OsString;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).map(OsString::from)
    }

    #[test]
    fn parse_accepts_openssl_output_with_surrounding_whitespace() {
        let key = MasterKey::parse(&format!("  {KEY_A}\n"), "test").unwrap();
        let expected: Vec<u8> = (0u8..32).collect();
        assert_eq!(&key.bytes()[..], &expected[..]);
    }

    #[test]
    fn parse_rejects_wrong_length_and_alphabet_without_echoing_the_key() {
        let short = "c2hvcnRrZXlzaG9ydGtleQ=="; // 16 bytes
        let err = MasterKey::parse(short, "RUNQY_VAULT_MASTER_KEY").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
        let msg = err.to_string();
        assert!(
            msg.contains("16 bytes") && msg.contains("32 bytes"),
            "{msg}"
        );
        assert!(
            msg.contains("RUNQY_VAULT_MASTER_KEY") && !msg.contains(short),
            "{msg}"
        );

        let urlsafe = KEY_A.replace('E', "-");
        let msg = MasterKey::parse(&urlsafe, "x").unwrap_err().to_string();
        assert!(msg.contains("alphabet") && !msg.contains(&urlsafe), "{msg}");

        let msg = MasterKey::parse("AAAAA", "x").unwrap_err().to_string();
        assert!(msg.contains("base64"), "{msg}");
    }

    #[test]
    fn debug_of_a_key_shows_only_its_id() {
        let key = MasterKey::parse(KEY_A, "test").unwrap();
        let dbg = format!(
            "{key:?} {:?}",
            KeySet {
                current: key.clone(),
                previous: vec![]
            }
        );
        assert!(dbg.contains("REDACTED"));
        assert!(!dbg.contains(KEY_A) && !dbg.contains("0, 1, 2, 3"), "{dbg}");
    }

    #[test]
    fn environment_without_key_is_disabled() {
        assert!(load_from(env(&[])).unwrap().is_none());
        assert!(load_from(env(&[(ENV_MASTER_KEY, "")])).unwrap().is_none());
        assert!(load_from(env(&[(ENV_MASTER_KEY_FILE, "")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn inaccurate_messages_a_whitespace_only_key_is_invalid_not_unconfigured() {
        for blank in ["  ", "\n", " \t\r\n"] {
            let err = load_from(env(&[(ENV_MASTER_KEY, blank)])).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidMasterKey, "{blank:?}");
            let msg = err.to_string();
            assert!(
                msg.contains(ENV_MASTER_KEY) && msg.contains("only whitespace"),
                "{msg}"
            );
            assert!(!msg.contains("not configured"), "{msg}");
        }
        let err = load_from(env(&[(ENV_MASTER_KEY_FILE, " ")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
    }

    #[test]
    fn environment_with_both_key_and_file_is_an_error() {
        let err =
            load_from(env(&[(ENV_MASTER_KEY, KEY_A), (ENV_MASTER_KEY_FILE, "/x")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
        assert!(err.to_string().contains("both are set"));
    }

    #[test]
    fn environment_key_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = load_from(env(&[(ENV_MASTER_KEY_FILE, path.to_str().unwrap())]))
            .unwrap()
            .unwrap();
        assert_eq!(
            keys.current.key_id(),
            MasterKey::parse(KEY_A, "t").unwrap().key_id()
        );

        let missing = dir.path().join("missing");
        let err = load_from(env(&[(ENV_MASTER_KEY_FILE, missing.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("cannot read the file"), "{err}");
    }

    #[test]
    fn environment_previous_keys_are_parsed_in_order() {
        let other = MasterKey::generate();
        let list = format!("{}, {KEY_A}", other.to_base64().expose());
        let keys = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS, &list),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(keys.previous.len(), 2);
        assert_eq!(keys.previous[0].key_id(), other.key_id());

        let err = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS, "bad!"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("item 1"), "{err}");
    }

    fn key_a_id() -> KeyId {
        MasterKey::parse(KEY_A, "t").unwrap().key_id()
    }

    /// A key written to a file of its own, and the file's path as text.
    fn key_file(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn the_master_key_printed_in_an_error_a_key_pasted_into_a_file_variable_is_never_echoed() {
        // The key itself where the path belongs: only the variable is named.
        for var in [ENV_MASTER_KEY_FILE, ENV_MASTER_KEY_PREVIOUS_FILE] {
            let pairs: Vec<(&str, &str)> = if var == ENV_MASTER_KEY_FILE {
                vec![(var, KEY_A)]
            } else {
                vec![(ENV_MASTER_KEY, KEY_A), (var, KEY_A)]
            };
            let err = load_from(env(&pairs)).unwrap_err();
            let msg = err.to_string();
            assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
            assert!(!msg.contains(KEY_A), "{msg}");
            assert!(
                msg.starts_with(&format!(
                    "invalid master key from {var}: cannot read the file"
                )),
                "{msg}"
            );
            assert!(msg.contains("looks like a key itself"), "{msg}");
        }
        // Within a longer text too (a key pasted after a directory).
        let pasted = format!("/run/secrets/{KEY_A}");
        let msg = load_from(env(&[(ENV_MASTER_KEY_FILE, &pasted)]))
            .unwrap_err()
            .to_string();
        assert!(!msg.contains(KEY_A), "{msg}");
        // rotate-key --new-key-file's reader: the option is named, not the "path".
        let msg = MasterKey::from_file(Path::new(KEY_A), "--new-key-file")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("invalid master key from --new-key-file: "),
            "{msg}"
        );
        assert!(!msg.contains(KEY_A), "{msg}");
        // An ordinary path is shown, to help find the mistake.
        let msg = MasterKey::from_file(Path::new("/no/such/key"), "--new-key-file")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(
                "invalid master key from --new-key-file (/no/such/key): cannot read the file"
            ),
            "{msg}"
        );
    }

    #[test]
    fn unbounded_key_input_devices_fifos_directories_and_big_files_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let big = key_file(
            dir.path(),
            "big",
            &format!("{KEY_A}{}", " ".repeat(MAX_KEY_TEXT)),
        );
        let cases = [
            (
                "/dev/urandom",
                "it is a character device; a key file must be a regular file",
            ),
            ("/dev/zero", "it is a character device"),
            (fifo.to_str().unwrap(), "it is a FIFO"),
            (dir.path().to_str().unwrap(), "it is a directory"),
            (&big, "the file holds more than 4096 bytes"),
        ];
        for (path, want) in cases {
            for var in [ENV_MASTER_KEY_FILE, ENV_MASTER_KEY_PREVIOUS_FILE] {
                // _FILE beside _MASTER_KEY would be two sources: it is tried alone.
                let err = match var {
                    ENV_MASTER_KEY_FILE => load_from(env(&[(var, path)])),
                    _ => load_from(env(&[(ENV_MASTER_KEY, KEY_A), (var, path)])),
                }
                .unwrap_err();
                let msg = err.to_string();
                assert_eq!(err.kind(), ErrorKind::InvalidMasterKey, "{msg}");
                assert!(msg.contains(want), "{path}: {msg}");
                assert!(msg.contains(var), "{msg}");
            }
        }
        // Standard input (`yes | rotate-key`): read no more than the limit.
        let err = MasterKey::from_reader(std::io::repeat(b'y'), "standard input").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid master key from standard input: it holds more than 4096 bytes; \
             a master key is 44 characters of base64"
        );
        // Exactly the limit is still read (and then judged as a key).
        let padded = format!("{KEY_A}{}", "\n".repeat(MAX_KEY_TEXT - KEY_A.len()));
        let key = MasterKey::from_reader(padded.as_bytes(), "standard input").unwrap();
        assert_eq!(key.key_id(), key_a_id());
    }

    #[test]
    fn a_key_file_behind_a_symlink_is_read_as_a_kubernetes_secret_mount_is() {
        let dir = tempfile::tempdir().unwrap();
        let target = key_file(dir.path(), "..data-key", &format!("{KEY_A}\n"));
        let link = dir.path().join("key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let keys = load_from(env(&[(ENV_MASTER_KEY_FILE, link.to_str().unwrap())]))
            .unwrap()
            .unwrap();
        assert_eq!(keys.current.key_id(), key_a_id());
        // A symlink to a device is judged by what it points at.
        let dev = dir.path().join("dev");
        std::os::unix::fs::symlink("/dev/zero", &dev).unwrap();
        let msg = load_from(env(&[(ENV_MASTER_KEY_FILE, dev.to_str().unwrap())]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("character device"), "{msg}");
    }

    #[test]
    fn previous_keys_come_from_a_file_of_commas_or_lines_but_not_from_both_variables() {
        let dir = tempfile::tempdir().unwrap();
        let (b, c) = (MasterKey::generate(), MasterKey::generate());
        let list = key_file(
            dir.path(),
            "previous",
            &format!("{}\n{},\n", b.to_base64().expose(), c.to_base64().expose()),
        );
        let keys = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS_FILE, &list),
        ]))
        .unwrap()
        .unwrap();
        let ids: Vec<KeyId> = keys.previous.iter().map(MasterKey::key_id).collect();
        assert_eq!(ids, vec![b.key_id(), c.key_id()]);

        let err = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS_FILE, &list),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid master key from RUNQY_VAULT_MASTER_KEY_PREVIOUS and \
             RUNQY_VAULT_MASTER_KEY_PREVIOUS_FILE: both are set; set only one"
        );

        let bad = key_file(
            dir.path(),
            "bad",
            &format!("{}\nnot-a-key\n", b.to_base64().expose()),
        );
        let msg = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS_FILE, &bad),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with(&format!(
                "invalid master key from {ENV_MASTER_KEY_PREVIOUS_FILE} ({bad}) (item 2)"
            )),
            "{msg}"
        );
        assert!(!msg.contains("not-a-key"), "{msg}");
    }

    // ------------------------------------------------ RUNQY_VAULT_MASTER_KEY_COMMAND

    fn from_command(line: &str, timeout: Duration) -> Result<Option<KeySet>> {
        load_with(env(&[(ENV_MASTER_KEY_COMMAND, line)]), timeout)
    }

    fn command_error(line: &str) -> String {
        let err = from_command(line, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
        err.to_string()
    }

    #[test]
    fn key_command_output_is_the_key_with_quotes_and_without_expansion() {
        let dir = tempfile::tempdir().unwrap();
        // A directory with a space and a file literally named `$HOME`: only
        // quoting without expansion reaches it.
        let sub = dir.path().join("with space");
        std::fs::create_dir(&sub).unwrap();
        key_file(&sub, "$HOME", &format!("{KEY_A}\n"));
        let line = format!("cat '{}/$HOME'", sub.display());
        let keys = from_command(&line, Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(keys.current.key_id(), key_a_id());
        let line = format!("cat \"{}\"/\\$HOME", sub.display());
        let keys = from_command(&line, Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(keys.current.key_id(), key_a_id());
    }

    #[test]
    fn key_command_that_fails_names_the_variable_program_and_status_but_no_argument() {
        let msg = command_error("sh -c 'exit 3' secret-argument");
        assert_eq!(
            msg,
            "invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: the command `sh` exited with status 3"
        );
        let msg = command_error("sh -c 'kill -9 $$'");
        assert!(
            msg.ends_with("the command `sh` was killed by signal 9"),
            "{msg}"
        );
    }

    #[test]
    fn key_command_that_hangs_is_killed_at_the_time_limit() {
        let err = from_command("sleep 30", Duration::from_millis(300)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: the command `sleep` \
             did not finish within 0.3 s and was killed"
        );
        assert_eq!(KEY_COMMAND_TIMEOUT, Duration::from_secs(30));
    }

    #[test]
    fn key_command_with_garbage_or_endless_output_never_echoes_it() {
        let msg = command_error("echo garbage-output-never-shown");
        assert!(
            msg.starts_with(
                "invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND (the output of `echo`): "
            ),
            "{msg}"
        );
        assert!(!msg.contains("garbage-output"), "{msg}");
        let msg = command_error("yes");
        assert_eq!(
            msg,
            "invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: the output of `yes` holds \
             more than 4096 bytes; a master key is 44 characters of base64"
        );
        let msg = command_error("printf '\\377\\376'");
        assert!(msg.ends_with("it is not UTF-8 text"), "{msg}");
    }

    #[test]
    fn key_command_whose_program_does_not_exist_names_neither_program_nor_arguments() {
        // A key pasted into the variable is a "program" that is not found.
        for line in [KEY_A.to_owned(), format!("/no/such/dir/prog {KEY_A}")] {
            let msg = command_error(&line);
            assert_eq!(
                msg,
                "invalid master key from RUNQY_VAULT_MASTER_KEY_COMMAND: its program cannot \
                 be started: No such file or directory (os error 2)"
            );
        }
        let msg = command_error("cat 'unclosed");
        assert!(msg.contains("a quote is not closed"), "{msg}");
        assert!(!msg.contains("unclosed"), "{msg}");
    }

    #[test]
    fn two_or_three_key_sources_at_once_are_refused_naming_them() {
        let err = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_COMMAND, "true"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid master key from RUNQY_VAULT_MASTER_KEY and RUNQY_VAULT_MASTER_KEY_COMMAND: \
             both are set; set only one"
        );
        let err = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_FILE, "/x"),
            (ENV_MASTER_KEY_COMMAND, "true"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid master key from RUNQY_VAULT_MASTER_KEY, RUNQY_VAULT_MASTER_KEY_FILE and \
             RUNQY_VAULT_MASTER_KEY_COMMAND: more than one is set; set only one"
        );
        // Empty counts as unset, as for the other two; blank is set and wrong.
        assert!(load_from(env(&[(ENV_MASTER_KEY_COMMAND, "")]))
            .unwrap()
            .is_none());
        let err = load_from(env(&[(ENV_MASTER_KEY_COMMAND, "  ")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
    }
}
