//! `vault://` references (payload.rs EntryReference::parse): never a panic;
//! a reference that parses names a valid vault and key and is exactly
//! `vault://<vault>/<key>`; one that does not start with vault:// is never
//! quoted in the error (it may be a plaintext token, issue 17).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::{names, EntryReference};

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match EntryReference::parse(text) {
        Ok(r) => {
            assert!(names::check_vault_name(&r.vault).is_ok());
            assert!(names::check_key(&r.key).is_ok());
            assert_eq!(format!("vault://{}/{}", r.vault, r.key), text);
        }
        Err(e) => {
            let message = e.to_string();
            common::assert_shown(&message);
            // Not quoted at all: the message is the fixed text with a count.
            if !text.starts_with("vault://") {
                assert_eq!(
                    message,
                    format!(
                        "invalid vault reference: it does not start with vault:// (expected \
                         vault://<vault>/<key>; the {} characters given are not shown, as they \
                         may be a plaintext secret)",
                        text.chars().count()
                    )
                );
            }
        }
    }
});
