//! Nonces never repeat across `fork()`: worker processes fork.

use runqy_vault::cipher::{Binding, Cipher, Format};
use runqy_vault::{KeySet, MasterKey};
use std::collections::HashSet;
use std::io::Read;
use std::os::fd::FromRawFd;

const N: usize = 2_000;

fn nonces(c: &Cipher) -> Vec<[u8; 12]> {
    let e = Binding {
        vault: "v",
        key: "K",
        is_secret: true,
    };
    (0..N)
        .map(|_| c.encrypt(Format::Legacy, e, b"x")[..12].try_into().unwrap())
        .collect()
}

#[test]
fn forked_child_and_parent_never_share_a_nonce() {
    let c = Cipher::new(&KeySet {
        current: MasterKey::from_bytes([5; 32]),
        previous: vec![],
    });
    // Warm up in the parent so any per-process generator state exists before the fork.
    let before = nonces(&c);
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Child: only async-signal-safe work besides the encryption itself, then _exit.
        let bytes: Vec<u8> = nonces(&c).concat();
        let mut off = 0;
        while off < bytes.len() {
            let n = unsafe { libc::write(fds[1], bytes[off..].as_ptr().cast(), bytes.len() - off) };
            if n <= 0 {
                unsafe { libc::_exit(1) };
            }
            off += n as usize;
        }
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(fds[1]) };
    let parent_after = nonces(&c);
    let mut child_bytes = Vec::new();
    unsafe { std::fs::File::from_raw_fd(fds[0]) }
        .read_to_end(&mut child_bytes)
        .unwrap();
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(child_bytes.len(), N * 12);
    let mut seen: HashSet<[u8; 12]> = HashSet::new();
    for n in before
        .iter()
        .chain(&parent_after)
        .copied()
        .chain(child_bytes.chunks(12).map(|c| c.try_into().unwrap()))
    {
        assert!(seen.insert(n), "nonce repeated across fork");
    }
    assert_eq!(seen.len(), 3 * N);
}
