//! Nonces: 12 random bytes per encryption that never repeat, also across `fork()`.
//!
//! A system call costs about 400 ns on our machines, more than the AES-GCM
//! work on a small value, so nonces come from a per-thread ChaCha20 generator
//! seeded by the kernel (`getrandom`). A forked child inherits that state, so
//! a `pthread_atfork` child handler bumps a generation counter and every
//! thread's generator reseeds from the kernel before its next nonce.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// Bumped in every forked child; a generator seeded in an older generation reseeds.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER_FORK_HANDLER: Once = Once::new();

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// What a fork does to this process's generation, for tests of fork handling.
#[cfg(test)]
pub(crate) fn simulate_fork() {
    fork_generation();
    after_fork_in_child();
}

thread_local! {
    static GENERATOR: RefCell<Option<(u64, ChaCha20Rng)>> = const { RefCell::new(None) };
}

/// How many `fork()`s lie between the first call in this process's lineage
/// and now: state made in an older generation was inherited from a parent.
pub(crate) fn fork_generation() -> u64 {
    // The handler is in place before anyone reads a generation, so no fork can
    // copy state without the child seeing a new generation.
    REGISTER_FORK_HANDLER.call_once(|| {
        // SAFETY: registers a plain function that only touches an atomic.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
    FORK_GENERATION.load(Ordering::SeqCst)
}

/// 12 fresh random bytes.
pub fn fresh_nonce() -> [u8; NONCE_LEN] {
    let generation = fork_generation();
    let mut nonce = [0u8; NONCE_LEN];
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some((seen, rng)) if *seen == generation => rng.fill_bytes(&mut nonce),
            _ => {
                let mut seed = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut seed[..])
                    .expect("the operating system's random generator failed");
                let mut rng = ChaCha20Rng::from_seed(*seed);
                rng.fill_bytes(&mut nonce);
                *slot = Some((generation, rng));
            }
        }
    });
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_get_different_streams() {
        let here: Vec<[u8; 12]> = (0..100).map(|_| fresh_nonce()).collect();
        let there: Vec<[u8; 12]> = std::thread::spawn(|| (0..100).map(|_| fresh_nonce()).collect())
            .join()
            .unwrap();
        let all: std::collections::HashSet<_> = here.iter().chain(&there).collect();
        assert_eq!(all.len(), 200);
    }

    #[test]
    fn a_new_fork_generation_reseeds() {
        let before = fresh_nonce();
        // What the fork handler does in a child: the next nonce comes from a new seed.
        simulate_fork();
        let after = fresh_nonce();
        assert_ne!(before, after);
        GENERATOR.with(|cell| {
            assert_eq!(
                cell.borrow().as_ref().unwrap().0,
                FORK_GENERATION.load(Ordering::SeqCst)
            )
        });
    }
}
