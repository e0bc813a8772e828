//! Rust-side checks of the ABI's own facts; the behaviour through C is in tests/c.

use std::ffi::{CStr, CString};
use std::ptr;

use runqy_vault::ErrorKind;

use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn version_macros_match_cargo_toml() {
    assert_eq!(
        RUNQY_VAULT_VERSION_MAJOR.to_string(),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        RUNQY_VAULT_VERSION_MINOR.to_string(),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        RUNQY_VAULT_VERSION_PATCH.to_string(),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    let version = unsafe { CStr::from_ptr(runqy_vault_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(version.to_str().unwrap(), runqy_vault::VERSION);
}

#[test]
fn every_core_kind_has_its_own_code_and_the_core_http_status() {
    let kinds = ErrorKind::ALL;
    let mut codes: Vec<u32> = kinds
        .iter()
        .map(|&k| RunqyVaultResult::from_kind(k) as u32)
        .collect();
    for (&kind, &code) in kinds.iter().zip(&codes) {
        assert_eq!(RunqyVaultResult::kind(code), Some(kind));
        assert_eq!(runqy_vault_http_status(code), kind.http_status());
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), kinds.len());
}

#[test]
fn result_values_are_the_published_ones() {
    // The ABI promise: these numbers never change.
    use RunqyVaultResult::*;
    let published = [
        (RUNQY_VAULT_OK, 0),
        (RUNQY_VAULT_DISABLED, 1),
        (RUNQY_VAULT_INVALID_MASTER_KEY, 2),
        (RUNQY_VAULT_KEY_MISMATCH, 3),
        (RUNQY_VAULT_VAULT_NOT_FOUND, 4),
        (RUNQY_VAULT_ENTRY_NOT_FOUND, 5),
        (RUNQY_VAULT_VAULT_EXISTS, 6),
        (RUNQY_VAULT_INVALID_NAME, 7),
        (RUNQY_VAULT_RESERVED_NAME, 8),
        (RUNQY_VAULT_INVALID_VALUE, 9),
        (RUNQY_VAULT_INVALID_ARGUMENT, 10),
        (RUNQY_VAULT_DECRYPTION_FAILED, 11),
        (RUNQY_VAULT_STORAGE, 12),
        (RUNQY_VAULT_IO, 13),
        (RUNQY_VAULT_PANIC, 14),
        (RUNQY_VAULT_OTHER_ERROR, 15),
        (RUNQY_VAULT_VERSION_NOT_FOUND, 16),
        (RUNQY_VAULT_VERSION_CONFLICT, 17),
        (RUNQY_VAULT_AUDIT_BROKEN, 18),
    ];
    for (code, value) in published {
        assert_eq!(code as u32, value, "{code:?}");
    }
    assert_eq!(runqy_vault_http_status(0), 200);
    assert_eq!(runqy_vault_http_status(14), 500);
    assert_eq!(runqy_vault_http_status(u32::MAX), 500);
}

#[test]
fn a_freed_handle_is_refused_not_dereferenced() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("v.db").to_str().unwrap()).unwrap();
    let key = CString::new(KEY).unwrap();
    let mut store = ptr::null_mut();
    let mut err = ptr::null_mut();
    unsafe {
        let rc = runqy_vault_store_open(path.as_ptr(), key.as_ptr(), &mut store, &mut err);
        assert_eq!(rc, RunqyVaultResult::RUNQY_VAULT_OK);
        assert!(err.is_null());
        runqy_vault_store_free(store);
        let mut enabled = true;
        let rc = runqy_vault_store_enabled(store, &mut enabled, &mut err);
        assert_eq!(rc, RunqyVaultResult::RUNQY_VAULT_INVALID_ARGUMENT);
        assert!(!enabled);
        let message = CStr::from_ptr(err).to_str().unwrap().to_owned();
        assert!(message.contains("not an open RunqyVaultStore"), "{message}");
        runqy_vault_string_free(err);
        // A second free of the same handle is ignored.
        runqy_vault_store_free(store);
    }
}

#[test]
fn get_returns_the_value_and_clears_err_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("v.db").to_str().unwrap()).unwrap();
    let key = CString::new(KEY).unwrap();
    let (vault, name, value) = (c"api-keys", c"API_KEY", c"sk-proj-abc123xx");
    unsafe {
        let mut store = ptr::null_mut();
        let mut err = ptr::null_mut();
        runqy_vault_store_open(path.as_ptr(), key.as_ptr(), &mut store, ptr::null_mut());
        runqy_vault_create(store, vault.as_ptr(), ptr::null(), ptr::null_mut());
        let rc = runqy_vault_set(
            store,
            vault.as_ptr(),
            name.as_ptr(),
            value.as_ptr(),
            true,
            &mut err,
        );
        assert_eq!(rc, RunqyVaultResult::RUNQY_VAULT_OK);
        let mut out = ptr::null_mut();
        let rc = runqy_vault_get(store, vault.as_ptr(), name.as_ptr(), &mut out, &mut err);
        assert_eq!(rc, RunqyVaultResult::RUNQY_VAULT_OK);
        assert!(err.is_null());
        assert_eq!(CStr::from_ptr(out), value);
        runqy_vault_string_free(out);
        runqy_vault_store_free(store);
    }
}

#[test]
fn result_name_names_every_code_as_the_header_spells_it() {
    let name = |code: u32| unsafe { CStr::from_ptr(runqy_vault_result_name(code)) };
    assert_eq!(name(0).to_str().unwrap(), "RUNQY_VAULT_OK");
    assert_eq!(name(4).to_str().unwrap(), "RUNQY_VAULT_VAULT_NOT_FOUND");
    assert_eq!(name(10).to_str().unwrap(), "RUNQY_VAULT_INVALID_ARGUMENT");
    assert_eq!(name(14).to_str().unwrap(), "RUNQY_VAULT_PANIC");
    assert_eq!(name(16).to_str().unwrap(), "RUNQY_VAULT_VERSION_NOT_FOUND");
    assert_eq!(name(17).to_str().unwrap(), "RUNQY_VAULT_VERSION_CONFLICT");
    assert_eq!(name(18).to_str().unwrap(), "RUNQY_VAULT_AUDIT_BROKEN");
    assert_eq!(name(19).to_str().unwrap(), "RUNQY_VAULT_UNKNOWN");
    assert_eq!(name(9999).to_str().unwrap(), "RUNQY_VAULT_UNKNOWN");
    // Codes are dense from 0: every one up to the last has a name, and
    // each name appears in the committed header.
    let header = include_str!("../../include/runqy_vault.h");
    for code in 0..=RunqyVaultResult::RUNQY_VAULT_AUDIT_BROKEN as u32 {
        let n = name(code).to_str().unwrap();
        assert_ne!(n, "RUNQY_VAULT_UNKNOWN", "code {code}");
        assert!(header.contains(&format!("{n} = {code},")), "{n} = {code}");
    }
}
