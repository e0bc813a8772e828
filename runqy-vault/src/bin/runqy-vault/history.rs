//! The history commands (SPEC §12): history, get --version, rollback,
//! restore, purge, history-limit.

use std::io::{self, BufRead};

use runqy_vault::{HistoryEntry, PurgeReport, Store};
use zeroize::Zeroizing;

use crate::output::{emit, emit_json, one_line, table, yes_no};
use crate::{Failure, JsonArg, Outcome};

/// `history VAULT KEY [--json]`: newest first, values masked.
pub(crate) fn history(store: &Store, vault: &str, key: &str, json: JsonArg) -> Outcome {
    let versions = store.history(vault, key)?;
    if json.json {
        return emit_json(&versions);
    }
    let rows = versions.iter().map(row).collect();
    emit(&table(
        &[
            "VERSION",
            "VALUE",
            "SECRET",
            "CREATED",
            "ACTOR",
            "STATE",
            "LAST READ",
        ],
        rows,
    ))
}

fn row(h: &HistoryEntry) -> Vec<String> {
    vec![
        // A value another program wrote has no version: `-`, not an invented number.
        h.version.map_or_else(|| "-".to_owned(), |v| v.to_string()),
        one_line(&h.value),
        yes_no(h.is_secret),
        h.created_at.clone(),
        h.actor.as_deref().map_or_else(|| "-".to_owned(), one_line),
        h.state.as_str().to_owned(),
        h.last_read.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

/// `get VAULT KEY --version N`: the value and a newline, nothing else.
pub(crate) fn get_version(store: &Store, vault: &str, key: &str, version: i64) -> Outcome {
    let value = store.get_version(vault, key, version)?;
    let mut line = Zeroizing::new(String::with_capacity(value.expose().len() + 1));
    line.push_str(value.expose());
    line.push('\n');
    emit(&line)
}

pub(crate) fn rollback(store: &Store, vault: &str, key: &str, version: i64) -> Outcome {
    let now = store.rollback(vault, key, version)?;
    emit(&format!(
        "Entry '{key}' in vault '{vault}' rolled back to version {version} (now version {now}).\n"
    ))
}

pub(crate) fn restore(store: &Store, vault: &str, key: &str) -> Outcome {
    let now = store.restore(vault, key)?;
    emit(&format!(
        "Entry '{key}' restored in vault '{vault}' (version {now}).\n"
    ))
}

/// `purge VAULT [KEY] [--force]`: asks like `delete` unless `--force`,
/// naming what it destroys; anything but y/Y prints `Cancelled.`.
pub(crate) fn purge(store: &Store, vault: &str, key: Option<&str>, force: bool) -> Outcome {
    // Checked first, so nobody confirms the purge of nothing.
    let plan = store.purge_plan(vault, key)?;
    if !force {
        let what = match key {
            Some(key) => format!(
                "entry '{key}' of vault '{vault}' and its {}",
                count(plan.versions, "version")
            ),
            None => format!(
                "vault '{vault}', its {} and their {}",
                count(plan.entries, "entry"),
                count(plan.versions, "version")
            ),
        };
        emit(&format!(
            "Are you sure you want to purge {what}? This cannot be undone. (y/N): "
        ))?;
        let mut answer = String::new();
        io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Failure(format!("standard input: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y") {
            return emit("Cancelled.\n");
        }
    }
    let report = store.purge(vault, key)?;
    for warning in &report.warnings {
        eprintln!("warning: {}", one_line(warning));
    }
    emit(&purged(vault, key, &report))
}

/// `Purged N versions of ...`, finished by what went with them.
fn purged(vault: &str, key: Option<&str>, r: &PurgeReport) -> String {
    let versions = count(r.versions, "version");
    match key {
        Some(key) => format!("Purged {versions} of entry '{key}' in vault '{vault}'.\n"),
        None if r.vault_deleted => format!(
            "Purged {versions} of vault '{vault}'; the vault and its {} are deleted.\n",
            count(r.entries, "entry")
        ),
        None => format!("Purged {versions} of vault '{vault}' (deleted earlier).\n"),
    }
}

/// `1 version`, `3 versions`, `1 entry`, `0 entries`.
fn count(n: u64, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

/// `history-limit [N]`: shows the limit, or sets it (pruning every key).
pub(crate) fn history_limit(store: &Store, limit: Option<i64>) -> Outcome {
    match limit {
        None => {
            let n = store.history_limit()?;
            emit(&format!(
                "History limit: {} per key{}.\n",
                count(u64::from(n), "version"),
                only_current(u64::from(n))
            ))
        }
        Some(n) => {
            let pruned = store.set_history_limit(n)?;
            let n = n.unsigned_abs();
            emit(&format!(
                "History limit set to {} per key{}; {} pruned.\n",
                count(n, "version"),
                only_current(n),
                count(pruned, "older version")
            ))
        }
    }
}

fn only_current(n: u64) -> &'static str {
    if n == 1 {
        " (only the current value)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_or_plural() {
        assert_eq!(count(1, "version"), "1 version");
        assert_eq!(count(0, "version"), "0 versions");
        assert_eq!(count(3, "entry"), "3 entries");
        assert_eq!(count(1, "entry"), "1 entry");
        assert_eq!(count(2, "older version"), "2 older versions");
    }
}
