//! Merging vaults into the registration payload a server hands a worker
//! (SPEC §7; its shape is in [`crate::model`]), `vault://` references, and the
//! worker side: turning a payload into environment variables.

use std::collections::BTreeMap;

use crate::error::{shown, Error, Result};
use crate::model::{Provenance, Resolved};
use crate::names;
use crate::secret::SecretString;

/// The variable that tells a child process which variables came from vaults.
pub const ENV_VAULT_KEYS: &str = "RUNQY_VAULT_KEYS";

/// A `vault://<vault>/<key>` reference to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryReference {
    /// The vault named by the reference.
    pub vault: String,
    /// The key named by the reference.
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
        let Some(rest) = reference.strip_prefix("vault://") else {
            // Most likely a plaintext token pasted where its reference belongs
            // (upstream logs it verbatim): the text itself is never shown.
            return Err(Error::InvalidInput(format!(
                "invalid vault reference: it does not start with vault:// (expected \
                 vault://<vault>/<key>; the {} characters given are not shown, as they may be a \
                 plaintext secret)",
                reference.chars().count()
            )));
        };
        let bad = |why: &str| {
            Error::InvalidInput(format!(
                "invalid vault reference '{}': {why} (expected vault://<vault>/<key>)",
                shown(reference)
            ))
        };
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
