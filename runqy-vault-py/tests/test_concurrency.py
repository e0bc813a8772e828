"""Threads on one Store, the GIL released during store calls, and fork."""

from __future__ import annotations

import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import runqy_vault
from runqy_vault import Store


def test_many_threads_share_one_store(store: Store) -> None:
    for v in ("a", "b"):
        store.create_vault(v)

    def work(t: int) -> dict[str, str]:
        for i in range(25):
            store.set("a" if i % 2 else "b", f"K_{t}_{i}", f"value-{t}-{i}")
            assert store.get("a" if i % 2 else "b", f"K_{t}_{i}") == f"value-{t}-{i}"
        return store.registration_payload(["a", "b"])["vaults"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(16)))
    merged = store.resolve(["a", "b"])
    assert len(merged) == 16 * 25
    assert merged["K_7_13"] == "value-7-13"
    assert {v["name"]: v["entry_count"] for v in store.list_vaults()} == {"a": 16 * 12, "b": 16 * 13}


def test_threads_alternating_payloads_of_different_vaults_each_get_their_own_values(store: Store) -> None:
    # One store reuses the last payload's key names: payloads of different
    # vault sets interleaved across threads must still each be exact.
    expected: dict[str, dict[str, str]] = {}
    for v, keys in (("x", ("A", "C", "E", "SHARED")), ("y", ("B", "C", "D", "SHARED")), ("z", ("Z",))):
        store.create_vault(v)
        for k in keys:
            store.set(v, k, f"{v}-{k}")
        expected[v] = {k: f"{v}-{k}" for k in keys}
    sets = [["x"], ["y"], ["x", "y"], ["y", "x"], ["z"], ["x", "z"]]

    def want(vaults: list[str]) -> dict[str, str]:
        merged: dict[str, str] = {}
        for v in vaults:
            merged.update(expected[v])
        return dict(sorted(merged.items()))

    def work(t: int) -> None:
        for i in range(200):
            vaults = sets[(t + i) % len(sets)]
            got = store.registration_payload(vaults)["vaults"]
            assert list(got.items()) == list(want(vaults).items()), vaults

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))


def test_store_call_releases_the_gil_while_waiting_for_the_database(db: Path, store: Store) -> None:
    # Another connection holds the write lock; the store's `set` waits for it
    # (busy timeout). Only if that wait happens with the GIL released can this
    # thread run Python again and commit, letting `set` succeed.
    store.create_vault("v")
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    result: list[object] = []
    started = threading.Event()

    def writer() -> None:
        started.set()
        try:
            store.set("v", "K", "written-after-commit")
            result.append("ok")
        except runqy_vault.VaultError as e:
            result.append(e)

    t = threading.Thread(target=writer)
    t.start()
    started.wait()
    # Give the writer time to enter SQLite's wait; the result does not depend on it.
    threading.Event().wait(0.3)
    blocker.execute("COMMIT")
    blocker.close()
    t.join()
    assert result == ["ok"]
    assert store.get("v", "K") == "written-after-commit"


def _nonces(db: Path) -> list[bytes]:
    conn = sqlite3.connect(db)
    blobs = [row[0] for row in conn.execute("SELECT value FROM vault_entries")]
    conn.close()
    assert all(b[:4] == b"RQV\x02" for b in blobs)
    return [b[12:24] for b in blobs]  # magic(4) key_id(8) nonce(12)


def test_forked_child_writes_and_nonces_never_repeat_across_fork(db: Path, key: str) -> None:
    with Store(db, key) as s:
        s.create_vault("parent")
        s.create_vault("child")
        s.set("parent", "BEFORE_FORK", "value-before")
    pid = os.fork()
    if pid == 0:  # the child: a worker process opening the store after fork
        code = 1
        try:
            with Store(db, key) as s:
                for i in range(50):
                    s.set("child", f"K_{i}", f"child-value-{i}")
            code = 0
        finally:
            os._exit(code)
    with Store(db, key) as s:
        for i in range(50):
            s.set("parent", f"K_{i}", f"parent-value-{i}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with Store(db, key) as s:
        assert s.get("child", "K_49") == "child-value-49"
        assert s.get("parent", "K_0") == "parent-value-0"
        assert len(s.entries("child")) == 50 and len(s.entries("parent")) == 51
    nonces = _nonces(db)
    assert len(nonces) == 101
    assert len(set(nonces)) == 101
