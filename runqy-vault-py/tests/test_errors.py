"""The exception tree of SPEC §9, each core error mapped to its class, and TypeErrors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import runqy_vault
from runqy_vault import Store

TREE = [
    # class, extra builtin base, http_status
    (runqy_vault.VaultsDisabledError, None, 503),
    (runqy_vault.InvalidMasterKeyError, None, 400),
    (runqy_vault.KeyMismatchError, None, 500),
    (runqy_vault.VaultNotFoundError, KeyError, 404),
    (runqy_vault.EntryNotFoundError, KeyError, 404),
    (runqy_vault.VaultExistsError, None, 409),
    (runqy_vault.InvalidNameError, ValueError, 400),
    (runqy_vault.InvalidValueError, ValueError, 400),
    (runqy_vault.InvalidInputError, ValueError, 400),
    (runqy_vault.DecryptionError, None, 500),
    (runqy_vault.VersionNotFoundError, KeyError, 404),
    (runqy_vault.VersionConflictError, None, 409),
    (runqy_vault.AuditBrokenError, None, 500),
]


def test_vault_error_is_an_exception_with_status_500() -> None:
    assert issubclass(runqy_vault.VaultError, Exception)
    assert runqy_vault.VaultError.http_status == 500
    assert runqy_vault.VaultError.__module__ == "runqy_vault"


@pytest.mark.parametrize(("cls", "extra", "status"), TREE, ids=[t[0].__name__ for t in TREE])
def test_each_class_is_a_vault_error_with_its_builtin_base_and_status(cls: type, extra: type | None, status: int) -> None:
    assert issubclass(cls, runqy_vault.VaultError)
    if extra is not None:
        assert issubclass(cls, extra)
    else:
        assert not issubclass(cls, (KeyError, ValueError))
    assert cls.http_status == status
    assert cls.__module__ == "runqy_vault"


def test_lookup_errors_print_their_message_unquoted(store: Store) -> None:
    with pytest.raises(KeyError) as e:
        store.show("nope")
    assert str(e.value) == "vault 'nope' not found"


def test_invalid_master_key_says_what_is_wrong_without_echoing_it(db: Path) -> None:
    with pytest.raises(runqy_vault.InvalidMasterKeyError) as e:
        Store(db, "c2hvcnQta2V5LXRleHQ=")
    assert e.value.http_status == 400
    assert "c2hvcnQta2V5LXRleHQ" not in str(e.value)
    assert "master key" in str(e.value)


def test_other_master_key_is_a_key_mismatch_at_open(db: Path, key: str) -> None:
    with Store(db, key) as s:
        s.create_vault("v")
        s.set("v", "K", "value-1")
    with pytest.raises(runqy_vault.KeyMismatchError) as e:
        Store(db, runqy_vault.generate_key())
    assert "key id" in str(e.value)


def test_missing_vault_and_entry_are_named_and_are_key_errors(store: Store) -> None:
    store.create_vault("v")
    with pytest.raises(runqy_vault.VaultNotFoundError, match="'nope'") as e1:
        store.set("nope", "K", "x")
    assert e1.value.http_status == 404
    with pytest.raises(runqy_vault.EntryNotFoundError, match="'MISSING'.*'v'") as e2:
        store.get("v", "MISSING")
    assert e2.value.http_status == 404
    with pytest.raises(KeyError):
        store.unset("v", "MISSING")
    with pytest.raises(KeyError):
        store.delete_vault("nope")


def test_existing_vault_is_409(store: Store) -> None:
    store.create_vault("v")
    with pytest.raises(runqy_vault.VaultExistsError, match="'v' already exists") as e:
        store.create_vault("v")
    assert e.value.http_status == 409


@pytest.mark.parametrize(
    ("vault", "entry_key"),
    [("bad name", "K"), ("-leading", "K"), ("PATH", "K"), ("ok", "1BAD"), ("ok", "LD_PRELOAD"), ("ok", "RUNQY_X")],
)
def test_bad_and_reserved_names_are_invalid_name_and_value_errors(store: Store, vault: str, entry_key: str) -> None:
    if vault == "ok":
        store.create_vault("ok")
        with pytest.raises(runqy_vault.InvalidNameError, match=entry_key) as e:
            store.set(vault, entry_key, "value")
    else:
        with pytest.raises(ValueError, match=vault) as e:
            store.create_vault(vault)
    assert isinstance(e.value, runqy_vault.InvalidNameError)
    assert e.value.http_status == 400


def test_nul_and_oversized_values_are_invalid_value_and_never_quoted(store: Store) -> None:
    store.create_vault("v")
    with pytest.raises(runqy_vault.InvalidValueError) as e:
        store.set("v", "K", "secret\x00tail")
    assert "secret" not in str(e.value) and "'K'" in str(e.value)
    with pytest.raises(ValueError):
        store.set("v", "K", "x" * 65537)
    assert store.entries("v") == []


def test_bad_import_document_is_invalid_input(tmp_path: Path, store: Store) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text('{"format": 2, "vaults": []}')
    with pytest.raises(runqy_vault.InvalidInputError, match="format") as e:
        store.import_(doc)
    assert isinstance(e.value, ValueError) and e.value.http_status == 400


def test_missing_import_file_is_a_vault_error_naming_the_path(tmp_path: Path, store: Store) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(runqy_vault.VaultError) as e:
        store.import_(missing)
    assert type(e.value) is runqy_vault.VaultError and str(missing) in str(e.value)


def test_storage_failure_is_a_plain_vault_error(tmp_path: Path, key: str) -> None:
    with pytest.raises(runqy_vault.VaultError) as e:
        Store(tmp_path, key)  # a directory, not a database
    assert type(e.value) is runqy_vault.VaultError
    assert e.value.http_status == 500


def test_blob_moved_to_another_entry_fails_as_decryption_error(db: Path, store: Store) -> None:
    store.create_vault("v")
    store.set("v", "A", "alpha-value")
    store.set("v", "B", "beta-value")
    conn = sqlite3.connect(db)
    blob_a = conn.execute("SELECT value FROM vault_entries WHERE key = 'A'").fetchone()[0]
    conn.execute("UPDATE vault_entries SET value = ? WHERE key = 'B'", (blob_a,))
    conn.commit()
    conn.close()
    with pytest.raises(runqy_vault.DecryptionError, match="'B'.*'v'") as e:
        store.get("v", "B")
    assert "alpha" not in str(e.value)
    assert e.value.http_status == 500


# --- wrong argument types --------------------------------------------------------


def test_str_where_a_list_of_vaults_is_expected_is_a_type_error(store: Store) -> None:
    store.create_vault("v")
    for call in (lambda: store.resolve("v"), lambda: store.registration_payload("v")):
        with pytest.raises(TypeError, match=r"list of vault names.*\[name\]"):
            call()
    with pytest.raises(TypeError, match=r"vaults\[1\] must be a str vault name, not int"):
        store.resolve(["v", 3])
    with pytest.raises(TypeError, match="not int"):
        store.resolve(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.create_vault(1), "name must be a str, not int"),
        (lambda s: s.create_vault("v", 3), "description must be a str, not int"),
        (lambda s: s.get("v", b"K"), "key must be a str, not bytes"),
        (lambda s: s.set("v", "K", 42), "value must be a str, not int"),
        (lambda s: s.set("v", "K", "x", secret=1), "secret must be a bool, not int"),
        (lambda s: s.vault_exists(None), "name must be a str, not NoneType"),
        (lambda s: s.registration_payload([], git_token=7), "git_token must be a str, not int"),
        (lambda s: s.rotate_key(b"key"), "new_key must be a str, not bytes"),
        (lambda s: s.export(3), "path must be a str or os.PathLike, not int"),
    ],
)
def test_wrong_argument_types_are_type_errors_naming_the_argument(store: Store, call, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call(store)


def test_wrong_types_at_open_are_type_errors(db: Path) -> None:
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, not int"):
        Store(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="master_key must be a str, not bytes"):
        Store(db, b"key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be a str, not int"):
        runqy_vault.mask(5)  # type: ignore[arg-type]
