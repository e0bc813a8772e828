//! The commands on the master key and the format: keygen, rotate-key, migrate.

use std::io;
use std::path::Path;

use runqy_vault::{Format, MasterKey, Store};

use crate::output::emit;
use crate::Outcome;

pub(crate) fn keygen() -> Outcome {
    emit(&format!("{}\n", MasterKey::generate().to_base64().expose()))
}

/// The new key from `--new-key-file` or standard input, read by the core's rules.
pub(crate) fn rotate_key(store: &Store, new_key_file: Option<&Path>) -> Outcome {
    let new_key = match new_key_file {
        Some(path) => MasterKey::from_file(path, "--new-key-file")?,
        None => MasterKey::from_reader(io::stdin().lock(), "standard input")?,
    };
    let count = store.rotate_key(&new_key)?;
    emit(&format!(
        "Master key rotated: {count} entries re-encrypted under key id {}.\n\
         Set RUNQY_VAULT_MASTER_KEY (or the file RUNQY_VAULT_MASTER_KEY_FILE names) \
         to the new key now: the old key no longer opens this store.\n",
        new_key.key_id()
    ))
}

pub(crate) fn migrate(store: &Store) -> Outcome {
    if store.format() == Some(Format::V2) {
        return emit("Store is already v2.\n");
    }
    let count = store.migrate()?;
    emit(&format!(
        "Store migrated to v2: {count} entries re-encrypted.\n"
    ))
}
