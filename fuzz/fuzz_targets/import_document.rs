//! The import document (transfer.rs): never a panic; a document that parses
//! survives its own export unchanged; every error is one clean line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::ExportDocument;

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ExportDocument::from_json(text) {
        Ok(doc) => {
            let again =
                ExportDocument::from_json(doc.to_json().expose()).expect("own export parses");
            assert_eq!(again, doc);
        }
        Err(e) => common::assert_shown(&e.to_string()),
    }
});
