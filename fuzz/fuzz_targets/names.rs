//! Name and value validation (names.rs): never a panic; what is accepted
//! matches SPEC §4's patterns and lengths; errors are clean single lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::names;

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match names::check_vault_name(text) {
        Ok(()) => {
            let b = text.as_bytes();
            assert!((1..=64).contains(&b.len()));
            assert!(b[0].is_ascii_alphanumeric());
            assert!(b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-'));
        }
        Err(e) => common::assert_shown(&e.to_string()),
    }
    match names::check_key(text) {
        Ok(()) => {
            let b = text.as_bytes();
            assert!((1..=256).contains(&b.len()));
            assert!(b[0].is_ascii_alphabetic() || b[0] == b'_');
            assert!(b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_'));
            assert_eq!(names::reserved_key_reason(text), None);
        }
        Err(e) => common::assert_shown(&e.to_string()),
    }
    match names::check_value("v", "K", text) {
        Ok(()) => assert!(text.len() <= names::MAX_VALUE_LEN && !text.contains('\0')),
        Err(e) => {
            let message = e.to_string();
            common::assert_shown(&message);
            // The value itself never shows (when long enough to tell).
            if text.len() >= 12 {
                assert!(!message.contains(text));
            }
        }
    }
    assert_eq!(
        runqy_vault::mask(text).chars().count(),
        match text.chars().count() {
            0 => 0,
            1..=4 => 4,
            _ => 8,
        }
    );
});
