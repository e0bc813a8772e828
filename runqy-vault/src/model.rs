//! Every shape that leaves the core: the results of the store's calls, the
//! registration payload and the history (SPEC §5, §7, §12), each serialized
//! once, here.
//!
//! The C ABI hands out their JSON, the Python module converts them with a
//! serde converter (the same field names), the CLI's `--json` prints them,
//! and the `.pyi` stubs and the Go structs follow them; tests pin the JSON.
//! A shape that holds plaintext serializes it through [`SecretString`], so
//! the buffer it came from is still wiped.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// One line of `list`: `{"name", "description", "entry_count"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultSummary {
    /// The vault's name.
    pub name: String,
    /// Its description (empty when none).
    pub description: String,
    /// How many entries it holds.
    pub entry_count: u64,
}

/// One entry as listed: the value masked when the entry is secret.
/// `{"key", "value", "is_secret", "created_at", "updated_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryView {
    /// The entry's key.
    pub key: String,
    /// The value, masked (SPEC §5) when `is_secret`.
    pub value: String,
    /// Whether the value is secret (masked when listed).
    pub is_secret: bool,
    /// When the entry was created, RFC 3339 UTC.
    pub created_at: String,
    /// When the entry was last written, RFC 3339 UTC.
    pub updated_at: String,
}

/// A vault as `show` shows it, entries sorted by key:
/// `{"name", "description", "created_at", "updated_at", "entries": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultDetail {
    /// The vault's name.
    pub name: String,
    /// Its description (empty when none).
    pub description: String,
    /// When the vault was created, RFC 3339 UTC.
    pub created_at: String,
    /// When the vault or one of its entries was last written, RFC 3339 UTC.
    pub updated_at: String,
    /// Its entries, sorted by key, secret values masked.
    pub entries: Vec<EntryView>,
}

/// What a version of an entry is now (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    /// The entry's current value.
    Current,
    /// A newer version (or a value another program wrote) took its place.
    Replaced,
    /// The last version of an entry that was removed (`unset`, or its vault
    /// deleted): `restore` brings it back.
    Removed,
}

impl VersionState {
    /// `current`, `replaced` or `removed`, as the CLI's STATE column and the JSON say.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Current => "current",
            VersionState::Replaced => "replaced",
            VersionState::Removed => "removed",
        }
    }
}

/// One version of an entry as `history` lists it (newest first), the value
/// masked when secret: `{"version", "value", "is_secret", "created_at",
/// "actor", "state", "last_read"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The version number, counted from 1 per vault name and key; `None`
    /// (JSON `null`, `-` in the CLI) for a current value that another program
    /// wrote straight into the upstream tables, which has no version.
    pub version: Option<i64>,
    /// The value, masked (SPEC §5) when `is_secret`.
    pub value: String,
    /// Whether the value is secret (masked when listed).
    pub is_secret: bool,
    /// When this version was written, RFC 3339 UTC.
    pub created_at: String,
    /// Who wrote it, when the audit log knows; `None` until then.
    pub actor: Option<String>,
    /// Whether it is the current value, was replaced, or was removed.
    pub state: VersionState,
    /// When this version was last handed out (`get`, a payload, a resolve,
    /// an export), from the audit log; `None` when it never was (or the
    /// record was pruned, or reads are not audited).
    pub last_read: Option<String>,
}

/// One record of the audit log (SPEC §13): `{"seq", "time", "actor",
/// "operation", "vault", "key", "version", "fingerprint", "detail"}`.
/// Never a value: `fingerprint` is `hmac-sha256:` + hex.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    /// The sequence number: 1, 2, 3, ... (a pruned log starts at its anchor).
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// Who (the caller's actor).
    pub actor: String,
    /// What: `set`, `get`, `payload`, ... (see [`crate::store::AUDIT_OPERATIONS`]).
    pub operation: String,
    /// The vault; for a payload or a resolve, the vaults listed, comma-separated.
    pub vault: Option<String>,
    /// The key, for an operation on one entry.
    pub key: Option<String>,
    /// The version written or handed out.
    pub version: Option<i64>,
    /// `hmac-sha256:` + hex of HMAC-SHA256 of the value under the audit key
    /// (HKDF info `"runqy-vault v2 audit"`), for an operation on one value.
    pub fingerprint: Option<String>,
    /// What else the operation did, as JSON (`null` when nothing): a payload's
    /// `delivered` keys (`[{"key", "vault", "version"}]`) and `git_token`
    /// reference, counts, the previous version of a rollback, ...
    pub detail: serde_json::Value,
}

/// Which records `audit_log` returns: every field that is set must match.
/// From Python, the keyword arguments of `.audit_log(**filters)`; from C
/// and Go, this as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Records of this vault (for a payload: listed, or a key delivered from it).
    pub vault: Option<String>,
    /// Records of this key (for a payload: delivered).
    pub key: Option<String>,
    /// Records by this actor, exactly.
    pub actor: Option<String>,
    /// Records of this operation (`set`, `get`, `payload`, ...).
    pub operation: Option<String>,
    /// Records written at or after this time: a date (`2024-01-15`) or RFC 3339.
    pub since: Option<String>,
    /// Only the newest N matching records (still shown oldest first); at least 1.
    pub limit: Option<u32>,
}

/// What `purge` destroyed: `{"versions", "entries", "vault_deleted"}`, and
/// `"warnings"` when any (e.g. SQLite's log could not be truncated yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    /// How many kept versions were destroyed.
    pub versions: u64,
    /// How many current entries were removed with them.
    pub entries: u64,
    /// Whether the vault itself was deleted (`purge VAULT` of a vault that existed).
    pub vault_deleted: bool,
    /// What did not go as promised without undoing the purge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Where a resolved key came from: `{"vault", "shadowed": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// The vault whose value won (the last listed that has the key).
    pub vault: String,
    /// The earlier vaults that also had the key, in list order.
    pub shadowed: Vec<String>,
}

/// The merge of several vaults, later vaults overriding earlier ones:
/// `{"values": {"KEY": "plaintext"}, "sources": {"KEY": Provenance}}`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resolved {
    /// Key → plaintext value.
    pub values: BTreeMap<String, SecretString>,
    /// Key → where it came from and what it shadowed.
    pub sources: BTreeMap<String, Provenance>,
}

/// What a server sends a worker at registration (SPEC §7).
///
/// Serialized (for the C ABI and Python) as `{"git_token", "vaults",
/// "warnings"}`, keys sorted, each member left out when empty;
/// [`RegistrationPayload::to_json`] is the worker's wire form, without
/// `warnings`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RegistrationPayload {
    /// The git token, when a reference was given and it resolved.
    #[serde(skip_serializing_if = "no_token")]
    pub git_token: Option<SecretString>,
    /// The merged vault entries, key → plaintext.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vaults: BTreeMap<String, SecretString>,
    /// Why the git token (or an entry) was left out, if anything was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn no_token(token: &Option<SecretString>) -> bool {
    sent_token(token).is_none()
}

fn sent_token(token: &Option<SecretString>) -> Option<&SecretString> {
    token.as_ref().filter(|t| !t.expose().is_empty())
}

impl RegistrationPayload {
    /// The git token as the serialized payload carries it: `None` when no
    /// reference was given, it did not resolve, or the entry is empty (the
    /// member is left out). For bindings that build their own objects.
    ///
    /// ```
    /// use runqy_vault::RegistrationPayload;
    /// let mut p = RegistrationPayload::default();
    /// p.git_token = Some("".into());
    /// assert!(p.sent_git_token().is_none());
    /// p.git_token = Some("ghp_x".into());
    /// assert_eq!(p.sent_git_token().map(|t| t.expose()), Some("ghp_x"));
    /// ```
    pub fn sent_git_token(&self) -> Option<&SecretString> {
        sent_token(&self.git_token)
    }

    /// The JSON a worker receives (SPEC §7): keys sorted, empty members left
    /// out, no `warnings`.
    ///
    /// ```
    /// use runqy_vault::RegistrationPayload;
    /// let mut p = RegistrationPayload::default();
    /// assert_eq!(p.to_json().expose(), "{}");
    /// p.vaults.insert("B".into(), "2".into());
    /// p.vaults.insert("A".into(), "1".into());
    /// p.git_token = Some("ghp_x".into());
    /// p.warnings.push("for the server's log".into());
    /// assert_eq!(p.to_json().expose(), r#"{"git_token":"ghp_x","vaults":{"A":"1","B":"2"}}"#);
    /// ```
    pub fn to_json(&self) -> SecretString {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "no_token")]
            git_token: &'a Option<SecretString>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            vaults: &'a BTreeMap<String, SecretString>,
        }
        crate::secret::secret_json(
            &Wire {
                git_token: &self.git_token,
                vaults: &self.vaults,
            },
            false,
        )
    }

    /// The same JSON with the `"warnings"` member when there are warnings
    /// (for callers that get only one string back, like the C ABI).
    pub fn to_json_with_warnings(&self) -> SecretString {
        crate::secret::secret_json(self, false)
    }

    /// Parses a payload as a worker receives it (`{"vaults": {...}, "git_token": ...}`);
    /// other members are ignored, so the whole registration response of a
    /// runqy server (with its `redis`, `queue`, ... members) is accepted too.
    /// A value that is not a string is refused naming its key; other errors
    /// give only a position (a parser's message could quote a value).
    pub fn from_json(json: &str) -> Result<RegistrationPayload> {
        let problem = std::cell::RefCell::new(None);
        let mut de = serde_json::Deserializer::from_str(json);
        let parsed = serde::de::DeserializeSeed::deserialize(wire::Payload(&problem), &mut de)
            .and_then(|p| de.end().map(|()| p));
        match (parsed, problem.into_inner()) {
            (Ok((vaults, git_token)), _) => Ok(RegistrationPayload {
                vaults,
                git_token,
                warnings: Vec::new(),
            }),
            (Err(_), Some(problem)) => Err(Error::InvalidInput(format!(
                "registration payload refused: {problem}"
            ))),
            (Err(e), None) => Err(Error::InvalidInput(format!(
                "registration payload is not valid JSON of the expected shape (line {}, column {})",
                e.line(),
                e.column()
            ))),
        }
    }
}

/// The payload's JSON read by hand, so that a value of the wrong type is
/// reported by its key (serde's own message would name neither the key nor
/// hide the value).
mod wire {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

    use crate::secret::SecretString;

    /// A key as a message shows it: control characters escaped, cut at 64 characters.
    fn shown_name(key: &str) -> String {
        let mut out: String = key.chars().take(64).flat_map(char::escape_debug).collect();
        if key.chars().nth(64).is_some() {
            out.push_str("...");
        }
        out
    }

    /// Where a refused member says what is wrong with it.
    type Problem<'a> = &'a RefCell<Option<String>>;

    pub(super) struct Payload<'a>(pub(super) Problem<'a>);

    type Parsed = (BTreeMap<String, SecretString>, Option<SecretString>);

    impl<'de> DeserializeSeed<'de> for Payload<'_> {
        type Value = Parsed;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Payload<'_> {
        type Value = Parsed;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a registration payload object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
            let (mut vaults, mut token) = (BTreeMap::new(), None);
            while let Some(member) = map.next_key::<String>()? {
                match member.as_str() {
                    "vaults" => vaults = map.next_value_seed(Vaults(self.0))?,
                    "git_token" => {
                        token = map.next_value_seed(Text {
                            problem: self.0,
                            what: "git_token".to_owned(),
                            null_ok: true,
                        })?
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok((vaults, token))
        }
    }

    struct Vaults<'a>(Problem<'a>);

    impl<'de> DeserializeSeed<'de> for Vaults<'_> {
        type Value = BTreeMap<String, SecretString>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Vaults<'_> {
        type Value = BTreeMap<String, SecretString>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of key to string")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new()) // "vaults": null, as an empty map
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(Text {
                    problem: self.0,
                    what: format!("the value of key '{}'", shown_name(&key)),
                    null_ok: false,
                })?;
                if let Some(value) = value {
                    out.insert(key, value);
                }
            }
            Ok(out)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(refuse(
                self.0,
                "\"vaults\" is a list, not an object of key to string",
            ))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(refuse(
                self.0,
                "\"vaults\" is a string, not an object of key to string",
            ))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(refuse(
                self.0,
                "\"vaults\" is a boolean, not an object of key to string",
            ))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(refuse(
                self.0,
                "\"vaults\" is a number, not an object of key to string",
            ))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(refuse(
                self.0,
                "\"vaults\" is a number, not an object of key to string",
            ))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(refuse(
                self.0,
                "\"vaults\" is a number, not an object of key to string",
            ))
        }
    }

    /// A string member; anything else is refused naming `what`, never showing it.
    struct Text<'a> {
        problem: Problem<'a>,
        what: String,
        null_ok: bool,
    }

    impl Text<'_> {
        fn wrong<E: de::Error>(&self, kind: &str) -> E {
            refuse(
                self.problem,
                &format!("{} is {kind}, not a string", self.what),
            )
        }
    }

    impl<'de> DeserializeSeed<'de> for Text<'_> {
        type Value = Option<SecretString>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Text<'_> {
        type Value = Option<SecretString>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(SecretString::from(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(SecretString::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            if self.null_ok {
                Ok(None)
            } else {
                Err(self.wrong("null"))
            }
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.wrong("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.wrong("a number"))
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(self.wrong("an object"))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(self.wrong("a list"))
        }
    }

    /// Records `problem` (what from_json reports) and stops the parse.
    fn refuse<E: de::Error>(slot: Problem<'_>, problem: &str) -> E {
        *slot.borrow_mut() = Some(problem.to_owned());
        E::custom("refused")
    }
}

/// One vault as `usage` shows it (SPEC §14): `{"vault", "queues",
/// "git_token_of"}`, queue names sorted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultUsage {
    /// The vault's name.
    pub vault: String,
    /// The queues whose `deployment.vaults` list it (empty: unused).
    pub queues: Vec<String>,
    /// The queues whose `git_token` points into it.
    pub git_token_of: Vec<String>,
}

impl VaultUsage {
    /// Whether no queue lists the vault or takes its git token from it.
    pub fn is_unused(&self) -> bool {
        self.queues.is_empty() && self.git_token_of.is_empty()
    }
}

/// What `usage` answers: `{"vaults": [VaultUsage], "missing": [VaultUsage],
/// "problems": ["..."]}`. `vaults` are the store's vaults sorted by name;
/// `missing` the vaults that queues name but the store does not have;
/// `problems` what could not be read in the configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Every vault of the store, with its queues.
    pub vaults: Vec<VaultUsage>,
    /// Vaults named by queues that do not exist.
    pub missing: Vec<VaultUsage>,
    /// Problems met reading the configurations (each names its file or the
    /// server's table, and the queue).
    pub problems: Vec<String>,
}

/// How serious a `check` finding is: `"error"`, `"warning"` or `"note"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Workers fail to register or miss secrets; `check` exits 1.
    Error,
    /// Likely wrong, or a risk.
    Warning,
    /// Worth knowing (a shadowed key, a disabled queue).
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`, as the line starts.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding of `check`: `{"severity", "check", "queue", "vault", "key",
/// "message"}`, `queue`/`vault`/`key` null when the finding concerns none.
/// The message names them and never holds a value or a `git_token`'s text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// Which check found it (a stable name, e.g. `missing_vault`).
    pub check: String,
    /// The queue concerned, if one is.
    pub queue: Option<String>,
    /// The vault concerned, if one is.
    pub vault: Option<String>,
    /// The key concerned, if one is.
    pub key: Option<String>,
    /// The finding, as the CLI prints it after `error: ` (or `warning: `, `note: `).
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.message)
    }
}

/// What `check` answers: `{"findings": [Finding], "errors": N, "warnings": M}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// Every finding, in the order of the checks.
    pub findings: Vec<Finding>,
    /// How many findings are errors.
    pub errors: u64,
    /// How many findings are warnings.
    pub warnings: u64,
}

impl CheckReport {
    /// The closing line: `N errors, M warnings.`
    pub fn summary(&self) -> String {
        format!("{} errors, {} warnings.", self.errors, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    //! The JSON of every shape, pinned: C, Go and Python read these names.
    use super::*;

    #[test]
    fn list_show_and_entry_shapes_are_pinned() {
        let summary = VaultSummary {
            name: "api-keys".into(),
            description: "d".into(),
            entry_count: 2,
        };
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            r#"{"name":"api-keys","description":"d","entry_count":2}"#
        );
        let entry = EntryView {
            key: "K".into(),
            value: "sk****xx".into(),
            is_secret: true,
            created_at: "2024-01-15T10:30:00Z".into(),
            updated_at: "2024-01-15T14:22:00Z".into(),
        };
        let detail = VaultDetail {
            name: "api-keys".into(),
            description: String::new(),
            created_at: "2024-01-15T10:30:00Z".into(),
            updated_at: "2024-01-15T14:22:00Z".into(),
            entries: vec![entry],
        };
        assert_eq!(
            serde_json::to_string(&detail).unwrap(),
            concat!(
                r#"{"name":"api-keys","description":"","created_at":"2024-01-15T10:30:00Z","#,
                r#""updated_at":"2024-01-15T14:22:00Z","entries":[{"key":"K","value":"sk****xx","#,
                r#""is_secret":true,"created_at":"2024-01-15T10:30:00Z","updated_at":"2024-01-15T14:22:00Z"}]}"#
            )
        );
    }

    #[test]
    fn the_audit_record_shape_is_pinned() {
        let record = AuditRecord {
            seq: 7,
            time: "2024-01-15T10:30:00Z".into(),
            actor: "worker:3 queue:inference".into(),
            operation: "payload".into(),
            vault: Some("api-keys,models".into()),
            key: None,
            version: None,
            fingerprint: None,
            detail: serde_json::json!({"delivered": [{"key": "K", "vault": "models", "version": 2}]}),
        };
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            concat!(
                r#"{"seq":7,"time":"2024-01-15T10:30:00Z","actor":"worker:3 queue:inference","#,
                r#""operation":"payload","vault":"api-keys,models","key":null,"version":null,"#,
                r#""fingerprint":null,"detail":{"delivered":[{"key":"K","vault":"models","version":2}]}}"#
            )
        );
        let filter: AuditFilter = serde_json::from_str(r#"{"key":"K","limit":5}"#).unwrap();
        assert_eq!(filter.key.as_deref(), Some("K"));
        assert_eq!(filter.limit, Some(5));
        let unknown = serde_json::from_str::<AuditFilter>(r#"{"keys":"K"}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `keys`"),
            "{unknown}"
        );
    }

    #[test]
    fn history_and_purge_shapes_are_pinned() {
        let entries = vec![
            HistoryEntry {
                version: None,
                value: "go****ue".into(),
                is_secret: true,
                created_at: "2024-01-15T10:30:00Z".into(),
                actor: None,
                state: VersionState::Current,
                last_read: None,
            },
            HistoryEntry {
                version: Some(2),
                value: "info".into(),
                is_secret: false,
                created_at: "2024-01-15T10:00:00Z".into(),
                actor: Some("ci@host".into()),
                state: VersionState::Replaced,
                last_read: Some("2024-01-16T08:00:00Z".into()),
            },
        ];
        assert_eq!(
            serde_json::to_string(&entries).unwrap(),
            concat!(
                r#"[{"version":null,"value":"go****ue","is_secret":true,"created_at":"2024-01-15T10:30:00Z","#,
                r#""actor":null,"state":"current","last_read":null},{"version":2,"value":"info","#,
                r#""is_secret":false,"created_at":"2024-01-15T10:00:00Z","actor":"ci@host","#,
                r#""state":"replaced","last_read":"2024-01-16T08:00:00Z"}]"#
            )
        );
        assert_eq!(
            serde_json::to_string(&VersionState::Removed).unwrap(),
            format!("\"{}\"", VersionState::Removed.as_str())
        );
        let mut report = PurgeReport {
            versions: 5,
            entries: 1,
            vault_deleted: false,
            warnings: vec![],
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"versions":5,"entries":1,"vault_deleted":false}"#
        );
        report.warnings.push("w".into());
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"versions":5,"entries":1,"vault_deleted":false,"warnings":["w"]}"#
        );
    }

    #[test]
    fn payload_from_json_reads_a_whole_registration_response() {
        let p = RegistrationPayload::from_json(
            r#"{"redis":{"addr":"localhost:6379","db":0},"queue":{"name":"q","priority":5},
                "vaults":{"GITHUB_TOKEN":"ghp_abc","E":""},"git_token":"ghp_tok","extra":[1,{"a":null}]}"#,
        )
        .unwrap();
        assert_eq!(p.vaults["GITHUB_TOKEN"].expose(), "ghp_abc");
        assert_eq!(p.vaults["E"].expose(), "");
        assert_eq!(p.git_token.unwrap().expose(), "ghp_tok");
        let p = RegistrationPayload::from_json(r#"{"vaults":null,"git_token":null}"#).unwrap();
        assert!(p.vaults.is_empty() && p.git_token.is_none());
    }

    #[test]
    fn payload_from_json_names_the_key_of_a_value_that_is_not_a_string_and_hides_it() {
        for (value, kind) in [
            ("12345678", "a number"),
            ("true", "a boolean"),
            ("null", "null"),
            (r#"{"s":"sk-hidden-secret"}"#, "an object"),
            (r#"["sk-hidden-secret"]"#, "a list"),
        ] {
            let json = format!(r#"{{"vaults":{{"OK":"v","API_KEY":{value}}}}}"#);
            let err = RegistrationPayload::from_json(&json)
                .unwrap_err()
                .to_string();
            assert!(err.contains("the value of key 'API_KEY' is"), "{err}");
            assert!(err.contains(kind), "{err}");
            assert!(
                !err.contains("sk-hidden") && !err.contains("12345678"),
                "{err}"
            );
        }
        let err = RegistrationPayload::from_json(r#"{"git_token":7}"#).unwrap_err();
        assert!(err.to_string().contains("git_token is a number"), "{err}");
        let err = RegistrationPayload::from_json(r#"{"vaults":["a"]}"#).unwrap_err();
        assert!(err.to_string().contains(r#""vaults" is a list"#), "{err}");
        // A key with a control character is shown escaped, on one line.
        let err = RegistrationPayload::from_json("{\"vaults\":{\"A\\nB\":1}}").unwrap_err();
        assert!(err.to_string().contains(r"'A\nB'"), "{err}");
    }

    #[test]
    fn payload_from_json_that_is_not_json_gives_only_a_position() {
        for bad in [
            r#"{"vaults":{"K":"sk-secret-value"#,
            "not json",
            r#"{"vaults":{"K":"v"}} trailing"#,
        ] {
            let err = RegistrationPayload::from_json(bad).unwrap_err().to_string();
            assert!(
                err.contains("not valid JSON") && err.contains("line 1"),
                "{err}"
            );
            assert!(!err.contains("sk-secret"), "{err}");
        }
    }

    #[test]
    fn resolved_shape_is_pinned() {
        let mut r = Resolved::default();
        r.values.insert("K".into(), "v".into());
        r.sources.insert(
            "K".into(),
            Provenance {
                vault: "b".into(),
                shadowed: vec!["a".into()],
            },
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"values":{"K":"v"},"sources":{"K":{"vault":"b","shadowed":["a"]}}}"#
        );
    }

    #[test]
    fn usage_shape_is_pinned() {
        let usage = Usage {
            vaults: vec![VaultUsage {
                vault: "github".into(),
                queues: vec![],
                git_token_of: vec!["inference".into()],
            }],
            missing: vec![VaultUsage {
                vault: "model-credentials".into(),
                queues: vec!["inference".into()],
                git_token_of: vec![],
            }],
            problems: vec!["q.yaml: queue 'x' has no deployment".into()],
        };
        assert_eq!(
            serde_json::to_string(&usage).unwrap(),
            concat!(
                r#"{"vaults":[{"vault":"github","queues":[],"git_token_of":["inference"]}],"#,
                r#""missing":[{"vault":"model-credentials","queues":["inference"],"git_token_of":[]}],"#,
                r#""problems":["q.yaml: queue 'x' has no deployment"]}"#
            )
        );
    }

    #[test]
    fn check_shape_is_pinned() {
        let report = CheckReport {
            findings: vec![Finding {
                severity: Severity::Error,
                check: "missing_vault".into(),
                queue: Some("inference".into()),
                vault: Some("model-credentials".into()),
                key: None,
                message: "m".into(),
            }],
            errors: 1,
            warnings: 0,
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            concat!(
                r#"{"findings":[{"severity":"error","check":"missing_vault","queue":"inference","#,
                r#""vault":"model-credentials","key":null,"message":"m"}],"errors":1,"warnings":0}"#
            )
        );
        assert_eq!(report.findings[0].to_string(), "error: m");
        assert_eq!(report.summary(), "1 errors, 0 warnings.");
    }

    #[test]
    fn payload_shape_leaves_out_empty_members_and_an_empty_token() {
        let mut p = RegistrationPayload::default();
        assert_eq!(p.to_json_with_warnings().expose(), "{}");
        p.git_token = Some("".into());
        assert_eq!(p.to_json_with_warnings().expose(), "{}");
        p.vaults.insert("A".into(), "1".into());
        p.warnings.push("w".into());
        assert_eq!(
            p.to_json_with_warnings().expose(),
            r#"{"vaults":{"A":"1"},"warnings":["w"]}"#
        );
        assert_eq!(p.to_json().expose(), r#"{"vaults":{"A":"1"}}"#);
    }
}
