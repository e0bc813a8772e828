//! `usage` (SPEC §14): which queues use which vault, from the queue
//! configurations and the runqy server's `queues` table, so that nobody
//! changes a vault without knowing whose workers get the change.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::model::{Usage, VaultUsage};
use crate::queues::{Known, QueueConfigs};
use crate::store::survey::{survey_location, Survey};
use crate::store::{Location, Store};

impl Store {
    /// Every vault with the queues that list it (and those whose `git_token`
    /// points into it), and the vaults queues name that do not exist. The
    /// queues come from `configs` and from the server's `queues` table when
    /// the store's database has one. Needs no key: nothing is decrypted.
    ///
    /// ```
    /// use runqy_vault::{queues::QueueConfigs, MasterKey, Store};
    /// let dir = tempfile::tempdir()?;
    /// let key = MasterKey::generate();
    /// let store = Store::open(dir.path().join("v.db"), Some(key.to_base64().expose()))?;
    /// store.create_vault("api-keys", "")?;
    /// store.create_vault("old", "")?;
    /// let configs = QueueConfigs::from_yaml(
    ///     "queues:\n  inference:\n    deployment: {vaults: [api-keys, model-credentials]}\n",
    ///     "queues.yaml",
    /// );
    /// let usage = store.usage(&configs)?;
    /// assert_eq!(usage.vaults[0].queues, ["inference"]);
    /// assert!(usage.vaults[1].is_unused());
    /// assert_eq!(usage.missing[0].vault, "model-credentials");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn usage(&self, configs: &QueueConfigs) -> Result<Usage> {
        Ok(usage_of(&self.survey(None)?, configs))
    }

    /// The queues whose workers get a change of `vault` (or of its `key`, for
    /// the queues taking their `git_token` from it) at their next
    /// registration, sorted; `None` when nothing is known about queues (no
    /// configuration given and no server table in the database).
    pub fn queues_using(
        &self,
        vault: &str,
        key: Option<&str>,
        configs: &QueueConfigs,
    ) -> Result<Option<Vec<String>>> {
        let survey = self.survey(None)?;
        if !configs.given && survey.server.is_none() {
            return Ok(None);
        }
        let known = Known::new(configs, survey.server.as_ref());
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for (name, defs) in &known.by_name {
            for q in defs {
                let lists = q.vaults.iter().any(|v| v == vault);
                let token = q
                    .git_token
                    .reference()
                    .is_some_and(|r| r.vault == vault && key.is_none_or(|k| r.key == k));
                if lists || token {
                    names.insert(name);
                }
            }
        }
        Ok(Some(names.into_iter().map(str::to_owned).collect()))
    }
}

/// [`Store::usage`] for the store at `location`, opened read only and
/// without a key (so a disabled store or one whose key does not match
/// still answers). A SQLite file that does not exist is an error.
pub fn usage_at(location: impl Into<Location>, configs: &QueueConfigs) -> Result<Usage> {
    Ok(usage_of(&survey_location(&location.into(), None)?, configs))
}

fn usage_of(survey: &Survey, configs: &QueueConfigs) -> Usage {
    let known = Known::new(configs, survey.server.as_ref());
    let strings = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect();
    let row = |vault: &str| {
        let (queues, token) = known.users_of(vault);
        VaultUsage {
            vault: vault.to_owned(),
            queues: strings(queues),
            git_token_of: strings(token),
        }
    };
    let vaults: Vec<VaultUsage> = survey.vaults.iter().map(String::as_str).map(row).collect();
    let existing: BTreeSet<&str> = survey.vaults.iter().map(String::as_str).collect();
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for defs in known.by_name.values() {
        for q in defs {
            named.extend(q.vaults.iter().map(String::as_str));
            if let Some(r) = q.git_token.reference() {
                named.insert(&r.vault);
            }
        }
    }
    let missing = named
        .into_iter()
        .filter(|v| !existing.contains(v))
        .map(row)
        .collect();
    Usage {
        vaults,
        missing,
        problems: known.problems.iter().map(ToString::to_string).collect(),
    }
}
