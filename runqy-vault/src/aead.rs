//! AES-256-GCM from the crypto provider chosen at build time.
//!
//! Two providers seal and open the same bytes (tests/providers.rs checks
//! them against each other and against Wycheproof):
//!
//! - `aws-lc` (cargo feature `aws-lc`): aws-lc-rs over AWS-LC's assembly
//!   AES-GCM, five to six times faster in bulk here. Its key schedule lives in
//!   an `EVP_AEAD_CTX` that AWS-LC cleanses when it is freed (docs/crypto.md
//!   cites the free path).
//! - `rustcrypto` (without that feature): RustCrypto's pure-Rust `aes-gcm`,
//!   no C compiler needed; its `zeroize` feature wipes the AES key schedule
//!   and the GHASH key on drop. The reference the other is tested against.
//!
//! Both work out of place: the plaintext is read from the caller's slice and
//! the ciphertext written to another, so a buffer that leaves the cipher
//! holding ciphertext never held plaintext.

/// Length of a GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of an AES-256 key.
pub(crate) const KEY_LEN: usize = 32;
use crate::nonce::NONCE_LEN;

/// The name of the provider in use: `"aws-lc"` or `"rustcrypto"`.
#[cfg(feature = "aws-lc")]
pub const PROVIDER: &str = "aws-lc";
/// The name of the provider in use: `"aws-lc"` or `"rustcrypto"`.
#[cfg(not(feature = "aws-lc"))]
pub const PROVIDER: &str = "rustcrypto";

/// The key type of the provider in use.
#[cfg(feature = "aws-lc")]
pub(crate) type AeadKey = aws_lc::Key;
/// The key type of the provider in use.
#[cfg(not(feature = "aws-lc"))]
pub(crate) type AeadKey = rustcrypto::Key;

/// A ciphertext that did not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAuthentic;

/// RustCrypto's `aes-gcm` (pure Rust, AES-NI and CLMUL when the CPU has them).
/// Built with `aws-lc` too for the tests, which hold the two to the same bytes.
#[cfg(any(not(feature = "aws-lc"), test))]
pub(crate) mod rustcrypto {
    use aes_gcm::aead::inout::InOutBuf;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::{Aes256Gcm, Tag};

    use super::{NotAuthentic, KEY_LEN, NONCE_LEN, TAG_LEN};

    /// An AES-256-GCM key with its schedule built; wiped on drop (`zeroize`).
    pub(crate) struct Key(Aes256Gcm);

    impl Key {
        pub(crate) fn new(key: &[u8; KEY_LEN]) -> Key {
            Key(Aes256Gcm::new(key.into()))
        }

        /// Seals `plaintext` into `out`: ciphertext, then the tag
        /// (`out.len() == plaintext.len() + TAG_LEN`).
        pub(crate) fn seal_into(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            plaintext: &[u8],
            out: &mut [u8],
        ) {
            let (ct, tag_out) = out.split_at_mut(plaintext.len());
            let buf = InOutBuf::new(plaintext, ct).expect("ciphertext sized as the plaintext");
            let tag = self
                .0
                .encrypt_inout_detached(nonce.into(), aad, buf)
                .expect("AES-GCM seals any value under 64 GiB");
            tag_out.copy_from_slice(&tag);
        }

        /// Opens `ct` with `tag` into `out` (`out.len() == ct.len()`). On
        /// failure `out` is left as it was.
        pub(crate) fn open_into(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            ct: &[u8],
            tag: &[u8; TAG_LEN],
            out: &mut [u8],
        ) -> Result<(), NotAuthentic> {
            let buf = InOutBuf::new(ct, out).map_err(|_| NotAuthentic)?;
            self.0
                .decrypt_inout_detached(nonce.into(), aad, buf, &Tag::from(*tag))
                .map_err(|_| NotAuthentic)
        }
    }
}

/// aws-lc-rs: AWS-LC's AES-GCM (assembly on x86-64 and aarch64).
#[cfg(feature = "aws-lc")]
pub(crate) mod aws_lc {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

    use super::{NotAuthentic, KEY_LEN, NONCE_LEN, TAG_LEN};

    /// An AES-256-GCM key: an `EVP_AEAD_CTX` that AWS-LC cleanses on free.
    pub(crate) struct Key(LessSafeKey);

    impl Key {
        pub(crate) fn new(key: &[u8; KEY_LEN]) -> Key {
            let unbound = UnboundKey::new(&AES_256_GCM, key).expect("an AES-256 key is 32 bytes");
            Key(LessSafeKey::new(unbound))
        }

        /// Seals `plaintext` into `out`: ciphertext, then the tag
        /// (`out.len() == plaintext.len() + TAG_LEN`).
        pub(crate) fn seal_into(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            plaintext: &[u8],
            out: &mut [u8],
        ) {
            let (ct, tag) = out.split_at_mut(plaintext.len());
            debug_assert_eq!(tag.len(), TAG_LEN);
            self.0
                .seal_out_of_place_scatter(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    plaintext,
                    ct,
                    &[],
                    tag,
                )
                .expect("AES-GCM seals any value under 64 GiB");
        }

        /// Opens `ct` with `tag` into `out` (`out.len() == ct.len()`). On
        /// failure `out` may hold anything: the caller wipes it.
        pub(crate) fn open_into(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            ct: &[u8],
            tag: &[u8; TAG_LEN],
            out: &mut [u8],
        ) -> Result<(), NotAuthentic> {
            self.0
                .open_separate_gather(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    ct,
                    tag,
                    out,
                )
                .map_err(|_| NotAuthentic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes of any length (no RNG dependency in the core).
    fn bytes(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn seal(key: &AeadKey, nonce: &[u8; NONCE_LEN], aad: &[u8], pt: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; pt.len() + TAG_LEN];
        key.seal_into(nonce, aad, pt, &mut out);
        out
    }

    #[test]
    fn sealed_bytes_open_and_any_change_fails() {
        let key = AeadKey::new(&[9; KEY_LEN]);
        for len in [0, 1, 15, 16, 17, 64, 1000] {
            let pt = bytes(1, len);
            let sealed = seal(&key, &[3; NONCE_LEN], b"aad", &pt);
            let (ct, tag) = sealed.split_at(len);
            let tag: &[u8; TAG_LEN] = tag.try_into().unwrap();
            let mut out = vec![0u8; len];
            key.open_into(&[3; NONCE_LEN], b"aad", ct, tag, &mut out)
                .unwrap();
            assert_eq!(out, pt);
            assert_eq!(
                key.open_into(&[3; NONCE_LEN], b"aaD", ct, tag, &mut out),
                Err(NotAuthentic)
            );
            assert_eq!(
                key.open_into(&[4; NONCE_LEN], b"aad", ct, tag, &mut out),
                Err(NotAuthentic)
            );
            let mut bad_tag = *tag;
            bad_tag[15] ^= 1;
            assert_eq!(
                key.open_into(&[3; NONCE_LEN], b"aad", ct, &bad_tag, &mut out),
                Err(NotAuthentic)
            );
        }
    }

    /// Both providers give the same bytes for every length from 0 to 300 and
    /// a few large ones, with and without associated data, and each opens
    /// what the other sealed.
    #[cfg(feature = "aws-lc")]
    #[test]
    fn aws_lc_and_rustcrypto_seal_and_open_the_same_bytes() {
        let lc = aws_lc::Key::new(&[7; KEY_LEN]);
        let rc = rustcrypto::Key::new(&[7; KEY_LEN]);
        let lens = (0..=300).chain([1023, 1024, 1025, 16 * 1024, 64 * 1024 + 3]);
        for (i, len) in lens.enumerate() {
            let pt = bytes(i as u8, len);
            let aad = bytes(0x40, i % 70);
            let nonce: [u8; NONCE_LEN] = bytes(i as u8 ^ 0x55, NONCE_LEN).try_into().unwrap();
            let mut a = vec![0u8; len + TAG_LEN];
            let mut b = vec![0u8; len + TAG_LEN];
            lc.seal_into(&nonce, &aad, &pt, &mut a);
            rc.seal_into(&nonce, &aad, &pt, &mut b);
            assert_eq!(a, b, "length {len}");
            let (ct, tag) = a.split_at(len);
            let tag: &[u8; TAG_LEN] = tag.try_into().unwrap();
            let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
            lc.open_into(&nonce, &aad, ct, tag, &mut x).unwrap();
            rc.open_into(&nonce, &aad, ct, tag, &mut y).unwrap();
            assert_eq!((&x, &y), (&pt, &pt), "length {len}");
        }
    }
}
