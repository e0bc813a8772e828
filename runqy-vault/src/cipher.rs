//! The two ciphertext formats of the `value` column (SPEC §3).
//!
//! `legacy` is the runqy server's: `nonce(12) ‖ ciphertext ‖ tag(16)`, AES-256-GCM
//! under the raw master key, no associated data. `v2` is ours: the AES key is
//! derived by HKDF and the associated data binds the blob to its vault, key
//! and `is_secret` flag, so a blob moved elsewhere does not decrypt.
//!
//! A kept version of a value (SPEC §12) is always a v2 blob whose associated
//! data also ends in `"ver" ‖ u64be(version)`, so it opens only as that
//! version of that entry: never as a current value, another version, key or
//! vault. docs/formats.md has every layout and a fixed vector of each.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::aead::{AeadKey, TAG_LEN};
use crate::error::{Error, Result};
use crate::key::{KeyId, KeySet, MasterKey};
use crate::nonce::{fresh_nonce, NONCE_LEN};
use crate::secret::{wipe_vec, PlainBytes, SecretString};

/// The first four bytes of a v2 blob.
pub const V2_MAGIC: &[u8; 4] = b"RQV\x02";
/// What ends a kept version's associated data, before `u64be(version)`.
pub const VERSION_AAD_TAG: &[u8; 3] = b"ver";
/// The crypto provider compiled in: `"aws-lc"` (cargo feature `aws-lc`) or
/// `"rustcrypto"` (pure Rust). Both write and read the same bytes.
pub use crate::aead::PROVIDER;
const V2_HEADER_LEN: usize = V2_MAGIC.len() + 8;

/// Which ciphertext format a store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The runqy server's format; kept so a Go server sharing the database keeps working.
    Legacy,
    /// runqy-vault's authenticated, location-bound format.
    V2,
}

impl Format {
    /// The name stored in the meta table: `legacy` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Legacy => "legacy",
            Format::V2 => "v2",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Format> {
        match s {
            "legacy" => Some(Format::Legacy),
            "v2" => Some(Format::V2),
            _ => None,
        }
    }
}

/// Where a value lives, which v2 binds its ciphertext to (the associated
/// data): a blob moved to another vault, key or flag no longer decrypts.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The vault's name.
    pub vault: &'a str,
    /// The entry's key.
    pub key: &'a str,
    /// The entry's `is_secret` flag.
    pub is_secret: bool,
}

impl Binding<'_> {
    fn decryption_failed(&self) -> Error {
        Error::DecryptionFailed {
            vault: self.vault.to_owned(),
            key: self.key.to_owned(),
        }
    }
}

/// One master key made ready to use: both AES key schedules built once.
struct KeyCipher {
    key_id: KeyId,
    /// `"RQV" 0x02 ‖ key_id`: a v2 blob's header and its associated data's start.
    v2_header: [u8; V2_HEADER_LEN],
    legacy: AeadKey,
    v2: AeadKey,
    /// The audit log's keys (fingerprints, chain), derived once.
    audit: Zeroizing<[u8; 32]>,
    chain: Zeroizing<[u8; 32]>,
}

impl KeyCipher {
    fn new(key: &MasterKey) -> KeyCipher {
        let key_id = key.key_id();
        let mut v2_header = [0u8; V2_HEADER_LEN];
        v2_header[..V2_MAGIC.len()].copy_from_slice(V2_MAGIC);
        v2_header[V2_MAGIC.len()..].copy_from_slice(&key_id.0);
        KeyCipher {
            key_id,
            v2_header,
            legacy: AeadKey::new(key.bytes()),
            v2: AeadKey::new(&key.v2_enc_key()),
            audit: key.audit_key(),
            chain: key.audit_chain_key(),
        }
    }
}

/// Encrypts under the current key and decrypts under the current or any previous key.
///
/// Clones share the key schedules (an AWS-LC key cannot be copied); they are
/// wiped when the last clone drops.
#[derive(Clone)]
pub struct Cipher(Arc<Keys>);

struct Keys {
    current: KeyCipher,
    previous: Vec<KeyCipher>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("key_id", &self.0.current.key_id)
            .field(
                "previous",
                &self.0.previous.iter().map(|k| k.key_id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What [`Cipher::decrypt`] found out about a blob besides its plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    /// The format the blob was in.
    pub format: Format,
    /// The id of the key that opened it.
    pub key_id: KeyId,
}

impl Cipher {
    /// A cipher for the given keys.
    pub fn new(keys: &KeySet) -> Cipher {
        Cipher(Arc::new(Keys {
            current: KeyCipher::new(&keys.current),
            previous: keys.previous.iter().map(KeyCipher::new).collect(),
        }))
    }

    /// The current key's id.
    pub fn key_id(&self) -> KeyId {
        self.0.current.key_id
    }

    /// Whether `id` is the current key's or a previous key's.
    pub fn knows(&self, id: KeyId) -> bool {
        self.keys().any(|k| k.key_id == id)
    }

    /// The first bytes of a v2 blob under each of these keys: the magic and
    /// the key id. A store holding a value that starts with one is v2.
    pub fn v2_prefixes(&self) -> Vec<Vec<u8>> {
        self.keys()
            .map(|k| [V2_MAGIC.as_slice(), &k.key_id.0].concat())
            .collect()
    }

    /// The audit log's fingerprint of a value: `hmac-sha256:` and the hex of
    /// HMAC-SHA256 under the current key's audit key (SPEC §13), never the value.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&self.0.current.audit[..])
                .expect("HMAC takes a key of any length");
        mac.update(value);
        let mut out = String::with_capacity(FINGERPRINT_PREFIX.len() + 64);
        out.push_str(FINGERPRINT_PREFIX);
        push_hex(&mut out, &mac.finalize().into_bytes());
        out
    }

    /// The current key's audit chain key (record MACs and the head).
    pub(crate) fn audit_chain_key(&self) -> &[u8; 32] {
        &self.0.current.chain
    }

    fn keys(&self) -> impl Iterator<Item = &KeyCipher> {
        std::iter::once(&self.0.current).chain(self.0.previous.iter())
    }

    /// Encrypts `plaintext` for `entry` in `format` under the current key,
    /// with a fresh random nonce.
    pub fn encrypt(&self, format: Format, entry: Binding<'_>, plaintext: &[u8]) -> Vec<u8> {
        match format {
            Format::Legacy => seal(&self.0.current.legacy, &[], &fresh_nonce(), &[], plaintext),
            Format::V2 => self.seal_v2(entry, None, plaintext),
        }
    }

    /// Encrypts `plaintext` as version `version` of `entry`: always v2 under
    /// the current key, whatever the store's format, with the version in the
    /// associated data.
    pub fn encrypt_version(&self, entry: Binding<'_>, version: u64, plaintext: &[u8]) -> Vec<u8> {
        self.seal_v2(entry, Some(version), plaintext)
    }

    fn seal_v2(&self, entry: Binding<'_>, version: Option<u64>, plaintext: &[u8]) -> Vec<u8> {
        let k = &self.0.current;
        with_v2_aad(&k.v2_header, entry, version, |aad| {
            seal(&k.v2, &k.v2_header, &fresh_nonce(), aad, plaintext)
        })
    }

    /// Decrypts version `version` of `entry`, kept in the history: only a
    /// v2 blob made for exactly that version opens (no legacy fallback: a
    /// version is never legacy). Errors name the vault, key and version only.
    pub fn decrypt_version(
        &self,
        entry: Binding<'_>,
        version: u64,
        blob: &[u8],
    ) -> Result<(SecretString, BlobInfo)> {
        let failed = || Error::VersionDecryptionFailed {
            vault: entry.vault.to_owned(),
            key: entry.key.to_owned(),
            version: i64::try_from(version).unwrap_or(i64::MAX),
        };
        let mut out = PlainBytes::default();
        let info = self
            .open_v2(entry, Some(version), blob, &mut out.0)
            .ok_or_else(failed)?;
        Ok((into_text(out, failed)?, info))
    }

    /// Opens a v2 blob under the key its header names, if this cipher has
    /// it, into `out`.
    fn open_v2(
        &self,
        entry: Binding<'_>,
        version: Option<u64>,
        blob: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<BlobInfo> {
        if blob.len() < V2_HEADER_LEN + NONCE_LEN + TAG_LEN || !blob.starts_with(V2_MAGIC) {
            return None;
        }
        let id = KeyId(blob[4..12].try_into().ok()?);
        let k = self.keys().find(|k| k.key_id == id)?;
        with_v2_aad(&k.v2_header, entry, version, |aad| {
            open_in(&k.v2, &blob[V2_HEADER_LEN..], aad, out)
        })
        .then_some(BlobInfo {
            format: Format::V2,
            key_id: id,
        })
    }

    /// The plaintext of a current value into `out`, by the rules of [`Cipher::decrypt`].
    fn open_entry(
        &self,
        format: Format,
        entry: Binding<'_>,
        blob: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<BlobInfo> {
        if let Some(info) = self.open_v2(entry, None, blob, out) {
            return Ok(info);
        }
        if format == Format::Legacy && blob.len() >= NONCE_LEN + TAG_LEN {
            for k in self.keys() {
                if open_in(&k.legacy, blob, &[], out) {
                    return Ok(BlobInfo {
                        format: Format::Legacy,
                        key_id: k.key_id,
                    });
                }
            }
        }
        Err(entry.decryption_failed())
    }

    /// Decrypts a blob of a store written in `format` (SPEC §3). A `v2`
    /// store reads only v2 blobs: a legacy blob there can only have been
    /// planted from an older copy of the database, and its missing binding
    /// would let it stand in for any entry, so it fails. A `legacy` store
    /// reads both, and a blob with the v2 magic that fails as v2 is tried as
    /// legacy before failing (a legacy nonce may start with the magic by
    /// chance). Errors name the vault and key only.
    pub fn decrypt(
        &self,
        format: Format,
        entry: Binding<'_>,
        blob: &[u8],
    ) -> Result<(SecretString, BlobInfo)> {
        let mut out = PlainBytes::default();
        let info = self.open_entry(format, entry, blob, &mut out.0)?;
        Ok((into_text(out, || entry.decryption_failed())?, info))
    }

    /// [`Cipher::decrypt`] into `buf`, reused from one value to the next,
    /// for a caller that only looks at each value (a listing masks it): no
    /// allocation per value. `buf` holds the last plaintext until it is
    /// overwritten or dropped, and `Zeroizing` wipes its whole capacity then.
    pub fn decrypt_in<'b>(
        &self,
        format: Format,
        entry: Binding<'_>,
        blob: &[u8],
        buf: &'b mut Zeroizing<Vec<u8>>,
    ) -> Result<(&'b str, BlobInfo)> {
        let info = self.open_entry(format, entry, blob, buf)?;
        match simdutf8::basic::from_utf8(buf.as_slice()) {
            Ok(text) => Ok((text, info)),
            Err(_) => Err(entry.decryption_failed()), // not written by a runqy vault (SPEC §4)
        }
    }

    /// Encrypts bytes in the legacy format under the current key, for the
    /// runqy server's other secrets that share the master key
    /// (`autoscale_providers.config`): no binding, not necessarily UTF-8.
    pub(crate) fn encrypt_legacy_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        seal(&self.0.current.legacy, &[], &fresh_nonce(), &[], plaintext)
    }

    /// Opens a legacy blob under the current or a previous key (see
    /// [`Cipher::encrypt_legacy_bytes`]); `None` when none opens it.
    pub(crate) fn decrypt_legacy_bytes(&self, blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.keys().find_map(|k| open(&k.legacy, blob, &[]))
    }
}

/// The prefix of a fingerprint and of an anchor's seal (SPEC §13).
pub(crate) const FINGERPRINT_PREFIX: &str = "hmac-sha256:";

/// Appends the lowercase hex of `bytes` (a MAC) to `out`. `hex::encode`
/// collects its string a `char` at a time through an iterator, which took
/// ~2 % of an audited payload's samples for its three MACs.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// The opened buffer becomes the string without a copy; a value that
/// authenticates but is not UTF-8 was not written by a runqy vault (SPEC §4).
/// simdutf8's check, several times std's speed on a large value; the bytes
/// stay in their `PlainBytes`, wiped on drop, when it fails.
fn into_text(mut bytes: PlainBytes, failed: impl FnOnce() -> Error) -> Result<SecretString> {
    if simdutf8::basic::from_utf8(&bytes.0).is_err() {
        return Err(failed());
    }
    let bytes = std::mem::take(&mut bytes.0);
    // SAFETY: simdutf8 has just checked that these very bytes are UTF-8.
    Ok(SecretString::from(unsafe {
        String::from_utf8_unchecked(bytes)
    }))
}

/// Calls `f` with `"RQV" 0x02 ‖ key_id ‖ u32be(len vault) ‖ vault ‖ u32be(len key) ‖ key ‖ is_secret`,
/// followed for a kept version by `"ver" ‖ u64be(version)` (a current value's
/// associated data is exactly the first part, byte for byte as before).
/// Names within SPEC §4's limits fit a stack buffer: no allocation per value.
fn with_v2_aad<T>(
    header: &[u8; V2_HEADER_LEN],
    entry: Binding<'_>,
    version: Option<u64>,
    f: impl FnOnce(&[u8]) -> T,
) -> T {
    const VERSION_LEN: usize = VERSION_AAD_TAG.len() + 8;
    const STACK_LEN: usize = V2_HEADER_LEN + 4 + 64 + 4 + 256 + 1 + VERSION_LEN;
    let (vault, key) = (entry.vault.as_bytes(), entry.key.as_bytes());
    let tail = if version.is_some() { VERSION_LEN } else { 0 };
    let len = V2_HEADER_LEN + 4 + vault.len() + 4 + key.len() + 1 + tail;
    if len > STACK_LEN {
        // Names from a foreign database may be longer than SPEC §4 allows.
        let mut heap = vec![0u8; len];
        fill_v2_aad(&mut heap, header, vault, key, entry.is_secret, version);
        return f(&heap);
    }
    let mut stack = [0u8; STACK_LEN];
    let buf = &mut stack[..len];
    fill_v2_aad(buf, header, vault, key, entry.is_secret, version);
    f(buf)
}

/// Writes the parts of [`with_v2_aad`]'s associated data into `buf`, sized
/// exactly for them.
fn fill_v2_aad(
    buf: &mut [u8],
    header: &[u8; V2_HEADER_LEN],
    vault: &[u8],
    key: &[u8],
    is_secret: bool,
    version: Option<u64>,
) {
    let (h, rest) = buf.split_at_mut(V2_HEADER_LEN);
    h.copy_from_slice(header);
    let (n, rest) = rest.split_at_mut(4);
    n.copy_from_slice(&(vault.len() as u32).to_be_bytes());
    let (v, rest) = rest.split_at_mut(vault.len());
    v.copy_from_slice(vault);
    let (n, rest) = rest.split_at_mut(4);
    n.copy_from_slice(&(key.len() as u32).to_be_bytes());
    let (k, rest) = rest.split_at_mut(key.len());
    k.copy_from_slice(key);
    let (flag, rest) = rest.split_at_mut(1);
    flag[0] = u8::from(is_secret);
    if let Some(version) = version {
        let (t, rest) = rest.split_at_mut(VERSION_AAD_TAG.len());
        t.copy_from_slice(VERSION_AAD_TAG);
        rest.copy_from_slice(&version.to_be_bytes());
    }
}

/// `header ‖ nonce ‖ ciphertext ‖ tag`, in one buffer sized once. The
/// provider seals out of place, from `plaintext` into this buffer, so it only
/// ever holds ciphertext and needs no wiping (and never reallocates, which
/// would leave a copy in freed memory).
fn seal(
    key: &AeadKey,
    header: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; header.len() + NONCE_LEN + plaintext.len() + TAG_LEN];
    let (head, rest) = out.split_at_mut(header.len());
    head.copy_from_slice(header);
    let (n, sealed) = rest.split_at_mut(NONCE_LEN);
    n.copy_from_slice(nonce);
    key.seal_into(nonce, aad, plaintext, sealed);
    out
}

/// Opens `nonce ‖ ciphertext ‖ tag` straight into the buffer that is
/// returned; `None` when it does not authenticate.
fn open(key: &AeadKey, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = PlainBytes::default();
    open_in(key, sealed, aad, &mut out.0).then(|| Zeroizing::new(std::mem::take(&mut out.0)))
}

/// Opens `nonce ‖ ciphertext ‖ tag` into `out`, which is resized to the
/// plaintext; false when it does not authenticate, and `out`, which may
/// then hold unauthenticated plaintext, is wiped. A buffer too small is
/// wiped and replaced, never grown by a reallocation that would leave a
/// copy in freed memory. The caller keeps `out` in a wiping owner
/// (`PlainBytes`, `Zeroizing`).
fn open_in(key: &AeadKey, sealed: &[u8], aad: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(ct_len) = sealed.len().checked_sub(NONCE_LEN + TAG_LEN) else {
        return false;
    };
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(ct_len);
    let (Ok(nonce), Ok(tag)) = (nonce.try_into(), tag.try_into()) else {
        return false;
    };
    if out.capacity() < ct_len {
        wipe_vec(out);
        *out = Vec::with_capacity(ct_len);
    }
    // The provider writes every byte of the plaintext, so a reused buffer is
    // only cut or extended to its length, not cleared and zero-filled again.
    if out.len() > ct_len {
        out.truncate(ct_len);
    } else {
        out.resize(ct_len, 0);
    }
    if key
        .open_into(nonce, aad, ct, tag, out.as_mut_slice())
        .is_err()
    {
        wipe_vec(out);
        return false;
    }
    true
}

/// Opens `nonce ‖ ciphertext ‖ tag` under a raw 256-bit key with any
/// associated data, through the same code the formats use. For conformance
/// tests against external vectors (Wycheproof); not part of the API.
#[doc(hidden)]
pub fn aead_open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    open(&AeadKey::new(key), sealed, aad)
}

/// Seals `plaintext` as `nonce ‖ ciphertext ‖ tag` under a raw 256-bit key
/// with a given nonce, through the same code the formats use. For the
/// providers' conformance tests (fixed nonces give fixed bytes); not part of
/// the API, and never for real values: a nonce must not repeat.
#[doc(hidden)]
pub fn aead_seal(key: &[u8; 32], nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal(&AeadKey::new(key), &[], nonce, aad, plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn push_hex_writes_every_byte_as_two_lowercase_digits_as_hex_encode_does() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = String::from("seq:");
        push_hex(&mut out, &all);
        assert_eq!(out, format!("seq:{}", hex::encode(&all)));
        assert_eq!(&out[4..10], "000102");
        assert!(out.ends_with("fdfeff"));
    }

    #[test]
    fn a_fingerprint_is_the_prefix_and_the_hex_of_the_values_hmac() {
        use hmac::Mac;
        let c = Cipher::new(&keys(5));
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&c.0.current.audit[..])
                .unwrap();
        mac.update(b"sk-value");
        let want = format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(c.fingerprint(b"sk-value"), want);
        assert_eq!(want.len(), "hmac-sha256:".len() + 64);
    }

    fn keys(byte: u8) -> KeySet {
        KeySet {
            current: MasterKey::from_bytes([byte; 32]),
            previous: vec![],
        }
    }

    const E: Binding<'static> = Binding {
        vault: "api-keys",
        key: "OPENAI_API_KEY",
        is_secret: true,
    };

    /// An authentic blob whose plaintext is not UTF-8 (short, and long
    /// enough for simdutf8's vector path, bad byte first, middle or last)
    /// fails as a decryption naming the entry; valid multi-byte text opens.
    #[test]
    fn authentic_plaintext_that_is_not_utf8_fails_to_decrypt() {
        let c = Cipher::new(&keys(1));
        let long = "é".repeat(100).into_bytes();
        for at in [0, 1, 101, long.len() - 1] {
            let mut bad = long.clone();
            bad[at] = 0xff;
            for text in [&bad[..], &bad[..at + 1]] {
                let blob = c.encrypt_legacy_bytes(text);
                let err = c.decrypt(Format::Legacy, E, &blob).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
                assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
            }
        }
        let blob = c.encrypt(Format::V2, E, &long);
        let (text, _) = c.decrypt(Format::V2, E, &blob).unwrap();
        assert_eq!(text.expose().as_bytes(), &long[..]);
    }

    #[test]
    fn decrypt_in_reuses_one_buffer_and_wipes_it_when_a_blob_fails() {
        let c = Cipher::new(&keys(1));
        let long = "x".repeat(300);
        let blobs = [
            c.encrypt(Format::V2, E, long.as_bytes()),
            c.encrypt(Format::V2, E, b"sk-short"),
            c.encrypt(Format::Legacy, E, "é-legacy".as_bytes()),
        ];
        let mut buf = Zeroizing::new(Vec::new());
        let (text, _) = c
            .decrypt_in(Format::Legacy, E, &blobs[0], &mut buf)
            .unwrap();
        assert_eq!(text, long);
        let capacity = buf.capacity();
        let (text, info) = c
            .decrypt_in(Format::Legacy, E, &blobs[1], &mut buf)
            .unwrap();
        assert_eq!((text, info.format), ("sk-short", Format::V2));
        let (text, info) = c
            .decrypt_in(Format::Legacy, E, &blobs[2], &mut buf)
            .unwrap();
        assert_eq!((text, info.format), ("é-legacy", Format::Legacy));
        assert_eq!(
            buf.capacity(),
            capacity,
            "a shorter value reuses the buffer"
        );
        // A v2 store refuses the legacy blob, naming the entry; a tampered
        // tag fails and leaves nothing of what it opened in the buffer.
        let err = c
            .decrypt_in(Format::V2, E, &blobs[2], &mut buf)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
        assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
        let mut tampered = blobs[1].clone();
        *tampered.last_mut().unwrap() ^= 1;
        c.decrypt_in(Format::V2, E, &blobs[1], &mut buf).unwrap();
        assert!(c.decrypt_in(Format::V2, E, &tampered, &mut buf).is_err());
        assert!(buf.is_empty());
        let mut bad = long.into_bytes();
        bad[7] = 0xff;
        let blob = c.encrypt_legacy_bytes(&bad);
        let err = c
            .decrypt_in(Format::Legacy, E, &blob, &mut buf)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    }

    #[test]
    fn v2_round_trip_and_layout() {
        let c = Cipher::new(&keys(7));
        let blob = c.encrypt(Format::V2, E, b"sk-123");
        assert_eq!(&blob[..4], V2_MAGIC);
        assert_eq!(&blob[4..12], &c.key_id().0);
        assert_eq!(blob.len(), 4 + 8 + 12 + 6 + 16);
        let (text, info) = c.decrypt(Format::Legacy, E, &blob).unwrap();
        assert_eq!(text.expose(), "sk-123");
        assert_eq!(info.format, Format::V2);
    }

    #[test]
    fn legacy_round_trip_and_layout() {
        let c = Cipher::new(&keys(7));
        let blob = c.encrypt(Format::Legacy, E, b"sk-123");
        assert_eq!(blob.len(), 12 + 6 + 16);
        let (text, info) = c.decrypt(Format::Legacy, E, &blob).unwrap();
        assert_eq!(text.expose(), "sk-123");
        assert_eq!(info.format, Format::Legacy);
    }

    #[test]
    fn v2_blob_moved_to_another_key_vault_or_flag_fails() {
        let c = Cipher::new(&keys(7));
        let blob = c.encrypt(Format::V2, E, b"sk-123");
        for moved in [
            Binding { key: "OTHER", ..E },
            Binding {
                vault: "other",
                ..E
            },
            Binding {
                is_secret: false,
                ..E
            },
        ] {
            let err = c.decrypt(Format::Legacy, moved, &blob).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
            assert!(err.to_string().contains(moved.vault) && err.to_string().contains(moved.key));
        }
    }

    #[test]
    fn any_flipped_bit_fails_to_decrypt() {
        let c = Cipher::new(&keys(7));
        for format in [Format::V2, Format::Legacy] {
            let blob = c.encrypt(format, E, b"value");
            for i in 0..blob.len() {
                let mut bad = blob.clone();
                bad[i] ^= 0x01;
                assert!(c.decrypt(format, E, &bad).is_err(), "{format:?} byte {i}");
            }
            assert!(c.decrypt(format, E, &blob[..blob.len() - 1]).is_err());
            assert!(c.decrypt(format, E, &[]).is_err());
        }
    }

    #[test]
    fn previous_keys_decrypt_and_current_key_encrypts() {
        let old = Cipher::new(&keys(1));
        let v2 = old.encrypt(Format::V2, E, b"a");
        let legacy = old.encrypt(Format::Legacy, E, b"b");
        let both = Cipher::new(&KeySet {
            current: MasterKey::from_bytes([2; 32]),
            previous: vec![MasterKey::from_bytes([1; 32])],
        });
        assert_eq!(
            both.decrypt(Format::Legacy, E, &v2).unwrap().0.expose(),
            "a"
        );
        assert_eq!(
            both.decrypt(Format::Legacy, E, &legacy).unwrap().0.expose(),
            "b"
        );
        assert_eq!(
            both.decrypt(Format::Legacy, E, &legacy).unwrap().1.key_id,
            old.key_id()
        );
        let new = both.encrypt(Format::V2, E, b"c");
        assert!(old.decrypt(Format::Legacy, E, &new).is_err());
        assert_eq!(
            Cipher::new(&keys(2))
                .decrypt(Format::Legacy, E, &new)
                .unwrap()
                .0
                .expose(),
            "c"
        );
    }

    #[test]
    fn legacy_blob_starting_with_v2_magic_still_decrypts() {
        let c = Cipher::new(&keys(9));
        // Seal by hand with a nonce that begins with the v2 magic.
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(V2_MAGIC);
        nonce[4..12].copy_from_slice(&c.key_id().0);
        let blob = seal(&c.0.current.legacy, &[], &nonce, &[], b"legacy value here");
        assert_eq!(
            c.decrypt(Format::Legacy, E, &blob).unwrap().0.expose(),
            "legacy value here"
        );
    }

    #[test]
    fn silent_downgrade_a_v2_store_refuses_a_legacy_blob_planted_in_it() {
        let c = Cipher::new(&keys(7));
        let legacy = c.encrypt(Format::Legacy, E, b"old value");
        let err = c.decrypt(Format::V2, E, &legacy).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
        assert_eq!(
            err.to_string(),
            "decryption failed for key 'OPENAI_API_KEY' in vault 'api-keys'"
        );
        // Even one whose nonce starts with the magic and this key's id.
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(V2_MAGIC);
        nonce[4..12].copy_from_slice(&c.key_id().0);
        let tricky = seal(&c.0.current.legacy, &[], &nonce, &[], b"legacy value here");
        assert!(c.decrypt(Format::V2, E, &tricky).is_err());
        assert!(c.decrypt(Format::Legacy, E, &tricky).is_ok());
        // v2 blobs read in both.
        let v2 = c.encrypt(Format::V2, E, b"new");
        assert_eq!(c.decrypt(Format::V2, E, &v2).unwrap().0.expose(), "new");
        assert_eq!(c.decrypt(Format::Legacy, E, &v2).unwrap().0.expose(), "new");
    }

    #[test]
    fn legacy_bytes_round_trip_under_the_raw_key_without_associated_data() {
        let c = Cipher::new(&keys(4));
        let blob = c.encrypt_legacy_bytes(b"{\"api_key\":\"x\"}\xff");
        assert_eq!(
            aead_open(&[4; 32], &blob, &[]).unwrap().as_slice(),
            b"{\"api_key\":\"x\"}\xff"
        );
        assert_eq!(
            c.decrypt_legacy_bytes(&blob).unwrap().as_slice(),
            b"{\"api_key\":\"x\"}\xff"
        );
        assert!(Cipher::new(&keys(5)).decrypt_legacy_bytes(&blob).is_none());
    }

    #[test]
    fn version_blob_opens_only_as_its_own_version_of_its_own_entry() {
        let c = Cipher::new(&keys(7));
        let blob = c.encrypt_version(E, 3, b"sk-old");
        assert_eq!(&blob[..4], V2_MAGIC);
        assert_eq!(&blob[4..12], &c.key_id().0);
        assert_eq!(c.decrypt_version(E, 3, &blob).unwrap().0.expose(), "sk-old");
        // Not as a current value, not as another version, key, vault or flag.
        assert_eq!(
            c.decrypt(Format::Legacy, E, &blob).unwrap_err().kind(),
            ErrorKind::DecryptionFailed
        );
        for (at, version) in [
            (E, 4),
            (E, 0),
            (Binding { key: "OTHER", ..E }, 3),
            (
                Binding {
                    vault: "other",
                    ..E
                },
                3,
            ),
            (
                Binding {
                    is_secret: false,
                    ..E
                },
                3,
            ),
        ] {
            let err = c.decrypt_version(at, version, &blob).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("version {version} of key '{}'", at.key)),
                "{msg}"
            );
            assert!(msg.contains(at.vault), "{msg}");
        }
        // A current value's blob does not open as a version either.
        let current = c.encrypt(Format::V2, E, b"sk-old");
        assert!(c.decrypt_version(E, 3, &current).is_err());
        assert!(c
            .decrypt_version(E, 3, &c.encrypt(Format::Legacy, E, b"x"))
            .is_err());
    }

    #[test]
    fn version_blob_under_a_previous_key_still_opens() {
        let old = Cipher::new(&keys(1));
        let blob = old.encrypt_version(E, 9, b"v");
        let both = Cipher::new(&KeySet {
            current: MasterKey::from_bytes([2; 32]),
            previous: vec![MasterKey::from_bytes([1; 32])],
        });
        let (text, info) = both.decrypt_version(E, 9, &blob).unwrap();
        assert_eq!(text.expose(), "v");
        assert_eq!(info.key_id, old.key_id());
        assert!(Cipher::new(&keys(2)).decrypt_version(E, 9, &blob).is_err());
    }

    #[test]
    fn nonces_do_not_repeat() {
        let c = Cipher::new(&keys(3));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let blob = c.encrypt(Format::Legacy, E, b"");
            assert!(seen.insert(blob[..12].to_vec()));
        }
    }
}
