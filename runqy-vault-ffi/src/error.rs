//! Result codes and the `err_out` message of every call.

use std::os::raw::c_char;

use runqy_vault::ErrorKind;

use crate::strings::{message_string, set_out};

/// The outcome of a call. `RUNQY_VAULT_OK` is 0; every other value is a
/// failure whose detailed message went to the call's `err_out`.
///
/// The values are part of the ABI: they are never renumbered, and new codes
/// are only ever added with new values. Treat an unknown value as a failure
/// (`runqy_vault_http_status` gives it 500).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunqyVaultResult {
    /// Success.
    RUNQY_VAULT_OK = 0,
    /// The store has no master key: vaults are not configured (HTTP 503).
    RUNQY_VAULT_DISABLED = 1,
    /// A master key that is not 32 bytes of standard base64 (HTTP 400).
    RUNQY_VAULT_INVALID_MASTER_KEY = 2,
    /// The master key does not open this store (HTTP 500).
    RUNQY_VAULT_KEY_MISMATCH = 3,
    /// One or more vaults do not exist; the message names all of them (HTTP 404).
    RUNQY_VAULT_VAULT_NOT_FOUND = 4,
    /// The vault has no such key (HTTP 404).
    RUNQY_VAULT_ENTRY_NOT_FOUND = 5,
    /// `runqy_vault_create` of a vault that exists (HTTP 409).
    RUNQY_VAULT_VAULT_EXISTS = 6,
    /// A vault name or key that breaks the naming rule (HTTP 400).
    RUNQY_VAULT_INVALID_NAME = 7,
    /// A vault name or key that is reserved (HTTP 400).
    RUNQY_VAULT_RESERVED_NAME = 8,
    /// A value that cannot be stored (too long, NUL byte) (HTTP 400).
    RUNQY_VAULT_INVALID_VALUE = 9,
    /// A NULL where a pointer is required, text that is not UTF-8, a freed or
    /// foreign handle, or input the library refuses as a whole (HTTP 400).
    RUNQY_VAULT_INVALID_ARGUMENT = 10,
    /// A stored value did not decrypt (HTTP 500).
    RUNQY_VAULT_DECRYPTION_FAILED = 11,
    /// The database failed (HTTP 500).
    RUNQY_VAULT_STORAGE = 12,
    /// A file could not be read or written (HTTP 500).
    RUNQY_VAULT_IO = 13,
    /// A bug: the library panicked; the panic was caught at the boundary and
    /// the call had no effect that can be relied on (HTTP 500).
    RUNQY_VAULT_PANIC = 14,
    /// An error kind this version of the C ABI does not name yet (HTTP 500).
    RUNQY_VAULT_OTHER_ERROR = 15,
    /// The version of an entry asked for is not kept: 0 or negative, never
    /// written, or pruned; the message says which versions are (HTTP 404).
    RUNQY_VAULT_VERSION_NOT_FOUND = 16,
    /// A check-and-set write found another current version (the message
    /// names it), or a restore found the entry current (HTTP 409).
    RUNQY_VAULT_VERSION_CONFLICT = 17,
    /// The audit log's chain does not verify: a record edited, removed,
    /// inserted or moved, or the log restarted; the message names the first
    /// bad record (`audit record S ...`) (HTTP 500).
    RUNQY_VAULT_AUDIT_BROKEN = 18,
}

use RunqyVaultResult::*;

/// The one table of the C ABI: each result code, the core error kind it
/// stands for (none for OK and the ABI's own codes) and its name. Every
/// mapping (`from_kind`, `kind`, `runqy_vault_result_name`) reads it, so the
/// Go package and other bindings keep no table of their own.
macro_rules! row {
    ($code:ident, $kind:expr) => {
        ($code, $kind, concat!(stringify!($code), "\0"))
    };
}
const TABLE: &[(RunqyVaultResult, Option<ErrorKind>, &str)] = &[
    row!(RUNQY_VAULT_OK, None),
    row!(RUNQY_VAULT_DISABLED, Some(ErrorKind::Disabled)),
    row!(
        RUNQY_VAULT_INVALID_MASTER_KEY,
        Some(ErrorKind::InvalidMasterKey)
    ),
    row!(RUNQY_VAULT_KEY_MISMATCH, Some(ErrorKind::KeyMismatch)),
    row!(RUNQY_VAULT_VAULT_NOT_FOUND, Some(ErrorKind::VaultNotFound)),
    row!(RUNQY_VAULT_ENTRY_NOT_FOUND, Some(ErrorKind::EntryNotFound)),
    row!(RUNQY_VAULT_VAULT_EXISTS, Some(ErrorKind::VaultExists)),
    row!(RUNQY_VAULT_INVALID_NAME, Some(ErrorKind::InvalidName)),
    row!(RUNQY_VAULT_RESERVED_NAME, Some(ErrorKind::ReservedName)),
    row!(RUNQY_VAULT_INVALID_VALUE, Some(ErrorKind::InvalidValue)),
    row!(RUNQY_VAULT_INVALID_ARGUMENT, Some(ErrorKind::InvalidInput)),
    row!(
        RUNQY_VAULT_DECRYPTION_FAILED,
        Some(ErrorKind::DecryptionFailed)
    ),
    row!(RUNQY_VAULT_STORAGE, Some(ErrorKind::Storage)),
    row!(RUNQY_VAULT_IO, Some(ErrorKind::Io)),
    row!(RUNQY_VAULT_PANIC, None),
    row!(RUNQY_VAULT_OTHER_ERROR, None),
    row!(
        RUNQY_VAULT_VERSION_NOT_FOUND,
        Some(ErrorKind::VersionNotFound)
    ),
    row!(
        RUNQY_VAULT_VERSION_CONFLICT,
        Some(ErrorKind::VersionConflict)
    ),
    row!(RUNQY_VAULT_AUDIT_BROKEN, Some(ErrorKind::AuditBroken)),
];

impl RunqyVaultResult {
    /// The code for a core error kind.
    pub(crate) fn from_kind(kind: ErrorKind) -> RunqyVaultResult {
        TABLE
            .iter()
            .find(|(_, k, _)| *k == Some(kind))
            .map_or(RUNQY_VAULT_OTHER_ERROR, |(code, _, _)| *code)
    }

    /// The core kind of a code, for the HTTP status (the rule lives in the core).
    pub(crate) fn kind(code: u32) -> Option<ErrorKind> {
        TABLE
            .iter()
            .find(|(c, _, _)| *c as u32 == code)
            .and_then(|(_, kind, _)| *kind)
    }

    /// The NUL-terminated name of a code, `None` for a value this version does not know.
    pub(crate) fn name(code: u32) -> Option<&'static str> {
        TABLE
            .iter()
            .find(|(c, _, _)| *c as u32 == code)
            .map(|(_, _, name)| *name)
    }
}

/// Why a call failed: its code and the message for `err_out`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: RunqyVaultResult,
    pub(crate) message: String,
}

impl Failure {
    /// Bad input caught at the boundary, before any work.
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Failure {
        Failure {
            code: RUNQY_VAULT_INVALID_ARGUMENT,
            message: message.into(),
        }
    }
}

impl From<runqy_vault::Error> for Failure {
    fn from(e: runqy_vault::Error) -> Failure {
        // The core's messages never hold a secret value or key material.
        Failure {
            code: RunqyVaultResult::from_kind(e.kind()),
            message: e.to_string(),
        }
    }
}

/// Hands `message` to the caller through `err_out` (when it is not NULL).
///
/// # Safety
/// `err_out` is NULL or valid for one pointer write.
pub(crate) unsafe fn report(err_out: *mut *mut c_char, message: &str) {
    if !err_out.is_null() {
        set_out(err_out, message_string(message));
    }
}
