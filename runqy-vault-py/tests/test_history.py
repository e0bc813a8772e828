"""History (SPEC §12): versions, get(version=), set(cas=), rollback, restore, purge, history_limit."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

import runqy_vault
from runqy_vault import Store

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def ci(store: Store) -> Store:
    store.create_vault("ci")
    store.set("ci", "TOKEN", "ghp_first_value")
    store.set("ci", "TOKEN", "ghp_second_value")
    return store


def test_history_lists_the_versions_newest_first_masked(ci: Store) -> None:
    history = ci.history("ci", "TOKEN")
    assert [(h["version"], h["value"], h["is_secret"], h["actor"], h["state"]) for h in history] == [
        (2, "gh****ue", True, ci.actor, "current"),
        (1, "gh****ue", True, ci.actor, "replaced"),
    ]
    for h in history:
        assert set(h) == {"version", "value", "is_secret", "created_at", "actor", "state", "last_read"}
        assert h["last_read"] is None
        assert RFC3339.match(h["created_at"])
    with pytest.raises(runqy_vault.EntryNotFoundError):
        ci.history("ci", "NOPE")


def test_get_with_a_version_reads_the_history_and_missing_versions_are_key_errors(ci: Store) -> None:
    assert ci.get("ci", "TOKEN", version=1) == "ghp_first_value"
    assert ci.get("ci", "TOKEN", version=None) == "ghp_second_value"
    for version, reason in [(0, "versions count from 1"), (-1, "versions count from 1"), (3, "the newest version is 2")]:
        with pytest.raises(runqy_vault.VersionNotFoundError) as e:
            ci.get("ci", "TOKEN", version=version)
        assert str(e.value) == f"version {version} of key 'TOKEN' in vault 'ci' not found: {reason}"
        assert e.value.http_status == 404
        assert isinstance(e.value, KeyError)
    with pytest.raises(TypeError, match="version must be an int, not bool"):
        ci.get("ci", "TOKEN", version=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="version must be an int, not str"):
        ci.get("ci", "TOKEN", version="1")  # type: ignore[arg-type]


def test_set_with_cas_writes_only_over_the_expected_version(ci: Store) -> None:
    ci.set("ci", "NEW", "x", cas=0)
    with pytest.raises(runqy_vault.VersionConflictError) as e:
        ci.set("ci", "TOKEN", "lost", cas=1)
    assert str(e.value).endswith("expected version 1, but the current version is 2")
    assert e.value.http_status == 409
    ci.set("ci", "TOKEN", "third", cas=2)
    assert ci.get("ci", "TOKEN") == "third"
    with pytest.raises(runqy_vault.InvalidInputError, match="check-and-set version -1"):
        ci.set("ci", "TOKEN", "x", cas=-1)
    with pytest.raises(TypeError, match="cas must be an int"):
        ci.set("ci", "TOKEN", "x", cas=2.0)  # type: ignore[arg-type]
    assert ci.history("ci", "TOKEN")[0]["version"] == 3


def test_two_stores_racing_cas_in_threads_give_one_win_and_one_conflict(db: Path, key: str) -> None:
    with Store(db, key) as a, Store(db, key) as b:
        a.create_vault("ci")
        a.set("ci", "TOKEN", "start")
        for round_ in range(1, 11):
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def race(s: Store) -> None:
                barrier.wait()
                try:
                    s.set("ci", "TOKEN", "racer", cas=round_)
                    outcomes.append("won")
                except runqy_vault.VersionConflictError:
                    outcomes.append("conflict")

            threads = [threading.Thread(target=race, args=(s,)) for s in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(outcomes) == ["conflict", "won"], round_


def test_rollback_unset_restore_and_purge(ci: Store) -> None:
    assert ci.rollback("ci", "TOKEN", 1) == 3
    assert ci.get("ci", "TOKEN") == "ghp_first_value"
    ci.unset("ci", "TOKEN")
    assert ci.history("ci", "TOKEN")[0]["state"] == "removed"
    with pytest.raises(runqy_vault.EntryNotFoundError, match="it was removed"):
        ci.rollback("ci", "TOKEN", 2)
    assert ci.restore("ci", "TOKEN") == 4
    with pytest.raises(runqy_vault.VersionConflictError, match="is current"):
        ci.restore("ci", "TOKEN")
    with pytest.raises(TypeError):
        ci.rollback("ci", "TOKEN", "1")  # type: ignore[arg-type]

    report = ci.purge("ci", "TOKEN")
    assert report == {"versions": 4, "entries": 1, "vault_deleted": False}
    with pytest.raises(runqy_vault.EntryNotFoundError):
        ci.purge("ci", "TOKEN")
    assert ci.purge("ci") == {"versions": 0, "entries": 0, "vault_deleted": True}
    assert not ci.vault_exists("ci")
    with pytest.raises(runqy_vault.VaultNotFoundError):
        ci.purge("ci")


def test_delete_keeps_the_history_by_name_until_purge(ci: Store) -> None:
    ci.delete_vault("ci")
    assert [h["state"] for h in ci.history("ci", "TOKEN")] == ["removed", "replaced"]
    assert ci.get("ci", "TOKEN", version=1) == "ghp_first_value"
    ci.create_vault("ci")
    assert ci.restore("ci", "TOKEN") == 3


def test_history_limit_is_a_property_that_prunes_when_lowered(ci: Store) -> None:
    assert ci.history_limit == 10
    ci.history_limit = 1
    assert ci.history_limit == 1
    assert [h["version"] for h in ci.history("ci", "TOKEN")] == [2]
    for bad in (0, -1, 2**32):
        with pytest.raises(runqy_vault.InvalidInputError, match=f"invalid history limit {bad}"):
            ci.history_limit = bad
    with pytest.raises(TypeError):
        ci.history_limit = "5"  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        del ci.history_limit
    assert ci.history_limit == 1


def test_history_calls_on_a_disabled_store_raise_vaults_disabled(db: Path) -> None:
    with Store(db) as s:
        with pytest.raises(runqy_vault.VaultsDisabledError):
            s.history("ci", "TOKEN")
        with pytest.raises(runqy_vault.VaultsDisabledError):
            s.history_limit
        with pytest.raises(runqy_vault.VaultsDisabledError):
            s.purge("ci")
