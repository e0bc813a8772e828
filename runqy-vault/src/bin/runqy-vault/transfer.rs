//! export, import and payload: the commands that move plaintext out of or
//! into the store.

use std::path::Path;

use runqy_vault::transfer::{open_document, write_new_export};
use runqy_vault::Store;
use zeroize::Zeroizing;

use crate::output::emit;
use crate::Outcome;

/// `recipients` empty: plaintext (the command line asked for --plaintext).
pub(crate) fn export(store: &Store, file: &Path, recipients: &[String]) -> Outcome {
    // Streamed a vault at a time: a store of a million entries stays small in memory.
    let summary = write_new_export(file, recipients, |out| store.export_to(out))?;
    let how = match recipients.len() {
        0 => "in plaintext".to_owned(),
        1 => "encrypted to 1 age recipient".to_owned(),
        n => format!("encrypted to {n} age recipients"),
    };
    // Standard error: export never writes to standard output.
    eprintln!(
        "Exported {} vaults ({} entries) to {}, {how}.",
        summary.vaults,
        summary.entries,
        file.display()
    );
    Ok(())
}

pub(crate) fn import(store: &Store, file: &Path, identity: Option<&Path>) -> Outcome {
    // Read twice as a stream (checked whole, then written): never in memory whole.
    let shown = file.display().to_string();
    let count = store.import_from(&shown, identity.is_some(), || open_document(file, identity))?;
    emit(&format!("Imported {count} entries.\n"))
}

/// The §7 JSON on standard output, warnings on standard error.
pub(crate) fn payload(store: &Store, vaults: &[String], git_token: Option<&str>) -> Outcome {
    let payload = store.registration_payload(vaults, git_token)?;
    for warning in &payload.warnings {
        eprintln!("warning: {warning}");
    }
    let body = payload.to_json();
    // Sized for the newline too: growing would leave an unwiped copy behind.
    let mut json = Zeroizing::new(String::with_capacity(body.expose().len() + 1));
    json.push_str(body.expose());
    json.push('\n');
    emit(&json)
}
