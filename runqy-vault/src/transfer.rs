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
        encrypted_export(path, recipients, |out| {
            let json = self.to_json();
            out.write_all(json.expose().as_bytes())?;
            out.write_all(b"\n")
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
        let identities = age_identities(identity_file)?;
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

/// What [`Store::export_to`](crate::Store::export_to) wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// How many vaults.
    pub vaults: usize,
    /// How many entries.
    pub entries: usize,
}

/// Writes the document of [`ExportDocument::to_json`] (the same bytes, but
/// for the final newline this adds) to `out` a vault at a time: `produce`
/// calls its argument once per vault, in order, so only one vault's values
/// are ever in memory. The plaintext passes through one fixed buffer, wiped
/// when dropped.
pub(crate) fn write_document(
    out: &mut dyn std::io::Write,
    produce: impl FnOnce(&mut dyn FnMut(&ExportVault) -> Result<()>) -> Result<()>,
) -> Result<ExportSummary> {
    use serde::ser::{Error as _, SerializeSeq, SerializeStruct, Serializer};
    use std::cell::{Cell, RefCell};

    type Producer<'p> = dyn FnOnce(&mut dyn FnMut(&ExportVault) -> Result<()>) -> Result<()> + 'p;
    struct Vaults<'p> {
        produce: RefCell<Option<Box<Producer<'p>>>>,
        failed: RefCell<Option<Error>>,
        summary: Cell<ExportSummary>,
    }
    impl serde::Serialize for Vaults<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let Some(produce) = self.produce.borrow_mut().take() else {
                return Err(S::Error::custom("the vaults were already written"));
            };
            let mut seq = s.serialize_seq(None)?;
            let mut summary = ExportSummary::default();
            let mut written: Option<S::Error> = None;
            let produced = produce(&mut |vault| {
                seq.serialize_element(vault).map_err(|e| {
                    let message = e.to_string();
                    written = Some(e);
                    Error::storage(message)
                })?;
                summary.vaults += 1;
                summary.entries += vault.entries.len();
                Ok(())
            });
            if let Some(e) = written {
                return Err(e);
            }
            if let Err(e) = produced {
                *self.failed.borrow_mut() = Some(e);
                return Err(S::Error::custom("the export stopped"));
            }
            self.summary.set(summary);
            seq.end()
        }
    }

    let vaults = Vaults {
        produce: RefCell::new(Some(Box::new(produce))),
        failed: RefCell::new(None),
        summary: Cell::new(ExportSummary::default()),
    };
    let mut buf = WipedBuf::new(out);
    let mut ser = serde_json::Serializer::pretty(&mut buf);
    let written = (|| {
        let mut doc = (&mut ser).serialize_struct("ExportDocument", 2)?;
        doc.serialize_field("format", &EXPORT_FORMAT)?;
        doc.serialize_field("vaults", &vaults)?;
        SerializeStruct::end(doc)
    })();
    if let Some(e) = vaults.failed.into_inner() {
        return Err(e);
    }
    let io = |e: std::io::Error| Error::Io {
        path: "the export".to_owned(),
        message: e.to_string(),
    };
    written.map_err(|e| io(e.into()))?;
    std::io::Write::write_all(&mut buf, b"\n").map_err(io)?;
    buf.flush_inner().map_err(io)?;
    Ok(vaults.summary.get())
}

/// A write buffer of fixed capacity that is never reallocated (a grown
/// buffer would leave an unwiped copy of the plaintext) and is wiped on drop.
struct WipedBuf<'w> {
    out: &'w mut dyn std::io::Write,
    buf: zeroize::Zeroizing<Vec<u8>>,
}

impl<'w> WipedBuf<'w> {
    const CAPACITY: usize = 64 * 1024;

    fn new(out: &'w mut dyn std::io::Write) -> Self {
        WipedBuf {
            out,
            buf: zeroize::Zeroizing::new(Vec::with_capacity(Self::CAPACITY)),
        }
    }

    fn flush_inner(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(self)?;
        self.out.flush()
    }
}

impl std::io::Write for WipedBuf<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > Self::CAPACITY {
            self.flush()?;
        }
        if data.len() > Self::CAPACITY {
            return self.out.write(data);
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Writes an export to a new file by the rules of
/// [`ExportDocument::write_new_file`] (or, with `recipients`, of
/// [`ExportDocument::write_new_file_encrypted`]), with `fill` streaming the
/// document into it, as [`Store::export_to`](crate::Store::export_to) does:
/// a store of any size is exported in bounded memory.
pub fn write_new_export<T, S: AsRef<str>>(
    path: &std::path::Path,
    recipients: &[S],
    fill: impl FnOnce(&mut dyn std::io::Write) -> Result<T>,
) -> Result<T> {
    let mut result: Option<Result<T>> = None;
    let failed = || std::io::Error::other("the export stopped");
    let written = if recipients.is_empty() {
        write_new_private(path, |file| {
            let r = fill(file);
            let ok = r.is_ok();
            result = Some(r);
            if ok {
                Ok(())
            } else {
                Err(failed())
            }
        })
    } else {
        encrypted_export(path, recipients, |out| {
            let r = fill(out);
            let ok = r.is_ok();
            result = Some(r);
            if ok {
                Ok(())
            } else {
                Err(failed())
            }
        })
    };
    match (written, result) {
        (_, Some(Err(e))) => Err(e),
        (Err(e), _) => Err(e),
        (Ok(()), Some(Ok(t))) => Ok(t),
        (Ok(()), None) => Err(Error::storage("the export wrote nothing")),
    }
}

#[cfg(feature = "age")]
fn encrypted_export<S: AsRef<str>>(
    path: &std::path::Path,
    recipients: &[S],
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    let recipients = parse_recipients(recipients)?;
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::InvalidInput(format!("age recipients: {e}")))?;
    write_new_private(path, |file| {
        let mut out = encryptor.wrap_output(file)?;
        fill(&mut out)?;
        out.finish().map(drop)
    })
}

#[cfg(not(feature = "age"))]
fn encrypted_export<S: AsRef<str>>(
    _path: &std::path::Path,
    _recipients: &[S],
    _fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    Err(Error::InvalidInput(
        "this build has no age support: export in plaintext".to_owned(),
    ))
}

/// What [`read_document`] hands over, in document order: each vault (again
/// when its description came after its entries) and each of its entries,
/// every name and value checked by the rules of [`ExportDocument::from_json`].
pub(crate) trait ImportSink {
    /// A vault and its description (empty when it has none so far).
    fn vault(&mut self, name: &str, description: &str) -> Result<()>;
    /// One entry of the vault last handed over.
    fn entry(&mut self, vault: &str, key: &str, value: &str, is_secret: bool) -> Result<()>;
}

/// An [`ImportSink`] that only counts: [`read_document`] into it checks a
/// whole document without keeping any of it.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// How many entries the document holds.
    pub entries: u64,
}

impl ImportSink for Checked {
    fn vault(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
    fn entry(&mut self, _: &str, _: &str, _: &str, _: bool) -> Result<()> {
        self.entries += 1;
        Ok(())
    }
}

/// Where a document is read from, for the messages of [`read_document`].
pub(crate) struct Source<'a> {
    /// The file, as messages show it.
    pub path: &'a str,
    /// Whether it is decrypted with age on the way (a read error then means
    /// a cut or altered file).
    pub age: bool,
}

/// Reads an export document from `reader` a value at a time (serde_json's
/// streaming deserializer: the document is never in memory whole), checking
/// it by the rules of [`ExportDocument::from_json`] and handing every vault
/// and entry to `sink` in order. Errors point at the vault and key and never
/// quote a value; `sink`'s errors stop the reading and are returned as they are.
pub(crate) fn read_document(
    reader: impl std::io::Read,
    source: &Source<'_>,
    sink: &mut dyn ImportSink,
) -> Result<()> {
    use serde::de::DeserializeSeed;
    let mut utf8 = Utf8Checked::new(reader);
    let mut state = ReadState {
        sink,
        failed: None,
        wrong_type: None,
        vault_names: std::collections::HashSet::new(),
        format: false,
        vaults: false,
    };
    let read = {
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(
            64 * 1024,
            &mut utf8,
        ));
        Top(&mut state).deserialize(&mut de).and_then(|()| de.end())
    };
    if let Some(e) = state.failed {
        return Err(e);
    }
    let at = |message: String| Error::Io {
        path: source.path.to_owned(),
        message,
    };
    if let Err(e) = read {
        if utf8.bad {
            return Err(at("the file is not UTF-8 text".to_owned()));
        }
        if e.is_data() {
            if let Some(why) = state.wrong_type {
                return Err(bad(why));
            }
        }
        if e.is_io() {
            let e = std::io::Error::from(e);
            return Err(at(match source.age {
                true => format!("cannot decrypt it: {e} (the file was cut or altered)"),
                false => e.to_string(),
            }));
        }
        return Err(bad(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )));
    }
    if !state.format {
        return Err(bad(format!("\"format\" must be {EXPORT_FORMAT}")));
    }
    if !state.vaults {
        return Err(bad("\"vaults\" must be an array".into()));
    }
    Ok(())
}

/// A reader that checks its bytes are UTF-8 as they pass, so a binary file
/// is named as such rather than as a JSON syntax error somewhere.
struct Utf8Checked<R> {
    inner: R,
    /// The bytes of a character cut by the end of the last read.
    carry: Vec<u8>,
    bad: bool,
}

impl<R: std::io::Read> Utf8Checked<R> {
    fn new(inner: R) -> Self {
        Utf8Checked {
            inner,
            carry: Vec::with_capacity(4),
            bad: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Utf8Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !self.carry.is_empty() {
                self.bad = true;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not UTF-8",
                ));
            }
            return Ok(0);
        }
        // Check the cut character of the last read with the first bytes of this one.
        let mut start = 0;
        if !self.carry.is_empty() {
            while start < n && self.carry.len() < 4 {
                self.carry.push(buf[start]);
                start += 1;
                match std::str::from_utf8(&self.carry) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_some() => {
                        self.bad = true;
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "not UTF-8",
                        ));
                    }
                    Err(_) => {}
                }
            }
            if std::str::from_utf8(&self.carry).is_err() {
                if self.carry.len() >= 4 {
                    self.bad = true;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "not UTF-8",
                    ));
                }
                return Ok(n); // still cut: the next read completes it
            }
            self.carry.clear();
        }
        match std::str::from_utf8(&buf[start..n]) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry
                    .extend_from_slice(&buf[start + e.valid_up_to()..n]);
            }
            Err(_) => {
                self.bad = true;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not UTF-8",
                ));
            }
        }
        Ok(n)
    }
}

struct ReadState<'s> {
    sink: &'s mut dyn ImportSink,
    /// The first error of ours (serde's own may quote the input).
    failed: Option<Error>,
    /// What a value of the wrong type at the place being read means: set
    /// before each streamed value, cleared once its type is the right one,
    /// so serde's own type errors (which quote the input) are never shown.
    wrong_type: Option<String>,
    vault_names: std::collections::HashSet<String>,
    format: bool,
    vaults: bool,
}

impl ReadState<'_> {
    /// Keeps `e` and stops the deserializer with an error that says nothing.
    fn fail<E: serde::de::Error>(&mut self, e: Error) -> E {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
        E::custom("stopped")
    }
}

/// The document: `{"format": 1, "vaults": [...]}`.
struct Top<'a, 's>(&'a mut ReadState<'s>);

impl<'de> serde::de::DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        self.0.wrong_type = Some("the document must be a JSON object".to_owned());
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        let state = self.0;
        state.wrong_type = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "format" => {
                    let v: Value = map.next_value()?;
                    if v.as_u64() != Some(EXPORT_FORMAT) {
                        return Err(state.fail(bad(format!("\"format\" must be {EXPORT_FORMAT}"))));
                    }
                    state.format = true;
                }
                "vaults" => {
                    state.wrong_type = Some("\"vaults\" must be an array".to_owned());
                    map.next_value_seed(Vaults(state))?;
                    state.vaults = true;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `"vaults": [...]`, a vault at a time.
struct Vaults<'a, 's>(&'a mut ReadState<'s>);

impl<'de> serde::de::DeserializeSeed<'de> for Vaults<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Vaults<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let state = self.0;
        state.wrong_type = None;
        let mut i = 0usize;
        loop {
            state.wrong_type = Some(format!("vaults[{i}] must be an object"));
            if seq.next_element_seed(VaultSeed { state, i })?.is_none() {
                state.wrong_type = None;
                return Ok(());
            }
            i += 1;
        }
    }
}

/// One vault object. Its entries are handed over as they are read once its
/// name is known (entries written before the name wait in memory).
struct VaultSeed<'a, 's> {
    state: &'a mut ReadState<'s>,
    i: usize,
}

/// A vault as far as it was read.
struct VaultSoFar {
    name: Option<String>,
    description: Option<String>,
    /// Whether the sink has the vault already.
    announced: bool,
    keys: std::collections::HashSet<String>,
    /// Entries read before the name.
    waiting: Vec<(String, SecretString, bool)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for VaultSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl VaultSeed<'_, '_> {
    /// Checks the vault's name once and hands the vault to the sink.
    fn announce(&mut self, v: &mut VaultSoFar) -> Result<()> {
        let Some(name) = v.name.as_deref() else {
            return Ok(());
        };
        if !v.announced {
            names::check_vault_name(name)?;
            if !self.state.vault_names.insert(name.to_owned()) {
                return Err(bad(format!(
                    "vault '{}' appears more than once",
                    shown(name)
                )));
            }
            self.state
                .sink
                .vault(name, v.description.as_deref().unwrap_or(""))?;
            v.announced = true;
        }
        for (key, value, is_secret) in std::mem::take(&mut v.waiting) {
            entry_checked(self.state.sink, v, &key, &value, is_secret)?;
        }
        Ok(())
    }
}

fn entry_checked(
    sink: &mut dyn ImportSink,
    v: &mut VaultSoFar,
    key: &str,
    value: &SecretString,
    is_secret: bool,
) -> Result<()> {
    let Some(name) = v.name.as_deref() else {
        v.waiting.push((key.to_owned(), value.clone(), is_secret));
        return Ok(());
    };
    names::check_entry(name, key, value.expose())?;
    if !v.keys.insert(key.to_owned()) {
        return Err(bad(format!(
            "vault '{}': key '{}' appears more than once",
            shown(name),
            shown(key)
        )));
    }
    sink.entry(name, key, value.expose(), is_secret)
}

impl<'de> serde::de::Visitor<'de> for VaultSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        self.state.wrong_type = None;
        let i = self.i;
        let mut v = VaultSoFar {
            name: None,
            description: None,
            announced: false,
            keys: std::collections::HashSet::new(),
            waiting: Vec::new(),
        };
        let mut seen_entries = false;
        let shown_name = |v: &VaultSoFar| match &v.name {
            Some(n) => format!("vault '{}'", shown(n)),
            None => format!("vaults[{i}]"),
        };
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "name" => match map.next_value::<Value>()? {
                    Value::String(s) if v.name.is_none() => {
                        v.name = Some(s);
                        if seen_entries {
                            let announced = self.announce(&mut v);
                            announced.map_err(|e| self.state.fail(e))?;
                        }
                    }
                    Value::String(_) => {
                        return Err(self
                            .state
                            .fail(bad(format!("vaults[{i}] has more than one name"))))
                    }
                    _ => {
                        return Err(self
                            .state
                            .fail(bad(format!("vaults[{i}].name must be a string"))))
                    }
                },
                "description" => match map.next_value::<Value>()? {
                    Value::Null => {}
                    Value::String(s) => {
                        let late = v.announced && !s.is_empty();
                        v.description = Some(s);
                        if late {
                            // Merged as import does: a non-empty description replaces the old one.
                            let (name, d) = (v.name.as_deref().unwrap_or(""), &v.description);
                            let r = self.state.sink.vault(name, d.as_deref().unwrap_or(""));
                            r.map_err(|e| self.state.fail(e))?;
                        }
                    }
                    _ => {
                        let e = bad(format!("{}: description must be a string", shown_name(&v)));
                        return Err(self.state.fail(e));
                    }
                },
                "entries" => {
                    if seen_entries {
                        let e = bad(format!("{} has more than one entries list", shown_name(&v)));
                        return Err(self.state.fail(e));
                    }
                    seen_entries = true;
                    if v.name.is_some() {
                        let announced = self.announce(&mut v);
                        announced.map_err(|e| self.state.fail(e))?;
                    }
                    self.state.wrong_type =
                        Some(format!("{}: entries must be an array", shown_name(&v)));
                    map.next_value_seed(Entries {
                        state: &mut *self.state,
                        vault: &mut v,
                    })?;
                    self.state.wrong_type = None;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        if v.name.is_none() {
            return Err(self
                .state
                .fail(bad(format!("vaults[{i}].name must be a string"))));
        }
        let announced = self.announce(&mut v);
        announced.map_err(|e| self.state.fail(e))
    }
}

/// A vault's `"entries": [...]` (or `null`), an entry at a time.
struct Entries<'a, 's> {
    state: &'a mut ReadState<'s>,
    vault: &'a mut VaultSoFar,
}

impl<'de> serde::de::DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Entries<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        self.state.wrong_type = None;
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let Entries { state, vault } = self;
        state.wrong_type = None;
        let at = |v: &VaultSoFar| match &v.name {
            Some(n) => format!("vault '{}'", shown(n)),
            None => "vaults[?]".to_owned(),
        };
        let mut j = 0usize;
        // Each entry is small: read whole, its value moved into a wiped string.
        while let Some(e) = seq.next_element::<EntryFields>()? {
            let EntryFields::Object {
                key,
                value,
                is_secret,
            } = e
            else {
                return Err(state.fail(bad(format!(
                    "{}: entries[{j}] must be an object",
                    at(vault)
                ))));
            };
            let Some(Value::String(key)) = key else {
                let msg = format!("{}: entries[{j}].key must be a string", at(vault));
                return Err(state.fail(bad(msg)));
            };
            let value = match value {
                Some(Value::String(s)) => SecretString::from(s),
                _ => {
                    let msg = format!(
                        "{}: entry '{}': value must be a string",
                        at(vault),
                        shown(&key)
                    );
                    return Err(state.fail(bad(msg)));
                }
            };
            let is_secret = match is_secret {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => b,
                Some(_) => {
                    let msg = format!(
                        "{}: entry '{}': is_secret must be true or false",
                        at(vault),
                        shown(&key)
                    );
                    return Err(state.fail(bad(msg)));
                }
            };
            let checked = entry_checked(state.sink, vault, &key, &value, is_secret);
            checked.map_err(|e| state.fail(e))?;
            j += 1;
        }
        Ok(())
    }
}

/// One element of `"entries"`, read as a `Value` would read it (the same
/// syntax and number errors, the last of a repeated field kept) but without
/// building a map per entry: only its three fields are kept.
enum EntryFields {
    Object {
        key: Option<Value>,
        value: Option<Value>,
        is_secret: Option<Value>,
    },
    /// Any other JSON value, read whole.
    Other,
}

impl<'de> serde::Deserialize<'de> for EntryFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(EntryFieldsVisitor)
    }
}

struct EntryFieldsVisitor;

impl<'de> serde::de::Visitor<'de> for EntryFieldsVisitor {
    type Value = EntryFields;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_unit<E>(self) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_none<E>(self) -> std::result::Result<EntryFields, E> {
        Ok(EntryFields::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<EntryFields, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(EntryFields::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<EntryFields, A::Error> {
        let (mut key, mut value, mut is_secret) = (None, None, None);
        while let Some(field) = map.next_key::<String>()? {
            let v: Value = map.next_value()?; // other fields too: their errors as a Value's
            match field.as_str() {
                "key" => key = Some(v),
                "value" => value = Some(v),
                "is_secret" => is_secret = Some(v),
                _ => {}
            }
        }
        Ok(EntryFields::Object {
            key,
            value,
            is_secret,
        })
    }
}

/// Opens an export document for [`Store::import_from`](crate::Store::import_from)
/// as a stream: the file as it is, or decrypted on the way with the age
/// identities of `identity` (as [`ExportDocument::read_encrypted_file`], in
/// bounded memory). A file encrypted with age but no identity, or the other
/// way round, is refused saying so.
pub fn open_document(
    path: &std::path::Path,
    identity: Option<&std::path::Path>,
) -> Result<Box<dyn std::io::Read>> {
    use std::io::BufRead;
    let shown = path.display().to_string();
    let at = |message: String| Error::Io {
        path: shown.clone(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| at(e.to_string()))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let sealed = is_age_encrypted(reader.fill_buf().map_err(|e| at(e.to_string()))?);
    match identity {
        None if sealed => Err(at(
            "it is encrypted with age: decrypt it with its identity (runqy-vault import \
             FILE --identity IDENTITY_FILE)"
                .to_owned(),
        )),
        None => Ok(Box::new(reader)),
        Some(_) if !sealed => Err(at(
            "it is not encrypted with age: import it without --identity".to_owned(),
        )),
        #[cfg(feature = "age")]
        Some(identity_file) => {
            let identities = age_identities(identity_file)?;
            let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(reader))
                .map_err(|e| at(format!("not a valid age file: {e}")))?;
            let plain = decryptor
                .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(|e| match e {
                    age::DecryptError::NoMatchingKeys => Error::InvalidInput(format!(
                        "{shown}: no identity in {} can decrypt it: it was encrypted to other recipients",
                        identity_file.display()
                    )),
                    other => at(format!("cannot decrypt it: {other}")),
                })?;
            Ok(Box::new(plain))
        }
        #[cfg(not(feature = "age"))]
        Some(_) => Err(Error::InvalidInput(
            "this build has no age support: it cannot decrypt the file".to_owned(),
        )),
    }
}

#[cfg(feature = "age")]
fn age_identities(
    identity_file: &std::path::Path,
) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    age::IdentityFile::from_file(identity_file.to_string_lossy().into_owned())
        .map_err(|e| Error::Io {
            path: identity_file.display().to_string(),
            message: format!("not a readable age identity file: {e}"),
        })?
        .into_identities()
        .map_err(|e| Error::Io {
            path: identity_file.display().to_string(),
            message: format!("not a usable age identity file: {e}"),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What `read_document` handed over, in order.
    #[derive(Default)]
    struct Recorded(Vec<String>);

    impl ImportSink for Recorded {
        fn vault(&mut self, name: &str, description: &str) -> Result<()> {
            self.0.push(format!("vault {name} '{description}'"));
            Ok(())
        }
        fn entry(&mut self, vault: &str, key: &str, value: &str, is_secret: bool) -> Result<()> {
            self.0
                .push(format!("entry {vault}/{key}={value} {is_secret}"));
            Ok(())
        }
    }

    fn streamed(json: &str) -> Result<Vec<String>> {
        let mut sink = Recorded::default();
        let source = Source {
            path: "doc.json",
            age: false,
        };
        read_document(json.as_bytes(), &source, &mut sink)?;
        Ok(sink.0)
    }

    fn sample() -> ExportDocument {
        let entry = |key: &str, value: &str, is_secret| ExportEntry {
            key: key.to_owned(),
            value: value.into(),
            is_secret,
        };
        ExportDocument {
            format: EXPORT_FORMAT,
            vaults: vec![
                ExportVault {
                    name: "ci".to_owned(),
                    description: "the \"CI\" keys\n".to_owned(),
                    entries: vec![entry("A", "é\u{1F600}x", true), entry("B", "", false)],
                },
                ExportVault {
                    name: "empty".to_owned(),
                    description: String::new(),
                    entries: vec![],
                },
            ],
        }
    }

    #[test]
    fn the_streamed_export_is_the_documents_json_byte_for_byte() {
        for doc in [sample(), ExportDocument::default()] {
            let mut out = Vec::new();
            let summary =
                write_document(&mut out, |emit| doc.vaults.iter().try_for_each(emit)).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{}\n", doc.to_json().expose())
            );
            assert_eq!(summary.vaults, doc.vaults.len());
            assert_eq!(
                summary.entries,
                doc.vaults.iter().map(|v| v.entries.len()).sum::<usize>()
            );
        }
    }

    #[test]
    fn a_failing_producer_stops_the_streamed_export_with_its_own_error() {
        let mut out = Vec::new();
        let err = write_document(&mut out, |_| Err(Error::vault_not_found("gone"))).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::VaultNotFound);
    }

    #[test]
    fn the_streamed_reader_hands_over_what_from_json_reads() {
        let json = sample().to_json();
        let got = streamed(json.expose()).unwrap();
        assert_eq!(
            got,
            [
                "vault ci 'the \"CI\" keys\n'",
                "entry ci/A=é\u{1F600}x true",
                "entry ci/B= false",
                "vault empty ''",
            ]
        );
        assert_eq!(ExportDocument::from_json(json.expose()).unwrap(), sample());
    }

    #[test]
    fn the_streamed_reader_takes_fields_in_any_order() {
        let got = streamed(
            r#"{"vaults": [{"entries": [{"value": "v", "key": "K"}], "extra": [1],
                "description": "d", "name": "late"}], "format": 1}"#,
        )
        .unwrap();
        // The entries waited for the name; the description was known by then.
        assert_eq!(got, ["vault late 'd'", "entry late/K=v true"]);
        let got = streamed(
            r#"{"format": 1, "vaults": [{"name": "n", "entries": [{"key": "K", "value": "v",
                "is_secret": false}], "description": "d"}]}"#,
        )
        .unwrap();
        // A description after the entries is merged in when it comes.
        assert_eq!(got, ["vault n ''", "entry n/K=v false", "vault n 'd'"]);
    }

    #[test]
    fn the_streamed_reader_refuses_what_from_json_refuses_with_the_same_message() {
        let bad_docs = [
            r#"[1, 2]"#,
            r#"{"format": 2, "vaults": []}"#,
            r#"{"vaults": []}"#,
            r#"{"format": 1}"#,
            r#"{"format": 1, "vaults": "sk-secret"}"#,
            r#"{"format": 1, "vaults": ["sk-secret"]}"#,
            r#"{"format": 1, "vaults": [{"name": 5}]}"#,
            r#"{"format": 1, "vaults": [{"name": "PATH"}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a b"}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "description": 5}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": "sk-secret"}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": ["sk-secret"]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"value": "sk-secret"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "K", "value": 5}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "K", "value": "sk-secret", "is_secret": "yes"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "1K", "value": "sk-secret"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "K", "value": "sk-secret\u0000"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "K", "value": "sk-secret"}, {"key": "K", "value": "sk-secret"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a"}, {"name": "a"}]}"#,
            // An entry is read whole before its fields are checked, a repeated field's last kept.
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [["sk-secret", {"a": 1}]]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [null, 5, true]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"value": 5, "key": "K", "x": {"y": [1]}}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"value": 5, "key": 1, "key": "K"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"key": "K", "key": 1, "value": "sk-secret"}]}]}"#,
            r#"{"format": 1, "vaults": [{"name": "a", "entries": [{"value": 5, "key": "K", "x": [sk-secret}]}]}"#,
            r#"{"format": 1, "vaults": [sk-secret"#,
            r#"{"format": 1, "vaults": []} sk-secret"#,
        ];
        for json in bad_docs {
            let whole = ExportDocument::from_json(json).unwrap_err();
            let stream = streamed(json).unwrap_err();
            assert_eq!(stream.to_string(), whole.to_string(), "{json}");
            assert_eq!(stream.kind(), whole.kind(), "{json}");
            assert!(
                !stream.to_string().contains("sk-secret"),
                "{json}: {stream}"
            );
        }
    }

    #[test]
    fn the_streamed_reader_names_a_file_that_is_not_utf8() {
        let mut bytes = br#"{"format": 1, "vaults": [{"name": "a", "description": ""#.to_vec();
        bytes.extend_from_slice(b"\xff\xfe\"}]}");
        let source = Source {
            path: "doc.json",
            age: false,
        };
        let err = read_document(&bytes[..], &source, &mut Checked::default()).unwrap_err();
        assert_eq!(err.to_string(), "doc.json: the file is not UTF-8 text");
        // A character cut by every read boundary is still UTF-8.
        struct OneByte<'a>(&'a [u8]);
        impl std::io::Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let json = sample().to_json();
        let mut sink = Recorded::default();
        read_document(OneByte(json.expose().as_bytes()), &source, &mut sink).unwrap();
        assert_eq!(sink.0.len(), 4);
    }
}
