//! The audit log (SPEC §13): one record per operation that changes anything
//! or hands out plaintext, in the table `runqy_vault_audit` of the store's
//! own database, written at the door (`Store::write` / `Store::read`).
//!
//! The chain: each record's MAC is HMAC-SHA256, under the chain key derived
//! from the master key, of `0x01 ‖ the previous record's MAC ‖ the record`
//! (every column but the MAC, length-prefixed). The head, `seq:mac` of the
//! newest record, is kept in the meta table with a MAC of its own
//! (`0x03 ‖ seq ‖ mac`), so removing the newest records is found too. A
//! pruned log starts at an anchor: the last pruned record's MAC kept, its
//! content replaced by what was pruned, sealed by `0x02 ‖ seq ‖ mac ‖ the
//! anchor`. Values are never written: a fingerprint is HMAC-SHA256 of the
//! value under the audit key (HKDF info `"runqy-vault v2 audit"`).
//!
//! Rotation re-keys the chain in its own transaction, record by record; a
//! record that did not verify under the old key is given a MAC that does
//! not verify under the new one either, so re-keying never hides a break.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::backend::{AuditRow, MacRewrites, MetaLock, Tx};
use super::op::Op;
use super::Store;
use crate::cipher::{push_hex, Cipher, FINGERPRINT_PREFIX};
use crate::error::{shown, Error, Result};
use crate::model::{AuditFilter, AuditRecord};
use crate::schema::{META_AUDIT_HEAD, META_AUDIT_READS, META_AUDIT_RESTART, META_REVISION};
use crate::timestamp;

type HmacSha256 = Hmac<Sha256>;

// Keyed HMAC states (the chain's, a fingerprint's: SHA-256 cores) and the
// block buffer, which holds the tail of a fingerprinted value, are wiped
// when dropped, by the `zeroize` features of hmac and sha2 (Cargo.toml).
// `Hmac` itself carries no marker, so its parts are checked: without the
// features this fails to build, rather than leaving copies in freed memory.
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<<Sha256 as hmac::digest::block_api::CoreProxy>::Core>();
    wiped_on_drop::<hmac::digest::block_api::Buffer<hmac::block_api::HmacCore<Sha256>>>();
};

/// Records read and checked per page by `verify`, re-keyed per page by rotation.
const PAGE: u32 = 10_000;

/// The operation of a record written where a dropped audit table was recreated.
pub(crate) const RESTART: &str = "audit-restart";
/// The operation of the first record of a pruned log.
pub(crate) const ANCHOR: &str = "audit-anchor";

/// Every operation a record may name, for the filters (SPEC §13's list,
/// and the audit log's own).
pub const OPERATIONS: &[&str] = &[
    "create",
    "delete",
    "set",
    "unset",
    "rollback",
    "restore",
    "purge",
    "get",
    "get-version",
    "resolve",
    "payload",
    "export",
    "import",
    "rotate-key",
    "migrate",
    "history-limit",
    "audit-reads",
    "audit-prune",
    RESTART,
    ANCHOR,
];

/// The longest actor, in characters (SPEC §13).
pub const MAX_ACTOR: usize = 256;

/// The environment variable the CLI (and the default of every binding) takes the actor from.
pub const ENV_ACTOR: &str = "RUNQY_VAULT_ACTOR";

/// An actor as the log keeps it: at most [`MAX_ACTOR`] characters, not
/// empty, control and invisible characters escaped (the one sanitiser of
/// `error.rs`), so an actor can forge no line of `audit log`.
pub fn actor(text: &str) -> Result<String> {
    let count = text.chars().count();
    if text.trim().is_empty() {
        return Err(Error::InvalidInput(
            "invalid actor: it is empty (give who acts, e.g. `worker:7 queue:inference`)"
                .to_owned(),
        ));
    }
    if count > MAX_ACTOR {
        return Err(Error::InvalidInput(format!(
            "invalid actor '{}': {count} characters, at most {MAX_ACTOR}",
            shown(text)
        )));
    }
    Ok(shown(text).to_string())
}

/// The actor when the caller names none: `RUNQY_VAULT_ACTOR`, else
/// `user@host` of this process (`unknown` for a part that cannot be found).
pub fn default_actor() -> String {
    if let Ok(given) = std::env::var(ENV_ACTOR) {
        if let Ok(a) = actor(&given) {
            return a;
        }
    }
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(login_name)
        .unwrap_or_else(|| "unknown".to_owned());
    let host = host_name().unwrap_or_else(|| "unknown".to_owned());
    actor(&format!("{user}@{host}")).unwrap_or_else(|_| "unknown@unknown".to_owned())
}

fn login_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; the
    // name is copied out at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned()).filter(|h| !h.is_empty())
}

/// Now, as the log writes times: RFC 3339 UTC, whole seconds.
fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    timestamp::from_unix(secs)
}

/// What a bad `since` filter is called in its message: the filter's name in
/// every language (`--since`, Python's `since=`, the C and Go JSON's
/// `"since"`), not the CLI's flag alone.
pub(crate) const SINCE: &str = "since time";
/// What a bad `before` of a prune is called in its message (see [`SINCE`]).
pub(crate) const BEFORE: &str = "before date";

/// A time given to a filter or to `prune`: `YYYY-MM-DD` (midnight UTC) or
/// RFC 3339, as the log's own form (`2024-01-15T10:30:00Z`) for comparison.
pub fn parse_time(text: &str, what: &str) -> Result<String> {
    let t = text.trim();
    let full = if t.len() == 10 {
        format!("{t}T00:00:00Z")
    } else {
        t.to_owned()
    };
    let seconds = timestamp::to_unix(&full)
        .filter(|_| full.len() >= 20 && (full.ends_with('Z') || full[19..].contains(['+', '-'])));
    match seconds {
        Some(s) => Ok(timestamp::from_unix(s)),
        None => Err(Error::InvalidInput(format!(
            "invalid {what} '{}': give a date (2024-01-15) or an RFC 3339 time with its zone \
             (2024-01-15T10:30:00Z)",
            shown(text)
        ))),
    }
}

/// One key a payload or a resolve handed out, borrowed from what the read
/// hands out (a payload's record is written on the hottest path: its keys
/// and vaults are not copied once more only to be serialized).
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Delivered<'a> {
    /// The key (the environment variable).
    pub key: &'a str,
    /// The vault it came from.
    pub vault: &'a str,
    /// The entry's version, when it has one.
    pub version: Option<i64>,
}

/// One key of a record's `delivered` list, read in place from its detail.
#[derive(serde::Deserialize)]
struct DeliveredRef<'a> {
    #[serde(borrow, default)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    vault: std::borrow::Cow<'a, str>,
    #[serde(default)]
    version: Option<i64>,
}

/// The keys a payload's or a resolve's record says it handed out; empty for
/// any other record, or a detail that does not parse. Only `delivered` is
/// read: the rest of the detail (an import part's 10,000 entry names) is
/// skipped, not built into a `Value` for each record a filter looks at.
fn delivered_in(detail: Option<&str>) -> Vec<DeliveredRef<'_>> {
    #[derive(serde::Deserialize)]
    struct Detail<'a> {
        #[serde(borrow, default)]
        delivered: Vec<DeliveredRef<'a>>,
    }
    detail
        .and_then(|d| serde_json::from_str::<Detail<'_>>(d).ok())
        .map(|d| d.delivered)
        .unwrap_or_default()
}

/// What an operation did, as its record says it: filled by the operation's
/// body (reads) or by `Writer` (writes), made a record at the door.
#[derive(Debug, Default)]
pub(crate) struct Note {
    pub vault: Option<String>,
    pub key: Option<String>,
    pub version: Option<i64>,
    pub fingerprint: Option<String>,
    /// Each name's value as JSON text, serialized once when set: a
    /// payload's list of delivered keys never becomes a `Value` tree.
    pub detail: BTreeMap<String, String>,
}

impl Note {
    /// The note of a single value: its vault, key, version and fingerprint.
    pub(crate) fn value(vault: &str, key: &str, version: Option<i64>, fingerprint: String) -> Note {
        Note {
            vault: Some(vault.to_owned()),
            key: Some(key.to_owned()),
            version,
            fingerprint: Some(fingerprint),
            detail: BTreeMap::new(),
        }
    }

    /// Adds `name: value` to the detail.
    pub(crate) fn with(mut self, name: &str, value: impl Serialize) -> Note {
        self.set(name, value);
        self
    }

    /// Sets the keys a payload or a resolve handed out (SPEC §13: each with
    /// the vault it came from and that entry's version), in key order.
    pub(crate) fn set_delivered<'a>(&mut self, delivered: impl IntoIterator<Item = Delivered<'a>>) {
        self.set("delivered", delivered.into_iter().collect::<Vec<_>>());
    }

    /// Sets `name: value` in the detail.
    pub(crate) fn set(&mut self, name: &str, value: impl Serialize) {
        if let Ok(v) = serde_json::to_string(&value) {
            self.detail.insert(name.to_owned(), v);
        }
    }
}

/// The columns an operation's record starts from, before its note.
pub(crate) fn base_note(op: &Op<'_>) -> Note {
    let one = |vault: &str, key: Option<&str>| Note {
        vault: Some(vault.to_owned()),
        key: key.map(str::to_owned),
        ..Note::default()
    };
    match *op {
        Op::CreateVault { vault } | Op::DeleteVault { vault } => one(vault, None),
        Op::Set { vault, key }
        | Op::Unset { vault, key }
        | Op::Get { vault, key }
        | Op::Restore { vault, key }
        | Op::History { vault, key } => one(vault, Some(key)),
        Op::Rollback {
            vault,
            key,
            version,
        } => one(vault, Some(key)).with("from_version", version),
        Op::GetVersion {
            vault,
            key,
            version,
        } => Note {
            version: Some(version),
            ..one(vault, Some(key))
        },
        Op::Purge { vault, key } => one(vault, key),
        Op::Resolve { vaults } | Op::Payload { vaults, .. } => Note {
            vault: (!vaults.is_empty()).then(|| vaults.join(",")),
            ..Note::default()
        },
        _ => Note::default(),
    }
}

/// Merges what the body noted into the operation's columns.
pub(crate) fn merge(mut base: Note, body: Note) -> Note {
    base.vault = body.vault.or(base.vault);
    base.key = body.key.or(base.key);
    base.version = body.version.or(base.version);
    base.fingerprint = body.fingerprint.or(base.fingerprint);
    base.detail.extend(body.detail);
    base
}

/// The head as the meta table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeadText {
    seq: i64,
    mac: [u8; 32],
    /// Whether its own MAC verifies under the key it was checked with.
    sealed: bool,
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn keyed(key: &[u8; 32]) -> HmacSha256 {
    <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length")
}

/// The record's content, as its MAC covers it: every column but the MAC,
/// each length-prefixed (absent: `0xFFFFFFFF`), so no two records encode alike.
fn encode(out: &mut Vec<u8>, r: &AuditRow<'_>) {
    fn field(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(t) => {
                out.extend_from_slice(&(t.len() as u32).to_be_bytes());
                out.extend_from_slice(t.as_bytes());
            }
            None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
    }
    out.clear();
    out.extend_from_slice(&r.seq.to_be_bytes());
    field(out, Some(r.at));
    field(out, Some(r.actor));
    field(out, Some(r.operation));
    field(out, r.vault);
    field(out, r.key);
    match r.version {
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_be_bytes());
        }
        None => out.push(0),
    }
    field(out, r.fingerprint);
    field(out, r.detail);
}

/// The chain's MACs under one key, with a reusable buffer.
struct Chain {
    key: HmacSha256,
    buf: Vec<u8>,
}

impl Chain {
    fn new(chain: &[u8; 32]) -> Chain {
        Chain {
            key: keyed(chain),
            buf: Vec::with_capacity(512),
        }
    }

    /// The MAC of `row` after a record whose MAC is `prev`.
    fn mac(&mut self, prev: &[u8; 32], row: &AuditRow<'_>) -> [u8; 32] {
        encode(&mut self.buf, row);
        let mut m = self.key.clone();
        m.update(&[0x01]);
        m.update(prev);
        m.update(&self.buf);
        m.finalize().into_bytes().into()
    }

    /// The head's seal: `0x03 ‖ seq ‖ mac`.
    fn head_seal(&self, seq: i64, mac: &[u8; 32]) -> [u8; 32] {
        let mut m = self.key.clone();
        m.update(&[0x03]);
        m.update(&seq.to_be_bytes());
        m.update(mac);
        m.finalize().into_bytes().into()
    }

    /// The head as the meta table keeps it: `seq:mac:seal`, in hex.
    fn head_text(&self, seq: i64, mac: &[u8; 32]) -> String {
        let mut out = String::with_capacity(20 + 2 + 128);
        let _ = write!(out, "{seq}:"); // writing to a String cannot fail
        push_hex(&mut out, mac);
        out.push(':');
        push_hex(&mut out, &self.head_seal(seq, mac));
        out
    }

    /// Reads `seq:mac:seal`; `None` when it is not of that form.
    fn parse_head(&self, text: &str) -> Option<HeadText> {
        let mut parts = text.split(':');
        let seq = parts.next()?.parse::<i64>().ok()?;
        let mac = unhex32(parts.next()?)?;
        let seal = parts.next().and_then(unhex32);
        Some(HeadText {
            seq,
            mac,
            sealed: seal == Some(self.head_seal(seq, &mac)),
        })
    }

    /// The seal of an anchor: its sequence number, kept MAC and content.
    fn seal(&mut self, row: &AuditRow<'_>, mac: &[u8; 32]) -> String {
        let unsealed = AuditRow {
            fingerprint: None,
            ..*row
        };
        encode(&mut self.buf, &unsealed);
        let mut m = self.key.clone();
        m.update(&[0x02]);
        m.update(mac);
        m.update(&self.buf);
        let mut out = String::from(FINGERPRINT_PREFIX);
        push_hex(&mut out, &m.finalize().into_bytes());
        out
    }
}

/// What an append found wrong on its way, for the store to say once.
pub(crate) type Notice = Option<String>;

/// Appends the record of an operation by `actor` to the chain, inside the
/// operation's transaction (a write) or its own (a read). A dropped table
/// is recreated first, with a record saying the log restarted.
pub(crate) fn append(
    tx: &mut dyn Tx,
    cipher: &Cipher,
    actor: &str,
    operation: &str,
    note: &Note,
) -> Result<Notice> {
    let mut chain = Chain::new(cipher.audit_chain_key());
    let (head, table) = tx.audit_head()?;
    let (mut seq, mut prev, mut restart) = match head.as_deref().and_then(|h| chain.parse_head(h)) {
        Some(h) if h.sealed => (h.seq, h.mac, None),
        parsed => {
            if parsed.is_some() {
                // A head sealed under another key: another process rotated it.
                super::keyring::recheck(&tx.key_meta(MetaLock::None)?, cipher)?;
            }
            // No head, or one that does not verify: the chain goes on from
            // the newest record there is, and says so in a restart record.
            let last = if table { tx.audit_last()? } else { None };
            match (parsed, last) {
                (_, Some((s, mac))) => (s, mac_of(&mac), Some(HEAD_LOST)),
                (Some(h), None) if h.seq > 0 => (h.seq, h.mac, Some(HEAD_LOST)),
                _ => (0, [0; 32], None),
            }
        }
    };
    if !table {
        tx.audit_create()?;
        if seq > 0 {
            restart = Some(TABLE_LOST);
        }
    }
    let mut notice = None;
    if let Some(why) = restart {
        seq = write_restart(tx, &mut chain, actor, seq, &prev, why)?;
        prev = mac_of(&tx.audit_last()?.map(|(_, m)| m).unwrap_or_default());
        notice = Some(restart_message(seq, why));
    }
    let detail = (!note.detail.is_empty()).then(|| detail_text(&note.detail));
    let at = now();
    seq += 1;
    let mut row = AuditRow {
        seq,
        at: &at,
        actor,
        operation,
        vault: note.vault.as_deref(),
        key: note.key.as_deref(),
        version: note.version,
        fingerprint: note.fingerprint.as_deref(),
        detail: detail.as_deref(),
        mac: "",
    };
    let mac = chain.mac(&prev, &row);
    let mut mac_hex = String::with_capacity(64);
    push_hex(&mut mac_hex, &mac);
    row.mac = &mac_hex;
    tx.audit_insert(&row)?;
    tx.meta_set(META_AUDIT_HEAD, &chain.head_text(seq, &mac))?;
    Ok(notice)
}

/// The detail as one JSON object, names sorted, as `serde_json::Map`
/// writes it; the values are JSON text already.
fn detail_text(detail: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(2 + detail.values().map(|v| v.len() + 24).sum::<usize>());
    out.push('{');
    for (i, (name, value)) in detail.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(name.as_str()).to_string());
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

/// Why a log restarted: its table was dropped.
const TABLE_LOST: &str = "its table had been dropped; the records before it are lost";
/// Why a log restarted: its head was removed or does not verify.
const HEAD_LOST: &str = "its head in runqy_vault_meta was missing or did not verify; newer \
     records may have been removed";

/// Writes the record that says the log restarted after record `lost`
/// (whose MAC was `prev`) and why, and the head after it; returns its number.
fn write_restart(
    tx: &mut dyn Tx,
    chain: &mut Chain,
    actor: &str,
    lost: i64,
    prev: &[u8; 32],
    why: &str,
) -> Result<i64> {
    let detail = serde_json::json!({ "after": lost, "why": why }).to_string();
    let at = now();
    let mut row = AuditRow {
        seq: lost + 1,
        at: &at,
        actor,
        operation: RESTART,
        vault: None,
        key: None,
        version: None,
        fingerprint: None,
        detail: Some(&detail),
        mac: "",
    };
    let mac = chain.mac(prev, &row);
    let mut mac_hex = String::with_capacity(64);
    push_hex(&mut mac_hex, &mac);
    row.mac = &mac_hex;
    tx.audit_insert(&row)?;
    tx.meta_set(META_AUDIT_HEAD, &chain.head_text(row.seq, &mac))?;
    tx.meta_set(META_AUDIT_RESTART, &row.seq.to_string())?;
    Ok(row.seq)
}

/// Why a restart record says the log restarted.
fn restart_why(r: &AuditRow<'_>) -> String {
    r.detail
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| v.get("why")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "the records before it are lost".to_owned())
}

fn restart_message(seq: i64, why: &str) -> String {
    format!("audit record {seq}: the audit log was restarted here ({why})")
}

/// At open, with write access: a store without a head gets one (so that
/// PostgreSQL's appends can lock its row), and a dropped table whose head
/// says it held records is recreated with a restart record. `had_table` is
/// whether the table existed before the schema was created.
pub(crate) fn prepare(
    tx: &mut dyn Tx,
    cipher: &Cipher,
    actor: &str,
    had_table: bool,
) -> Result<Notice> {
    let mut chain = Chain::new(cipher.audit_chain_key());
    let head = tx.meta_get(META_AUDIT_HEAD)?;
    let mut notice = None;
    match head.as_deref().and_then(|h| chain.parse_head(h)) {
        None => match tx.audit_last()? {
            // Records without a head: not healed silently, the log says so.
            Some((seq, mac)) => {
                let s = write_restart(tx, &mut chain, actor, seq, &mac_of(&mac), HEAD_LOST)?;
                notice = Some(restart_message(s, HEAD_LOST));
            }
            None if head.is_none() => {
                tx.meta_set(META_AUDIT_HEAD, &chain.head_text(0, &[0; 32]))?
            }
            None => {}
        },
        Some(h) if !had_table && h.seq > 0 => {
            // The table was dropped (and is recreated empty): say so in the log itself.
            let s = write_restart(tx, &mut chain, actor, h.seq, &h.mac, TABLE_LOST)?;
            notice = Some(restart_message(s, TABLE_LOST));
        }
        _ => {}
    }
    if tx.meta_get(META_REVISION)?.is_none() {
        tx.meta_set(META_REVISION, "0")?;
    }
    Ok(notice)
}

/// What is wrong with the log that two rows and the head show, cheaply
/// (at open): a head that does not verify or does not match the newest
/// record, a newest record that does not verify, a restart not pruned
/// yet. An edit deeper in the log is found by `verify` (and `check`).
pub(crate) fn health(tx: &mut dyn Tx, cipher: &Cipher) -> Result<Notice> {
    if !tx.table_exists("runqy_vault_audit")? {
        return Ok(None);
    }
    let mut chain = Chain::new(cipher.audit_chain_key());
    let mut last_two: Vec<OwnedRow> = Vec::new();
    tx.audit_before(i64::MAX, 2, &mut |r| {
        last_two.push(OwnedRow::of(&r));
        Ok(())
    })?;
    let head = tx.meta_get(META_AUDIT_HEAD)?;
    let head = head.as_deref().and_then(|h| chain.parse_head(h));
    match (&head, last_two.first()) {
        (None, Some(l)) => {
            return Ok(Some(format!(
                "audit record {}: the log has no head in runqy_vault_meta",
                l.seq
            )))
        }
        (Some(h), _) if !h.sealed => {
            return Ok(Some(
                "the audit log's head in runqy_vault_meta does not verify (edited)".to_owned(),
            ))
        }
        (Some(h), None) if h.seq > 0 => return Ok(Some(missing_message(1, 0, h.seq))),
        (Some(h), Some(l)) if h.seq != l.seq || unhex32(&l.mac) != Some(h.mac) => {
            return Ok(Some(head_mismatch(l.seq, h.seq)));
        }
        _ => {}
    }
    if let [l, p] = &last_two[..] {
        let prev = mac_of(&p.mac);
        if l.seq != p.seq + 1 || chain.mac(&prev, &l.row()) != mac_of(&l.mac) {
            return Ok(Some(format!(
                "audit record {}: does not verify (edited, inserted or moved)",
                l.seq
            )));
        }
    }
    if let Some(seq) = tx
        .meta_get(META_AUDIT_RESTART)?
        .and_then(|s| s.parse::<i64>().ok())
    {
        let mut restarted = None;
        tx.audit_after(seq - 1, 1, &mut |r| {
            if r.seq == seq && r.operation == RESTART {
                restarted = Some(restart_why(&r));
            }
            Ok(())
        })?;
        if let Some(why) = restarted {
            return Ok(Some(restart_message(seq, &why)));
        }
    }
    Ok(None)
}

fn mac_of(hex_text: &str) -> [u8; 32] {
    // A MAC that is not 32 bytes of hex never equals a computed one.
    unhex32(hex_text).unwrap_or([0xAA; 32])
}

/// An audit row copied out of its result row.
#[derive(Debug, Clone)]
struct OwnedRow {
    seq: i64,
    at: String,
    actor: String,
    operation: String,
    vault: Option<String>,
    key: Option<String>,
    version: Option<i64>,
    fingerprint: Option<String>,
    detail: Option<String>,
    mac: String,
}

impl OwnedRow {
    fn of(r: &AuditRow<'_>) -> OwnedRow {
        OwnedRow {
            seq: r.seq,
            at: r.at.to_owned(),
            actor: r.actor.to_owned(),
            operation: r.operation.to_owned(),
            vault: r.vault.map(str::to_owned),
            key: r.key.map(str::to_owned),
            version: r.version,
            fingerprint: r.fingerprint.map(str::to_owned),
            detail: r.detail.map(str::to_owned),
            mac: r.mac.to_owned(),
        }
    }

    /// About the memory its text takes (an import part's detail is about
    /// 1.5 MB as text, several times that parsed into a `Value`).
    fn bytes(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.at.len()
            + self.actor.len()
            + self.operation.len()
            + len(&self.vault)
            + len(&self.key)
            + len(&self.fingerprint)
            + len(&self.detail)
            + self.mac.len()
    }

    /// The record as the API hands it out, its detail parsed.
    fn record(self) -> AuditRecord {
        AuditRecord {
            seq: self.seq,
            time: self.at,
            actor: self.actor,
            operation: self.operation,
            vault: self.vault,
            key: self.key,
            version: self.version,
            fingerprint: self.fingerprint,
            detail: self
                .detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(serde_json::Value::Null),
        }
    }

    fn row(&self) -> AuditRow<'_> {
        AuditRow {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            operation: &self.operation,
            vault: self.vault.as_deref(),
            key: self.key.as_deref(),
            version: self.version,
            fingerprint: self.fingerprint.as_deref(),
            detail: self.detail.as_deref(),
            mac: &self.mac,
        }
    }
}

fn missing_message(from: i64, last: i64, head: i64) -> String {
    format!(
        "audit record {from} is missing: the log ends at record {last} but its head says \
         {head} (the newest records were removed)"
    )
}

fn head_mismatch(last: i64, head: i64) -> String {
    if last > head {
        format!(
            "audit record {}: after the head (record {head}): added outside runqy-vault",
            head + 1
        )
    } else if last < head {
        missing_message(last + 1, last, head)
    } else {
        format!("audit record {last}: does not match the log's head (edited)")
    }
}

fn broken(message: String) -> Error {
    Error::AuditBroken { message }
}

/// Walks the whole chain, a page at a time, and checks every record, the
/// anchor and the head. `Ok(n)`: intact, `n` records; `AuditBroken` names
/// the first bad sequence number.
pub(crate) fn verify(tx: &mut dyn Tx, cipher: &Cipher) -> Result<u64> {
    let mut chain = Chain::new(cipher.audit_chain_key());
    if !tx.table_exists("runqy_vault_audit")? {
        return match tx
            .meta_get(META_AUDIT_HEAD)?
            .as_deref()
            .and_then(|h| chain.parse_head(h))
        {
            Some(h) if h.seq > 0 => Err(broken(format!(
                "audit record 1 is missing: the table runqy_vault_audit was dropped (the log \
                 held {} records)",
                h.seq
            ))),
            _ => Ok(0),
        };
    }
    let mut count = 0u64;
    let mut prev = [0u8; 32];
    let mut expected = 1i64;
    let mut after = i64::MIN;
    let mut first = true;
    let mut failure: Option<String> = None;
    loop {
        let mut seen = 0u32;
        tx.audit_after(after, PAGE, &mut |r| {
            seen += 1;
            after = r.seq;
            if failure.is_some() {
                return Ok(());
            }
            if first && r.operation == ANCHOR {
                first = false;
                let mac = mac_of(r.mac);
                if r.fingerprint != Some(&chain.seal(&r, &mac)) {
                    failure = Some(format!(
                        "audit record {}: the anchor of the pruned log does not verify (edited)",
                        r.seq
                    ));
                    return Ok(());
                }
                prev = mac;
                expected = r.seq.saturating_add(1);
                count += 1;
                return Ok(());
            }
            first = false;
            if r.operation == RESTART {
                failure = Some(restart_message(r.seq, &restart_why(&r)));
                return Ok(());
            }
            if r.seq != expected {
                failure = Some(if r.seq > expected {
                    format!(
                        "audit record {expected} is missing (the next record is {})",
                        r.seq
                    )
                } else {
                    format!("audit record {}: out of order", r.seq)
                });
                return Ok(());
            }
            let mac = chain.mac(&prev, &r);
            if mac_of(r.mac) != mac {
                failure = Some(format!(
                    "audit record {}: does not verify (edited, inserted or moved)",
                    r.seq
                ));
                return Ok(());
            }
            if r.operation == ANCHOR {
                failure = Some(format!(
                    "audit record {}: an anchor inside the log (only a pruned log's first record is one)",
                    r.seq
                ));
                return Ok(());
            }
            prev = mac;
            expected += 1;
            count += 1;
            Ok(())
        })?;
        if let Some(message) = failure {
            return Err(broken(message));
        }
        if seen < PAGE {
            break;
        }
    }
    let last = expected - 1;
    let head = tx.meta_get(META_AUDIT_HEAD)?;
    match head.as_deref().map(|h| chain.parse_head(h)) {
        None if count == 0 => Ok(0),
        None | Some(None) => Err(broken(format!(
            "audit record {last}: the log has no head in runqy_vault_meta (removed or edited)"
        ))),
        Some(Some(h)) if !h.sealed => Err(broken(format!(
            "audit record {last}: the log's head in runqy_vault_meta does not verify (edited)"
        ))),
        Some(Some(h)) if h.seq != last => Err(broken(head_mismatch(last, h.seq))),
        Some(Some(h)) if count > 0 && h.mac != prev => Err(broken(head_mismatch(last, h.seq))),
        Some(Some(_)) => Ok(count),
    }
}

/// Re-keys the chain from `old` to `new` in the rotation's transaction, a
/// page at a time: records and the head that verified under `old` verify
/// under `new`; the others still do not.
pub(crate) fn rekey(tx: &mut dyn Tx, old: &Cipher, new: &Cipher) -> Result<()> {
    if !tx.table_exists("runqy_vault_audit")? {
        return Ok(());
    }
    let mut old_chain = Chain::new(old.audit_chain_key());
    let mut new_chain = Chain::new(new.audit_chain_key());
    let mut old_prev = [0u8; 32];
    let mut new_prev = [0u8; 32];
    let mut expected = 1i64;
    let mut first = true;
    let mut after = i64::MIN;
    let mut last: Option<(i64, [u8; 32], [u8; 32])> = None;
    loop {
        let mut page = MacRewrites::default();
        let mut seen = 0u32;
        tx.audit_after(after, PAGE, &mut |r| {
            seen += 1;
            after = r.seq;
            let stored = mac_of(r.mac);
            if first && r.operation == ANCHOR {
                first = false;
                let ok = r.fingerprint == Some(&old_chain.seal(&r, &stored));
                let seal = if ok {
                    new_chain.seal(&r, &stored)
                } else {
                    "hmac-sha256:unverified".to_owned()
                };
                page.push(r.seq, r.mac.to_owned(), Some(seal));
                old_prev = stored;
                new_prev = stored;
                expected = r.seq.saturating_add(1);
                last = Some((r.seq, stored, stored));
                return Ok(());
            }
            first = false;
            let ok = r.seq == expected && old_chain.mac(&old_prev, &r) == stored;
            let mut fresh = new_chain.mac(&new_prev, &r);
            if !ok {
                fresh[0] ^= 0xFF; // still broken under the new key
            }
            page.push(r.seq, hex::encode(fresh), None);
            old_prev = stored;
            new_prev = fresh;
            expected = r.seq.saturating_add(1);
            last = Some((r.seq, stored, fresh));
            Ok(())
        })?;
        if !page.seqs.is_empty() {
            tx.audit_set_macs(page)?; // one statement a page
        }
        if seen < PAGE {
            break;
        }
    }
    let head = tx.meta_get(META_AUDIT_HEAD)?;
    let text = match head.as_deref().map(|h| old_chain.parse_head(h)) {
        Some(Some(h)) if h.sealed => {
            let mac = match last {
                Some((seq, old_mac, new_mac)) if seq == h.seq && old_mac == h.mac => new_mac,
                None if h.seq == 0 => [0; 32],
                _ => [0x55; 32], // the head did not match the newest record: it still does not
            };
            new_chain.head_text(h.seq, &mac)
        }
        // No head, or one that did not verify: it does not verify now either.
        Some(Some(h)) => format!("{}:{}:unverified", h.seq, hex::encode(h.mac)),
        _ => return Ok(()),
    };
    tx.meta_set(META_AUDIT_HEAD, &text)
}

/// Prunes the records written before `before` (RFC 3339): the newest of
/// them becomes the anchor the kept log starts from (its MAC kept, its
/// content what was pruned, sealed), so `verify` still checks every kept
/// record. Returns how many records were removed (the anchor not counted).
pub(crate) fn prune(tx: &mut dyn Tx, cipher: &Cipher, actor: &str, before: &str) -> Result<u64> {
    if !tx.table_exists("runqy_vault_audit")? {
        return Ok(0);
    }
    let Some(seq) = tx.audit_last_before(before)? else {
        return Ok(0);
    };
    let mut kept: Option<OwnedRow> = None;
    tx.audit_after(seq - 1, 1, &mut |r| {
        kept = Some(OwnedRow::of(&r));
        Ok(())
    })?;
    let Some(old) = kept else { return Ok(0) };
    let removed = tx.audit_delete_below(seq)?;
    if old.operation == ANCHOR && removed == 0 {
        return Ok(0); // pruned up to here already
    }
    let mut earlier: u64 = 0;
    if old.operation == ANCHOR {
        earlier = old
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|v| v.get("pruned")?.as_u64())
            .unwrap_or(0);
    }
    let pruned = earlier + removed + u64::from(old.operation != ANCHOR);
    let detail = serde_json::json!({ "before": before, "pruned": pruned }).to_string();
    let mut anchor = AuditRow {
        seq,
        at: &old.at,
        actor,
        operation: ANCHOR,
        vault: None,
        key: None,
        version: None,
        fingerprint: None,
        detail: Some(&detail),
        mac: &old.mac,
    };
    let seal = Chain::new(cipher.audit_chain_key()).seal(&anchor, &mac_of(&old.mac));
    anchor.fingerprint = Some(&seal);
    tx.audit_replace(&anchor)?;
    Ok(removed + u64::from(old.operation != ANCHOR))
}

/// The needle that finds `key` of `vault` in a payload's or a resolve's detail.
fn needle(vault: &str, key: &str) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!("\"key\":{},\"vault\":{}", json(key), json(vault))
}

/// When each version of `key` in `vault` was last handed out, newest
/// first, stopping once every version in `versions` has its answer;
/// `None` for the current value when a read's record carries no version.
pub(crate) fn last_reads(
    tx: &mut dyn Tx,
    vault: &str,
    key: &str,
    versions: &[Option<i64>],
) -> Result<Vec<Option<String>>> {
    let mut out: Vec<Option<String>> = vec![None; versions.len()];
    if versions.is_empty() || !tx.table_exists("runqy_vault_audit")? {
        return Ok(out);
    }
    let needle = needle(vault, key);
    let mut before = i64::MAX;
    loop {
        let mut seen = 0u32;
        tx.audit_reads_of(vault, key, &needle, before, 1000, &mut |r| {
            seen += 1;
            before = r.seq;
            let read: Vec<Option<i64>> = match r.operation {
                "get" | "get-version" => vec![r.version],
                "export" => versions.to_vec(), // every value, whatever its version
                _ => delivered_in(r.detail)
                    .iter()
                    .filter(|d| d.key == key && d.vault == vault)
                    .map(|d| d.version)
                    .collect(),
            };
            for v in read {
                if let Some(i) = versions.iter().position(|x| *x == v) {
                    if out[i].is_none() {
                        out[i] = Some(r.at.to_owned());
                    }
                }
            }
            Ok(())
        })?;
        if seen < 1000 || out.iter().all(Option::is_some) {
            return Ok(out);
        }
    }
}

impl AuditFilter {
    /// Checks the filter: a known operation, a valid date, a limit above 0.
    pub fn check(&self) -> Result<()> {
        if let Some(op) = &self.operation {
            if !OPERATIONS.contains(&op.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "unknown operation '{}': one of {}",
                    shown(op),
                    OPERATIONS.join(", ")
                )));
            }
        }
        if let Some(since) = &self.since {
            parse_time(since, SINCE)?;
        }
        if self.limit == Some(0) {
            return Err(Error::InvalidInput(
                "invalid limit 0: give how many records to show, at least 1".to_owned(),
            ));
        }
        Ok(())
    }

    fn matches(&self, r: &AuditRow<'_>, since: Option<&str>) -> bool {
        if since.is_some_and(|s| r.at < s) {
            return false;
        }
        if self.actor.as_deref().is_some_and(|a| a != r.actor) {
            return false;
        }
        if self.operation.as_deref().is_some_and(|o| o != r.operation) {
            return false;
        }
        if let Some(v) = self.vault.as_deref() {
            let listed = r
                .vault
                .is_some_and(|rv| rv == v || rv.split(',').any(|x| x == v));
            if !listed && !delivered_in(r.detail).iter().any(|d| d.vault == v) {
                return false;
            }
        }
        if let Some(k) = self.key.as_deref() {
            if r.key != Some(k) && !delivered_in(r.detail).iter().any(|d| d.key == k) {
                return false;
            }
        }
        true
    }
}

/// The most record text [`Store::audit_log_each`] holds between two
/// statements; a page that reaches it is cut short, and the next asks for
/// as many records as fitted.
const HELD_BYTES: usize = 8 << 20;

/// Where the newest `limit` records that match begin: the sequence number
/// just before the oldest of them (all of them when fewer match), `None`
/// when none does. Found newest first without building a record.
fn start_of_newest(
    tx: &mut dyn Tx,
    filter: &AuditFilter,
    since: Option<&str>,
    limit: u32,
) -> Result<Option<i64>> {
    let (mut before, mut found, mut oldest) = (i64::MAX, 0u32, None);
    loop {
        let mut seen = 0u32;
        tx.audit_before(before, 1000, &mut |r| {
            seen += 1;
            before = r.seq;
            if found < limit && filter.matches(&r, since) {
                found += 1;
                oldest = Some(r.seq);
            }
            Ok(())
        })?;
        if found == limit || seen < 1000 {
            return Ok(oldest.map(|seq| seq.saturating_sub(1)));
        }
    }
}

impl Store {
    /// The records that match `filter`, oldest first: the newest
    /// `filter.limit` of them when a limit is given.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        self.audit_log_each(filter, &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Store::audit_log`] one record at a time, for a caller that writes
    /// them out as they come (the CLI): memory for a page of records as
    /// text, at most about 8 MiB, however many match (an import part's
    /// record alone lists up to 10,000 keys). With a limit, a first pass,
    /// newest first and building nothing, finds the oldest of the newest
    /// `limit` matches; the second hands them out from there. Both read one
    /// snapshot. An error from `each` stops the read and is returned.
    pub fn audit_log_each(
        &self,
        filter: &AuditFilter,
        each: &mut dyn FnMut(AuditRecord) -> Result<()>,
    ) -> Result<()> {
        filter.check()?;
        let since = match &filter.since {
            Some(s) => Some(parse_time(s, SINCE)?),
            None => None,
        };
        let since = since.as_deref();
        // `read` calls its body again after a failed decryption: if `each`
        // ever returned one, nothing may be handed out twice.
        let each = std::cell::RefCell::new(each);
        let started = std::cell::Cell::new(false);
        self.read(Op::List, |b, _| {
            if started.replace(true) {
                return Err(Error::storage("the audit log's reading was started twice"));
            }
            b.read_snapshot(|tx| {
                if !tx.table_exists("runqy_vault_audit")? {
                    return Ok(());
                }
                let (mut after, mut left) = match filter.limit {
                    Some(limit) => match start_of_newest(tx, filter, since, limit)? {
                        Some(start) => (start, u64::from(limit)),
                        None => return Ok(()),
                    },
                    None => (i64::MIN, u64::MAX),
                };
                let mut each = each.borrow_mut();
                // Records are handed out between statements, never while one
                // is open: a reader that stalls (`audit log --json | less`)
                // must not keep a PostgreSQL statement running into its
                // timeout. So a page is held, up to HELD_BYTES of it.
                let mut page = 256u32;
                while left > 0 {
                    let (mut seen, mut cut, mut held, mut bytes) = (0u32, false, Vec::new(), 0);
                    tx.audit_after(after, page, &mut |r| {
                        seen += 1;
                        if cut || bytes >= HELD_BYTES {
                            cut = true; // read again from `after` by the next page
                            return Ok(());
                        }
                        after = r.seq;
                        if left > 0 && filter.matches(&r, since) {
                            left -= 1;
                            let h = OwnedRow::of(&r);
                            bytes += h.bytes();
                            held.push(h);
                        }
                        Ok(())
                    })?;
                    let fitted = held.len() as u32;
                    for h in held {
                        (*each)(h.record())?;
                    }
                    if seen < page && !cut {
                        break;
                    }
                    page = if cut {
                        fitted.max(1)
                    } else {
                        (page * 2).min(1000)
                    };
                }
                Ok(())
            })
        })
    }

    /// Checks the whole chain with the current key: `Ok(n)` when the log
    /// is intact with `n` records, `AuditBroken` naming the first bad
    /// sequence number otherwise.
    pub fn audit_verify(&self) -> Result<u64> {
        self.read(Op::List, |b, crypto| {
            b.read_snapshot(|tx| verify(tx, &crypto.cipher))
        })
    }

    /// Removes the records written before `before` (a date, `2024-01-15`,
    /// or an RFC 3339 time), keeping the rest verifiable from an anchor
    /// record. The prune is itself recorded. Returns how many records went.
    pub fn audit_prune(&self, before: &str) -> Result<u64> {
        let before = parse_time(before, BEFORE)?;
        self.write(Op::AuditPrune, |w| {
            let actor = w.actor.to_owned();
            let n = prune(w.tx, &w.crypto.cipher, &actor, &before)?;
            w.note.set("before", &before);
            w.note.set("pruned", n);
            Ok(n)
        })
    }

    /// Whether reads that hand out plaintext (`get`, `resolve`, `payload`,
    /// `export`) are recorded: on unless turned off.
    pub fn audit_reads(&self) -> Result<bool> {
        self.read(Op::List, |b, _| b.audit_reads())
    }

    /// Turns the recording of reads on or off, for every process sharing
    /// the store; the change itself is recorded.
    pub fn set_audit_reads(&self, on: bool) -> Result<()> {
        self.write(Op::AuditReads, |w| {
            w.tx.meta_set(META_AUDIT_READS, if on { "on" } else { "off" })?;
            // Connections keep the flag for one content revision.
            let revision =
                w.tx.meta_get(META_REVISION)?
                    .and_then(|r| r.parse::<i64>().ok())
                    .unwrap_or(0);
            w.tx.meta_set(META_REVISION, &(revision.saturating_add(1)).to_string())?;
            w.note.set("audit_reads", if on { "on" } else { "off" });
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_escaped_bounded_and_never_empty() {
        assert_eq!(
            actor("worker:7 queue:inference").unwrap(),
            "worker:7 queue:inference"
        );
        assert_eq!(actor("a\nforged").unwrap(), "a\\nforged");
        assert!(actor("").is_err());
        assert!(actor("  ").is_err());
        assert_eq!(actor(&"x".repeat(256)).unwrap().len(), 256);
        let long = actor(&"x".repeat(257)).unwrap_err().to_string();
        assert!(long.contains("257 characters, at most 256"), "{long}");
    }

    #[test]
    fn times_are_dates_or_rfc3339_with_a_zone() {
        assert_eq!(
            parse_time("2024-01-15", "t").unwrap(),
            "2024-01-15T00:00:00Z"
        );
        assert_eq!(
            parse_time("2024-01-15T12:30:00+02:00", "t").unwrap(),
            "2024-01-15T10:30:00Z"
        );
        for bad in ["yesterday", "2024-13-01", "2024-01-15T10:30:00", ""] {
            let e = parse_time(bad, BEFORE).unwrap_err().to_string();
            assert!(e.contains("invalid before date"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_detail_is_written_as_serde_json_writes_the_same_object() {
        let delivered = vec![Delivered {
            key: "K\"1",
            vault: "v",
            version: Some(3),
        }];
        let mut note = Note::default();
        note.set("git_token", "v/TOKEN");
        note.set("delivered", &delivered);
        note.set("git_token_version", Option::<i64>::None);
        let expected = serde_json::json!({
            "delivered": delivered,
            "git_token": "v/TOKEN",
            "git_token_version": null,
        })
        .to_string();
        assert_eq!(detail_text(&note.detail), expected);
        assert_eq!(
            expected,
            r#"{"delivered":[{"key":"K\"1","vault":"v","version":3}],"git_token":"v/TOKEN","git_token_version":null}"#
        );
    }

    #[test]
    fn a_record_encodes_every_column_so_no_two_records_share_a_mac() {
        let row = |vault, key| AuditRow {
            seq: 1,
            at: "2024-01-15T10:30:00Z",
            actor: "a",
            operation: "get",
            vault,
            key,
            version: None,
            fingerprint: None,
            detail: None,
            mac: "",
        };
        let mut c = Chain::new(&[7; 32]);
        // Moving text between columns changes the MAC.
        assert_ne!(
            c.mac(&[0; 32], &row(Some("ab"), Some("c"))),
            c.mac(&[0; 32], &row(Some("a"), Some("bc")))
        );
        assert_ne!(
            c.mac(&[0; 32], &row(None, Some("k"))),
            c.mac(&[0; 32], &row(Some(""), Some("k")))
        );
        assert_ne!(
            c.mac(&[0; 32], &row(None, None)),
            c.mac(&[1; 32], &row(None, None))
        );
    }
}
