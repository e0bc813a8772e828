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
        use std::io::Write;
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
        let json = self.to_json();
        let written = file
            .write_all(json.expose().as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            // A partial plaintext document is of no use to anyone: remove it.
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        Ok(())
    }

    /// Reads and parses a document file (see [`ExportDocument::from_json`]).
    pub fn read_file(path: &std::path::Path) -> Result<ExportDocument> {
        let at = |message: String| Error::Io {
            path: path.display().to_string(),
            message,
        };
        let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| at(e.to_string()))?);
        let text =
            std::str::from_utf8(&bytes).map_err(|_| at("the file is not UTF-8 text".to_owned()))?;
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

fn bad(msg: String) -> Error {
    Error::InvalidInput(format!("import document: {msg}"))
}
