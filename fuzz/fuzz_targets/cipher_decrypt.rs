//! Blob decryption of both formats with random bytes and random keys: never
//! a panic; a random blob never opens; what the cipher seals opens only
//! where it belongs, and a v2 store never opens a legacy blob (SPEC §3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::cipher::{Binding, Cipher, Format, V2_MAGIC};
use runqy_vault::{ErrorKind, KeySet, MasterKey};

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // key(32) ‖ flags(1) ‖ vault NUL key NUL blob
    if data.len() < 33 {
        return;
    }
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&data[..32]);
    let flags = data[32];
    // vault NUL key NUL blob (the blob may hold NULs of its own)
    let mut parts = data[33..].splitn(3, |&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let parts = [next(), next(), next()];
    let vault = String::from_utf8_lossy(parts[0]);
    let key = String::from_utf8_lossy(parts[1]);
    let blob = parts[2];
    let at = Binding {
        vault: &vault,
        key: &key,
        is_secret: flags & 1 == 1,
    };
    let cipher = Cipher::new(&KeySet {
        current: MasterKey::from_bytes(raw),
        previous: if flags & 2 == 2 {
            vec![MasterKey::from_bytes([flags; 32])]
        } else {
            vec![]
        },
    });

    // Random bytes: a forgery would need the tag, so nothing opens.
    for format in [Format::Legacy, Format::V2] {
        match cipher.decrypt(format, at, blob) {
            Ok(_) => panic!("a random blob of {} bytes opened", blob.len()),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::DecryptionFailed);
                common::assert_shown(&e.to_string());
            }
        }
    }

    // The blob as plaintext: sealed, it opens to itself where it belongs only.
    let Ok(plain) = std::str::from_utf8(blob) else {
        return;
    };
    for format in [Format::Legacy, Format::V2] {
        let sealed = cipher.encrypt(format, at, plain.as_bytes());
        let (opened, info) = cipher.decrypt(format, at, &sealed).expect("own blob opens");
        assert_eq!(opened.expose(), plain);
        assert_eq!(info.format, format);
        assert_eq!(info.key_id, cipher.key_id());
        if format == Format::V2 {
            assert!(sealed.starts_with(V2_MAGIC));
            let moved = Binding {
                is_secret: !at.is_secret,
                ..at
            };
            assert!(cipher.decrypt(Format::V2, moved, &sealed).is_err());
            let mut flipped = sealed.clone();
            let i = usize::from(flags) % flipped.len();
            flipped[i] ^= 0x80;
            assert!(cipher.decrypt(Format::V2, at, &flipped).is_err());
        } else if !sealed.starts_with(V2_MAGIC) {
            let err = cipher.decrypt(Format::V2, at, &sealed).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
        }
    }
});
