//! The C ABI's string arguments: the extern functions called with arbitrary
//! bytes as C strings (not UTF-8, empty, huge, hostile). Never a panic
//! caught at the boundary, always a known result code, a message on every
//! failure and none on success, every string freed (ASan checks the rest).
#![no_main]

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runqy_vault_ffi::*;

#[path = "../common/mod.rs"]
mod common;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// One store for the whole run, in `$RUNQY_VAULT_FUZZ_DIR` (scripts/fuzz.sh
/// makes it on tmpfs when there is one, as every write is a sync, and
/// removes it after) or a directory of the temp dir. The path is never
/// fuzzed: it would create files anywhere.
fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = match std::env::var_os("RUNQY_VAULT_FUZZ_DIR") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::env::temp_dir().join(format!("runqy-vault-fuzz-{}", std::process::id())),
        };
        std::fs::create_dir_all(&dir).unwrap();
        let path = CString::new(dir.join("v.db").to_str().unwrap()).unwrap();
        let key = CString::new(KEY).unwrap();
        let mut handle = ptr::null_mut();
        let rc = unsafe {
            runqy_vault_store_open(path.as_ptr(), key.as_ptr(), &mut handle, ptr::null_mut())
        };
        assert_eq!(rc, RunqyVaultResult::RUNQY_VAULT_OK);
        let s = Store { handle, path };
        unsafe { runqy_vault_create(s.handle, c"base".as_ptr(), ptr::null(), ptr::null_mut()) };
        s
    })
}

struct Store {
    handle: *mut RunqyVaultStore,
    path: CString,
}
// The handle is safe to use from several threads (SPEC §10).
unsafe impl Send for Store {}
unsafe impl Sync for Store {}

/// Checks a call's outcome and frees what it returned.
fn check(rc: RunqyVaultResult, err: *mut c_char, out: *mut c_char) {
    assert_ne!(
        rc,
        RunqyVaultResult::RUNQY_VAULT_PANIC,
        "a panic reached the boundary"
    );
    let name = unsafe { CStr::from_ptr(runqy_vault_result_name(rc as u32)) };
    assert_ne!(name.to_bytes(), b"RUNQY_VAULT_UNKNOWN");
    if rc == RunqyVaultResult::RUNQY_VAULT_OK {
        assert!(err.is_null(), "err_out set on success");
    } else {
        assert!(!err.is_null(), "no message for {name:?}");
        assert!(out.is_null(), "an out string on failure");
        let message = unsafe { CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        common::assert_shown(&message);
    }
    unsafe {
        runqy_vault_string_free(err);
        runqy_vault_string_free(out);
    }
}

fuzz_target!(|data: &[u8]| {
    let s = store();
    // Three C strings, each ending at a NUL of the input (or its end).
    let mut parts = data
        .split(|&b| b == 0)
        .map(|p| CString::new(p).expect("no NUL inside"));
    let mut next = || parts.next().unwrap_or_default();
    let [a, b, c] = [next(), next(), next()];
    let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_ptr());
    let h = s.handle;
    unsafe {
        let (mut err, mut out) = (ptr::null_mut(), ptr::null_mut());
        check(runqy_vault_mask(a, &mut out, &mut err), err, out);

        let mut err = ptr::null_mut();
        let mut opened = ptr::null_mut();
        let rc = runqy_vault_store_open(s.path.as_ptr(), a, &mut opened, &mut err);
        check(rc, err, ptr::null_mut());
        runqy_vault_store_free(opened);

        let mut err = ptr::null_mut();
        let created = runqy_vault_create(h, a, b, &mut err);
        check(created, err, ptr::null_mut());

        let mut err = ptr::null_mut();
        check(
            runqy_vault_set(h, c"base".as_ptr(), a, b, true, &mut err),
            err,
            ptr::null_mut(),
        );
        let mut err = ptr::null_mut();
        check(
            runqy_vault_set(h, a, b, c, false, &mut err),
            err,
            ptr::null_mut(),
        );

        let (mut err, mut out) = (ptr::null_mut(), ptr::null_mut());
        check(runqy_vault_get(h, a, b, &mut out, &mut err), err, out);
        let (mut err, mut out) = (ptr::null_mut(), ptr::null_mut());
        check(runqy_vault_show_json(h, a, &mut out, &mut err), err, out);

        let list = [c"base".as_ptr(), a, b];
        let (mut err, mut out) = (ptr::null_mut(), ptr::null_mut());
        check(
            runqy_vault_resolve_json(h, list.as_ptr(), 3, &mut out, &mut err),
            err,
            out,
        );
        let (mut err, mut out) = (ptr::null_mut(), ptr::null_mut());
        let rc = runqy_vault_registration_payload(h, list.as_ptr(), 3, c, &mut out, &mut err);
        if rc == RunqyVaultResult::RUNQY_VAULT_OK {
            // The JSON parses, and its warnings are clean lines too.
            let json: serde_json::Value =
                serde_json::from_slice(CStr::from_ptr(out).to_bytes()).expect("payload JSON");
            for w in json["warnings"].as_array().into_iter().flatten() {
                common::assert_shown(w.as_str().expect("a warning is a string"));
            }
        }
        check(rc, err, out);

        let mut err = ptr::null_mut();
        check(
            runqy_vault_unset(h, c"base".as_ptr(), a, &mut err),
            err,
            ptr::null_mut(),
        );
        // Keep the store small across a long run.
        if created == RunqyVaultResult::RUNQY_VAULT_OK {
            let mut err = ptr::null_mut();
            check(runqy_vault_delete(h, a, &mut err), err, ptr::null_mut());
        }
    }
});
