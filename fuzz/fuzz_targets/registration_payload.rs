//! The registration payload JSON a worker receives (model.rs
//! RegistrationPayload::from_json) and the worker-side injection checks:
//! never a panic; what parses survives its own JSON; what injects has only
//! valid, unreserved names and no NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::{names, payload, RegistrationPayload};

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = match RegistrationPayload::from_json(text) {
        Ok(p) => p,
        Err(e) => return common::assert_shown(&e.to_string()),
    };
    let again = RegistrationPayload::from_json(p.to_json().expose()).expect("own JSON parses");
    assert_eq!(again.vaults, p.vaults);
    let token = |t: &Option<runqy_vault::SecretString>| {
        t.as_ref()
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty())
    };
    assert_eq!(token(&again.git_token), token(&p.git_token));
    match payload::injection(&p.vaults) {
        Ok(inj) => {
            for (name, value) in &inj.variables[..inj.variables.len() - 1] {
                assert!(names::check_key(name).is_ok(), "{name}");
                assert!(!value.expose().contains('\0'));
            }
            assert_eq!(inj.names.len(), p.vaults.len());
        }
        Err(e) => common::assert_shown(&e.to_string()),
    }
});
