//! What the process that holds keys does to itself: no core dumps.
//!
//! A core file of a process holding the master key or plaintext values
//! would put them on disk, readable by whoever reads crash dumps.

use std::io;

/// Makes this process write no core file, from now on, whatever crashes it:
/// on Linux it becomes non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`, which also
/// keeps other processes of the same user from attaching a debugger or
/// reading its memory through `/proc`), and everywhere its `RLIMIT_CORE`
/// soft limit becomes 0.
///
/// The dumpable flag resets at `execve`, the limit does not: a child started
/// afterwards (`run`'s command, a key command) starts with core files off too.
/// The CLI calls this first thing; a server embedding the library may call it
/// too.
pub fn forbid_core_dumps() -> io::Result<()> {
    zero_core_limit()?;
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets this process's `RLIMIT_CORE` soft limit to 0. Only `setrlimit`, so it
/// is async-signal-safe: a `pre_exec` hook may call it for a child alone.
pub fn zero_core_limit() -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the one struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Lowering the soft limit is always allowed; the hard limit stays.
        limit.rlim_cur = 0;
        if libc::setrlimit(libc::RLIMIT_CORE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
