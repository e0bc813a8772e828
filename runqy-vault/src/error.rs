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
    Disabled,
    InvalidMasterKey,
    KeyMismatch,
    VaultNotFound,
    EntryNotFound,
    VaultExists,
    InvalidName,
    ReservedName,
    InvalidValue,
    InvalidInput,
    DecryptionFailed,
    Storage,
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
    InvalidMasterKey { source_name: String, reason: String },

    /// The master key does not open this store.
    #[error(
        "master key mismatch: the store's values are under key id {store_key_id}, \
         but the master key given has key id {key_id}"
    )]
    KeyMismatch {
        store_key_id: String,
        key_id: String,
    },

    /// One or more vaults do not exist (all of them are named at once).
    #[error("{}", vault_not_found_message(.vaults))]
    VaultNotFound { vaults: Vec<String> },

    /// The vault exists but holds no such key.
    #[error("entry '{key}' not found in vault '{vault}'")]
    EntryNotFound { vault: String, key: String },

    /// `create` of a vault that is already there.
    #[error("vault '{vault}' already exists")]
    VaultExists { vault: String },

    /// A vault name or key that breaks the naming rule.
    #[error("invalid {kind} '{name}': {reason}")]
    InvalidName {
        kind: NameKind,
        name: String,
        reason: String,
    },

    /// A vault name or key that is reserved.
    #[error("reserved {kind} '{name}': {reason}")]
    ReservedName {
        kind: NameKind,
        name: String,
        reason: String,
    },

    /// A value that cannot be stored; the value itself is never shown.
    #[error("invalid value for key '{key}' in vault '{vault}': {reason}")]
    InvalidValue {
        vault: String,
        key: String,
        reason: String,
    },

    /// Input that is wrong as a whole (an import document, a rotation request, an argument).
    #[error("{0}")]
    InvalidInput(String),

    /// A stored value did not decrypt: wrong key, corruption, or a blob moved to
    /// another entry. Deliberately says nothing more.
    #[error("decryption failed for key '{key}' in vault '{vault}'")]
    DecryptionFailed { vault: String, key: String },

    /// The database failed (not a database, read-only, locked, ...).
    #[error("storage error: {0}")]
    Storage(String),

    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
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
    /// The HTTP status of errors of this kind.
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

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite errors carry SQL text and codes, never bound parameter values.
        let hint = match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => " (the file is not a SQLite database)",
            Some(rusqlite::ErrorCode::ReadOnly) => " (the database is read-only)",
            Some(rusqlite::ErrorCode::CannotOpen) => {
                " (cannot open the file: check the path and permissions)"
            }
            _ => "",
        };
        Error::Storage(format!("{e}{hint}"))
    }
}

/// `Result` with runqy-vault's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
