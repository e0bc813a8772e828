"""Where Store() takes the master key from when none is given (SPEC §1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import runqy_vault


def test_the_master_key_printed_in_an_error_a_key_in_the_file_variable_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, db: Path, key: str
) -> None:
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY_FILE", key)
    with pytest.raises(runqy_vault.InvalidMasterKeyError) as e:
        runqy_vault.Store(db)
    assert key not in str(e.value)
    assert str(e.value).startswith("invalid master key from RUNQY_VAULT_MASTER_KEY_FILE: cannot read the file")
    assert e.value.http_status == 400


def test_unbounded_key_input_dev_zero_as_key_file_is_refused_at_once(
    monkeypatch: pytest.MonkeyPatch, db: Path
) -> None:
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY_FILE", "/dev/zero")
    with pytest.raises(runqy_vault.InvalidMasterKeyError, match="a key file must be a regular file"):
        runqy_vault.Store(db)


def test_key_command_output_opens_the_store_and_a_failing_command_names_its_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: Path, key: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY_COMMAND", f"cat '{key_file}'")
    with runqy_vault.Store(db) as s:
        s.create_vault("ci")
    with runqy_vault.Store(db, key) as s:
        assert s.vault_exists("ci")
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY_COMMAND", f"{sys.executable} -c 'raise SystemExit(7)'")
    with pytest.raises(runqy_vault.InvalidMasterKeyError) as e:
        runqy_vault.Store(db)
    assert str(e.value).endswith("exited with status 7")
    assert "SystemExit" not in str(e.value)
