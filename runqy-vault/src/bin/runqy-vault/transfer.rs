//! export, import and payload: the commands that move plaintext out of or
//! into the store.

use std::path::Path;

use runqy_vault::{ExportDocument, Store};
use zeroize::Zeroizing;

use crate::output::emit;
use crate::Outcome;

pub(crate) fn export(store: &Store, file: &Path) -> Outcome {
    let doc = store.export()?;
    doc.write_new_file(file)?;
    let entries: usize = doc.vaults.iter().map(|v| v.entries.len()).sum();
    // Standard error: export never writes to standard output.
    eprintln!(
        "Exported {} vaults ({entries} entries) to {}.",
        doc.vaults.len(),
        file.display()
    );
    Ok(())
}

pub(crate) fn import(store: &Store, file: &Path) -> Outcome {
    let doc = ExportDocument::read_file(file)?;
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
