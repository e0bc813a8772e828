//! `runqy_vault::process`: a process holding keys writes no core file.
//! Its own test binary: the calls change the whole test process.

use std::process::Command;

#[test]
fn forbid_core_dumps_makes_the_process_non_dumpable_and_its_children_start_without_core_files() {
    runqy_vault::process::forbid_core_dumps().unwrap();
    #[cfg(target_os = "linux")]
    {
        let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        assert_eq!(dumpable, 0);
    }
    let mut limit = libc::rlimit {
        rlim_cur: 1,
        rlim_max: 1,
    };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
    assert_eq!(limit.rlim_cur, 0);
    // execve resets the dumpable flag, but the limit is inherited.
    let out = Command::new("sh")
        .args(["-c", "ulimit -c"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
}
