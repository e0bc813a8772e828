//! The export / import document (SPEC §6):
//! `{"format": 1, "vaults": [{"name", "description", "entries": [{"key", "value", "is_secret"}]}]}`.

use serde_json::Value;

use crate::error::{shown, Error, Result};
use crate::names;
use crate::secret::SecretString;

/// The only document format there is so far.
pub const EXPORT_FORMAT: u64 = 1;

/// A whole store in plaintext. `Debug` never shows values.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportDocument {
    /// The document format, [`EXPORT_FORMAT`].
    pub format: u64,
    /// Every vault, sorted by name.
    pub vaults: Vec<ExportVault>,
}

/// One vault of an [`ExportDocument`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportVault {
    /// The vault's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its entries, sorted by key.
    pub entries: Vec<ExportEntry>,
}

/// One entry of an [`ExportVault`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportEntry {
    /// The entry's key.
    pub key: String,
    /// The plaintext value.
    pub value: SecretString,
    /// Whether the value is secret.
    pub is_secret: bool,
}

impl ExportDocument {
    /// The document as pretty JSON (it holds plaintext: the string is wiped on drop).
    pub fn to_json(&self) -> SecretString {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            format: u64,
            vaults: &'a [ExportVault],
        }
        // Into an exactly sized buffer: no unwiped reallocation of the plaintext.
        crate::secret::secret_json(
            &Wire {
                format: EXPORT_FORMAT,
                vaults: &self.vaults,
            },
            true,
        )
    }

    /// Writes the document to a new file created with mode 0600. An existing
    /// file (or a symlink planted at the path) is refused, never replaced; a
    /// file left half-written by a failure is removed.
    pub fn write_new_file(&self, path: &std::path::Path) -> Result<()> {
        write_new_private(path, |file| {
            use std::io::Write;
            let json = self.to_json();
            file.write_all(json.expose().as_bytes())?;
            file.write_all(b"\n")
        })
    }

    /// Writes the document encrypted to age recipients (`age1...`, as made by
    /// `age-keygen` or `rage-keygen`) to a new file, by the same rules as
    /// [`ExportDocument::write_new_file`]: only their identities can read it,
    /// with `age -d -i KEY FILE` or [`ExportDocument::read_encrypted_file`].
    #[cfg(feature = "age")]
    pub fn write_new_file_encrypted<S: AsRef<str>>(
        &self,
        path: &std::path::Path,
        recipients: &[S],
    ) -> Result<()> {
        let recipients = parse_recipients(recipients)?;
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| Error::InvalidInput(format!("age recipients: {e}")))?;
        write_new_private(path, |file| {
            use std::io::Write;
            let mut out = encryptor.wrap_output(file)?;
            let json = self.to_json();
            out.write_all(json.expose().as_bytes())?;
            out.write_all(b"\n")?;
            out.finish().map(drop)
        })
    }

    /// Reads and parses a document file (see [`ExportDocument::from_json`]).
    /// A file encrypted with age is refused with a message saying so.
    pub fn read_file(path: &std::path::Path) -> Result<ExportDocument> {
        let at = |message: String| Error::Io {
            path: path.display().to_string(),
            message,
        };
        let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| at(e.to_string()))?);
        if is_age_encrypted(&bytes) {
            return Err(at(
                "it is encrypted with age: decrypt it with its identity (runqy-vault import \
                 FILE --identity IDENTITY_FILE)"
                    .to_owned(),
            ));
        }
        let text =
            std::str::from_utf8(&bytes).map_err(|_| at("the file is not UTF-8 text".to_owned()))?;
        ExportDocument::from_json(text)
    }

    /// Reads a document that [`ExportDocument::write_new_file_encrypted`]
    /// (or `age -r`, armored or not) wrote, with the identities of
    /// `identity_file` (an age key file, `AGE-SECRET-KEY-1...`).
    #[cfg(feature = "age")]
    pub fn read_encrypted_file(
        path: &std::path::Path,
        identity_file: &std::path::Path,
    ) -> Result<ExportDocument> {
        let shown = path.display().to_string();
        let at = |message: String| Error::Io {
            path: shown.clone(),
            message,
        };
        let identities = age::IdentityFile::from_file(identity_file.to_string_lossy().into_owned())
            .map_err(|e| Error::Io {
                path: identity_file.display().to_string(),
                message: format!("not a readable age identity file: {e}"),
            })?
            .into_identities()
            .map_err(|e| Error::Io {
                path: identity_file.display().to_string(),
                message: format!("not a usable age identity file: {e}"),
            })?;
        let sealed = std::fs::read(path).map_err(|e| at(e.to_string()))?;
        if !is_age_encrypted(&sealed) {
            return Err(at(
                "it is not encrypted with age: import it without --identity".to_owned(),
            ));
        }
        let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&sealed[..]))
            .map_err(|e| at(format!("not a valid age file: {e}")))?;
        let mut reader = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => Error::InvalidInput(format!(
                    "{shown}: no identity in {} can decrypt it: it was encrypted to other recipients",
                    identity_file.display()
                )),
                other => at(format!("cannot decrypt it: {other}")),
            })?;
        // Sized for the whole plaintext (never longer than the file): no
        // unwiped copy left behind by growing.
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(sealed.len()));
        std::io::Read::read_to_end(&mut reader, &mut plain).map_err(|e| {
            at(format!(
                "cannot decrypt it: {e} (the file was cut or altered)"
            ))
        })?;
        let text =
            std::str::from_utf8(&plain).map_err(|_| at("the plaintext is not UTF-8".to_owned()))?;
        ExportDocument::from_json(text)
    }

    /// Parses a document, checking its shape, every name and every value.
    /// Errors point at the vault and key, never quote a value.
    ///
    /// ```
    /// use runqy_vault::ExportDocument;
    /// let doc = ExportDocument::from_json(r#"{"format": 1, "vaults": [
    ///     {"name": "ci", "description": "", "entries": [{"key": "TOKEN", "value": "t", "is_secret": true}]}]}"#)?;
    /// assert_eq!(doc.vaults[0].entries[0].key, "TOKEN");
    /// assert!(ExportDocument::from_json(r#"{"format": 1, "vaults": [{"name": "PATH", "entries": []}]}"#).is_err());
    /// # Ok::<(), runqy_vault::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<ExportDocument> {
        // Parsed as a tree first: serde's typed errors may quote the input (a value).
        let root: Value = serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let obj = root
            .as_object()
            .ok_or_else(|| bad("the document must be a JSON object".into()))?;
        match obj.get("format").and_then(Value::as_u64) {
            Some(EXPORT_FORMAT) => {}
            _ => return Err(bad(format!("\"format\" must be {EXPORT_FORMAT}"))),
        }
        let vaults = obj
            .get("vaults")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("\"vaults\" must be an array".into()))?;
        let mut doc = ExportDocument {
            format: EXPORT_FORMAT,
            vaults: Vec::with_capacity(vaults.len()),
        };
        for (i, v) in vaults.iter().enumerate() {
            let v = v
                .as_object()
                .ok_or_else(|| bad(format!("vaults[{i}] must be an object")))?;
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("vaults[{i}].name must be a string")))?;
            let shown_name = shown(name);
            let description = match v.get("description") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => {
                    return Err(bad(format!(
                        "vault '{shown_name}': description must be a string"
                    )))
                }
            };
            let entries = match v.get("entries") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(a)) => a.as_slice(),
                Some(_) => {
                    return Err(bad(format!(
                        "vault '{shown_name}': entries must be an array"
                    )))
                }
            };
            let mut vault = ExportVault {
                name: name.to_owned(),
                description: description.to_owned(),
                entries: Vec::with_capacity(entries.len()),
            };
            for (j, e) in entries.iter().enumerate() {
                let e = e.as_object().ok_or_else(|| {
                    bad(format!(
                        "vault '{shown_name}': entries[{j}] must be an object"
                    ))
                })?;
                let key = e.get("key").and_then(Value::as_str).ok_or_else(|| {
                    bad(format!(
                        "vault '{shown_name}': entries[{j}].key must be a string"
                    ))
                })?;
                let shown_key = shown(key);
                let value = e.get("value").and_then(Value::as_str).ok_or_else(|| {
                    bad(format!(
                        "vault '{shown_name}': entry '{shown_key}': value must be a string"
                    ))
                })?;
                let is_secret = match e.get("is_secret") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(bad(format!(
                            "vault '{shown_name}': entry '{shown_key}': is_secret must be true or false"
                        )))
                    }
                };
                vault.entries.push(ExportEntry {
                    key: key.to_owned(),
                    value: value.into(),
                    is_secret,
                });
            }
            doc.vaults.push(vault);
        }
        doc.validate()?;
        Ok(doc)
    }

    /// Checks every name and value, and that no vault or key appears twice.
    pub fn validate(&self) -> Result<()> {
        let mut seen_vaults = std::collections::HashSet::new();
        for vault in &self.vaults {
            names::check_vault_name(&vault.name)?;
            if !seen_vaults.insert(vault.name.as_str()) {
                return Err(bad(format!(
                    "vault '{}' appears more than once",
                    shown(&vault.name)
                )));
            }
            let mut seen_keys = std::collections::HashSet::new();
            for e in &vault.entries {
                names::check_entry(&vault.name, &e.key, e.value.expose())?;
                if !seen_keys.insert(e.key.as_str()) {
                    return Err(bad(format!(
                        "vault '{}': key '{}' appears more than once",
                        shown(&vault.name),
                        shown(&e.key)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Whether `bytes` are an age file, binary or armored.
pub fn is_age_encrypted(bytes: &[u8]) -> bool {
    let start = bytes.trim_ascii_start();
    start.starts_with(b"age-encryption.org/")
        || start.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

#[cfg(feature = "age")]
fn parse_recipients<S: AsRef<str>>(recipients: &[S]) -> Result<Vec<age::x25519::Recipient>> {
    if recipients.is_empty() {
        return Err(Error::InvalidInput(
            "an encrypted export needs at least one age recipient".to_owned(),
        ));
    }
    recipients
        .iter()
        .map(|r| {
            let r = r.as_ref().trim();
            r.parse::<age::x25519::Recipient>().map_err(|why| {
                let shown: String = r.chars().take(80).flat_map(char::escape_debug).collect();
                Error::InvalidInput(format!(
                    "'{shown}' is not an age recipient ({why}): give a public key age1... \
                     as age-keygen prints it"
                ))
            })
        })
        .collect()
}

/// Creates `path` new (O_EXCL, mode 0600), lets `fill` write it, syncs it,
/// and removes it again when anything failed.
fn write_new_private(
    path: &std::path::Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true) // O_EXCL
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Io {
                path: path.display().to_string(),
                message: "already exists; export writes only to a new file".to_owned(),
            },
            _ => io(e),
        })?;
    let written = fill(&mut file).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A partial document is of no use to anyone: remove it.
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(())
}

fn bad(msg: String) -> Error {
    Error::InvalidInput(format!("import document: {msg}"))
}
