//! A string that holds a secret: wiped when dropped, never printed by `Debug`.

use std::fmt;
use zeroize::Zeroizing;

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
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// The secret text. The name makes each use visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Moves the text out; the caller now owns the duty to wipe it.
    pub fn into_zeroizing(self) -> Zeroizing<String> {
        self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(Zeroizing::new(s))
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(Zeroizing::new(s.to_owned()))
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
