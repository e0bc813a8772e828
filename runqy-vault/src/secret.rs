//! A string that holds a secret: wiped when dropped, never printed by `Debug`.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// A secret value (a decrypted entry, an exported document, a key in text form).
///
/// The buffer is zeroed on drop and `Debug` prints `[REDACTED]`, so a value
/// never leaks through a log line or a panic message by accident.
///
/// ```
/// use runqy_vault::SecretString;
/// let s = SecretString::from("hunter2");
/// assert_eq!(s.expose(), "hunter2");
/// assert_eq!(format!("{s:?}"), "[REDACTED]");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String); // wiped by `Drop` below

impl Drop for SecretString {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0));
    }
}

/// Zeroes a string's whole allocation (see [`wipe_vec`]).
fn wipe(s: String) {
    wipe_vec(&mut s.into_bytes());
}

/// Zeroes all of `bytes`' allocation, contents and spare capacity alike, and
/// leaves it empty: one `memset` and zeroize's barrier over the capacity as
/// a slice, where zeroize wipes a `Vec` element by element (dropping a
/// 16 KiB value cost more than decrypting it). A buffer that owns no
/// allocation is left alone: zeroize would `memset` zero bytes at its
/// dangling address, and glibc's AVX-512 `memset` does that with a masked
/// store whose fault suppression there costs ~125 ns on this AMD host, more
/// than opening a 64-byte value.
pub(crate) fn wipe_vec(bytes: &mut Vec<u8>) {
    if bytes.capacity() == 0 {
        return;
    }
    bytes.clear();
    bytes.spare_capacity_mut().zeroize();
}

/// Plaintext bytes on their way to becoming a value: wiped by [`wipe_vec`]
/// when dropped, so a failed check or an unwind leaves nothing behind.
#[derive(Default)]
pub(crate) struct PlainBytes(pub(crate) Vec<u8>);

impl Drop for PlainBytes {
    fn drop(&mut self) {
        wipe_vec(&mut self.0);
    }
}

impl SecretString {
    /// The secret text. The name makes each use visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Moves the text out; the caller now owns the duty to wipe it.
    pub fn into_zeroizing(mut self) -> Zeroizing<String> {
        Zeroizing::new(std::mem::take(&mut self.0))
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

/// Serializes `value` as JSON into a buffer sized exactly beforehand, so no
/// reallocation leaves an unwiped copy of the plaintext in freed memory.
pub(crate) fn secret_json<T: serde::Serialize>(value: &T, pretty: bool) -> SecretString {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    fn write<T: serde::Serialize, W: std::io::Write>(w: W, value: &T, pretty: bool) {
        let written = if pretty {
            serde_json::to_writer_pretty(w, value)
        } else {
            serde_json::to_writer(w, value)
        };
        written.expect("maps and lists of strings always serialize");
    }
    let mut count = Count(0);
    write(&mut count, value, pretty);
    // `PlainBytes`, not `Zeroizing`: emptied below, it must not be wiped at
    // its dangling address (see `wipe_vec`).
    let mut buf = PlainBytes(Vec::with_capacity(count.0));
    write(&mut buf.0, value, pretty);
    debug_assert_eq!(buf.0.len(), count.0);
    let bytes = std::mem::take(&mut buf.0);
    SecretString(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_vec_zeroes_the_bytes_and_the_spare_capacity() {
        let mut s = String::with_capacity(64);
        s.push_str("hunter2-hunter2");
        s.push_str("-spare");
        s.truncate(15); // "-spare" is now in the spare capacity
        let mut bytes = s.into_bytes();
        wipe_vec(&mut bytes);
        assert!(bytes.is_empty());
        let all = bytes.capacity();
        // SAFETY: every byte of the allocation was just written (zeroed).
        let seen = unsafe { std::slice::from_raw_parts(bytes.as_ptr(), all) };
        assert!(seen.iter().all(|&b| b == 0), "{seen:?}");
    }

    #[test]
    fn secret_json_fills_its_buffer_exactly() {
        let map =
            std::collections::BTreeMap::from([("A", "x".repeat(1000)), ("B", "é\"\n".to_owned())]);
        let json = secret_json(&map, false);
        assert_eq!(json.expose(), serde_json::to_string(&map).unwrap());
        assert_eq!(json.0.capacity(), json.0.len());
        let pretty = secret_json(&map, true);
        assert_eq!(pretty.expose(), serde_json::to_string_pretty(&map).unwrap());
    }
}
