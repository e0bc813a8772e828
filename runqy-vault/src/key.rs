//! The master key (SPEC §1): parsing, where it comes from, its key id.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The variable holding the master key as base64.
pub const ENV_MASTER_KEY: &str = "RUNQY_VAULT_MASTER_KEY";
/// The variable holding the path of a file that holds the master key.
pub const ENV_MASTER_KEY_FILE: &str = "RUNQY_VAULT_MASTER_KEY_FILE";
/// The variable holding older keys, comma-separated, used only to read.
pub const ENV_MASTER_KEY_PREVIOUS: &str = "RUNQY_VAULT_MASTER_KEY_PREVIOUS";

/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;
const INFO_ENC: &[u8] = b"runqy-vault v2 enc";
const INFO_KEY_ID: &[u8] = b"runqy-vault v2 key-id";

/// The 8-byte identifier of a master key, `HKDF-SHA256(key, info = "runqy-vault v2 key-id")`.
/// Shown as 16 lowercase hex digits. It reveals nothing usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Parses the 16-hex-digit form stored in the meta table.
    pub fn from_hex(s: &str) -> Option<KeyId> {
        let mut out = [0u8; 8];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(KeyId(out))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte AES-256 master key. Wiped on drop; `Debug` shows only its key id.
///
/// ```
/// use runqy_vault::MasterKey;
/// let key = MasterKey::generate();
/// let again = MasterKey::parse(key.to_base64().expose(), "example").unwrap();
/// assert_eq!(key.key_id(), again.key_id());
/// assert!(!format!("{key:?}").contains(key.to_base64().expose()));
/// ```
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    /// Parses the text form: standard base64 (surrounding whitespace trimmed)
    /// of exactly 32 bytes. `source_name` says where the text came from, for
    /// the error message; the text itself is never echoed.
    pub fn parse(text: &str, source_name: &str) -> Result<MasterKey> {
        let invalid = |reason: String| Error::InvalidMasterKey {
            source_name: source_name.to_owned(),
            reason,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty or only whitespace".to_owned()));
        }
        if let Some(pos) = text
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
        {
            return Err(invalid(format!(
                "character {} is outside the standard base64 alphabet (A-Z a-z 0-9 + / =)",
                pos + 1
            )));
        }
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    invalid(format!(
                        "{} characters of text are not valid standard base64 (bad padding or length); \
                         make one with `openssl rand -base64 32`",
                        text.len()
                    ))
                })?,
        );
        if decoded.len() != KEY_LEN {
            return Err(invalid(format!(
                "it decodes to {} bytes, but a master key is exactly {KEY_LEN} bytes \
                 (make one with `openssl rand -base64 32`)",
                decoded.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(MasterKey { bytes })
    }

    /// Reads a key from a file (as `rotate-key --new-key-file` does), by the
    /// same rules as the file `RUNQY_VAULT_MASTER_KEY_FILE` names.
    pub fn from_file(path: &Path) -> Result<MasterKey> {
        let source = path.display().to_string();
        let text = read_key_file(path, &source)?;
        MasterKey::parse(&text, &source)
    }

    /// Reads a key from a stream (standard input), named `source_name` in errors.
    pub fn from_reader(mut reader: impl std::io::Read, source_name: &str) -> Result<MasterKey> {
        let mut bytes = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::InvalidMasterKey {
                source_name: source_name.to_owned(),
                reason: format!("cannot read it: {e}"),
            })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| Error::InvalidMasterKey {
            source_name: source_name.to_owned(),
            reason: "it is not UTF-8 text".to_owned(),
        })?;
        MasterKey::parse(text, source_name)
    }

    /// A new key of 32 bytes from the operating system's generator.
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut bytes[..]).expect("the operating system's random generator failed");
        MasterKey { bytes }
    }

    /// Builds a key from raw bytes (tests, vectors).
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> MasterKey {
        MasterKey {
            bytes: Zeroizing::new(raw),
        }
    }

    /// The text form, standard base64.
    pub fn to_base64(&self) -> SecretString {
        base64::engine::general_purpose::STANDARD
            .encode(&self.bytes[..])
            .into()
    }

    /// The raw bytes: the legacy format's AES key.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// `HKDF-SHA256(ikm = key, salt = empty, info = "runqy-vault v2 enc")`: the v2 AES key.
    pub(crate) fn v2_enc_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(None, &self.bytes[..])
            .expand(INFO_ENC, &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        let mut out = [0u8; 8];
        Hkdf::<Sha256>::new(None, &self.bytes[..])
            .expand(INFO_KEY_ID, &mut out)
            .expect("8 bytes is a valid HKDF-SHA256 output length");
        KeyId(out)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MasterKey {{ key_id: {}, bytes: [REDACTED] }}",
            self.key_id()
        )
    }
}

/// The keys a store is opened with: the current one, which writes, and
/// older ones that may still be needed to read (rolling rotation).
#[derive(Clone, Debug)]
pub struct KeySet {
    /// The key new values are written under.
    pub current: MasterKey,
    /// Older keys, only to read values still under them.
    pub previous: Vec<MasterKey>,
}

/// Where the master key is to come from.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// `RUNQY_VAULT_MASTER_KEY`, `_FILE` and `_PREVIOUS` (SPEC §1).
    #[default]
    Environment,
    /// A key given by the API; the environment is then not consulted.
    Explicit(KeySet),
    /// No key: the store opens disabled.
    None,
}

impl KeySource {
    /// A key given as text by the API (which wins over the environment).
    pub fn explicit(text: &str) -> Result<KeySource> {
        Ok(KeySource::Explicit(KeySet {
            current: MasterKey::parse(text, "the key given")?,
            previous: Vec::new(),
        }))
    }

    /// Resolves the source into keys; `Ok(None)` means no key is configured.
    pub fn load(&self) -> Result<Option<KeySet>> {
        match self {
            KeySource::Explicit(keys) => Ok(Some(keys.clone())),
            KeySource::None => Ok(None),
            KeySource::Environment => load_from(|name| std::env::var_os(name)),
        }
    }
}

/// Reads the key configuration through `var` (the environment, or a test's map).
pub(crate) fn load_from(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<KeySet>> {
    let text_of = |name: &str| -> Result<Option<Zeroizing<String>>> {
        match var(name) {
            None => Ok(None),
            Some(v) => v
                .into_string()
                .map(|s| Some(Zeroizing::new(s)))
                .map_err(|_| Error::InvalidMasterKey {
                    source_name: name.to_owned(),
                    reason: "it is not valid UTF-8 text".to_owned(),
                }),
        }
    };
    // Empty is unset (as upstream reads it); whitespace only is a key that
    // is set but not valid, never "not configured" (SPEC §1).
    let direct = text_of(ENV_MASTER_KEY)?.filter(|s| !s.is_empty());
    let file = text_of(ENV_MASTER_KEY_FILE)?.filter(|s| !s.is_empty());
    let current = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidMasterKey {
                source_name: format!("{ENV_MASTER_KEY} and {ENV_MASTER_KEY_FILE}"),
                reason: "both are set; set only one".to_owned(),
            })
        }
        (None, None) => return Ok(None),
        (Some(text), None) => MasterKey::parse(&text, ENV_MASTER_KEY)?,
        (None, Some(path)) => {
            let source = format!("{ENV_MASTER_KEY_FILE} ({})", path.trim());
            let text = read_key_file(Path::new(path.trim()), &source)?;
            MasterKey::parse(&text, &source)?
        }
    };
    let mut previous = Vec::new();
    if let Some(list) = text_of(ENV_MASTER_KEY_PREVIOUS)? {
        for (i, part) in list.split(',').enumerate() {
            if part.trim().is_empty() {
                continue;
            }
            let source = format!("{ENV_MASTER_KEY_PREVIOUS} (item {})", i + 1);
            previous.push(MasterKey::parse(part, &source)?);
        }
    }
    Ok(Some(KeySet { current, previous }))
}

fn read_key_file(path: &Path, source: &str) -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| Error::InvalidMasterKey {
        source_name: source.to_owned(),
        reason: format!("cannot read the file: {e}"),
    })?);
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => Err(Error::InvalidMasterKey {
            source_name: source.to_owned(),
            reason: "the file is not UTF-8 text".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::collections::HashMap;
    use std::ffi::OsString;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).map(OsString::from)
    }

    #[test]
    fn parse_accepts_openssl_output_with_surrounding_whitespace() {
        let key = MasterKey::parse(&format!("  {KEY_A}\n"), "test").unwrap();
        let expected: Vec<u8> = (0u8..32).collect();
        assert_eq!(&key.bytes()[..], &expected[..]);
    }

    #[test]
    fn parse_rejects_wrong_length_and_alphabet_without_echoing_the_key() {
        let short = "c2hvcnRrZXlzaG9ydGtleQ=="; // 16 bytes
        let err = MasterKey::parse(short, "RUNQY_VAULT_MASTER_KEY").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
        let msg = err.to_string();
        assert!(
            msg.contains("16 bytes") && msg.contains("32 bytes"),
            "{msg}"
        );
        assert!(
            msg.contains("RUNQY_VAULT_MASTER_KEY") && !msg.contains(short),
            "{msg}"
        );

        let urlsafe = KEY_A.replace('E', "-");
        let msg = MasterKey::parse(&urlsafe, "x").unwrap_err().to_string();
        assert!(msg.contains("alphabet") && !msg.contains(&urlsafe), "{msg}");

        let msg = MasterKey::parse("AAAAA", "x").unwrap_err().to_string();
        assert!(msg.contains("base64"), "{msg}");
    }

    #[test]
    fn debug_of_a_key_shows_only_its_id() {
        let key = MasterKey::parse(KEY_A, "test").unwrap();
        let dbg = format!(
            "{key:?} {:?}",
            KeySet {
                current: key.clone(),
                previous: vec![]
            }
        );
        assert!(dbg.contains("REDACTED"));
        assert!(!dbg.contains(KEY_A) && !dbg.contains("0, 1, 2, 3"), "{dbg}");
    }

    #[test]
    fn environment_without_key_is_disabled() {
        assert!(load_from(env(&[])).unwrap().is_none());
        assert!(load_from(env(&[(ENV_MASTER_KEY, "")])).unwrap().is_none());
        assert!(load_from(env(&[(ENV_MASTER_KEY_FILE, "")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn inaccurate_messages_a_whitespace_only_key_is_invalid_not_unconfigured() {
        for blank in ["  ", "\n", " \t\r\n"] {
            let err = load_from(env(&[(ENV_MASTER_KEY, blank)])).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidMasterKey, "{blank:?}");
            let msg = err.to_string();
            assert!(
                msg.contains(ENV_MASTER_KEY) && msg.contains("only whitespace"),
                "{msg}"
            );
            assert!(!msg.contains("not configured"), "{msg}");
        }
        let err = load_from(env(&[(ENV_MASTER_KEY_FILE, " ")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
    }

    #[test]
    fn environment_with_both_key_and_file_is_an_error() {
        let err =
            load_from(env(&[(ENV_MASTER_KEY, KEY_A), (ENV_MASTER_KEY_FILE, "/x")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMasterKey);
        assert!(err.to_string().contains("both are set"));
    }

    #[test]
    fn environment_key_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = load_from(env(&[(ENV_MASTER_KEY_FILE, path.to_str().unwrap())]))
            .unwrap()
            .unwrap();
        assert_eq!(
            keys.current.key_id(),
            MasterKey::parse(KEY_A, "t").unwrap().key_id()
        );

        let missing = dir.path().join("missing");
        let err = load_from(env(&[(ENV_MASTER_KEY_FILE, missing.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("cannot read the file"), "{err}");
    }

    #[test]
    fn environment_previous_keys_are_parsed_in_order() {
        let other = MasterKey::generate();
        let list = format!("{}, {KEY_A}", other.to_base64().expose());
        let keys = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS, &list),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(keys.previous.len(), 2);
        assert_eq!(keys.previous[0].key_id(), other.key_id());

        let err = load_from(env(&[
            (ENV_MASTER_KEY, KEY_A),
            (ENV_MASTER_KEY_PREVIOUS, "bad!"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("item 1"), "{err}");
    }
}
