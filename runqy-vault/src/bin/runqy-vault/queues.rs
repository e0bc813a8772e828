//! `usage` and `check` (SPEC §14), and the notices of `set`, `unset` and
//! `delete` naming the queues a change reaches.

use std::process::ExitCode;

use runqy_vault::queues::QueueConfigs;
use runqy_vault::{KeySource, Location, Store, Usage, VaultUsage};

use crate::output::{emit, emit_json, one_line, table};
use crate::{ConfigArgs, Failure, JsonArg, Outcome};

/// The configurations `--config` names (or `QUEUE_WORKERS_DIR`). A path that
/// does not exist is an error before anything is done.
pub(crate) fn load(args: &ConfigArgs) -> Result<QueueConfigs, Failure> {
    Ok(QueueConfigs::load(&args.paths)?)
}

pub(crate) fn usage(
    location: &Location,
    vault: Option<&str>,
    args: &ConfigArgs,
    json: JsonArg,
) -> Outcome {
    let configs = load(args)?;
    let mut usage = runqy_vault::usage::usage_at(location, &configs)?;
    if let Some(name) = vault {
        usage.vaults.retain(|v| v.vault == name);
        usage.missing.retain(|v| v.vault == name);
        if usage.vaults.is_empty() && usage.missing.is_empty() {
            return Err(runqy_vault::Error::VaultNotFound {
                vaults: vec![name.to_owned()],
            }
            .into());
        }
    }
    for problem in &usage.problems {
        eprintln!("warning: {}", one_line(problem));
    }
    if json.json {
        return emit_json(&usage);
    }
    emit(&usage_table(&usage))
}

fn cell(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        one_line(&names.join(", "))
    }
}

fn usage_table(usage: &Usage) -> String {
    let rows = |list: &[VaultUsage], unused: bool| -> Vec<Vec<String>> {
        list.iter()
            .map(|v| {
                let queues = if unused && v.is_unused() {
                    "(unused)".to_owned()
                } else {
                    cell(&v.queues)
                };
                vec![one_line(&v.vault), queues, cell(&v.git_token_of)]
            })
            .collect()
    };
    let mut out = String::new();
    if usage.vaults.is_empty() && usage.missing.is_empty() {
        return "No vaults found.\n".to_owned();
    }
    if !usage.vaults.is_empty() {
        out.push_str(&table(
            &["VAULT", "QUEUES", "GIT_TOKEN_OF"],
            rows(&usage.vaults, true),
        ));
    }
    if !usage.missing.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&table(
            &["MISSING", "QUEUES", "GIT_TOKEN_OF"],
            rows(&usage.missing, false),
        ));
    }
    out
}

pub(crate) fn check(
    location: Location,
    max_age: u32,
    args: &ConfigArgs,
    json: JsonArg,
) -> Result<ExitCode, Failure> {
    let configs = load(args)?;
    let report = runqy_vault::check::check_at(location, KeySource::Environment, &configs, max_age);
    if json.json {
        emit_json(&report)?;
    } else {
        let mut out = String::new();
        for f in &report.findings {
            out.push_str(&one_line(&f.to_string()));
            out.push('\n');
        }
        out.push_str(&report.summary());
        out.push('\n');
        emit(&out)?;
    }
    Ok(if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// After `set` / `unset`: which queues get the change, on standard error,
/// when anything is known about queues. A failure to tell is a warning: the
/// change itself is done.
pub(crate) fn notice_change(store: &Store, vault: &str, key: &str, configs: &QueueConfigs) {
    match store.queues_using(vault, Some(key), configs) {
        Ok(None) => {}
        Ok(Some(queues)) if queues.is_empty() => {
            eprintln!("No queue lists vault '{vault}': no worker gets this change.");
        }
        Ok(Some(queues)) => eprintln!(
            "Queues that get this change at their workers' next registration: {}.",
            one_line(&queues.join(", "))
        ),
        Err(e) => eprintln!("warning: cannot tell which queues get this change: {e}"),
    }
}

/// Before `delete`'s question: the queues that list the vault, if known.
pub(crate) fn listing_line(
    store: &Store,
    vault: &str,
    configs: &QueueConfigs,
) -> Result<Option<String>, Failure> {
    Ok(match store.queues_using(vault, None, configs)? {
        None => None,
        Some(queues) if queues.is_empty() => Some(format!("No queue lists vault '{vault}'.\n")),
        Some(queues) => Some(format!(
            "Queues that list vault '{vault}': {} (their workers will fail to register).\n",
            one_line(&queues.join(", "))
        )),
    })
}
