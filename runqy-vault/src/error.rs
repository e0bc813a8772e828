//! The one error type of runqy-vault.
//!
//! Every variant names the vault and key it concerns and never carries a
//! secret value or key material, so any message may be logged or shown.

use std::fmt;

/// What a name is, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A vault name.
    Vault,
    /// An entry key (it becomes an environment variable name).
    Key,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Vault => "vault name",
            NameKind::Key => "key",
        })
    }
}

/// The kind of an [`Error`], without its details.
///
/// The bindings map this to their own codes (the C ABI's `RunqyVaultResult`,
/// the Python exception classes); the discriminants are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No master key: vaults are not configured.
    Disabled,
    /// A master key that is not 32 bytes of standard base64.
    InvalidMasterKey,
    /// The master key does not open the store.
    KeyMismatch,
    /// One or more vaults do not exist.
    VaultNotFound,
    /// The vault has no such key.
    EntryNotFound,
    /// The vault exists already.
    VaultExists,
    /// A name breaks the naming rule.
    InvalidName,
    /// A name is reserved.
    ReservedName,
    /// A value cannot be stored.
    InvalidValue,
    /// Input that is wrong as a whole.
    InvalidInput,
    /// A stored value did not decrypt.
    DecryptionFailed,
    /// The database failed.
    Storage,
    /// A file could not be read or written.
    Io,
    /// The version of an entry asked for is not kept (never written, pruned, or not a version number).
    VersionNotFound,
    /// A write expected another current version (check-and-set), or the
    /// entry's state does not allow the call (a `restore` of a current entry).
    VersionConflict,
    /// The audit log's chain does not verify: a record edited, removed,
    /// inserted or moved, or the log restarted (SPEC §13).
    AuditBroken,
}

/// Everything that can go wrong in runqy-vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No master key is configured: the store is open but disabled.
    #[error(
        "vaults not configured: set RUNQY_VAULT_MASTER_KEY (or RUNQY_VAULT_MASTER_KEY_FILE) \
         to a key made by `openssl rand -base64 32`"
    )]
    Disabled,

    /// A master key was given but is not 32 bytes of standard base64.
    /// `source_name` says where it came from (an environment variable, a file, the API).
    #[error("invalid master key from {}: {}", text(.source_name), text(.reason))]
    InvalidMasterKey {
        /// Where the key came from: a variable's name, a file, the API.
        source_name: String,
        /// What is wrong with it (never the key).
        reason: String,
    },

    /// The master key does not open this store.
    #[error(
        "master key mismatch: the store's values are under key id {}, \
         but the master key given has key id {}",
        text(.store_key_id),
        text(.key_id)
    )]
    KeyMismatch {
        /// The key id(s) the store's values are under.
        store_key_id: String,
        /// The id of the key given.
        key_id: String,
    },

    /// One or more vaults do not exist (all of them are named at once).
    #[error("{}", vault_not_found_message(.vaults))]
    VaultNotFound {
        /// Every missing vault, in the order asked.
        vaults: Vec<String>,
    },

    /// The vault exists but holds no such key.
    #[error("entry '{}' not found in vault '{}'", shown(.key), shown(.vault))]
    EntryNotFound {
        /// The vault.
        vault: String,
        /// The key it does not hold.
        key: String,
    },

    /// `create` of a vault that is already there.
    #[error("vault '{}' already exists", shown(.vault))]
    VaultExists {
        /// The vault.
        vault: String,
    },

    /// A vault name or key that breaks the naming rule.
    #[error("invalid {kind} '{}': {}", shown(.name), text(.reason))]
    InvalidName {
        /// A vault name or a key.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A vault name or key that is reserved.
    #[error("reserved {kind} '{}': {}", shown(.name), text(.reason))]
    ReservedName {
        /// A vault name or a key.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// Why it is reserved.
        reason: String,
    },

    /// A value that cannot be stored; the value itself is never shown.
    #[error(
        "invalid value for key '{}' in vault '{}': {}",
        shown(.key),
        shown(.vault),
        text(.reason)
    )]
    InvalidValue {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// What is wrong with the value (never the value).
        reason: String,
    },

    /// Input that is wrong as a whole (an import document, a rotation request, an argument).
    #[error("{}", text(.0))]
    InvalidInput(String),

    /// A stored value did not decrypt: wrong key, corruption, or a blob moved to
    /// another entry. Deliberately says nothing more.
    #[error("decryption failed for key '{}' in vault '{}'", shown(.key), shown(.vault))]
    DecryptionFailed {
        /// The vault.
        vault: String,
        /// The key whose value did not decrypt.
        key: String,
    },

    /// The database failed (not a database, read-only, locked, ...).
    #[error("storage error: {}", text(.0.message()))]
    Storage(#[source] StorageError),

    /// A file could not be read or written.
    #[error("{}: {}", text(.path), text(.message))]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// A version of an entry that the store does not keep.
    #[error("version {version} of key '{key}' in vault '{vault}' not found: {reason}")]
    VersionNotFound {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// The version asked for, as given.
        version: i64,
        /// Why, and which versions are kept.
        reason: String,
    },

    /// A check-and-set write whose expected version is not the current one.
    #[error("{}", version_conflict_message(.vault, .key, *.expected, .current))]
    VersionConflict {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// The version the caller expected to be current (0: no entry).
        expected: i64,
        /// The current version: `Some(0)` when there is no entry, `None`
        /// when the current value was written by another program and has no version.
        current: Option<i64>,
    },

    /// `restore` of an entry that exists: there is nothing to bring back.
    #[error(
        "entry '{key}' in vault '{vault}' is current{}: restore brings back a removed entry \
         (rollback goes back to an older version)",
        .version.map(|v| format!(" (version {v})")).unwrap_or_default()
    )]
    EntryIsCurrent {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// Its current version, `None` when written by another program.
        version: Option<i64>,
    },

    /// A call that needs a current entry (`rollback`) on one that was removed.
    #[error(
        "entry '{key}' not found in vault '{vault}': it was removed (its last version is \
         {version}); restore brings it back"
    )]
    EntryRemoved {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// The last version kept.
        version: i64,
    },

    /// The audit log does not verify; the message names the first bad
    /// record (`audit record S ...`) and never holds a value.
    #[error("{}", text(.message))]
    AuditBroken {
        /// `audit record S: ...`, what is wrong and where.
        message: String,
    },

    /// A version kept in the history did not decrypt: tampered, or moved
    /// from another version, key or vault.
    #[error("decryption failed for version {version} of key '{key}' in vault '{vault}'")]
    VersionDecryptionFailed {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// The version whose blob did not decrypt.
        version: i64,
    },
}

fn version_conflict_message(
    vault: &str,
    key: &str,
    expected: i64,
    current: &Option<i64>,
) -> String {
    let wanted = if expected == 0 {
        "expected no entry (check-and-set 0)".to_owned()
    } else {
        format!("expected version {expected}")
    };
    let found = match current {
        Some(0) => "the entry does not exist (current version 0)".to_owned(),
        Some(v) => format!("the current version is {v}"),
        None => "the current value has no version (another program wrote it)".to_owned(),
    };
    format!("version conflict on key '{key}' in vault '{vault}': {wanted}, but {found}")
}

/// Vaults named at most in one "not found" message; the rest are counted.
const MAX_NAMES_LISTED: usize = 20;

fn vault_not_found_message(vaults: &[String]) -> String {
    let mut quoted: Vec<String> = vaults
        .iter()
        .take(MAX_NAMES_LISTED)
        .map(|v| format!("'{}'", shown(v)))
        .collect();
    if vaults.len() > MAX_NAMES_LISTED {
        quoted.push(format!(
            "and {} more",
            thousands(vaults.len() - MAX_NAMES_LISTED)
        ));
    }
    match vaults.len() {
        1 => format!("vault {} not found", quoted[0]),
        _ => format!("vaults {} not found", quoted.join(", ")),
    }
}

/// Names longer than this are cut in messages: the longest valid name (a
/// key, SPEC §4) is always shown whole.
pub const MAX_SHOWN_NAME: usize = 256;
/// Free text (a reason, a path, a driver's message) longer than this is cut.
pub const MAX_SHOWN_TEXT: usize = 2048;

/// A name (vault, key, reference) as every message shows it: control
/// characters and invisible or bidirectional formatting characters escaped
/// (`\n`, `\u{1b}`, `\u{202e}`), so a name can neither forge a second line
/// nor recolour a terminal, and cut after [`MAX_SHOWN_NAME`] characters.
///
/// ```
/// use runqy_vault::error::shown;
/// assert_eq!(shown("ci").to_string(), "ci");
/// assert_eq!(shown("a\nwarning: forged").to_string(), "a\\nwarning: forged");
/// assert_eq!(shown("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
/// assert!(shown(&"x".repeat(10_000)).to_string().ends_with("... (10,000 characters)"));
/// ```
pub fn shown(name: &str) -> Shown<'_> {
    Shown {
        text: name,
        max: MAX_SHOWN_NAME,
    }
}

/// Free text as every message shows it: escaped as [`shown`], cut after
/// [`MAX_SHOWN_TEXT`] characters. Escaping twice changes nothing, so text
/// that already holds shown names can pass through it again.
pub fn text(text: &str) -> Shown<'_> {
    Shown {
        text,
        max: MAX_SHOWN_TEXT,
    }
}

/// Text made safe to show on one line; see [`shown`] and [`text`].
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    text: &'a str,
    max: usize,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for (count, c) in self.text.chars().enumerate() {
            if count == self.max {
                let total = self.text.chars().count();
                return write!(f, "... ({} characters)", thousands(total));
            }
            if needs_escape(c) {
                // `\n`, `\t`, `\r` or `\u{..}`: printable ASCII only.
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Control characters, and the invisible characters that reorder or hide
/// text on a terminal or in a log viewer (bidi overrides, zero-width ones).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width spaces and joiners, LRM/RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}' // zero-width no-break space
        )
}

/// `12345678` as `12,345,678`, for sizes and counts in messages.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl Error {
    /// The kind of this error, for bindings.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Disabled => ErrorKind::Disabled,
            Error::InvalidMasterKey { .. } => ErrorKind::InvalidMasterKey,
            Error::KeyMismatch { .. } => ErrorKind::KeyMismatch,
            Error::VaultNotFound { .. } => ErrorKind::VaultNotFound,
            Error::EntryNotFound { .. } => ErrorKind::EntryNotFound,
            Error::VaultExists { .. } => ErrorKind::VaultExists,
            Error::InvalidName { .. } => ErrorKind::InvalidName,
            Error::ReservedName { .. } => ErrorKind::ReservedName,
            Error::InvalidValue { .. } => ErrorKind::InvalidValue,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::DecryptionFailed { .. } => ErrorKind::DecryptionFailed,
            Error::Storage(_) => ErrorKind::Storage,
            Error::Io { .. } => ErrorKind::Io,
            Error::VersionNotFound { .. } => ErrorKind::VersionNotFound,
            Error::VersionConflict { .. } | Error::EntryIsCurrent { .. } => {
                ErrorKind::VersionConflict
            }
            Error::EntryRemoved { .. } => ErrorKind::EntryNotFound,
            Error::VersionDecryptionFailed { .. } => ErrorKind::DecryptionFailed,
            Error::AuditBroken { .. } => ErrorKind::AuditBroken,
        }
    }

    /// The HTTP status a server answers with for this error:
    /// 400 bad input, 404 missing, 409 exists, 503 disabled, 500 the rest.
    ///
    /// ```
    /// use runqy_vault::Error;
    /// assert_eq!(Error::Disabled.http_status(), 503);
    /// assert_eq!(Error::VaultExists { vault: "a".into() }.http_status(), 409);
    /// ```
    pub fn http_status(&self) -> u16 {
        self.kind().http_status()
    }

    pub(crate) fn vault_not_found(vault: &str) -> Error {
        Error::VaultNotFound {
            vaults: vec![vault.to_owned()],
        }
    }
}

impl ErrorKind {
    /// Every kind there is, so a binding can check that its own codes cover them.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Disabled,
        ErrorKind::InvalidMasterKey,
        ErrorKind::KeyMismatch,
        ErrorKind::VaultNotFound,
        ErrorKind::EntryNotFound,
        ErrorKind::VaultExists,
        ErrorKind::InvalidName,
        ErrorKind::ReservedName,
        ErrorKind::InvalidValue,
        ErrorKind::InvalidInput,
        ErrorKind::DecryptionFailed,
        ErrorKind::Storage,
        ErrorKind::Io,
        ErrorKind::VersionNotFound,
        ErrorKind::VersionConflict,
        ErrorKind::AuditBroken,
    ];

    /// The HTTP status of errors of this kind: the one table every binding
    /// (C, Go, Python) takes its statuses from.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidMasterKey
            | ErrorKind::InvalidName
            | ErrorKind::ReservedName
            | ErrorKind::InvalidValue
            | ErrorKind::InvalidInput => 400,
            ErrorKind::VaultNotFound | ErrorKind::EntryNotFound | ErrorKind::VersionNotFound => 404,
            ErrorKind::VaultExists | ErrorKind::VersionConflict => 409,
            ErrorKind::Disabled => 503,
            ErrorKind::KeyMismatch
            | ErrorKind::DecryptionFailed
            | ErrorKind::Storage
            | ErrorKind::Io
            | ErrorKind::AuditBroken => 500,
        }
    }
}

impl Error {
    /// Whether the same call may succeed if tried again: the database was
    /// busy or locked by another writer, or the connection to the server was
    /// lost (a restart, a failover).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Storage(s) if s.retryable)
    }

    /// A storage error with only a message.
    pub(crate) fn storage(message: impl Into<String>) -> Error {
        Error::Storage(StorageError::new(message))
    }
}

/// What went wrong in the database: the message shown, whether a retry may
/// succeed, and the driver's own error as the source.
#[derive(Debug)]
pub struct StorageError {
    message: String,
    retryable: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StorageError {
    /// A storage error with only a message.
    pub(crate) fn new(message: impl Into<String>) -> StorageError {
        StorageError {
            message: message.into(),
            retryable: false,
            source: None,
        }
    }

    /// Keeps the driver's error as the source, and whether a retry may succeed.
    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
        retryable: bool,
    ) -> StorageError {
        self.source = Some(Box::new(source));
        self.retryable = retryable;
        self
    }

    /// Marks whether a retry may succeed (a time-out: the server may be back).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn retry(mut self, retryable: bool) -> StorageError {
        self.retryable = retryable;
        self
    }

    /// The same error with `: note` after its message (what it means).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn noted(mut self, note: &str) -> StorageError {
        self.message = format!("{}: {note}", self.message);
        self
    }

    /// The same error with `prefix: ` before its message (a path, a host).
    pub(crate) fn prefixed(mut self, prefix: &str) -> StorageError {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The message, without the `storage error: ` of [`Error`]'s display.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite errors carry SQL text and codes, never bound parameter values.
        let code = e.sqlite_error_code();
        let hint = match code {
            Some(rusqlite::ErrorCode::NotADatabase) => " (the file is not a SQLite database)",
            Some(rusqlite::ErrorCode::ReadOnly) => " (the database is read-only)",
            Some(rusqlite::ErrorCode::CannotOpen) => {
                " (cannot open the file: check the path and permissions)"
            }
            _ => "",
        };
        let retryable = matches!(
            code,
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Error::Storage(StorageError::new(format!("{e}{hint}")).caused_by(e, retryable))
    }
}

/// `Result` with runqy-vault's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of every variant, each carrying `hostile` wherever it shows
    /// outside text.
    fn every_variant(hostile: &str) -> Vec<Error> {
        let s = || hostile.to_owned();
        vec![
            Error::InvalidMasterKey {
                source_name: s(),
                reason: s(),
            },
            Error::KeyMismatch {
                store_key_id: s(),
                key_id: s(),
            },
            Error::VaultNotFound {
                vaults: vec![s(), s()],
            },
            Error::VaultNotFound { vaults: vec![s()] },
            Error::EntryNotFound {
                vault: s(),
                key: s(),
            },
            Error::VaultExists { vault: s() },
            Error::InvalidName {
                kind: NameKind::Key,
                name: s(),
                reason: s(),
            },
            Error::ReservedName {
                kind: NameKind::Vault,
                name: s(),
                reason: s(),
            },
            Error::InvalidValue {
                vault: s(),
                key: s(),
                reason: s(),
            },
            Error::InvalidInput(s()),
            Error::DecryptionFailed {
                vault: s(),
                key: s(),
            },
            Error::storage(s()),
            Error::Io {
                path: s(),
                message: s(),
            },
        ]
    }

    #[test]
    fn messages_not_sanitised_every_variant_escapes_control_characters() {
        let hostile = "a\nwarning: forged\r\u{1b}[2J\u{1b}]0;title\u{7}\u{202e}gpj.exe\u{0}";
        for err in every_variant(hostile) {
            let msg = err.to_string();
            assert!(
                !msg.chars().any(|c| c.is_control() || needs_escape(c)),
                "{:?}: {msg:?}",
                err.kind()
            );
            assert!(
                msg.contains("a\\nwarning: forged\\r\\u{1b}[2J"),
                "{:?}: {msg}",
                err.kind()
            );
            assert!(msg.contains("\\u{202e}gpj.exe\\u{0}"), "{msg}");
        }
    }

    #[test]
    fn messages_not_sanitised_names_are_cut_and_every_message_is_bounded() {
        let long = "é".repeat(100_000);
        for err in every_variant(&long) {
            let msg = err.to_string();
            assert!(msg.chars().count() < 3 * MAX_SHOWN_TEXT, "{:?}", err.kind());
            assert!(msg.contains("... (100,000 characters)"), "{:?}", err.kind());
        }
        // A valid name, even the longest, is shown whole.
        let key = "K".repeat(256);
        let msg = Error::EntryNotFound {
            vault: "v".into(),
            key: key.clone(),
        }
        .to_string();
        assert_eq!(msg, format!("entry '{key}' not found in vault 'v'"));
        let msg = Error::EntryNotFound {
            vault: "v".into(),
            key: "K".repeat(257),
        }
        .to_string();
        assert!(
            msg.contains(&format!("{}... (257 characters)'", "K".repeat(256))),
            "{msg}"
        );
    }

    #[test]
    fn shown_text_escapes_once_and_keeps_ordinary_text() {
        for plain in ["api-keys", "naïve café ✓", "日本語", "tab-less"] {
            assert_eq!(shown(plain).to_string(), plain);
        }
        let once = shown("x\ny\u{1b}").to_string();
        assert_eq!(once, "x\\ny\\u{1b}");
        assert_eq!(
            text(&once).to_string(),
            once,
            "escaping twice changes nothing"
        );
    }

    #[test]
    fn a_long_list_of_missing_vaults_names_twenty_and_counts_the_rest() {
        let vaults: Vec<String> = (0..25).map(|i| format!("v{i}")).collect();
        let msg = Error::VaultNotFound { vaults }.to_string();
        assert!(msg.starts_with("vaults 'v0', 'v1', "), "{msg}");
        assert!(msg.ends_with(", 'v19', and 5 more not found"), "{msg}");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(65_536), "65,536");
        assert_eq!(thousands(10_485_760), "10,485,760");
    }
}
