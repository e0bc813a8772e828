//! The opaque store handle and the table of live handles.
//!
//! A handle is the address of a small allocation that is never read: the
//! store itself lives in a table keyed by that address. So a freed handle,
//! a double free or a pointer that never was a handle is recognised (it is
//! not in the table) instead of being dereferenced, and a store freed while
//! another thread is still in a call stays alive until that call returns.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use runqy_vault::Store;

use crate::error::Failure;

/// An open vault store. Opaque: made by `runqy_vault_store_open`, freed by
/// `runqy_vault_store_free`, safe to use from several threads at once.
pub struct RunqyVaultStore {
    // Gives the allocation a size so each handle has its own address.
    _tag: u64,
}

static LIVE: RwLock<BTreeMap<usize, Arc<Store>>> = RwLock::new(BTreeMap::new());

/// Registers `store` and returns its new handle.
pub(crate) fn register(store: Store) -> *mut RunqyVaultStore {
    let handle = Box::into_raw(Box::new(RunqyVaultStore { _tag: 0x5251_5656 }));
    LIVE.write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(handle as usize, Arc::new(store));
    handle
}

/// The store behind `handle`, or `INVALID_ARGUMENT` for NULL, a freed
/// handle or a pointer that is not a handle.
pub(crate) fn lookup(handle: *const RunqyVaultStore) -> Result<Arc<Store>, Failure> {
    if handle.is_null() {
        return Err(Failure::invalid_argument("store is NULL"));
    }
    LIVE.read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(handle as usize))
        .cloned()
        .ok_or_else(|| {
            Failure::invalid_argument(
                "store is not an open RunqyVaultStore handle (freed already, or never opened)",
            )
        })
}

/// The store behind `handle` acting as `actor` (NULL: the handle's own actor).
///
/// # Safety
/// `actor` is NULL or a NUL-terminated string.
pub(crate) unsafe fn lookup_as(
    handle: *const RunqyVaultStore,
    actor: *const std::os::raw::c_char,
) -> Result<Arc<Store>, Failure> {
    let store = lookup(handle)?;
    match crate::strings::arg_opt_str(actor, "actor")? {
        None => Ok(store),
        Some(actor) => Ok(Arc::new(store.with_actor(actor)?)),
    }
}

/// Makes `actor` the actor of every later call on `handle`; calls already
/// running keep the one they started with.
pub(crate) fn set_actor(handle: *const RunqyVaultStore, actor: &str) -> Result<(), Failure> {
    let acting = Arc::new(lookup(handle)?.with_actor(actor)?);
    let mut live = LIVE.write().unwrap_or_else(PoisonError::into_inner);
    match live.get_mut(&(handle as usize)) {
        Some(slot) => {
            *slot = acting;
            Ok(())
        }
        None => Err(Failure::invalid_argument(
            "store is not an open RunqyVaultStore handle (freed already, or never opened)",
        )),
    }
}

/// Forgets `handle` and frees it; the store closes when its last in-flight
/// call returns. Unknown handles (NULL, freed, foreign) are left alone.
pub(crate) fn unregister(handle: *mut RunqyVaultStore) {
    let removed = LIVE
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&(handle as usize));
    if removed.is_some() {
        // SAFETY: the address was in the table, so it came from `register`'s
        // Box::into_raw and has not been freed (it leaves the table first).
        drop(unsafe { Box::from_raw(handle) });
    }
    drop(removed);
}
