from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import runqy_vault

KEY_VARS = (
    "RUNQY_VAULT_MASTER_KEY",
    "RUNQY_VAULT_MASTER_KEY_FILE",
    "RUNQY_VAULT_MASTER_KEY_COMMAND",
    "RUNQY_VAULT_MASTER_KEY_PREVIOUS",
    "RUNQY_VAULT_MASTER_KEY_PREVIOUS_FILE",
)


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests pass keys explicitly; a key in the developer's shell must not change them.
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def key() -> str:
    return runqy_vault.generate_key()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "vault.db"


@pytest.fixture
def store(db: Path, key: str) -> Iterator[runqy_vault.Store]:
    with runqy_vault.Store(db, key) as s:
        yield s


@pytest.fixture
def environ_guard() -> Iterator[None]:
    """Restores os.environ after a test that injects into it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
