"""Store: every method, results in SPEC §5's shapes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import runqy_vault
from runqy_vault import Store

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_cargo_workspace_version() -> None:
    text = (ROOT / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1]
    version = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M)
    assert version is not None
    assert runqy_vault.__version__ == version.group(1)


def test_generate_key_is_base64_of_32_bytes_and_fresh_each_time() -> None:
    import base64

    a, b = runqy_vault.generate_key(), runqy_vault.generate_key()
    assert len(base64.b64decode(a, validate=True)) == 32
    assert a != b


def test_mask_counts_characters_not_bytes() -> None:
    assert runqy_vault.mask("") == ""
    assert runqy_vault.mask("abcd") == "****"
    assert runqy_vault.mask("sk-proj-abc123xx") == "sk****xx"
    assert runqy_vault.mask("éèêëàâ") == "éè****àâ"


def test_new_store_is_enabled_and_writes_v2(store: Store, db: Path) -> None:
    assert store.enabled is True
    assert store.format == "v2"
    assert store.path == str(db) and isinstance(store.path, str)
    assert repr(store) == f"<runqy_vault.Store {str(db)!r} enabled>".replace("'", '"')


def test_create_list_show_entries_have_spec_shapes(store: Store) -> None:
    store.create_vault("model-credentials")
    store.create_vault("api-keys", "keys for the model APIs")
    store.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx")
    store.set("api-keys", "REGION", "eu-west-1", secret=False)

    assert store.list_vaults() == [
        {"name": "api-keys", "description": "keys for the model APIs", "entry_count": 2},
        {"name": "model-credentials", "description": "", "entry_count": 0},
    ]
    shown = store.show("api-keys")
    assert set(shown) == {"name", "description", "created_at", "updated_at", "entries"}
    assert shown["name"] == "api-keys"
    assert shown["description"] == "keys for the model APIs"
    assert RFC3339.match(shown["created_at"]) and RFC3339.match(shown["updated_at"])
    assert [(e["key"], e["value"], e["is_secret"]) for e in shown["entries"]] == [
        ("OPENAI_API_KEY", "sk****xx", True),
        ("REGION", "eu-west-1", False),
    ]
    for e in shown["entries"]:
        assert set(e) == {"key", "value", "is_secret", "created_at", "updated_at"}
        assert RFC3339.match(e["created_at"]) and RFC3339.match(e["updated_at"])
    assert store.entries("api-keys") == shown["entries"]


def test_set_get_unset_round_trip_keeps_value_exactly(store: Store) -> None:
    store.create_vault("v")
    value = 'multi\nline = "quoted" $HOME ünïcode'
    store.set("v", "K", value)
    assert store.get("v", "K") == value
    store.set("v", "K", "")
    assert store.get("v", "K") == ""
    store.unset("v", "K")
    with pytest.raises(runqy_vault.EntryNotFoundError):
        store.get("v", "K")


def test_vault_exists_and_delete_takes_entries_with_it(store: Store) -> None:
    store.create_vault("v")
    store.set("v", "K", "value-1")
    assert store.vault_exists("v") is True
    store.delete_vault("v")
    assert store.vault_exists("v") is False
    store.create_vault("v")
    assert store.entries("v") == []


def test_resolve_later_vaults_override_earlier(store: Store) -> None:
    store.create_vault("a")
    store.create_vault("b")
    store.set("a", "API_KEY", "old")
    store.set("a", "ONLY_A", "1")
    store.set("b", "API_KEY", "new")
    assert store.resolve(["a", "b"]) == {"API_KEY": "new", "ONLY_A": "1"}
    assert store.resolve(("b", "a")) == {"API_KEY": "old", "ONLY_A": "1"}
    assert store.resolve([]) == {}


def test_registration_payload_members_and_warnings(store: Store) -> None:
    store.create_vault("api-keys")
    store.create_vault("ci")
    store.set("api-keys", "API_KEY", "sk-1")
    store.set("ci", "GITHUB_TOKEN", "ghp_abc")
    assert store.registration_payload(["api-keys"]) == {"vaults": {"API_KEY": "sk-1"}}
    assert store.registration_payload(["api-keys"], "vault://ci/GITHUB_TOKEN") == {
        "vaults": {"API_KEY": "sk-1"},
        "git_token": "ghp_abc",
    }
    assert store.registration_payload([]) == {}
    missing = store.registration_payload(["api-keys"], git_token="vault://ci/NOPE")
    assert missing["vaults"] == {"API_KEY": "sk-1"}
    assert "git_token" not in missing
    assert len(missing["warnings"]) == 1 and "NOPE" in missing["warnings"][0]
    bad_ref = store.registration_payload([], git_token="ci/GITHUB_TOKEN")
    assert set(bad_ref) == {"warnings"} and "vault://" in bad_ref["warnings"][0]


def test_registration_payload_dict_has_the_merged_values_in_key_order_and_members_in_field_order(
    store: Store,
) -> None:
    # The dict is built member by member (not through serde): this pins what
    # the serde shape gave: later vaults override, keys sorted, members in
    # the order git_token, vaults, warnings, plain str values.
    store.create_vault("base")
    store.create_vault("prod")
    store.create_vault("ci")
    for key, value in (("Z_LAST", "z-base"), ("API_KEY", "sk-base"), ("ONLY_BASE", "b"), ("lower_key", "välue ✓")):
        store.set("base", key, value)
    for key, value in (("API_KEY", "sk-prod"), ("DB_URL", "postgres://u:p@h/db"), ("Z_LAST", "z-prod"), ("_UNDER", "u")):
        store.set("prod", key, value)
    store.set("ci", "GITHUB_TOKEN", "ghp_abc")
    store.set("ci", "EMPTY", "")

    p = store.registration_payload(["base", "prod"], "vault://ci/GITHUB_TOKEN")
    assert list(p) == ["git_token", "vaults"]
    assert p["git_token"] == "ghp_abc"
    assert list(p["vaults"].items()) == [
        ("API_KEY", "sk-prod"),
        ("DB_URL", "postgres://u:p@h/db"),
        ("ONLY_BASE", "b"),
        ("Z_LAST", "z-prod"),
        ("_UNDER", "u"),
        ("lower_key", "välue ✓"),
    ]
    assert all(type(k) is str and type(v) is str for k, v in p["vaults"].items())
    assert type(p["git_token"]) is str

    reverse = store.registration_payload(["prod", "base"])
    assert list(reverse) == ["vaults"]
    assert reverse["vaults"]["API_KEY"] == "sk-base" and reverse["vaults"]["Z_LAST"] == "z-base"

    # An empty token entry is left out like a missing one, without a warning.
    assert store.registration_payload(["ci"], "vault://ci/EMPTY") == {"vaults": {"EMPTY": "", "GITHUB_TOKEN": "ghp_abc"}}
    warned = store.registration_payload(["ci"], "vault://ci/NOPE")
    assert list(warned) == ["vaults", "warnings"]
    assert type(warned["warnings"]) is list and len(warned["warnings"]) == 1


def test_registration_payload_repeated_and_changed_calls_give_each_calls_own_values(store: Store) -> None:
    # Calls one after another with the same, more, fewer and other keys: each
    # dict is its own and reflects the store at that call.
    store.create_vault("a")
    store.create_vault("b")
    store.set("a", "K1", "one")
    store.set("a", "K3", "three")
    first = store.registration_payload(["a"])
    again = store.registration_payload(["a"])
    assert first == again == {"vaults": {"K1": "one", "K3": "three"}}
    assert first["vaults"] is not again["vaults"]
    first["vaults"]["K1"] = "changed by the caller"
    assert store.registration_payload(["a"])["vaults"]["K1"] == "one"

    store.set("a", "K2", "two")
    store.set("a", "K0", "zero")
    assert list(store.registration_payload(["a"])["vaults"].items()) == [
        ("K0", "zero"),
        ("K1", "one"),
        ("K2", "two"),
        ("K3", "three"),
    ]
    store.unset("a", "K1")
    store.set("a", "K3", "three-v2")
    store.set("b", "K", "b-only")
    assert store.registration_payload(["a"]) == {"vaults": {"K0": "zero", "K2": "two", "K3": "three-v2"}}
    assert store.registration_payload(["b"]) == {"vaults": {"K": "b-only"}}
    assert store.registration_payload(["b", "a"]) == {"vaults": {"K": "b-only", "K0": "zero", "K2": "two", "K3": "three-v2"}}
    assert store.registration_payload(["a"]) == {"vaults": {"K0": "zero", "K2": "two", "K3": "three-v2"}}


def test_registration_payload_names_every_missing_vault(store: Store) -> None:
    store.create_vault("here")
    with pytest.raises(runqy_vault.VaultNotFoundError) as e:
        store.registration_payload(["gone-1", "here", "gone-2"])
    assert "gone-1" in str(e.value) and "gone-2" in str(e.value)


def test_rotate_key_reencrypts_and_old_key_no_longer_opens(db: Path, key: str) -> None:
    new = runqy_vault.generate_key()
    with Store(db, key) as s:
        s.create_vault("v")
        s.set("v", "A", "alpha-value")
        s.set("v", "B", "beta-value")
        assert s.rotate_key(new) == 2
        assert s.get("v", "A") == "alpha-value"
    with pytest.raises(runqy_vault.KeyMismatchError):
        Store(db, key)
    with Store(db, new) as s:
        assert s.get("v", "B") == "beta-value"
        with pytest.raises(runqy_vault.InvalidInputError):
            s.rotate_key(new)


def test_export_writes_private_file_and_import_merges(tmp_path: Path, store: Store) -> None:
    store.create_vault("v", "desc")
    store.set("v", "A", "alpha-value")
    store.set("v", "PUBLIC", "x", secret=False)
    out = tmp_path / "export.json"
    store.export(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc == {
        "format": 1,
        "vaults": [
            {
                "name": "v",
                "description": "desc",
                "entries": [
                    {"key": "A", "value": "alpha-value", "is_secret": True},
                    {"key": "PUBLIC", "value": "x", "is_secret": False},
                ],
            }
        ],
    }
    with pytest.raises(runqy_vault.VaultError) as e:
        store.export(out)  # never overwrites
    assert type(e.value) is runqy_vault.VaultError and str(out) in str(e.value)

    with Store(tmp_path / "other.db", runqy_vault.generate_key()) as other:
        other.create_vault("v")
        other.set("v", "A", "replaced-by-import")
        other.set("v", "KEPT", "kept-value")
        assert other.import_(str(out)) == 2
        assert other.resolve(["v"]) == {"A": "alpha-value", "KEPT": "kept-value", "PUBLIC": "x"}


def _legacy_store(path: Path, key: str) -> None:
    """A runqy server's database: upstream tables, no meta table, legacy blobs."""
    import base64

    raw = base64.b64decode(key)
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
            description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
        CREATE INDEX idx_vaults_name ON vaults(name);
        CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
            vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE, key TEXT NOT NULL,
            value BLOB NOT NULL, is_secret INTEGER DEFAULT 1,
            created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
            UNIQUE(vault_id, key));
        CREATE INDEX idx_vault_entries_vault_id ON vault_entries(vault_id);
        CREATE INDEX idx_vault_entries_key ON vault_entries(vault_id, key);
        INSERT INTO vaults (name, description) VALUES ('legacy', 'from a runqy server');
        """
    )
    for k, v in (("TOKEN", "legacy-token-1"), ("OTHER", "legacy-other-2")):
        nonce = os.urandom(12)
        blob = nonce + AESGCM(raw).encrypt(nonce, v.encode(), None)
        conn.execute("INSERT INTO vault_entries (vault_id, key, value) VALUES (1, ?, ?)", (k, blob))
    conn.commit()
    conn.close()


def test_runqy_server_database_reads_as_legacy_and_migrates_to_v2(db: Path, key: str) -> None:
    _legacy_store(db, key)
    with Store(db, key) as s:
        assert s.format == "legacy"
        assert s.get("legacy", "TOKEN") == "legacy-token-1"
        assert s.migrate() == 2
        assert s.format == "v2"
        assert s.migrate() == 0
    with Store(db, key) as s:
        assert s.format == "v2"
        assert s.resolve(["legacy"]) == {"OTHER": "legacy-other-2", "TOKEN": "legacy-token-1"}
    blobs = [row[0] for row in sqlite3.connect(db).execute("SELECT value FROM vault_entries")]
    assert all(b[:4] == b"RQV\x02" for b in blobs)


def test_disabled_store_opens_and_every_operation_says_how_to_configure(db: Path) -> None:
    s = Store(db)
    assert s.enabled is False
    assert repr(s).endswith("disabled>")
    for call in (
        lambda: s.format,
        lambda: s.list_vaults(),
        lambda: s.create_vault("v"),
        lambda: s.get("v", "K"),
        lambda: s.registration_payload(["v"]),
    ):
        with pytest.raises(runqy_vault.VaultsDisabledError) as e:
            call()
        assert "vaults not configured" in str(e.value)
        assert "openssl rand -base64 32" in str(e.value)
        assert e.value.http_status == 503
    assert not db.exists()


def test_key_from_environment_when_none_given(db: Path, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNQY_VAULT_MASTER_KEY", key)
    with Store(str(db)) as s:
        assert s.enabled
        s.create_vault("env")
    with Store(db, key) as s:
        assert s.vault_exists("env")


def test_use_after_close_raises_vault_error_naming_the_store(db: Path, key: str) -> None:
    s = Store(db, key)
    s.create_vault("v")
    s.close()
    s.close()  # twice is fine
    assert repr(s).endswith("closed>")
    for call in (lambda: s.enabled, lambda: s.get("v", "K"), lambda: s.list_vaults(), lambda: s.migrate()):
        with pytest.raises(runqy_vault.VaultError, match="is closed") as e:
            call()
        assert type(e.value) is runqy_vault.VaultError
        assert e.value.http_status == 500


def test_context_manager_closes_and_does_not_swallow_errors(db: Path, key: str) -> None:
    with pytest.raises(RuntimeError):
        with Store(db, key) as s:
            s.create_vault("v")
            raise RuntimeError("boom")
    with pytest.raises(runqy_vault.VaultError, match="is closed"):
        s.vault_exists("v")
