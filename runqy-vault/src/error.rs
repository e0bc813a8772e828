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
    #[error("invalid master key from {source_name}: {reason}")]
    InvalidMasterKey {
        /// Where the key came from: a variable's name, a file, the API.
        source_name: String,
        /// What is wrong with it (never the key).
        reason: String,
    },

    /// The master key does not open this store.
    #[error(
        "master key mismatch: the store's values are under key id {store_key_id}, \
         but the master key given has key id {key_id}"
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
    #[error("entry '{key}' not found in vault '{vault}'")]
    EntryNotFound {
        /// The vault.
        vault: String,
        /// The key it does not hold.
        key: String,
    },

    /// `create` of a vault that is already there.
    #[error("vault '{vault}' already exists")]
    VaultExists {
        /// The vault.
        vault: String,
    },

    /// A vault name or key that breaks the naming rule.
    #[error("invalid {kind} '{name}': {reason}")]
    InvalidName {
        /// A vault name or a key.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A vault name or key that is reserved.
    #[error("reserved {kind} '{name}': {reason}")]
    ReservedName {
        /// A vault name or a key.
        kind: NameKind,
        /// The name as given.
        name: String,
        /// Why it is reserved.
        reason: String,
    },

    /// A value that cannot be stored; the value itself is never shown.
    #[error("invalid value for key '{key}' in vault '{vault}': {reason}")]
    InvalidValue {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
        /// What is wrong with the value (never the value).
        reason: String,
    },

    /// Input that is wrong as a whole (an import document, a rotation request, an argument).
    #[error("{0}")]
    InvalidInput(String),

    /// A stored value did not decrypt: wrong key, corruption, or a blob moved to
    /// another entry. Deliberately says nothing more.
    #[error("decryption failed for key '{key}' in vault '{vault}'")]
    DecryptionFailed {
        /// The vault.
        vault: String,
        /// The key whose value did not decrypt.
        key: String,
    },

    /// The database failed (not a database, read-only, locked, ...).
    #[error("storage error: {0}")]
    Storage(#[source] StorageError),

    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

fn vault_not_found_message(vaults: &[String]) -> String {
    let quoted: Vec<String> = vaults.iter().map(|v| format!("'{v}'")).collect();
    match quoted.len() {
        1 => format!("vault {} not found", quoted[0]),
        _ => format!("vaults {} not found", quoted.join(", ")),
    }
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
            ErrorKind::VaultNotFound | ErrorKind::EntryNotFound => 404,
            ErrorKind::VaultExists => 409,
            ErrorKind::Disabled => 503,
            ErrorKind::KeyMismatch
            | ErrorKind::DecryptionFailed
            | ErrorKind::Storage
            | ErrorKind::Io => 500,
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
