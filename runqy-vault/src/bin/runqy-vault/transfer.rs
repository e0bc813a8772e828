//! export, import and payload: the commands that move plaintext out of or
//! into the store.

use std::path::Path;

use runqy_vault::{ExportDocument, Store};
use zeroize::Zeroizing;

use crate::output::emit;
use crate::Outcome;

/// `recipients` empty: plaintext (the command line asked for --plaintext).
pub(crate) fn export(store: &Store, file: &Path, recipients: &[String]) -> Outcome {
    let doc = store.export()?;
    match recipients {
        [] => doc.write_new_file(file)?,
        _ => doc.write_new_file_encrypted(file, recipients)?,
    }
    let entries: usize = doc.vaults.iter().map(|v| v.entries.len()).sum();
    let how = match recipients.len() {
        0 => "in plaintext".to_owned(),
        1 => "encrypted to 1 age recipient".to_owned(),
        n => format!("encrypted to {n} age recipients"),
    };
    // Standard error: export never writes to standard output.
    eprintln!(
        "Exported {} vaults ({entries} entries) to {}, {how}.",
        doc.vaults.len(),
        file.display()
    );
    Ok(())
}

pub(crate) fn import(store: &Store, file: &Path, identity: Option<&Path>) -> Outcome {
    let doc = match identity {
        Some(identity) => ExportDocument::read_encrypted_file(file, identity)?,
        None => ExportDocument::read_file(file)?,
    };
    let count = store.import(&doc)?;
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
