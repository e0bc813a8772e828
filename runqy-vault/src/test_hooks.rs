//! A pause inside a write transaction, for the crash tests only (cargo
//! feature `test-hooks`, which only this crate's own dev-dependency turns
//! on: never a shipped build).
//!
//! With `RUNQY_VAULT_TEST_PAUSE=<point>` in its environment, a process that
//! reaches `<point>` (an operation's name just before its commit, such as
//! `set` or `rotate-key`, or `reencrypt-page` once the first page of kept
//! versions of a rotation or migration is rewritten) writes `runqy-vault test hook: paused at <point>` to standard
//! error and sleeps until it is killed, holding the transaction open. The
//! test waits for that line, so it knows its `kill -9` lands inside the
//! transaction, not before or after it.

/// The variable that names the pause point.
#[cfg(feature = "test-hooks")]
pub const ENV_PAUSE: &str = "RUNQY_VAULT_TEST_PAUSE";

/// Pauses forever when `point` is the one `RUNQY_VAULT_TEST_PAUSE` names.
#[cfg(feature = "test-hooks")]
pub(crate) fn pause(point: &str) {
    use std::io::Write;
    static WANTED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(ENV_PAUSE).ok());
    if wanted.as_deref() == Some(point) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "runqy-vault test hook: paused at {point}");
        let _ = err.flush();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// The round trips `store`'s PostgreSQL connections have sent since it was
/// opened (each query, prepare, batch, BEGIN and COMMIT; not the connects),
/// for the tests that pin each operation's count; `None` on SQLite.
#[cfg(feature = "test-hooks")]
pub fn postgres_round_trips(store: &crate::Store) -> Option<u64> {
    store.round_trips()
}

/// Without the feature: nothing, compiled away.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub(crate) fn pause(_point: &str) {}
