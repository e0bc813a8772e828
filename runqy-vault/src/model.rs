//! Every shape that leaves the core: the results of the store's calls and
//! the registration payload (SPEC §5, §7), each serialized once, here.
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
    token.as_ref().is_none_or(|t| t.expose().is_empty())
}

impl RegistrationPayload {
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
    /// other members are ignored.
    pub fn from_json(json: &str) -> Result<RegistrationPayload> {
        #[derive(serde::Deserialize)]
        struct Wire {
            #[serde(default)]
            vaults: BTreeMap<String, SecretString>,
            #[serde(default)]
            git_token: Option<SecretString>,
        }
        let wire: Wire = serde_json::from_str(json).map_err(|e| {
            // serde's "invalid type" messages may quote input, so only the position is kept.
            Error::InvalidInput(format!(
                "registration payload is not valid JSON of the expected shape (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        Ok(RegistrationPayload {
            vaults: wire.vaults,
            git_token: wire.git_token,
            warnings: Vec::new(),
        })
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
