"""The defects a hostile review found (issue 17), as a Python user meets them.

The rules live in the core; these prove the module hands them on unchanged.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import runqy_vault
from runqy_vault import Store


def test_plaintext_token_echoed_in_payload_warnings_no_more(store: Store) -> None:
    store.create_vault("ci")
    payload = store.registration_payload(["ci"], git_token="ghp_PLAINTEXTtoken0123456789")
    assert set(payload) == {"warnings"}
    (warning,) = payload["warnings"]
    assert warning.startswith("git_token left out: invalid vault reference")
    assert "PLAINTEXT" not in warning


@pytest.mark.parametrize("path", ["", ":memory:", "file::memory:?cache=shared", "file:x?mode=memory"])
def test_in_memory_and_empty_paths_are_refused(path: str, key: str) -> None:
    with pytest.raises(runqy_vault.InvalidInputError) as e:
        Store(path, key)
    assert "in-memory" in str(e.value) or "empty" in str(e.value)
    assert e.value.http_status == 400


def test_code_execution_variables_are_refused_as_keys(store: Store) -> None:
    store.create_vault("app")
    for name in ["PYTHONWARNINGS", "NODE_OPTIONS", "BASH_FUNC_x", "GIT_SSH_COMMAND", "PERL5OPT"]:
        with pytest.raises(runqy_vault.InvalidNameError) as e:
            store.set("app", name, "value")
        assert name in str(e.value)


def test_messages_not_sanitised_control_characters_are_escaped(store: Store) -> None:
    with pytest.raises(runqy_vault.VaultNotFoundError) as e:
        store.get("\x1b[31mred\nforged", "K")
    message = str(e.value)
    assert "\x1b" not in message and "\n" not in message
    assert "\\u{1b}[31mred\\nforged" in message


def test_inaccurate_messages_a_whitespace_only_key_is_invalid_not_unconfigured(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY", "   ")
    with pytest.raises(runqy_vault.InvalidMasterKeyError) as e:
        Store(db)
    assert "only whitespace" in str(e.value)


def test_a_read_only_database_can_be_read_with_audit_reads_off(db: Path, key: str) -> None:
    with Store(db, key) as s:
        s.create_vault("ci")
        s.set("ci", "TOKEN", "t-value")
    with Store(f"file:{db}?mode=ro", key) as ro:
        # audit-reads on (SPEC §13): no record, no value; listings still work.
        with pytest.raises(runqy_vault.VaultError, match="read-only and audit-reads is on"):
            ro.get("ci", "TOKEN")
        assert [e["key"] for e in ro.entries("ci")] == ["TOKEN"]
    with Store(db, key) as s:
        s.audit_reads = False
    with Store(f"file:{db}?mode=ro", key) as ro:
        assert ro.get("ci", "TOKEN") == "t-value"
        with pytest.raises(runqy_vault.VaultError) as e:
            ro.set("ci", "TOKEN", "new")
        assert "read-only" in str(e.value)
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]


def test_silent_downgrade_of_a_v2_store_no_more(db: Path, key: str) -> None:
    with Store(db, key) as s:
        s.create_vault("a")
        s.set("a", "K1", "one")
        s.set("a", "K2", "two")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE runqy_vault_meta")
    with Store(db, key) as s:
        assert s.format == "v2"
        assert s.get("a", "K1") == "one"
