//! `check` (SPEC §14): every problem that keeps workers from receiving
//! their secrets, and more, one finding each, never a value.
//!
//! The store is read once ([`crate::store::survey`]: names, counts, every
//! entry decrypted once to prove it decrypts, then wiped) and the queue
//! configurations once; then each check in [`CHECKS`] is one small function
//! that turns what was read into findings. A new finding is a new function
//! in that list.
//!
//! ```
//! use runqy_vault::{queues::QueueConfigs, MasterKey, Store};
//! let dir = tempfile::tempdir()?;
//! let key = MasterKey::generate();
//! let store = Store::open(dir.path().join("v.db"), Some(key.to_base64().expose()))?;
//! store.create_vault("api-keys", "")?;
//! store.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true)?;
//! let configs = QueueConfigs::from_yaml(
//!     "queues:\n  inference:\n    deployment: {vaults: [api-keys, model-credentials]}\n",
//!     "queues.yaml",
//! );
//! let report = store.check(&configs, runqy_vault::check::DEFAULT_MAX_AGE_DAYS);
//! assert_eq!(report.errors, 1);
//! let error = report.findings.iter().find(|f| f.check == "missing_vault").unwrap();
//! assert_eq!(
//!     error.to_string(),
//!     "error: queue 'inference' lists vault 'model-credentials', which does not exist: \
//!      its workers fail to register"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{shown, text, Error, ErrorKind};
use crate::key::KeySource;
use crate::model::{CheckReport, Finding, Severity};
use crate::queues::{GitToken, Known, Queue, QueueConfigs};
use crate::store::survey::{survey_location, Scan, Survey};
use crate::store::{Location, Store};

/// `check --max-age`'s default: entries not written for more than 90 days.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;

impl Store {
    /// Checks this store against `configs` (and the server's `queues`
    /// table, when the database has one): every finding of SPEC §14.
    /// Entries not written for more than `max_age_days` days are reported.
    /// Every entry is decrypted once to prove it decrypts; no value is kept
    /// or shown. Nothing fails: a store that cannot be read is a finding.
    pub fn check(&self, configs: &QueueConfigs, max_age_days: u32) -> CheckReport {
        let open = (!self.is_enabled()).then_some(Error::Disabled);
        run(self.location(), open, configs, max_age_days, |scan| {
            self.survey(Some(scan))
        })
    }
}

/// Opens the store at `location` with keys from `keys` and checks it as
/// [`Store::check`] does. A store that opens disabled, or whose key does not
/// match, or a key that is not valid, is a finding, and the store is then
/// still checked read only, without decrypting; nothing is created.
pub fn check_at(
    location: impl Into<Location>,
    keys: KeySource,
    configs: &QueueConfigs,
    max_age_days: u32,
) -> CheckReport {
    let location = location.into();
    if let Some(path) = location.sqlite_path() {
        if !path.exists() {
            // Opening would create an empty store; there is nothing to check.
            return run(&location, None, configs, max_age_days, |_| {
                Err(Error::Io {
                    path: path.display().to_string(),
                    message: "the database file does not exist".to_owned(),
                })
            });
        }
    }
    match Store::open_with(&location, keys) {
        Ok(store) => store.check(configs, max_age_days),
        Err(e) if is_key_problem(&e) => run(&location, Some(e), configs, max_age_days, |scan| {
            survey_location(&location, Some(scan))
        }),
        Err(e) => run(&location, None, configs, max_age_days, |_| Err(e)),
    }
}

fn is_key_problem(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Disabled | ErrorKind::InvalidMasterKey | ErrorKind::KeyMismatch
    )
}

/// Surveys with `read` (what to look for comes from the configurations),
/// then runs every check in order.
fn run(
    location: &Location,
    open_error: Option<Error>,
    configs: &QueueConfigs,
    max_age_days: u32,
    read: impl FnOnce(&Scan) -> crate::Result<Survey>,
) -> CheckReport {
    let now = unix_now();
    let mut scan = Scan {
        stale_before: Some(now - i64::from(max_age_days) * 86_400),
        ..Scan::default()
    };
    // What the configuration files name, so the scan keeps those vaults'
    // keys (the survey adds what the server's table names).
    for q in &configs.queues {
        scan.wanted.extend(q.vaults.iter().cloned());
        if let Some(r) = q.git_token.reference() {
            scan.wanted.insert(r.vault.clone());
        }
    }
    let (survey, survey_error) = match read(&scan) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    let cx = Context {
        location,
        open_error: open_error.as_ref(),
        survey: survey.as_ref(),
        survey_error: survey_error.as_ref(),
        known: Known::new(configs, survey.as_ref().and_then(|s| s.server.as_ref())),
        max_age_days,
    };
    let mut report = CheckReport::default();
    for check in CHECKS {
        let mut found = Vec::new();
        check(&cx, &mut found);
        report.findings.extend(found);
    }
    report.errors = count(&report, Severity::Error);
    report.warnings = count(&report, Severity::Warning);
    report
}

fn count(report: &CheckReport, severity: Severity) -> u64 {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .count() as u64
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What every check reads.
struct Context<'a> {
    location: &'a Location,
    /// Why no key opened the store (disabled, key mismatch, a bad key).
    open_error: Option<&'a Error>,
    /// The store as read; `None` when it could not be read.
    survey: Option<&'a Survey>,
    survey_error: Option<&'a Error>,
    known: Known<'a>,
    max_age_days: u32,
}

impl Context<'_> {
    /// Whether the store's vaults are known (so a vault can be said missing).
    fn vaults(&self) -> Option<BTreeSet<&str>> {
        let s = self.survey?;
        Some(s.vaults.iter().map(String::as_str).collect())
    }

    /// The keys of `vault`, sorted, when the scan kept them (it keeps those
    /// of every vault a queue names); `None` for a vault without entries.
    fn keys_of(&self, vault: &str) -> Option<&[String]> {
        let scanned = self.survey?.scanned.as_ref()?;
        scanned.keys_of.get(vault).map(Vec::as_slice)
    }

    fn entry_count(&self, vault: &str) -> Option<u64> {
        let scanned = self.survey?.scanned.as_ref()?;
        Some(scanned.counts.get(vault).copied().unwrap_or(0))
    }

    /// The queues listing `vault`, as `'a', 'b'` for a message.
    fn listing(&self, vault: &str) -> Vec<&str> {
        self.known.users_of(vault).0
    }
}

/// One check: reads the context, adds its findings.
type Check = fn(&Context<'_>, &mut Vec<Finding>);

/// Every check, in the order its findings are printed: each finding of
/// SPEC §14, one function here.
const CHECKS: &[Check] = &[
    store_key,
    store_readable,
    quick_check,
    file_modes,
    postgres_tls,
    legacy_format,
    audit_chain,
    config_problems,
    disabled_queues,
    conflicting_definitions,
    missing_vaults,
    empty_vaults,
    git_tokens,
    shadowed_keys,
    undecryptable_entries,
    ill_named,
    stale_entries,
];

fn finding(
    severity: Severity,
    check: &str,
    queue: Option<&str>,
    vault: Option<&str>,
    key: Option<&str>,
    message: String,
) -> Finding {
    Finding {
        severity,
        check: check.to_owned(),
        queue: queue.map(str::to_owned),
        vault: vault.map(str::to_owned),
        key: key.map(str::to_owned),
        // One place for every finding: names from YAML files and the
        // database cannot forge a line or reach a terminal as they are.
        message: text(&message).to_string(),
    }
}

/// `'a', 'b'` for a message.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{}'", shown(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "queue 'a'" / "queues 'a', 'b'" / "no queue".
fn queues_phrase(names: &[&str]) -> String {
    match names.len() {
        0 => "no queue".to_owned(),
        1 => format!("queue {}", quoted(names)),
        _ => format!("queues {}", quoted(names)),
    }
}

fn store_key(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if let Some(e) = cx.open_error {
        out.push(finding(
            Severity::Error,
            "store_key",
            None,
            None,
            None,
            format!(
                "store {}: {e}; entries were not decrypted, and workers of every queue that \
                 lists a vault fail to register",
                cx.location
            ),
        ));
    }
}

fn store_readable(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if let Some(e) = cx.survey_error {
        out.push(finding(
            Severity::Error,
            "store_unreadable",
            None,
            None,
            None,
            format!("store {}: cannot be read: {e}", cx.location),
        ));
    }
}

fn quick_check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(scanned) = cx.survey.and_then(|s| s.scanned.as_ref()) else {
        return;
    };
    for line in &scanned.integrity {
        out.push(finding(
            Severity::Error,
            "quick_check",
            None,
            None,
            None,
            format!("store {}: PRAGMA quick_check: {line}", cx.location),
        ));
    }
}

/// The SQLite file and its `-wal` / `-shm` files.
fn database_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

fn file_modes(cx: &Context<'_>, out: &mut Vec<Finding>) {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = cx.location.sqlite_path() else {
        return;
    };
    for file in database_files(path) {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            out.push(finding(
                Severity::Warning,
                "file_mode",
                None,
                None,
                None,
                format!(
                    "database file {} is readable by group or others (mode {mode:04o}): vault \
                     names, keys and timestamps are not encrypted; run chmod 600 on it",
                    file.display()
                ),
            ));
        }
    }
}

/// A PostgreSQL store whose connection does not verify the server (SPEC §2):
/// a warning below verify-ca, a note for verify-ca (the host name is not checked).
#[cfg(feature = "postgres")]
fn postgres_tls(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(mode) = crate::store::postgres_sslmode(cx.location) else {
        return;
    };
    let (severity, message) = match mode {
        Ok("verify-full") => return,
        Ok("verify-ca") => (
            Severity::Note,
            "the PostgreSQL connection checks the server's certificate chain but not its host \
             name (sslmode=verify-ca); sslmode=verify-full checks both"
                .to_owned(),
        ),
        Ok(mode) => (
            Severity::Warning,
            format!(
                "the PostgreSQL connection does not verify the server (sslmode={mode}): its \
                 password and every ciphertext can be read or changed on the way; use \
                 sslmode=verify-full with sslrootcert"
            ),
        ),
        // The URL's TLS parameters are wrong: opening the store says why.
        Err(_) => return,
    };
    out.push(finding(severity, "postgres_tls", None, None, None, message));
}

#[cfg(not(feature = "postgres"))]
fn postgres_tls(_: &Context<'_>, _: &mut Vec<Finding>) {}

fn legacy_format(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if cx.survey.and_then(|s| s.format.as_deref()) == Some("legacy") {
        out.push(finding(
            Severity::Warning,
            "legacy_format",
            None,
            None,
            None,
            format!(
                "store {} is in the legacy format: its values are not bound to their vault and \
                 key; run `runqy-vault migrate` once no older runqy server reads it",
                cx.location
            ),
        ));
    }
}

/// The audit log's chain, verified with the current key (SPEC §13): a
/// record edited, removed, inserted or moved, or the log restarted.
fn audit_chain(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(message) = cx
        .survey
        .and_then(|s| s.scanned.as_ref())
        .and_then(|s| s.audit_broken.as_deref())
    else {
        return;
    };
    out.push(finding(
        Severity::Error,
        "audit_chain",
        None,
        None,
        None,
        format!(
            "the audit log of store {} is broken: {message}; `runqy-vault audit verify` says the \
             same, `audit prune --before DATE` past it starts a verifiable log again",
            cx.location
        ),
    ));
}

fn config_problems(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for p in &cx.known.problems {
        out.push(finding(
            Severity::Error,
            "config",
            p.queue.as_deref(),
            None,
            None,
            p.to_string(),
        ));
    }
}

fn disabled_queues(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(s) = cx.survey else { return };
    for q in &s.disabled_queues {
        out.push(finding(
            Severity::Note,
            "disabled_queue",
            Some(q),
            None,
            None,
            format!("queue '{q}' is disabled in the server's queues table: not checked"),
        ));
    }
}

/// `[a, b]` for a message.
fn list(vaults: &[String]) -> String {
    format!("[{}]", vaults.join(", "))
}

fn conflicting_definitions(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (name, defs) in &cx.known.by_name {
        let Some(first) = defs.first() else { continue };
        for other in &defs[1..] {
            if other.vaults == first.vaults {
                continue;
            }
            out.push(finding(
                Severity::Warning,
                "conflicting_queue",
                Some(name),
                None,
                None,
                format!(
                    "queue '{name}' lists vaults {} in {} but {} in {}: workers get what the \
                     server loaded last",
                    list(&first.vaults),
                    first.source,
                    list(&other.vaults),
                    other.source
                ),
            ));
        }
    }
}

/// Each (queue, vault) pair once, in queue then list order.
fn listed_pairs<'a>(cx: &'a Context<'_>) -> Vec<(&'a str, &'a str)> {
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::new();
    for (name, defs) in &cx.known.by_name {
        for q in defs {
            for v in &q.vaults {
                if seen.insert((*name, v.as_str())) {
                    pairs.push((*name, v.as_str()));
                }
            }
        }
    }
    pairs
}

fn missing_vaults(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(existing) = cx.vaults() else { return };
    for (queue, vault) in listed_pairs(cx) {
        if !existing.contains(vault) {
            out.push(finding(
                Severity::Error,
                "missing_vault",
                Some(queue),
                Some(vault),
                None,
                format!(
                    "queue '{queue}' lists vault '{vault}', which does not exist: its workers \
                     fail to register"
                ),
            ));
        }
    }
}

fn empty_vaults(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(s) = cx.survey else { return };
    for vault in &s.vaults {
        if cx.entry_count(vault) != Some(0) {
            continue;
        }
        let users = cx.listing(vault);
        let (severity, tail) = if users.is_empty() {
            (Severity::Note, "no queue lists it".to_owned())
        } else {
            let verb = if users.len() == 1 { "gets" } else { "get" };
            (
                Severity::Warning,
                format!("{} {verb} nothing from it", queues_phrase(&users)),
            )
        };
        out.push(finding(
            severity,
            "empty_vault",
            users.first().copied(),
            Some(vault),
            None,
            format!("vault '{vault}' is empty: {tail}"),
        ));
    }
}

fn git_tokens(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let existing = cx.vaults();
    let mut seen = BTreeSet::new();
    for (name, defs) in &cx.known.by_name {
        for q in defs {
            let Some(message) = git_token_problem(cx, existing.as_ref(), q) else {
                continue;
            };
            if !seen.insert((*name, message.clone())) {
                continue;
            }
            let r = q.git_token.reference();
            out.push(finding(
                Severity::Warning,
                "git_token",
                Some(name),
                r.map(|r| r.vault.as_str()),
                r.map(|r| r.key.as_str()),
                message,
            ));
        }
    }
}

fn git_token_problem(
    cx: &Context<'_>,
    existing: Option<&BTreeSet<&str>>,
    q: &Queue,
) -> Option<String> {
    let name = &q.name;
    match &q.git_token {
        GitToken::None => None,
        GitToken::NotAReference => Some(format!(
            "queue '{name}': git_token is not a vault:// reference (its text is not shown: it \
             may be a plaintext token, which the runqy server logs verbatim); store the token \
             in a vault and write vault://VAULT/KEY"
        )),
        GitToken::Malformed(why) => Some(format!(
            "queue '{name}': git_token is not a valid vault:// reference: {why}; its workers \
             get no git token"
        )),
        GitToken::Reference(r) => {
            let exists = existing?.contains(r.vault.as_str());
            if !exists {
                return Some(format!(
                    "queue '{name}': git_token points to vault '{}', which does not exist; its \
                     workers get no git token",
                    r.vault
                ));
            }
            cx.entry_count(&r.vault)?; // not scanned: nothing to say
            let keys = cx.keys_of(&r.vault).unwrap_or(&[]);
            if keys.binary_search(&r.key).is_err() {
                return Some(format!(
                    "queue '{name}': git_token points to key '{}', which vault '{}' does not \
                     hold; its workers get no git token",
                    r.key, r.vault
                ));
            }
            None
        }
    }
}

fn shadowed_keys(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut seen = BTreeSet::new();
    for (name, defs) in &cx.known.by_name {
        for q in defs {
            // Key → the listed vaults holding it, in list order (each vault once).
            let mut holders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            let mut listed = BTreeSet::new();
            for v in &q.vaults {
                if !listed.insert(v.as_str()) {
                    continue;
                }
                for k in cx.keys_of(v).unwrap_or(&[]) {
                    let h = holders.entry(k.as_str()).or_default();
                    h.push(v.as_str());
                }
            }
            for (key, vaults) in holders {
                if vaults.len() < 2 {
                    continue;
                }
                // A vault listed twice counts at its last place, as the merge does.
                let winner = q
                    .vaults
                    .iter()
                    .rev()
                    .map(String::as_str)
                    .find(|v| vaults.contains(v))
                    .unwrap_or(vaults[vaults.len() - 1]);
                let losers: Vec<&str> = vaults.iter().copied().filter(|v| *v != winner).collect();
                if !seen.insert((*name, key, winner)) {
                    continue;
                }
                let (noun, verb) = if losers.len() == 1 {
                    ("vault", "is")
                } else {
                    ("vaults", "are")
                };
                out.push(finding(
                    Severity::Note,
                    "shadowed_key",
                    Some(name),
                    Some(winner),
                    Some(key),
                    format!(
                        "queue '{name}': key '{key}' of {noun} {} {verb} shadowed by vault \
                         '{winner}' (listed later, it wins)",
                        quoted(&losers)
                    ),
                ));
            }
        }
    }
}

fn undecryptable_entries(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(scanned) = cx.survey.and_then(|s| s.scanned.as_ref()) else {
        return;
    };
    for (vault, key) in &scanned.undecryptable {
        let users = cx.listing(vault);
        let tail = if users.is_empty() {
            "no queue lists the vault".to_owned()
        } else {
            format!("workers of {} fail to register", queues_phrase(&users))
        };
        out.push(finding(
            Severity::Error,
            "undecryptable",
            users.first().copied(),
            Some(vault),
            Some(key),
            format!("vault '{vault}' key '{key}' does not decrypt with this key: {tail}"),
        ));
    }
}

fn ill_named(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(s) = cx.survey else { return };
    for vault in &s.vaults {
        if let Err(e) = crate::names::check_vault_name(vault) {
            out.push(finding(
                Severity::Warning,
                "ill_named",
                None,
                Some(vault),
                None,
                format!("{e} (written by an older server; this store refuses such a name)"),
            ));
        }
    }
    let Some(scanned) = s.scanned.as_ref() else {
        return;
    };
    for (vault, key, e) in &scanned.ill_named_keys {
        let what = match e.kind() {
            ErrorKind::ReservedName => "payloads leave it out with a warning",
            _ => "workers refuse it as an environment variable",
        };
        out.push(finding(
            Severity::Warning,
            "ill_named",
            None,
            Some(vault),
            Some(key),
            format!("vault '{vault}': {e} (written by an older server; {what})"),
        ));
    }
}

fn stale_entries(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(scanned) = cx.survey.and_then(|s| s.scanned.as_ref()) else {
        return;
    };
    for (vault, key, at) in &scanned.stale {
        out.push(finding(
            Severity::Warning,
            "stale_entry",
            None,
            Some(vault),
            Some(key),
            format!(
                "vault '{vault}' key '{key}' was last updated {}, more than {} days ago",
                crate::timestamp::from_unix(*at),
                cx.max_age_days
            ),
        ));
    }
}
