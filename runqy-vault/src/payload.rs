//! Merging vaults into the registration payload a server hands a worker
//! (SPEC §7; its shape is in [`crate::model`]), `vault://` references, and the
//! worker side: turning a payload into environment variables, and building a
//! task's whole environment without the worker's own credentials.

use std::collections::BTreeMap;

use crate::error::{shown, Error, Result};
use crate::model::{Provenance, Resolved};
use crate::names;
use crate::secret::SecretString;

/// The variable that tells a child process which variables came from vaults.
pub const ENV_VAULT_KEYS: &str = "RUNQY_VAULT_KEYS";

/// Inherited variables whose name starts with this (compared upper-cased) are
/// the worker's own (the master key, `RUNQY_API_KEY`, `RUNQY_GIT_TOKEN`, ...)
/// and never reach a task unless the caller keeps them (SPEC §7).
pub const WORKER_PREFIX: &str = "RUNQY_";

/// The text that makes a variable's value a reference to a vault entry.
pub const REFERENCE_PREFIX: &str = "vault://";

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

    /// The reference a variable's value makes, if it makes one: `None` when
    /// the value does not start with `vault://` (an ordinary value), an error
    /// when it does but is ill-formed (SPEC §11: `run` resolves these, as
    /// `op run` resolves `op://`).
    ///
    /// ```
    /// use runqy_vault::EntryReference;
    /// assert!(EntryReference::in_value("vault://ci/TOKEN").unwrap().is_ok());
    /// assert!(EntryReference::in_value("vault://ci").unwrap().is_err());
    /// assert!(EntryReference::in_value("https://example.com").is_none());
    /// ```
    pub fn in_value(value: &str) -> Option<Result<EntryReference>> {
        value
            .starts_with(REFERENCE_PREFIX)
            .then(|| EntryReference::parse(value))
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

/// The names a new injection leaves behind in an environment that an earlier
/// one made: those listed in the environment's `RUNQY_VAULT_KEYS`
/// (`previous`) that `next` does not set again. Removing them keeps every
/// vault variable of the environment listed, so redaction keeps masking it;
/// left in place unlisted, a second payload's injection would stop the mask.
/// Only well-formed, unreserved names are returned (a reserved name was never
/// injected), so a forged list cannot make a caller unset `PATH`.
///
/// ```
/// use runqy_vault::payload::{injection, stale_names};
/// use std::collections::BTreeMap;
/// let next = injection(&BTreeMap::from([("B".to_string(), "2".into())])).unwrap();
/// assert_eq!(stale_names(Some("A,B,PATH"), &next), ["A"]);
/// assert!(stale_names(None, &next).is_empty());
/// ```
pub fn stale_names(previous: Option<&str>, next: &Injection) -> Vec<String> {
    let mut stale: Vec<String> = previous
        .unwrap_or_default()
        .split(',')
        .filter(|n| names::check_key(n).is_ok())
        .filter(|n| next.names.binary_search_by(|m| m.as_str().cmp(n)).is_err())
        .map(str::to_owned)
        .collect();
    stale.sort();
    stale.dedup();
    stale
}

/// Whether an inherited variable passes on to a task's environment (SPEC §7):
/// every name starting with [`WORKER_PREFIX`] (`RUNQY_`, compared
/// upper-cased) is the worker's own and is dropped, unless it is named in
/// `keep` (compared exactly). Names are bytes: an environment need not be UTF-8.
///
/// ```
/// use runqy_vault::payload::passes_on;
/// assert!(passes_on(b"HOME", &[] as &[&str]));
/// assert!(!passes_on(b"RUNQY_VAULT_MASTER_KEY", &[] as &[&str]));
/// assert!(!passes_on(b"runqy_api_key", &[] as &[&str]));
/// assert!(passes_on(b"RUNQY_API_KEY", &["RUNQY_API_KEY"]));
/// ```
pub fn passes_on<K: AsRef<str>>(name: &[u8], keep: &[K]) -> bool {
    let prefix = WORKER_PREFIX.as_bytes();
    let worker = name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix);
    !worker || keep.iter().any(|k| k.as_ref().as_bytes() == name)
}

/// A task's whole environment (SPEC §7): `base` (the worker's environment, or
/// what it built from it; a name given twice takes its last value) without
/// the variables [`passes_on`] drops, then the `injected` variables (a
/// payload's vault entries, checked as [`injection`] checks them) on top, and
/// `RUNQY_VAULT_KEYS` set afresh to their names. Sorted by name. Nothing is
/// returned, so nothing is started, if any injected entry is refused.
///
/// ```
/// use runqy_vault::payload::child_env;
/// use std::collections::BTreeMap;
/// let vaults = BTreeMap::from([("API_KEY".to_string(), "sk-1".into())]);
/// let base = [("HOME", "/home/w"), ("RUNQY_VAULT_MASTER_KEY", "k"), ("RUNQY_API_KEY", "a")];
/// let env = child_env(&vaults, base, &[] as &[&str]).unwrap();
/// let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["API_KEY", "HOME", "RUNQY_VAULT_KEYS"]);
/// ```
pub fn child_env<I, N, V, K>(
    injected: &BTreeMap<String, SecretString>,
    base: I,
    keep: &[K],
) -> Result<Vec<(String, SecretString)>>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
    K: AsRef<str>,
{
    let injection = injection(injected)?;
    let mut env: BTreeMap<String, SecretString> = BTreeMap::new();
    for (name, value) in base {
        let name = name.as_ref();
        if passes_on(name.as_bytes(), keep) {
            env.insert(name.to_owned(), SecretString::from(value.as_ref()));
        }
    }
    env.extend(injection.variables);
    Ok(env.into_iter().collect())
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

    fn vaults(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretString::from(*v)))
            .collect()
    }

    fn exposed(env: &[(String, SecretString)]) -> Vec<(&str, &str)> {
        env.iter().map(|(n, v)| (n.as_str(), v.expose())).collect()
    }

    /// Issue 12's new user: a worker holding the master key and its API key
    /// builds a task's environment; the task must see neither.
    #[test]
    fn child_env_of_a_worker_holding_the_master_key_and_api_key_passes_on_neither() {
        let base = [
            ("HOME", "/home/worker"),
            (
                "RUNQY_VAULT_MASTER_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("RUNQY_VAULT_MASTER_KEY_FILE", "/run/secrets/key"),
            ("RUNQY_API_KEY", "worker-api-key"),
            ("Runqy_Git_Token", "ghp_lowercase"),
            ("RUNQY_VAULT_KEYS", "STALE,NAMES"),
        ];
        let env = child_env(&vaults(&[("API_KEY", "sk-123456")]), base, &[] as &[&str]).unwrap();
        assert_eq!(
            exposed(&env),
            [
                ("API_KEY", "sk-123456"),
                ("HOME", "/home/worker"),
                ("RUNQY_VAULT_KEYS", "API_KEY")
            ]
        );
    }

    #[test]
    fn child_env_keeps_exactly_the_runqy_names_the_caller_keeps() {
        let base = [
            ("RUNQY_API_KEY", "a"),
            ("RUNQY_VAULT_MASTER_KEY", "k"),
            ("runqy_api_key", "lower"),
        ];
        let env = child_env(&BTreeMap::new(), base, &["RUNQY_API_KEY"]).unwrap();
        assert_eq!(
            exposed(&env),
            [("RUNQY_API_KEY", "a"), ("RUNQY_VAULT_KEYS", "")]
        );
        // Keeping RUNQY_VAULT_KEYS does not keep its inherited value: it is set afresh.
        let base = [("RUNQY_VAULT_KEYS", "OLD")];
        let env = child_env(&vaults(&[("B", "x")]), base, &["RUNQY_VAULT_KEYS"]).unwrap();
        assert_eq!(exposed(&env), [("B", "x"), ("RUNQY_VAULT_KEYS", "B")]);
    }

    #[test]
    fn child_env_lets_the_payload_override_inherited_values_and_the_last_duplicate_win() {
        let base = [("API_KEY", "inherited"), ("X", "1"), ("X", "2")];
        let env = child_env(&vaults(&[("API_KEY", "vault")]), base, &[] as &[&str]).unwrap();
        assert_eq!(
            exposed(&env),
            [
                ("API_KEY", "vault"),
                ("RUNQY_VAULT_KEYS", "API_KEY"),
                ("X", "2")
            ]
        );
    }

    #[test]
    fn child_env_refuses_a_reserved_or_nul_entry_naming_it() {
        let base = [("HOME", "/h")];
        let err = child_env(&vaults(&[("LD_PRELOAD", "/x.so")]), base, &[] as &[&str]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ReservedName);
        assert!(err.to_string().contains("LD_PRELOAD"), "{err}");
        let err = child_env(&vaults(&[("K", "a\0b")]), base, &[] as &[&str]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidValue);
        assert!(err.to_string().contains("'K'"), "{err}");
    }

    #[test]
    fn stale_names_are_the_previous_listed_names_not_set_again() {
        let next = injection(&vaults(&[("B", "2"), ("C", "3")])).unwrap();
        assert_eq!(stale_names(Some("A,B,,A,Z"), &next), ["A", "Z"]);
        // Names a payload could never have injected are never returned.
        assert!(stale_names(Some("PATH,LD_PRELOAD,RUNQY_X,a b"), &next).is_empty());
        assert!(stale_names(Some(""), &next).is_empty());
    }

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
