//! The opaque handles (store, redactor) and the tables of live handles.
//!
//! A handle is the address of a small allocation that is never read: the
//! object itself lives in a table keyed by that address. So a freed handle,
//! a double free or a pointer that never was a handle is recognised (it is
//! not in the table) instead of being dereferenced, and an object freed while
//! another thread is still in a call stays alive until that call returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use runqy_vault::redact::Stream;
use runqy_vault::Store;

use crate::error::Failure;

/// An open vault store. Opaque: made by `runqy_vault_store_open`, freed by
/// `runqy_vault_store_free`, safe to use from several threads at once.
pub struct RunqyVaultStore {
    // Gives the allocation a size so each handle has its own address.
    _tag: u64,
}

/// A streaming redactor: the values to mask and one output stream's held-back
/// bytes. Opaque: made by `runqy_vault_redactor_new`,
/// `runqy_vault_redactor_from_payload` or `runqy_vault_redactor_clone`,
/// freed by `runqy_vault_redactor_free`. Calls on one handle from several
/// threads are serialized (memory-safe), but a handle is one stream: give
/// each output its own handle.
pub struct RunqyVaultRedactor {
    _tag: u64,
}

/// The live handles of one kind: address → object.
pub(crate) struct Table<H, T> {
    live: RwLock<BTreeMap<usize, Arc<T>>>,
    tag: u64,
    what: &'static str,
    /// How a handle of this kind comes to be: "opened", "made".
    made: &'static str,
    make: fn(u64) -> H,
}

impl<H, T> Table<H, T> {
    /// Registers `object` and returns its new handle.
    pub(crate) fn register(&self, object: T) -> *mut H {
        let handle = Box::into_raw(Box::new((self.make)(self.tag)));
        self.live
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(handle as usize, Arc::new(object));
        handle
    }

    /// The object behind `handle`, or `INVALID_ARGUMENT` naming `name` for
    /// NULL, a freed handle or a pointer that is not a handle of this kind.
    pub(crate) fn lookup(&self, handle: *const H, name: &str) -> Result<Arc<T>, Failure> {
        if handle.is_null() {
            return Err(Failure::invalid_argument(format!("{name} is NULL")));
        }
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(handle as usize))
            .cloned()
            .ok_or_else(|| {
                Failure::invalid_argument(format!(
                    "{name} is not an open {} handle (freed already, or never {})",
                    self.what, self.made
                ))
            })
    }

    /// Puts `object` behind the live `handle` in place of the one there
    /// (calls already running keep theirs); `INVALID_ARGUMENT` as `lookup`.
    pub(crate) fn replace(&self, handle: *const H, name: &str, object: T) -> Result<(), Failure> {
        match self
            .live
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&(handle as usize))
        {
            Some(slot) => {
                *slot = Arc::new(object);
                Ok(())
            }
            None => Err(Failure::invalid_argument(format!(
                "{name} is not an open {} handle (freed already, or never {})",
                self.what, self.made
            ))),
        }
    }

    /// Forgets `handle` and frees it; the object goes when its last in-flight
    /// call returns. Unknown handles (NULL, freed, foreign) are left alone.
    pub(crate) fn unregister(&self, handle: *mut H) {
        let removed = self
            .live
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
}

static STORES: Table<RunqyVaultStore, Store> = Table {
    live: RwLock::new(BTreeMap::new()),
    tag: 0x5251_5656,
    what: "RunqyVaultStore",
    made: "opened",
    make: |tag| RunqyVaultStore { _tag: tag },
};

/// Each redactor handle's stream, behind a lock: one stream is fed in order.
pub(crate) static REDACTORS: Table<RunqyVaultRedactor, Mutex<Stream>> = Table {
    live: RwLock::new(BTreeMap::new()),
    tag: 0x5251_5652,
    what: "RunqyVaultRedactor",
    made: "made",
    make: |tag| RunqyVaultRedactor { _tag: tag },
};

/// Registers `store` and returns its new handle.
pub(crate) fn register(store: Store) -> *mut RunqyVaultStore {
    STORES.register(store)
}

/// The store behind `handle`, or `INVALID_ARGUMENT` for NULL, a freed
/// handle or a pointer that is not a handle.
pub(crate) fn lookup(handle: *const RunqyVaultStore) -> Result<Arc<Store>, Failure> {
    STORES.lookup(handle, "store")
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
    let acting = lookup(handle)?.with_actor(actor)?;
    STORES.replace(handle, "store", acting)
}

/// Forgets `handle` and frees it; the store closes when its last in-flight
/// call returns. Unknown handles (NULL, freed, foreign) are left alone.
pub(crate) fn unregister(handle: *mut RunqyVaultStore) {
    STORES.unregister(handle)
}
