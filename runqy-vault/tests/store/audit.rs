//! The audit log (SPEC §13) on both backends: one record per operation,
//! fingerprints and never values, the chain and its head (every way of
//! tampering with them found, the first bad record named), a broken log that
//! does not stop the store, rotation re-keying the chain, pruning to an
//! anchor, `audit-reads`, filters, actors and `history`'s last reads.
//! Run alone with `cargo test -p runqy-vault --test store audit::`.

use super::*;
use runqy_vault::model::{AuditFilter, AuditRecord};
use runqy_vault::{ExportEntry, ExportVault};

fn log(store: &Store) -> Vec<AuditRecord> {
    store.audit_log(&AuditFilter::default()).unwrap()
}

fn ops(store: &Store) -> Vec<String> {
    log(store).into_iter().map(|r| r.operation).collect()
}

/// The message of `verify`'s failure, which must be `AuditBroken`.
fn broken(store: &Store) -> String {
    let e = store.audit_verify().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuditBroken, "{e}");
    assert_eq!(e.http_status(), 500);
    e.to_string()
}

/// HMAC-SHA256 of `value` under HKDF-SHA256(master key, info "runqy-vault v2 audit").
fn expected_fingerprint(key_byte: u8, value: &str) -> String {
    use hmac::Mac;
    let mut k = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &[key_byte; 32])
        .expand(b"runqy-vault v2 audit", &mut k)
        .unwrap();
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&k).unwrap();
    m.update(value.as_bytes());
    format!("hmac-sha256:{}", hex::encode(m.finalize().into_bytes()))
}

/// A store with a vault and seven records: create, set ×3, get, payload, unset.
fn seven(f: &Fixture) {
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "A", "alpha-value", true).unwrap();
    f.store.set("ci", "B", "beta-value", true).unwrap();
    f.store.set("ci", "A", "alpha-two", true).unwrap();
    f.store.get("ci", "A").unwrap();
    f.store.registration_payload(&["ci"], None).unwrap();
    f.store.unset("ci", "B").unwrap();
    assert_eq!(f.store.audit_verify().unwrap(), 7);
}

fn every_operation_writes_one_record_naming_the_actor_and_no_value(b: Backend) {
    let f = Fixture::new(b);
    let ops_store = f.store.with_actor("worker:7 queue:inference").unwrap();
    f.store.create_vault("ci", "").unwrap();
    f.store.create_vault("models", "").unwrap();
    f.store.set("ci", "TOKEN", "tok-secret-1", true).unwrap();
    f.store
        .set("models", "TOKEN", "tok-secret-2", true)
        .unwrap();
    f.store.set("models", "URL", "https://m", false).unwrap();
    assert_eq!(
        ops_store.get("ci", "TOKEN").unwrap().expose(),
        "tok-secret-1"
    );
    ops_store
        .registration_payload(&["ci", "models"], Some("vault://ci/TOKEN"))
        .unwrap();
    ops_store.resolve(&["ci"]).unwrap();
    f.store
        .set("models", "TOKEN", "tok-secret-3", true)
        .unwrap();
    f.store.rollback("models", "TOKEN", 1).unwrap();
    f.store.unset("ci", "TOKEN").unwrap();
    f.store.restore("ci", "TOKEN").unwrap();
    f.store.get_version("ci", "TOKEN", 1).unwrap();
    let doc = f.store.export().unwrap();
    f.store.import(&doc).unwrap();
    f.store.set_history_limit(5).unwrap();
    f.store.purge("models", Some("URL")).unwrap();
    f.store.delete_vault("models").unwrap();
    f.store.rotate_key(&key(2)).unwrap();
    assert_eq!(
        ops(&f.store),
        [
            "create",
            "create",
            "set",
            "set",
            "set",
            "get",
            "payload",
            "resolve",
            "set",
            "rollback",
            "unset",
            "restore",
            "get-version",
            "export",
            "import",
            "history-limit",
            "purge",
            "delete",
            "rotate-key"
        ]
    );
    let records = log(&f.store);
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as i64).collect::<Vec<_>>());
    let by = |op: &str| records.iter().find(|r| r.operation == op).unwrap().clone();
    let set = by("set");
    assert_eq!(set.actor, f.store.actor());
    assert_eq!(
        (set.vault.as_deref(), set.key.as_deref(), set.version),
        (Some("ci"), Some("TOKEN"), Some(1))
    );
    assert_eq!(
        set.fingerprint,
        Some(expected_fingerprint(1, "tok-secret-1"))
    );
    let get = by("get");
    assert_eq!(get.actor, "worker:7 queue:inference");
    assert_eq!(get.version, Some(1));
    assert_eq!(
        get.fingerprint, set.fingerprint,
        "the same value, the same fingerprint"
    );
    let payload = by("payload");
    assert_eq!(payload.vault.as_deref(), Some("ci,models"));
    assert_eq!(
        payload.detail,
        serde_json::json!({
            "delivered": [
                {"key": "TOKEN", "vault": "models", "version": 1},
                {"key": "URL", "vault": "models", "version": 1},
            ],
            "git_token": "vault://ci/TOKEN",
            "git_token_version": 1,
        })
    );
    let rollback = by("rollback");
    assert_eq!(rollback.version, Some(3));
    assert_eq!(rollback.detail["from_version"], 1);
    assert_eq!(
        rollback.fingerprint,
        Some(expected_fingerprint(1, "tok-secret-2"))
    );
    assert_eq!(by("import").detail["count"], 3);
    assert_eq!(by("import").detail["entries"].as_array().unwrap().len(), 3);
    assert_eq!(by("export").detail["entries"], 3);
    assert_eq!(by("delete").detail["entries"], 1);
    // No value anywhere in the log, fingerprints only.
    let text = serde_json::to_string(&records).unwrap();
    for value in ["tok-secret-1", "tok-secret-2", "tok-secret-3", "https://m"] {
        assert!(!text.contains(value), "{value} in {text}");
    }
    // The versions carry their writer.
    let history = f.store.history("ci", "TOKEN").unwrap();
    assert!(history
        .iter()
        .all(|h| h.actor.as_deref() == Some(f.store.actor())));
    assert_eq!(f.store.audit_verify().unwrap(), records.len() as u64);
}

fn a_write_that_fails_writes_no_record(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    assert_eq!(kind(f.store.create_vault("ci", "")), ErrorKind::VaultExists);
    assert_eq!(
        kind(f.store.set("nope", "K", "v", true)),
        ErrorKind::VaultNotFound
    );
    assert_eq!(kind(f.store.get("ci", "K")), ErrorKind::EntryNotFound);
    assert_eq!(ops(&f.store), ["create"]);
}

/// Makes the database refuse every new audit record (the old ones stay).
fn refuse_records(f: &Fixture, b: Backend) {
    f.db.exec(match b {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse BEFORE INSERT ON runqy_vault_audit \
             BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
        }
        // New rows must pass a NOT VALID check; the existing ones are left alone.
        Backend::Postgres => {
            "ALTER TABLE runqy_vault_audit ADD CONSTRAINT refuse CHECK (seq < 0) NOT VALID"
        }
    });
}

/// Undoes [`refuse_records`].
fn allow_records(f: &Fixture, b: Backend) {
    f.db.exec(match b {
        Backend::Sqlite => "DROP TRIGGER refuse",
        Backend::Postgres => "ALTER TABLE runqy_vault_audit DROP CONSTRAINT refuse",
    });
}

/// Fail closed (SPEC §13): when the database refuses the record, the write
/// fails and changes nothing; a read refuses to hand out its value.
fn a_write_whose_record_cannot_be_written_fails_and_changes_nothing(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "K", "before-value", true).unwrap();
    refuse_records(&f, b);
    assert_eq!(
        kind(f.store.set("ci", "K", "after-value", true)),
        ErrorKind::Storage
    );
    assert_eq!(kind(f.store.unset("ci", "K")), ErrorKind::Storage);
    assert_eq!(kind(f.store.create_vault("cd", "")), ErrorKind::Storage);
    assert_eq!(kind(f.store.get("ci", "K")), ErrorKind::Storage);
    allow_records(&f, b);
    assert_eq!(f.store.get("ci", "K").unwrap().expose(), "before-value");
    assert!(!f.store.vault_exists("cd").unwrap());
    assert_eq!(f.store.history("ci", "K").unwrap().len(), 1);
    assert_eq!(ops(&f.store), ["create", "set", "get"]);
    assert_eq!(f.store.audit_verify().unwrap(), 3);
}

fn audit_reads_off_records_no_read_and_the_switch_is_recorded(b: Backend) {
    let f = Fixture::new(b);
    assert!(f.store.audit_reads().unwrap(), "on by default");
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "K", "value-1", true).unwrap();
    f.store.set_audit_reads(false).unwrap();
    assert!(!f.store.audit_reads().unwrap());
    // Another handle (another process) sees the switch.
    let other = f.reopen(1).unwrap();
    other.get("ci", "K").unwrap();
    f.store.get("ci", "K").unwrap();
    f.store.registration_payload(&["ci"], None).unwrap();
    f.store.set_audit_reads(true).unwrap();
    other.get("ci", "K").unwrap();
    assert_eq!(
        ops(&f.store),
        ["create", "set", "audit-reads", "audit-reads", "get"]
    );
    let switches: Vec<serde_json::Value> = log(&f.store)
        .into_iter()
        .filter(|r| r.operation == "audit-reads")
        .map(|r| r.detail["audit_reads"].clone())
        .collect();
    assert_eq!(switches, ["off", "on"]);
}

/// The records of `operation`, oldest first.
fn records_of(store: &Store, operation: &str) -> Vec<AuditRecord> {
    log(store)
        .into_iter()
        .filter(|r| r.operation == operation)
        .collect()
}

/// The git token is its own vault's current value whether that vault is one
/// of the payload's (even shadowed there by a later vault) or not, and the
/// payload's record names the version of the value it handed out: on
/// PostgreSQL the token is read ahead beside the vaults, each answered from
/// its own statement, so neither may be taken for the other.
fn a_payloads_git_token_is_its_vaults_value_and_its_record_names_that_version(b: Backend) {
    let f = Fixture::new(b);
    for vault in ["base", "queue", "ci"] {
        f.store.create_vault(vault, "").unwrap();
    }
    f.store.set("base", "TOKEN", "base-1", true).unwrap();
    f.store.set("base", "TOKEN", "base-2", true).unwrap();
    f.store.set("base", "X", "x-1", false).unwrap();
    f.store.set("queue", "TOKEN", "queue-1", true).unwrap();
    for value in ["ci-1", "ci-2", "ci-3"] {
        f.store.set("ci", "TOKEN", value, true).unwrap();
    }
    let vaults = ["base", "queue"];
    let delivered = serde_json::json!([
        {"key": "TOKEN", "vault": "queue", "version": 1},
        {"key": "X", "vault": "base", "version": 1},
    ]);

    // Inside the listed vaults, where the payload's TOKEN is queue's.
    let p = f
        .store
        .registration_payload(&vaults, Some("vault://base/TOKEN"))
        .unwrap();
    assert_eq!(
        p.to_json().expose(),
        r#"{"git_token":"base-2","vaults":{"TOKEN":"queue-1","X":"x-1"}}"#
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // Outside them.
    let p = f
        .store
        .registration_payload(&vaults, Some("vault://ci/TOKEN"))
        .unwrap();
    assert_eq!(p.git_token.as_ref().map(|t| t.expose()), Some("ci-3"));
    assert_eq!(p.vaults["TOKEN"].expose(), "queue-1");
    // No vaults at all, the token alone.
    let p = f
        .store
        .registration_payload::<&str>(&[], Some("vault://ci/TOKEN"))
        .unwrap();
    assert_eq!(p.to_json().expose(), r#"{"git_token":"ci-3"}"#);

    let records = records_of(&f.store, "payload");
    let details: Vec<&serde_json::Value> = records.iter().map(|r| &r.detail).collect();
    assert_eq!(
        details,
        [
            &serde_json::json!({
                "delivered": delivered,
                "git_token": "vault://base/TOKEN",
                "git_token_version": 2,
            }),
            &serde_json::json!({
                "delivered": delivered,
                "git_token": "vault://ci/TOKEN",
                "git_token_version": 3,
            }),
            &serde_json::json!({
                "delivered": [],
                "git_token": "vault://ci/TOKEN",
                "git_token_version": 3,
            }),
        ]
    );
    let listed: Vec<Option<&str>> = records.iter().map(|r| r.vault.as_deref()).collect();
    assert_eq!(listed, [Some("base,queue"), Some("base,queue"), None]);

    // With audit-reads off the token is handed out all the same, unrecorded.
    f.store.set_audit_reads(false).unwrap();
    let p = f
        .store
        .registration_payload(&vaults, Some("vault://base/TOKEN"))
        .unwrap();
    assert_eq!(p.git_token.as_ref().map(|t| t.expose()), Some("base-2"));
    assert_eq!(records_of(&f.store, "payload").len(), 3);
    // 3 creates, 7 sets, 3 payloads, the switch.
    assert_eq!(f.store.audit_verify().unwrap(), 14);
}

/// A git token whose vault or key is not there is left out with the warning
/// naming it, as before its read was said ahead; the payload's values are
/// still handed out and its record names no token. A removed key keeps its
/// versions: its newest one, read ahead with the missing entry, must not
/// make the token look present.
fn a_payloads_git_token_that_is_not_there_is_left_out_naming_it(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.create_vault("other", "").unwrap();
    f.store.set("ci", "A", "a-1", true).unwrap();
    f.store.set("other", "OLD", "old-1", true).unwrap();
    f.store.unset("other", "OLD").unwrap();
    let cases = [
        ("vault://nope/TOKEN", "vault 'nope' not found"),
        ("vault://ci/GONE", "entry 'GONE' not found in vault 'ci'"),
        (
            "vault://other/GONE",
            "entry 'GONE' not found in vault 'other'",
        ),
        (
            "vault://other/OLD",
            "entry 'OLD' not found in vault 'other'",
        ),
    ];
    for audited in [true, false] {
        f.store.set_audit_reads(audited).unwrap();
        for (reference, says) in cases {
            let p = f
                .store
                .registration_payload(&["ci"], Some(reference))
                .unwrap();
            assert_eq!(p.to_json().expose(), r#"{"vaults":{"A":"a-1"}}"#);
            assert_eq!(p.warnings, [format!("git_token left out: {says}")]);
            let p = f
                .store
                .registration_payload::<&str>(&[], Some(reference))
                .unwrap();
            assert_eq!(p.to_json().expose(), "{}");
            assert_eq!(p.warnings, [format!("git_token left out: {says}")]);
        }
    }
    let records = records_of(&f.store, "payload");
    assert_eq!(records.len(), 2 * cases.len(), "audit-reads on only");
    for r in &records {
        assert!(r.detail.get("git_token").is_none(), "{}", r.detail);
        assert!(r.detail.get("git_token_version").is_none(), "{}", r.detail);
    }
    f.store.audit_verify().unwrap();
}

/// A handle whose last read saw `audit-reads` on (SQLite then holds the
/// write lock from the read's first statement) still honours another handle
/// turning it off, and records again once it is turned back on.
fn a_handle_that_last_saw_audit_reads_on_follows_another_turning_it_off(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "K", "value-1", true).unwrap();
    f.store.get("ci", "K").unwrap();
    f.store.registration_payload(&["ci"], None).unwrap();
    let other = f.reopen(1).unwrap();
    other.set_audit_reads(false).unwrap();
    assert_eq!(f.store.get("ci", "K").unwrap().expose(), "value-1");
    f.store.registration_payload(&["ci"], None).unwrap();
    other.set_audit_reads(true).unwrap();
    f.store.resolve(&["ci"]).unwrap();
    assert_eq!(
        ops(&f.store),
        [
            "create",
            "set",
            "get",
            "payload",
            "audit-reads",
            "audit-reads",
            "resolve"
        ]
    );
    assert_eq!(f.store.audit_verify().unwrap(), 7);
}

/// Fail closed for reads on the one-transaction path too: after reads that
/// left the connection expecting audit-reads on, a record the database
/// refuses means no value, nothing written, and the next reads (on the
/// same connections) work and keep the chain whole.
fn a_read_whose_record_is_refused_hands_out_nothing_and_leaves_the_store_usable(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "K", "the-value", true).unwrap();
    f.store.get("ci", "K").unwrap();
    f.store.registration_payload(&["ci"], Some("ci/K")).unwrap();
    refuse_records(&f, b);
    for _ in 0..2 {
        assert_eq!(kind(f.store.get("ci", "K")), ErrorKind::Storage);
        assert_eq!(
            kind(f.store.registration_payload(&["ci"], None)),
            ErrorKind::Storage
        );
        assert_eq!(kind(f.store.resolve(&["ci"])), ErrorKind::Storage);
    }
    allow_records(&f, b);
    assert_eq!(f.store.get("ci", "K").unwrap().expose(), "the-value");
    f.store.set("ci", "K", "next-value", true).unwrap();
    assert_eq!(f.store.get("ci", "K").unwrap().expose(), "next-value");
    assert_eq!(
        ops(&f.store),
        ["create", "set", "get", "payload", "get", "set", "get"]
    );
    assert_eq!(f.store.audit_verify().unwrap(), 7);
}

fn an_edited_record_is_found_and_named(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec("UPDATE runqy_vault_audit SET actor = 'mallory' WHERE seq = 3");
    let msg = broken(&f.store);
    assert!(msg.starts_with("audit record 3: does not verify"), "{msg}");
    // The store goes on, and the chain keeps taking records.
    f.store.set("ci", "C", "gamma-value", true).unwrap();
    assert_eq!(log(&f.store).last().unwrap().seq, 8);
    assert!(broken(&f.store).starts_with("audit record 3:"));
}

fn an_edited_fingerprint_is_found(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec(&format!(
        "UPDATE runqy_vault_audit SET fingerprint = '{}' WHERE seq = 4",
        expected_fingerprint(1, "something else")
    ));
    assert!(broken(&f.store).starts_with("audit record 4: does not verify"));
}

fn a_removed_record_is_found(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec("DELETE FROM runqy_vault_audit WHERE seq = 5");
    let msg = broken(&f.store);
    assert!(msg.starts_with("audit record 5 is missing"), "{msg}");
}

fn removing_the_newest_records_is_found_by_the_head(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec("DELETE FROM runqy_vault_audit WHERE seq >= 6");
    let msg = broken(&f.store);
    assert!(
        msg.starts_with("audit record 6 is missing") && msg.contains("newest records were removed"),
        "{msg}"
    );
    // Every other command works, and the store says, once, that the log is broken.
    let again = f.reopen(1).unwrap();
    let problem = again.audit_problem().unwrap();
    assert!(problem.contains("audit record 6 is missing"), "{problem}");
    again.get("ci", "A").unwrap();
    // Removing the head as well does not hide it: verify says so, and the
    // next record (here at open) is a restart, which verify reports from then on.
    let g = Fixture::new(b);
    seven(&g);
    g.db.exec("DELETE FROM runqy_vault_audit WHERE seq >= 6");
    g.db.exec("DELETE FROM runqy_vault_meta WHERE name = 'audit_head'");
    let msg = broken(&g.store);
    assert!(
        msg.starts_with("audit record 5: the log has no head"),
        "{msg}"
    );
    let reopened = g.reopen(1).unwrap();
    let msg = broken(&reopened);
    assert!(
        msg.starts_with("audit record 6: the audit log was restarted"),
        "{msg}"
    );
    reopened.set("ci", "C", "gamma", true).unwrap();
    assert!(broken(&reopened).starts_with("audit record 6:"));
}

fn an_inserted_record_is_found(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    // Room made at 3 by renumbering, a copy of record 2 put there.
    f.db.exec("UPDATE runqy_vault_audit SET seq = seq + 1000 WHERE seq >= 3");
    f.db.exec("UPDATE runqy_vault_audit SET seq = seq - 999 WHERE seq >= 1000");
    f.db.exec(
        "INSERT INTO runqy_vault_audit (seq, at, actor, operation, vault, key, version, \
         fingerprint, detail, mac) SELECT 3, at, actor, operation, vault, key, version, \
         fingerprint, detail, mac FROM runqy_vault_audit WHERE seq = 2",
    );
    assert!(broken(&f.store).starts_with("audit record 3: does not verify"));
    // One appended after the head.
    let g = Fixture::new(b);
    seven(&g);
    g.db.exec(
        "INSERT INTO runqy_vault_audit (seq, at, actor, operation, vault, key, version, \
         fingerprint, detail, mac) SELECT 8, at, actor, operation, vault, key, version, \
         fingerprint, detail, mac FROM runqy_vault_audit WHERE seq = 7",
    );
    let msg = broken(&g.store);
    assert!(msg.starts_with("audit record 8: does not verify"), "{msg}");
}

fn reordered_records_are_found(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    // Records 2 and 3 swap places.
    f.db.exec("UPDATE runqy_vault_audit SET seq = 1002 WHERE seq = 2");
    f.db.exec("UPDATE runqy_vault_audit SET seq = 2 WHERE seq = 3");
    f.db.exec("UPDATE runqy_vault_audit SET seq = 3 WHERE seq = 1002");
    assert!(broken(&f.store).starts_with("audit record 2: does not verify"));
}

fn an_edited_head_is_found(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec(
        "UPDATE runqy_vault_meta SET value = '6' || substr(value, 2) WHERE name = 'audit_head'",
    );
    let msg = broken(&f.store);
    assert!(
        msg.contains("head") && msg.contains("does not verify"),
        "{msg}"
    );
    // The store goes on from its newest record, saying the log restarted.
    f.store.set("ci", "C", "gamma", true).unwrap();
    let tail: Vec<String> = ops(&f.store).into_iter().skip(7).collect();
    assert_eq!(tail, ["audit-restart", "set"]);
}

fn a_dropped_table_is_recreated_with_a_restart_record(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.db.exec("DROP TABLE runqy_vault_audit");
    // The running store's next write recreates it.
    f.store.set("ci", "C", "gamma-value", true).unwrap();
    let records = log(&f.store);
    assert_eq!(
        records
            .iter()
            .map(|r| (r.seq, r.operation.as_str()))
            .collect::<Vec<_>>(),
        [(8, "audit-restart"), (9, "set")]
    );
    assert_eq!(records[0].detail["after"], 7);
    let msg = broken(&f.store);
    assert!(
        msg.starts_with("audit record 8: the audit log was restarted"),
        "{msg}"
    );
    assert!(f.store.audit_problem().unwrap().contains("restarted"));
    // Dropped while no store is open: the next open recreates it.
    drop(f.store);
    f.db.exec("DROP TABLE runqy_vault_audit");
    let again = f.db.open(1).unwrap();
    assert!(again.audit_problem().unwrap().contains("audit record 10"));
    assert_eq!(ops(&again), ["audit-restart"]);
    again.get("ci", "A").unwrap();
    assert!(broken(&again).starts_with("audit record 10:"));
}

fn rotation_rekeys_the_chain_and_keeps_a_break_broken(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    f.store.rotate_key(&key(2)).unwrap();
    drop(f.store);
    let rotated = f.db.open(2).unwrap();
    assert_eq!(
        rotated.audit_verify().unwrap(),
        8,
        "verified with the new key alone"
    );
    // A break made before a rotation is still one after it.
    rotated.set("ci", "C", "gamma", true).unwrap();
    f.db.exec("UPDATE runqy_vault_audit SET key = 'Z' WHERE seq = 4");
    rotated.rotate_key(&key(3)).unwrap();
    drop(rotated);
    let again = f.db.open(3).unwrap();
    assert!(broken(&again).starts_with("audit record 4: does not verify"));
}

fn prune_keeps_the_rest_verifiable_from_an_anchor(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    // The first three records are old (the edit breaks them; pruning removes them).
    f.db.exec(
        "UPDATE runqy_vault_audit SET at = '2020-01-0' || seq || 'T00:00:00Z' WHERE seq <= 3",
    );
    assert!(broken(&f.store).starts_with("audit record 1:"));
    assert_eq!(f.store.audit_prune("2021-01-01").unwrap(), 3);
    let records = log(&f.store);
    assert_eq!(records[0].seq, 3);
    assert_eq!(records[0].operation, "audit-anchor");
    assert_eq!(records[0].detail["pruned"], 3);
    assert_eq!(records.last().unwrap().operation, "audit-prune");
    assert_eq!(
        f.store.audit_verify().unwrap(),
        6,
        "anchor, 4 to 7, the prune"
    );
    // Pruning again, to the same date, removes nothing.
    assert_eq!(f.store.audit_prune("2021-01-01").unwrap(), 0);
    // A forged anchor is found.
    f.db.exec(
        "UPDATE runqy_vault_audit SET detail = '{\"before\":\"x\",\"pruned\":0}' WHERE seq = 3",
    );
    assert!(broken(&f.store).starts_with("audit record 3: the anchor"));
    assert_eq!(
        kind(f.store.audit_prune("last tuesday")),
        ErrorKind::InvalidInput
    );
}

fn filters_select_records_and_refuse_bad_input(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    let worker = f.store.with_actor("worker:1 queue:q").unwrap();
    worker.registration_payload(&["ci"], None).unwrap();
    let find = |filter: AuditFilter| -> Vec<i64> {
        f.store
            .audit_log(&filter)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    let key_a = AuditFilter {
        key: Some("A".into()),
        ..AuditFilter::default()
    };
    // set A, set A, get A, the payload that delivered A, the second payload.
    assert_eq!(find(key_a.clone()), [2, 4, 5, 6, 8]);
    assert_eq!(
        find(AuditFilter {
            limit: Some(2),
            ..key_a
        }),
        [6, 8]
    );
    assert_eq!(
        find(AuditFilter {
            actor: Some("worker:1 queue:q".into()),
            ..AuditFilter::default()
        }),
        [8]
    );
    assert_eq!(
        find(AuditFilter {
            operation: Some("unset".into()),
            vault: Some("ci".into()),
            ..AuditFilter::default()
        }),
        [7]
    );
    assert_eq!(
        find(AuditFilter {
            since: Some("2999-01-01".into()),
            ..AuditFilter::default()
        }),
        Vec::<i64>::new()
    );
    assert_eq!(
        find(AuditFilter {
            since: Some("2000-01-01T00:00:00Z".into()),
            ..AuditFilter::default()
        })
        .len(),
        8
    );
    for (bad, says) in [
        (
            AuditFilter {
                operation: Some("steal".into()),
                ..AuditFilter::default()
            },
            "unknown operation 'steal'",
        ),
        (
            AuditFilter {
                since: Some("yesterday".into()),
                ..AuditFilter::default()
            },
            "invalid since time 'yesterday'",
        ),
        (
            AuditFilter {
                limit: Some(0),
                ..AuditFilter::default()
            },
            "invalid limit 0",
        ),
    ] {
        let e = f.store.audit_log(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains(says), "{e}");
    }
}

/// `audit_log_each` hands out what `audit_log` returns, a record at a time:
/// the newest `limit` matches found across pages of 1,000 (newest first,
/// then handed out oldest first), everything when fewer match, and a
/// callback's error stops the read at that record and comes back as it was.
fn the_log_is_handed_out_a_record_at_a_time_across_pages_and_stops_on_an_error(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap(); // seq 1
    f.store.set("ci", "A", "alpha-value", true).unwrap(); // 2
    for _ in 0..1_200 {
        f.store.get("ci", "A").unwrap(); // 3 ..= 1202
    }
    f.store.set("ci", "B", "beta-value", true).unwrap(); // 1203
    let each = |filter: &AuditFilter| -> Vec<i64> {
        let mut seqs = Vec::new();
        f.store
            .audit_log_each(filter, &mut |r| {
                seqs.push(r.seq);
                Ok(())
            })
            .unwrap();
        seqs
    };
    let gets = AuditFilter {
        operation: Some("get".into()),
        limit: Some(1_100),
        ..AuditFilter::default()
    };
    let newest_gets: Vec<i64> = (103..=1202).collect();
    assert_eq!(each(&gets), newest_gets);
    let listed: Vec<i64> = f
        .store
        .audit_log(&gets)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(listed, newest_gets);
    let sets = AuditFilter {
        operation: Some("set".into()),
        limit: Some(5_000),
        ..AuditFilter::default()
    };
    assert_eq!(each(&sets), [2, 1203]);
    assert_eq!(
        each(&AuditFilter::default()),
        (1..=1203).collect::<Vec<i64>>()
    );

    let mut seen = Vec::new();
    let e = f
        .store
        .audit_log_each(&AuditFilter::default(), &mut |r| {
            seen.push(r.seq);
            match seen.len() {
                3 => Err(runqy_vault::Error::InvalidInput(
                    "stopped by the caller".into(),
                )),
                _ => Ok(()),
            }
        })
        .unwrap_err();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(e.to_string(), "stopped by the caller");
}

/// Records are handed out between statements, a page held at a time up to
/// a budget (8 MiB): a page of large records is cut short and read on from
/// where it stopped, no record lost or handed out twice, with or without
/// a limit, and a limit that few records meet reads from the oldest match.
fn large_records_are_handed_out_in_cut_pages_none_lost_or_repeated(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    let pad = "x".repeat(1 << 20);
    for seq in 100..112 {
        f.db.exec(&format!(
            "INSERT INTO runqy_vault_audit (seq, at, actor, operation, detail, mac) \
             VALUES ({seq}, '2026-01-01T00:00:00Z', 'test', 'import', '{{\"pad\": \"{pad}\"}}', 'x')"
        ));
    }
    let seqs = |filter: AuditFilter| -> Vec<i64> {
        let mut out = Vec::new();
        f.store
            .audit_log_each(&filter, &mut |r| {
                if r.seq >= 100 {
                    assert_eq!(r.detail["pad"].as_str().map(str::len), Some(1 << 20));
                }
                out.push(r.seq);
                Ok(())
            })
            .unwrap();
        out
    };
    let every: Vec<i64> = (1..=7).chain(100..112).collect();
    assert_eq!(seqs(AuditFilter::default()), every);
    let limited = |operation: &str, limit: u32| AuditFilter {
        operation: Some(operation.into()),
        limit: Some(limit),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(limited("import", 5)), (107..112).collect::<Vec<i64>>());
    assert_eq!(
        seqs(limited("import", 20)),
        (100..112).collect::<Vec<i64>>()
    );
    assert_eq!(seqs(limited("set", 20)), [2, 3, 4]);
    assert_eq!(seqs(limited("purge", 3)), Vec::<i64>::new());
}

fn actors_are_checked_and_escaped(b: Backend) {
    let f = Fixture::new(b);
    assert_eq!(kind(f.store.with_actor("")), ErrorKind::InvalidInput);
    assert_eq!(
        kind(f.store.with_actor(&"w".repeat(257))),
        ErrorKind::InvalidInput
    );
    let odd = f
        .store
        .with_actor("worker:1\nqueue:forged\u{1b}[31m")
        .unwrap();
    odd.create_vault("ci", "").unwrap();
    assert_eq!(log(&f.store)[0].actor, "worker:1\\nqueue:forged\\u{1b}[31m");
}

fn history_shows_when_each_version_was_last_read(b: Backend) {
    let f = Fixture::new(b);
    f.store.create_vault("ci", "").unwrap();
    f.store.set("ci", "K", "one-value", true).unwrap();
    f.store.get("ci", "K").unwrap();
    f.store.set("ci", "K", "two-value", true).unwrap();
    f.store.set("ci", "N", "never-read", true).unwrap();
    f.store.registration_payload(&["ci"], None).unwrap();
    let h = f.store.history("ci", "K").unwrap();
    assert_eq!(h.len(), 2);
    assert!(h.iter().all(|v| v.last_read.is_some()), "{h:?}");
    let payload_time = log(&f.store).last().unwrap().time.clone();
    assert_eq!(h[0].last_read.as_deref(), Some(payload_time.as_str()));
    // A key of another vault with the same name, never read.
    f.store.create_vault("other", "").unwrap();
    f.store.set("other", "K", "x-value", true).unwrap();
    assert_eq!(f.store.history("other", "K").unwrap()[0].last_read, None);
}

fn check_reports_a_broken_chain_as_an_error(b: Backend) {
    let f = Fixture::new(b);
    seven(&f);
    let audit_findings = |store: &Store| -> Vec<(runqy_vault::Severity, String)> {
        store
            .check(&runqy_vault::QueueConfigs::none(), 90)
            .findings
            .into_iter()
            .filter(|x| x.check == "audit_chain")
            .map(|x| (x.severity, x.message))
            .collect()
    };
    assert!(audit_findings(&f.store).is_empty());
    f.db.exec("UPDATE runqy_vault_audit SET operation = 'get' WHERE seq = 2");
    let found = audit_findings(&f.store);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, runqy_vault::Severity::Error);
    assert!(
        found[0].1.contains("audit record 2: does not verify"),
        "{}",
        found[0].1
    );
}

on_both_backends!(
    check_reports_a_broken_chain_as_an_error,
    every_operation_writes_one_record_naming_the_actor_and_no_value,
    a_write_that_fails_writes_no_record,
    a_write_whose_record_cannot_be_written_fails_and_changes_nothing,
    audit_reads_off_records_no_read_and_the_switch_is_recorded,
    a_payloads_git_token_is_its_vaults_value_and_its_record_names_that_version,
    a_payloads_git_token_that_is_not_there_is_left_out_naming_it,
    a_handle_that_last_saw_audit_reads_on_follows_another_turning_it_off,
    a_read_whose_record_is_refused_hands_out_nothing_and_leaves_the_store_usable,
    an_edited_record_is_found_and_named,
    an_edited_fingerprint_is_found,
    a_removed_record_is_found,
    removing_the_newest_records_is_found_by_the_head,
    an_inserted_record_is_found,
    reordered_records_are_found,
    an_edited_head_is_found,
    a_dropped_table_is_recreated_with_a_restart_record,
    rotation_rekeys_the_chain_and_keeps_a_break_broken,
    prune_keeps_the_rest_verifiable_from_an_anchor,
    filters_select_records_and_refuse_bad_input,
    the_log_is_handed_out_a_record_at_a_time_across_pages_and_stops_on_an_error,
    large_records_are_handed_out_in_cut_pages_none_lost_or_repeated,
    actors_are_checked_and_escaped,
    history_shows_when_each_version_was_last_read,
);

/// SQLite: no plaintext written through any call (values, a git token, an
/// import, a rotation) is anywhere in the database file or its WAL.
#[test]
fn no_plaintext_is_in_the_database_file_or_its_wal() {
    let f = Fixture::new(Backend::Sqlite);
    let plain: Vec<String> = (0..12).map(|i| format!("PLAINTEXT-{i}-q7Zx9Wv")).collect();
    f.store.create_vault("ci", "").unwrap();
    f.store.create_vault("git", "").unwrap();
    for (i, v) in plain[..6].iter().enumerate() {
        f.store.set("ci", &format!("K{i}"), v, i % 2 == 0).unwrap();
    }
    f.store.set("git", "TOKEN", &plain[6], true).unwrap();
    f.store
        .registration_payload(&["ci"], Some("vault://git/TOKEN"))
        .unwrap();
    f.store.get("ci", "K1").unwrap();
    f.store.resolve(&["ci", "git"]).unwrap();
    let doc = ExportDocument {
        format: 1,
        vaults: vec![ExportVault {
            name: "imported".into(),
            description: String::new(),
            entries: plain[7..10]
                .iter()
                .enumerate()
                .map(|(i, v)| ExportEntry {
                    key: format!("I{i}"),
                    value: v.clone().into(),
                    is_secret: true,
                })
                .collect(),
        }],
    };
    f.store.import(&doc).unwrap();
    f.store.export().unwrap();
    f.store.set("ci", "K0", &plain[10], true).unwrap();
    f.store.rotate_key(&key(2)).unwrap();
    let store = f.db.open(2).unwrap();
    store.set("ci", "K2", &plain[11], true).unwrap();
    store.get("ci", "K2").unwrap();
    assert!(store.audit_verify().unwrap() > 15);
    let scan = |when: &str| {
        let mut files = vec![f.db.db()];
        let wal = f.db.dir.path().join("v.db-wal");
        if wal.exists() {
            files.push(wal);
        }
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            for p in &plain {
                assert!(
                    !bytes.windows(p.len()).any(|w| w == p.as_bytes()),
                    "{p} in {} ({when})",
                    file.display()
                );
            }
        }
        files.len()
    };
    assert_eq!(scan("open: the WAL holds the recent pages"), 2);
    drop(store);
    drop(f.store);
    scan("closed");
}
