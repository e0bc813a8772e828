//! What `usage` and `check` (SPEC §14) read from a store: its vault names,
//! the runqy server's `queues` table, and for `check` one pass over every
//! entry, each decrypted once to prove it decrypts and then wiped.
//!
//! A store no key opens (disabled, key mismatch) is still surveyed, read
//! only and without decrypting, so `check` reports on it instead of failing.

use std::collections::{HashMap, HashSet};

use super::backend::{Backend, Tx};
use super::Crypto;
use super::{Location, Store};
use crate::cipher::Binding;
use crate::error::{Error, Result};
use crate::queues::QueueConfigs;
use crate::schema::META_FORMAT;

/// Entries read per query of the scan: bounded memory however big the store.
const PAGE: u32 = 10_000;

/// What a `check` scan looks for beyond names and counts.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Vaults whose keys are wanted (those the configuration files list or
    /// point a `git_token` into; the server table's are added by the
    /// survey), for shadowing and token lookups.
    pub(crate) wanted: HashSet<String>,
    /// Entries last written before this Unix time are stale.
    pub(crate) stale_before: Option<i64>,
}

/// The store as `usage` and `check` see it.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// Whether the vault tables exist at all.
    pub(crate) has_vault_tables: bool,
    /// The format named in the meta table (`legacy` for a runqy server's
    /// database without one).
    pub(crate) format: Option<String>,
    /// Every vault's name, sorted.
    pub(crate) vaults: Vec<String>,
    /// The enabled queues of the server's `queues` table; `None` when the
    /// database has no such table.
    pub(crate) server: Option<QueueConfigs>,
    /// Queues of that table that are disabled, so not checked.
    pub(crate) disabled_queues: Vec<String>,
    /// The rest is read by a scan only.
    pub(crate) scanned: Option<Scanned>,
}

/// What one pass over every entry found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// Entries per vault (vaults without entries are absent).
    pub(crate) counts: HashMap<String, u64>,
    /// The keys of each wanted vault, sorted.
    pub(crate) keys_of: HashMap<String, Vec<String>>,
    /// (vault, key) of every entry that did not decrypt.
    pub(crate) undecryptable: Vec<(String, String)>,
    /// (vault, key, why) of every key that breaks the naming rules.
    pub(crate) ill_named_keys: Vec<(String, String, Error)>,
    /// (vault, key, last written, Unix seconds) of every stale entry.
    pub(crate) stale: Vec<(String, String, i64)>,
    /// What `PRAGMA quick_check` reported.
    pub(crate) integrity: Vec<String>,
    /// Why the audit log does not verify (`audit verify`'s message);
    /// `None` when it does, or when no key opens the store to check it.
    pub(crate) audit_broken: Option<String>,
}

impl Store {
    /// Surveys this store: with its keys when it has them, else read only.
    pub(crate) fn survey(&self, scan: Option<&Scan>) -> Result<Survey> {
        match &self.enabled {
            Some(inner) => {
                let crypto = inner.crypto();
                on_backend(&inner.backend, |tx| survey(tx, Some(&crypto), scan))
            }
            None => survey_location(&self.location, scan),
        }
    }
}

/// Surveys the store at `location` without a key, read only: nothing is
/// created or changed. A SQLite file that does not exist is an error.
pub(crate) fn survey_location(location: &Location, scan: Option<&Scan>) -> Result<Survey> {
    match location {
        Location::Sqlite(path) => {
            if !path.exists() {
                return Err(Error::Io {
                    path: path.display().to_string(),
                    message: "the database file does not exist".to_owned(),
                });
            }
            super::sqlite::read_only(path, |tx| survey(tx, None, scan))
        }
        Location::Postgres(url) => {
            let backend = super::open_postgres(url)?;
            on_backend(&backend, |tx| survey(tx, None, scan))
        }
    }
}

/// One snapshot for the whole survey, so counts and names agree.
fn on_backend<T>(backend: &Backend, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
    backend.read_snapshot(f)
}

fn survey(tx: &mut dyn Tx, crypto: Option<&Crypto>, scan: Option<&Scan>) -> Result<Survey> {
    let mut out = Survey {
        has_vault_tables: tx.table_exists("vaults")? && tx.table_exists("vault_entries")?,
        ..Survey::default()
    };
    out.format = if tx.table_exists("runqy_vault_meta")? {
        tx.meta_get(META_FORMAT)?
    } else {
        None
    };
    if out.format.is_none() && out.has_vault_tables {
        out.format = Some("legacy".to_owned()); // a runqy server's database, as `open` reads it
    }
    if out.has_vault_tables {
        out.vaults = tx.vault_names()?;
    }
    let mut server = QueueConfigs::none();
    let mut disabled = Vec::new();
    let has_table = tx.server_queues(&mut |name, deployment, enabled| {
        if enabled {
            server.add_server_row(name, deployment);
        } else {
            disabled.push(name.to_owned());
        }
        Ok(())
    })?;
    if has_table {
        out.server = Some(server);
        out.disabled_queues = disabled;
    }
    if let Some(scan) = scan {
        let mut scanned = Scanned {
            integrity: tx.quick_check()?,
            ..Scanned::default()
        };
        if out.has_vault_tables {
            // The server's queues name vaults too: keep their keys as well.
            let mut wanted = scan.wanted.clone();
            for q in out.server.iter().flat_map(|s| &s.queues) {
                wanted.extend(q.vaults.iter().cloned());
                if let Some(r) = q.git_token.reference() {
                    wanted.insert(r.vault.clone());
                }
            }
            scan_entries(tx, crypto, &wanted, scan.stale_before, &mut scanned)?;
        }
        if let Some(crypto) = crypto {
            // The whole chain, with the current key (SPEC §13).
            match super::audit::verify(tx, &crypto.cipher) {
                Ok(_) => {}
                Err(Error::AuditBroken { message }) => scanned.audit_broken = Some(message),
                Err(e) => return Err(e),
            }
        }
        out.scanned = Some(scanned);
    }
    Ok(out)
}

/// One pass over every entry, a page at a time: counted, names checked,
/// decrypted once (the plaintext is wiped at once), age compared.
fn scan_entries(
    tx: &mut dyn Tx,
    crypto: Option<&Crypto>,
    wanted: &HashSet<String>,
    stale_before: Option<i64>,
    out: &mut Scanned,
) -> Result<()> {
    let mut after = i64::MIN;
    loop {
        let mut last = None;
        tx.entries_stamped_after(after, PAGE, &mut |vault, row| {
            let Some(row) = row else { return Ok(()) };
            last = Some(row.paged_id()?);
            match out.counts.get_mut(vault) {
                Some(n) => *n += 1,
                None => {
                    out.counts.insert(vault.to_owned(), 1);
                }
            }
            if wanted.contains(vault) {
                out.keys_of
                    .entry(vault.to_owned())
                    .or_default()
                    .push(row.key.to_owned());
            }
            if let Err(e) = crate::names::check_key(row.key) {
                out.ill_named_keys
                    .push((vault.to_owned(), row.key.to_owned(), e));
            }
            if let Some(crypto) = crypto {
                let at = Binding {
                    vault,
                    key: row.key,
                    is_secret: row.is_secret,
                };
                // By the store's format: a legacy blob in a v2 store is undecryptable.
                if crypto.cipher.decrypt(crypto.format, at, row.value).is_err() {
                    out.undecryptable
                        .push((vault.to_owned(), row.key.to_owned()));
                }
            }
            if let (Some(before), Some(at)) = (stale_before, row.updated_at.to_unix()) {
                if at < before {
                    out.stale.push((vault.to_owned(), row.key.to_owned(), at));
                }
            }
            Ok(())
        })?;
        match last {
            Some(id) => after = id,
            None => break,
        }
    }
    for keys in out.keys_of.values_mut() {
        keys.sort_unstable();
    }
    Ok(())
}
