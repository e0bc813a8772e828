//! runqy-vault: the secret vault of the runqy job queue, as a library.
//!
//! Named vaults of key/value secrets, encrypted at rest with AES-256-GCM under
//! one master key, stored in SQLite, masked when listed, merged in order into
//! the registration payload a server hands a worker, and injected by the
//! worker into its Python process as environment variables.
//!
//! ```
//! use runqy_vault::{MasterKey, Store};
//! let dir = tempfile::tempdir()?;
//! let key = MasterKey::generate();
//! let store = Store::open(dir.path().join("vault.db"), Some(key.to_base64().expose()))?;
//! store.create_vault("api-keys", "")?;
//! store.create_vault("model-credentials", "")?;
//! store.set("api-keys", "API_KEY", "old", true)?;
//! store.set("model-credentials", "API_KEY", "new", true)?;
//! let payload = store.registration_payload(&["api-keys", "model-credentials"], None)?;
//! assert_eq!(payload.to_json().expose(), r#"{"vaults":{"API_KEY":"new"}}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod aead;
pub mod check;
pub mod cipher;
pub mod env_file;
pub mod error;
pub mod key;
pub mod mask;
pub mod model;
pub mod names;
mod nonce;
pub mod payload;
pub mod process;
pub mod queues;
pub mod redact;
mod schema;
pub mod secret;
pub mod store;
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
#[doc(hidden)]
pub mod test_hooks;
pub mod timestamp;
pub mod transfer;
pub mod usage;

pub use cipher::Format;
pub use error::{Error, ErrorKind, NameKind, Result, StorageError};
pub use key::{KeyId, KeySet, KeySource, MasterKey};
pub use mask::mask;
pub use model::{
    CheckReport, EntryView, Finding, HistoryEntry, Provenance, PurgeReport, RegistrationPayload,
    Resolved, Severity, Usage, VaultDetail, VaultSummary, VaultUsage, VersionState,
};
pub use payload::{EntryReference, Injection};
pub use queues::QueueConfigs;
pub use redact::Redactor;
pub use secret::SecretString;
pub use store::{Location, Store};
pub use transfer::{ExportDocument, ExportEntry, ExportSummary, ExportVault};

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
