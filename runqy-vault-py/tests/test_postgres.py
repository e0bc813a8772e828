"""The main flow on PostgreSQL, and a URL's password never shown.

The PostgreSQL tests need a server: `bash scripts/with-postgres.sh bash
scripts/test-python.sh` starts one and sets RUNQY_VAULT_TEST_POSTGRES_URL (an
admin URL, trust auth). Without it they are skipped; the disabled-store test
needs no server and always runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import runqy_vault
from runqy_vault import Store

URL_VAR = "RUNQY_VAULT_TEST_POSTGRES_URL"
SECRET = "pw-secret"
UNREACHABLE = f"postgres://u:{SECRET}@127.0.0.1:1/x"


def _psql(admin_url: str, sql: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail(f"{URL_VAR} is set but psql is not on PATH")
    subprocess.run([psql, "-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", sql], check=True, capture_output=True)


def _with_database_and_password(admin_url: str, database: str, password: str) -> str:
    """admin_url pointed at `database`, with `password` in it (trust auth ignores it)."""
    parts = urlsplit(admin_url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a fresh database, dropped afterwards; skips when no server is configured."""
    admin = os.environ.get(URL_VAR)
    if not admin:
        pytest.skip(f"{URL_VAR} is unset: run under scripts/with-postgres.sh for the PostgreSQL tests")
    name = f"rv_py_{uuid.uuid4().hex[:16]}"
    _psql(admin, f"CREATE DATABASE {name}")
    try:
        yield _with_database_and_password(admin, name, SECRET)
    finally:
        _psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_disabled_postgres_store_hides_the_url_password_in_repr_and_path() -> None:
    # No master key anywhere: the store opens disabled without connecting.
    store = Store(UNREACHABLE)
    assert store.enabled is False
    assert SECRET not in repr(store)
    assert SECRET not in store.path
    # A str, so the URL keeps its "//" (a pathlib.Path folded it to "postgres:/").
    assert isinstance(store.path, str) and store.path.startswith(UNREACHABLE.split("://")[0] + "://")
    assert "***" in repr(store)
    store.close()
    with pytest.raises(runqy_vault.VaultError) as e:
        store.list_vaults()
    assert "closed" in str(e.value)
    assert SECRET not in str(e.value)
    assert SECRET not in repr(store)


def test_unreachable_postgres_is_a_storage_error_naming_the_database_not_the_password(key: str) -> None:
    with pytest.raises(runqy_vault.VaultError) as e:
        Store(UNREACHABLE, key)
    assert type(e.value) is runqy_vault.VaultError
    assert e.value.http_status == 500
    assert "'x'" in str(e.value)
    assert "127.0.0.1:1" in str(e.value)
    assert SECRET not in str(e.value)
    assert SECRET not in repr(e.value)


def test_postgres_main_flow_create_set_get_show_payload_rotate(pg_url: str, key: str) -> None:
    with Store(pg_url, key) as store:
        assert store.enabled is True
        assert store.format == "v2"
        assert SECRET not in repr(store) and SECRET not in str(store.path)
        assert "***" in repr(store)

        store.create_vault("api-keys", "keys for the model APIs")
        store.create_vault("overrides")
        with pytest.raises(runqy_vault.VaultExistsError):
            store.create_vault("api-keys")
        store.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx")
        store.set("api-keys", "REGION", "eu-west-1", secret=False)
        store.set("overrides", "REGION", "us-east-2", secret=False)
        assert store.get("api-keys", "OPENAI_API_KEY") == "sk-proj-abc123xx"

        shown = store.show("api-keys")
        assert shown["description"] == "keys for the model APIs"
        assert [(e["key"], e["value"], e["is_secret"]) for e in shown["entries"]] == [
            ("OPENAI_API_KEY", "sk****xx", True),
            ("REGION", "eu-west-1", False),
        ]
        # The later vault wins a key both hold.
        assert store.registration_payload(["api-keys", "overrides"]) == {
            "vaults": {"OPENAI_API_KEY": "sk-proj-abc123xx", "REGION": "us-east-2"}
        }

        new_key = runqy_vault.generate_key()
        assert store.rotate_key(new_key) == 3

    with pytest.raises(runqy_vault.KeyMismatchError):
        Store(pg_url, key)
    with Store(pg_url, new_key) as reopened:
        assert reopened.get("api-keys", "OPENAI_API_KEY") == "sk-proj-abc123xx"
        assert reopened.registration_payload(["overrides", "api-keys"])["vaults"]["REGION"] == "eu-west-1"
        # The audit log lives in the same database, re-keyed by the rotation.
        reopened.get("api-keys", "OPENAI_API_KEY", actor="worker:9 queue:pg")
        records = reopened.audit_log()
        assert [r["operation"] for r in records] == [
            "create", "create", "set", "set", "set", "get", "payload", "rotate-key", "get", "payload", "get",
        ]
        assert records[-1]["actor"] == "worker:9 queue:pg"
        assert "sk-proj-abc123xx" not in repr(records)
        assert reopened.audit_verify() == len(records)
