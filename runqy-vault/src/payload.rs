//! Merging vaults, the registration payload a server hands a worker (SPEC §7),
//! and the worker side: turning a payload into environment variables.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::names;
use crate::secret::SecretString;

/// The variable that tells a child process which variables came from vaults.
pub const ENV_VAULT_KEYS: &str = "RUNQY_VAULT_KEYS";

/// Where a resolved key came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// The vault whose value won (the last listed that has the key).
    pub vault: String,
    /// The earlier vaults that also had the key, in list order.
    pub shadowed: Vec<String>,
}

/// The merge of several vaults: later vaults override earlier ones.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resolved {
    /// Key → plaintext value.
    pub values: BTreeMap<String, SecretString>,
    /// Key → where it came from and what it shadowed.
    pub sources: BTreeMap<String, Provenance>,
}

/// What a server sends a worker at registration.
#[derive(Debug, Clone, Default)]
pub struct RegistrationPayload {
    /// The merged vault entries, key → plaintext.
    pub vaults: BTreeMap<String, SecretString>,
    /// The git token, when a reference was given and it resolved.
    pub git_token: Option<SecretString>,
    /// Why the git token was left out, if it was.
    pub warnings: Vec<String>,
}

impl RegistrationPayload {
    /// The JSON of SPEC §7: keys sorted, empty members left out.
    ///
    /// ```
    /// use runqy_vault::RegistrationPayload;
    /// let mut p = RegistrationPayload::default();
    /// assert_eq!(p.to_json().expose(), "{}");
    /// p.vaults.insert("B".into(), "2".into());
    /// p.vaults.insert("A".into(), "1".into());
    /// p.git_token = Some("ghp_x".into());
    /// assert_eq!(p.to_json().expose(), r#"{"git_token":"ghp_x","vaults":{"A":"1","B":"2"}}"#);
    /// ```
    pub fn to_json(&self) -> SecretString {
        self.json(false)
    }

    /// The same JSON with a `"warnings"` array member when there are warnings
    /// (for callers that get only one string back, like the C ABI).
    pub fn to_json_with_warnings(&self) -> SecretString {
        self.json(true)
    }

    fn json(&self, with_warnings: bool) -> SecretString {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            git_token: Option<&'a SecretString>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            vaults: &'a BTreeMap<String, SecretString>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            warnings: &'a [String],
        }
        let wire = Wire {
            git_token: self.git_token.as_ref().filter(|t| !t.expose().is_empty()),
            vaults: &self.vaults,
            warnings: if with_warnings { &self.warnings } else { &[] },
        };
        crate::secret::secret_json(&wire, false)
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

/// A `vault://<vault>/<key>` reference to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryReference {
    pub vault: String,
    pub key: String,
}

impl EntryReference {
    /// Parses `vault://<vault>/<key>`, checking both names.
    ///
    /// ```
    /// use runqy_vault::EntryReference;
    /// let r = EntryReference::parse("vault://ci/GITHUB_TOKEN").unwrap();
    /// assert_eq!((r.vault.as_str(), r.key.as_str()), ("ci", "GITHUB_TOKEN"));
    /// assert!(EntryReference::parse("ci/GITHUB_TOKEN").is_err());
    /// ```
    pub fn parse(reference: &str) -> Result<EntryReference> {
        let bad = |why: &str| {
            Error::InvalidInput(format!(
                "invalid vault reference '{reference}': {why} (expected vault://<vault>/<key>)"
            ))
        };
        let rest = reference
            .strip_prefix("vault://")
            .ok_or_else(|| bad("it does not start with vault://"))?;
        let (vault, key) = rest
            .split_once('/')
            .ok_or_else(|| bad("it has no '/' between vault and key"))?;
        names::check_vault_name(vault)?;
        names::check_key(key)?;
        Ok(EntryReference {
            vault: vault.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// Environment variables to set in a worker's child process.
#[derive(Debug, Clone, Default)]
pub struct Injection {
    /// `(name, value)` pairs, including `RUNQY_VAULT_KEYS` last.
    pub variables: Vec<(String, SecretString)>,
    /// The names that came from vaults, sorted.
    pub names: Vec<String>,
}

/// Checks a payload's vault entries again on the worker side (defense in
/// depth: reserved names, ill-formed names, NUL bytes) and returns the
/// variables to set. Nothing is returned, so nothing is applied, if any entry
/// is refused.
///
/// ```
/// use runqy_vault::payload::injection;
/// use std::collections::BTreeMap;
/// let mut vaults = BTreeMap::new();
/// vaults.insert("API_KEY".to_string(), "sk-1".into());
/// let inj = injection(&vaults).unwrap();
/// assert_eq!(inj.names, ["API_KEY"]);
/// assert_eq!(inj.variables.last().unwrap().0, "RUNQY_VAULT_KEYS");
/// vaults.insert("LD_PRELOAD".to_string(), "/evil.so".into());
/// assert!(injection(&vaults).is_err());
/// ```
pub fn injection(vaults: &BTreeMap<String, SecretString>) -> Result<Injection> {
    let mut variables = Vec::with_capacity(vaults.len() + 1);
    for (name, value) in vaults {
        names::check_key(name)?;
        names::check_value("(registration payload)", name, value.expose())?;
        variables.push((name.clone(), value.clone()));
    }
    let names: Vec<String> = vaults.keys().cloned().collect();
    variables.push((ENV_VAULT_KEYS.to_owned(), names.join(",").into()));
    Ok(Injection { variables, names })
}

/// The listed vaults, each once, in the order their values win: the vault
/// listed last first. Taking each key from the first vault here that has it
/// gives the values of [`merge`], and lets a payload decrypt only those.
pub(crate) fn winners_first<'a>(vaults: &[&'a str]) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(vaults.len());
    vaults
        .iter()
        .rev()
        .copied()
        .filter(|v| seen.insert(*v))
        .collect()
}

/// Merges `entries` (vault, key, value) given in list order of `vaults`.
pub(crate) fn merge<'a>(
    vaults: &[&'a str],
    entries_of: impl Fn(&str) -> &'a [(String, SecretString)],
) -> Resolved {
    let mut out = Resolved::default();
    for vault in vaults {
        for (key, value) in entries_of(vault) {
            out.values.insert(key.clone(), value.clone());
            match out.sources.get_mut(key) {
                Some(p) if p.vault != *vault => {
                    let previous = std::mem::replace(&mut p.vault, (*vault).to_owned());
                    p.shadowed.retain(|v| v != vault);
                    p.shadowed.push(previous);
                }
                Some(_) => {}
                None => {
                    out.sources.insert(
                        key.clone(),
                        Provenance {
                            vault: (*vault).to_owned(),
                            shadowed: Vec::new(),
                        },
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(vault: &str) -> Vec<(String, SecretString)> {
        let pairs: &[(&str, &str)] = match vault {
            "a" => &[("SHARED", "from-a"), ("ONLY_A", "a")],
            "b" => &[("SHARED", "from-b"), ("ONLY_B", "b")],
            "c" => &[("SHARED", "from-c")],
            _ => &[],
        };
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretString::from(*v)))
            .collect()
    }

    fn plain(map: &BTreeMap<String, SecretString>) -> Vec<(String, String)> {
        map.iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect()
    }

    #[test]
    fn first_seen_in_winners_first_order_gives_the_values_of_merge() {
        for order in [
            &["a", "b", "c"][..],
            &["c", "b", "a"],
            &["a", "b", "a"],
            &["b", "a", "b", "empty"],
            &["a"],
        ] {
            let all: BTreeMap<&str, Vec<(String, SecretString)>> =
                ["a", "b", "c", "empty"].map(|v| (v, entries(v))).into();
            let merged = merge(order, |v| all[v].as_slice());
            let winners = winners_first(order);
            let mut unique = winners.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), winners.len(), "each vault once: {order:?}");
            let mut first_seen = BTreeMap::new();
            for v in &winners {
                for (k, value) in entries(v) {
                    first_seen.entry(k).or_insert(value);
                }
            }
            assert_eq!(plain(&first_seen), plain(&merged.values), "{order:?}");
        }
        assert_eq!(winners_first(&["a", "b", "a"]), ["a", "b"]);
    }
}
