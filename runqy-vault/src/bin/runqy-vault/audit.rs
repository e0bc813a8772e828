//! The audit commands (SPEC §13): `audit log`, `audit verify`, `audit
//! prune --before DATE`, `audit-reads on|off`.

use clap::{Subcommand, ValueEnum};
use runqy_vault::model::{AuditFilter, AuditRecord};
use runqy_vault::Store;

use crate::output::{emit, emit_json_each, one_line, table};
use crate::{JsonArg, Outcome};

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// List audit records, oldest first: SEQ, TIME, ACTOR, OPERATION, VAULT,
    /// KEY, VERSION (a payload's KEY lists the keys it delivered). Never a value.
    Log {
        /// Records of this vault (a payload's: listed, or a key delivered from it).
        #[arg(long, value_name = "V")]
        vault: Option<String>,
        /// Records of this key (a payload's: delivered).
        #[arg(long, value_name = "K")]
        key: Option<String>,
        /// Records by this actor, exactly.
        #[arg(long, value_name = "A")]
        actor: Option<String>,
        /// Records of this operation (set, get, payload, rotate-key, ...).
        #[arg(long, value_name = "OP")]
        operation: Option<String>,
        /// Records written at or after T: a date (2024-01-15) or RFC 3339
        /// (2024-01-15T10:30:00Z).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only the newest N matching records.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Check every record of the chain, and its head, with the current key:
    /// `Audit log intact: N records.`, or the first bad record and exit 1.
    Verify,
    /// Remove the records written before DATE, keeping the rest verifiable
    /// from an anchor record; the prune itself is recorded.
    Prune {
        /// A date (2024-01-15, midnight UTC) or an RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        before: String,
    },
}

/// `audit-reads on|off`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Switch {
    On,
    Off,
}

pub(crate) fn run(store: &Store, command: AuditCommand) -> Outcome {
    match command {
        AuditCommand::Log {
            vault,
            key,
            actor,
            operation,
            since,
            limit,
            json,
        } => {
            let filter = AuditFilter {
                vault,
                key,
                actor,
                operation,
                since,
                limit,
            };
            log(store, &filter, json)
        }
        AuditCommand::Verify => {
            let n = store.audit_verify()?;
            emit(&format!(
                "Audit log intact: {n} record{}.\n",
                if n == 1 { "" } else { "s" }
            ))
        }
        AuditCommand::Prune { before } => {
            let n = store.audit_prune(&before)?;
            emit(&format!(
                "Pruned {n} audit record{} written before {}.\n",
                if n == 1 { "" } else { "s" },
                runqy_vault::store::parse_audit_time(&before, "before date")?
            ))
        }
    }
}

/// Records are written or made table rows as they are read: only the rows'
/// text is held, never every record's parsed detail.
fn log(store: &Store, filter: &AuditFilter, json: JsonArg) -> Outcome {
    if json.json {
        return emit_json_each(|each| store.audit_log_each(filter, &mut |r| each(&r)));
    }
    let mut rows = Vec::new();
    store.audit_log_each(filter, &mut |r| {
        rows.push(row(&r));
        Ok(())
    })?;
    if rows.is_empty() {
        return emit("No audit records.\n");
    }
    emit(&table(
        &[
            "SEQ",
            "TIME",
            "ACTOR",
            "OPERATION",
            "VAULT",
            "KEY",
            "VERSION",
        ],
        rows,
    ))
}

fn row(r: &AuditRecord) -> Vec<String> {
    let dash = |s: Option<&str>| s.map_or_else(|| "-".to_owned(), one_line);
    let delivered: Vec<&str> = ["delivered", "entries"]
        .iter()
        .filter_map(|f| r.detail.get(f)?.as_array())
        .flatten()
        .filter_map(|d| d.get("key")?.as_str())
        .collect();
    let key = match (&r.key, delivered.is_empty()) {
        (Some(k), _) => one_line(k),
        (None, false) => one_line(&delivered.join(",")),
        (None, true) => "-".to_owned(),
    };
    vec![
        r.seq.to_string(),
        r.time.clone(),
        one_line(&r.actor),
        r.operation.clone(),
        dash(r.vault.as_deref()),
        key,
        r.version.map_or_else(|| "-".to_owned(), |v| v.to_string()),
    ]
}

/// `audit-reads [on|off]`: shows the setting, or sets it.
pub(crate) fn reads(store: &Store, switch: Option<Switch>) -> Outcome {
    match switch {
        None => {
            let on = store.audit_reads()?;
            emit(&format!(
                "Audit of reads: {}.\n",
                if on { "on" } else { "off" }
            ))
        }
        Some(s) => {
            let on = matches!(s, Switch::On);
            store.set_audit_reads(on)?;
            emit(&format!(
                "Audit of reads turned {}.\n",
                if on { "on" } else { "off" }
            ))
        }
    }
}
