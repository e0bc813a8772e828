"""The audit log from Python (SPEC §13): actor= on every call, audit_log(**filters), audit_verify()."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import runqy_vault
from runqy_vault import Store


def fingerprint(master_key: str, value: str) -> str:
    """SPEC §13 computed here, apart from the core: HMAC-SHA256 of the value
    under HKDF-SHA256(master key, empty salt, info "runqy-vault v2 audit")."""
    prk = hmac.new(b"\x00" * 32, base64.b64decode(master_key), hashlib.sha256).digest()
    okm = hmac.new(prk, b"runqy-vault v2 audit\x01", hashlib.sha256).digest()
    return "hmac-sha256:" + hmac.new(okm, value.encode(), hashlib.sha256).hexdigest()


def tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.fixture
def ci(store: Store) -> Store:
    store.create_vault("ci", actor="admin")
    store.set("ci", "TOKEN", "py-secret-value", actor="admin")
    return store


def test_each_call_is_recorded_with_its_actor_and_no_value(ci: Store, key: str) -> None:
    worker = "worker:7 queue:inference"
    assert ci.registration_payload(["ci"], actor=worker) == {"vaults": {"TOKEN": "py-secret-value"}}
    assert ci.get("ci", "TOKEN", actor=worker) == "py-secret-value"
    assert ci.resolve(["ci"]) == {"TOKEN": "py-secret-value"}
    ci.unset("ci", "TOKEN", actor="admin")
    records = ci.audit_log()
    assert [(r["seq"], r["operation"], r["actor"]) for r in records] == [
        (1, "create", "admin"),
        (2, "set", "admin"),
        (3, "payload", worker),
        (4, "get", worker),
        (5, "resolve", ci.actor),
        (6, "unset", "admin"),
    ]
    assert records[1]["version"] == 1
    assert records[1]["fingerprint"] == fingerprint(key, "py-secret-value")
    assert records[3]["fingerprint"] == fingerprint(key, "py-secret-value")
    assert (records[3]["vault"], records[3]["key"], records[3]["version"]) == ("ci", "TOKEN", 1)
    assert records[2]["detail"] == {"delivered": [{"key": "TOKEN", "vault": "ci", "version": 1}]}
    assert "py-secret-value" not in repr(records)
    assert ci.audit_verify() == 6
    assert ci.audit_problem is None
    assert [r["seq"] for r in ci.audit_log(actor=worker)] == [3, 4]
    # The newest two naming the key (the resolve delivered it), oldest first.
    assert [r["seq"] for r in ci.audit_log(key="TOKEN", limit=2)] == [5, 6]
    assert ci.audit_log(operation="payload", vault="ci")[0]["seq"] == 3
    assert ci.audit_log(since="2999-01-01") == []


def test_bad_filters_and_actors_are_value_errors_naming_what_is_wrong(ci: Store) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"operation": "steal"}, "unknown operation 'steal'"),
        ({"since": "yesterday"}, "invalid since time 'yesterday'"),
        ({"limit": 0}, "invalid limit 0"),
        ({"keys": "TOKEN"}, "unknown field `keys`"),
    ]
    for filters, says in cases:
        with pytest.raises(runqy_vault.InvalidInputError, match=says) as e:
            ci.audit_log(**filters)
        assert isinstance(e.value, ValueError) and e.value.http_status == 400
    with pytest.raises(runqy_vault.InvalidInputError, match="at most 256"):
        ci.get("ci", "TOKEN", actor="w" * 257)
    with pytest.raises(runqy_vault.InvalidInputError, match="empty"):
        ci.set("ci", "K", "v", actor="")
    with pytest.raises(TypeError):
        ci.get("ci", "TOKEN", actor=7)  # type: ignore[arg-type]
    with pytest.raises(runqy_vault.InvalidInputError, match="invalid before date"):
        ci.audit_prune("soon")


def test_audit_reads_can_be_turned_off_and_the_switch_is_recorded(ci: Store) -> None:
    assert ci.audit_reads is True
    ci.audit_reads = False
    ci.get("ci", "TOKEN")
    assert ci.audit_reads is False
    assert [r["operation"] for r in ci.audit_log()] == ["create", "set", "audit-reads"]
    ci.audit_reads = True
    assert ci.audit_log()[-1]["detail"] == {"audit_reads": "on"}


def test_a_tampered_record_raises_audit_broken_and_the_store_still_works(ci: Store, db: Path, key: str) -> None:
    ci.get("ci", "TOKEN", actor="worker:1 queue:q")
    tamper(db, "UPDATE runqy_vault_audit SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(runqy_vault.AuditBrokenError, match=r"^audit record 3: does not verify") as e:
        ci.audit_verify()
    assert isinstance(e.value, runqy_vault.VaultError) and e.value.http_status == 500
    with Store(db, key) as again:
        assert again.audit_problem is not None and "audit record 3" in again.audit_problem
        assert again.get("ci", "TOKEN") == "py-secret-value"
        # An edited chain keeps taking records; verify still names the first bad one.
        assert again.audit_log()[-1]["operation"] == "get"
        with pytest.raises(runqy_vault.AuditBrokenError, match=r"^audit record 3: "):
            again.audit_verify()


@pytest.mark.parametrize(
    ("statements", "says"),
    [
        (["DELETE FROM runqy_vault_audit WHERE seq = 2"], r"^audit record 2 is missing"),
        (["DELETE FROM runqy_vault_audit WHERE seq >= 3"], r"^audit record 3 is missing: .*newest records were removed"),
        (["UPDATE runqy_vault_audit SET fingerprint = 'hmac-sha256:00' WHERE seq = 2"], r"^audit record 2: does not verify"),
        (
            [
                "UPDATE runqy_vault_audit SET seq = 100 WHERE seq = 2",
                "UPDATE runqy_vault_audit SET seq = 2 WHERE seq = 3",
                "UPDATE runqy_vault_audit SET seq = 3 WHERE seq = 100",
            ],
            r"^audit record 2: does not verify",
        ),
    ],
    ids=["removed", "newest-removed", "fingerprint-edited", "reordered"],
)
def test_removed_and_reordered_records_are_found(
    ci: Store, db: Path, statements: list[str], says: str
) -> None:
    ci.get("ci", "TOKEN")
    assert ci.audit_verify() == 3
    tamper(db, *statements)
    with pytest.raises(runqy_vault.AuditBrokenError, match=says):
        ci.audit_verify()


def test_no_plaintext_reaches_the_database_file_or_its_wal(ci: Store, db: Path) -> None:
    ci.set("ci", "OTHER", "py-plain-q7Zx9Wv", secret=False, actor="admin")
    ci.registration_payload(["ci"], actor="worker:3 queue:q")
    ci.get("ci", "OTHER")
    assert ci.audit_verify() == 5
    for path in (db, db.with_name(db.name + "-wal")):
        data = path.read_bytes()
        for plain in (b"py-secret-value", b"py-plain-q7Zx9Wv"):
            assert plain not in data, f"{plain!r} in {path.name}"


def test_the_default_actor_comes_from_the_environment(
    db: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNQY_VAULT_ACTOR", "deploy-bot")
    with Store(db, key) as s:
        assert s.actor == "deploy-bot"
        s.create_vault("ci")
        assert [(r["operation"], r["actor"]) for r in s.audit_log()] == [("create", "deploy-bot")]


def test_prune_keeps_the_log_verifiable_from_an_anchor(ci: Store) -> None:
    ci.get("ci", "TOKEN")
    assert ci.audit_prune("2999-01-01") == 3
    records = ci.audit_log()
    assert [r["operation"] for r in records] == ["audit-anchor", "audit-prune"]
    assert records[0]["detail"] == {"before": "2999-01-01T00:00:00Z", "pruned": 3}
    assert ci.audit_verify() == 2


def test_history_shows_the_writer_and_the_last_read(ci: Store) -> None:
    ci.registration_payload(["ci"], actor="worker:2 queue:q")
    (h,) = ci.history("ci", "TOKEN")
    assert h["actor"] == "admin"
    assert h["last_read"] == ci.audit_log()[-1]["time"]
