#!/usr/bin/env python3
"""The upstream runqy vault store, modelled in Python, and its benchmark.

The same design as benches/upstream-go (the runqy server's Go `vaults`
package), written the way a Python tool would do it today: the standard
``sqlite3`` module on the upstream tables (WAL + synchronous=FULL, the
durability runqy-vault gives) and ``cryptography``'s AESGCM created anew for
every value, a 12-byte ``os.urandom`` nonce prepended, no associated data.
Every lookup by vault name is its own SELECT, then a SELECT of the entries;
``set`` is check-then-insert-or-update plus a separate vault ``updated_at``
UPDATE, each statement its own commit (autocommit, no transaction).

    python3 upstream_model.py [--quick] [--out FILE] [--budget SECONDS] [--only REGEX]

Prints one JSON document: {"peer", "meta", "results": [{workload, median_ns,
p10_ns, p90_ns, min_ns, max_ns, samples, iterations, ...}]}. ``--quick`` runs
each workload once, to prove it works; its times mean nothing. Workload ids
match the criterion ids of runqy-vault/benches/core.rs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from typing import Callable

from cryptography import __version__ as cryptography_version
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = """
CREATE TABLE IF NOT EXISTS vaults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    description TEXT DEFAULT '',
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_vaults_name ON vaults(name);
CREATE TABLE IF NOT EXISTS vault_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    is_secret INTEGER DEFAULT 1,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(vault_id, key)
);
CREATE INDEX IF NOT EXISTS idx_vault_entries_vault_id ON vault_entries(vault_id);
CREATE INDEX IF NOT EXISTS idx_vault_entries_key ON vault_entries(vault_id, key);
"""


class DecryptionFailed(Exception):
    pass


class Encryptor:
    """Upstream's encryptor: a new AES-GCM object for every value."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(nonce, plaintext, None)

    def decrypt(self, blob: bytes) -> bytes:
        if len(blob) < 12:
            raise DecryptionFailed("decryption failed: ciphertext invalid or corrupted")
        try:
            return AESGCM(self._key).decrypt(blob[:12], blob[12:], None)
        except InvalidTag:
            raise DecryptionFailed("decryption failed: ciphertext invalid or corrupted") from None


def mask_secret(value: str) -> str:
    """Upstream's mask counts bytes; the model keeps that (it can split a character)."""
    raw = value.encode()
    if not raw:
        return ""
    if len(raw) <= 4:
        return "****"
    return (raw[:2] + b"****" + raw[-2:]).decode(errors="replace")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class Store:
    def __init__(self, path: str, key: bytes) -> None:
        # One connection per thread, as database/sql keeps a pool.
        self._path = path
        self._local = threading.local()
        self.enc = Encryptor(key)
        self.db.executescript(SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
        return conn

    def create_vault(self, name: str, description: str = "") -> None:
        t = now()
        self.db.execute(
            "INSERT INTO vaults (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (name, description, t, t),
        )

    def get_vault(self, name: str) -> tuple | None:
        return self.db.execute(
            "SELECT id, name, description, created_at, updated_at FROM vaults WHERE name = ?", (name,)
        ).fetchone()

    def _get_entry(self, vault_id: int, key: str) -> tuple | None:
        return self.db.execute(
            "SELECT id, vault_id, key, value, is_secret, created_at, updated_at "
            "FROM vault_entries WHERE vault_id = ? AND key = ?",
            (vault_id, key),
        ).fetchone()

    def set_entry(self, vault: str, key: str, value: str, is_secret: bool = True) -> None:
        v = self.get_vault(vault)
        if v is None:
            raise KeyError(f"vault '{vault}' not found")
        blob = self.enc.encrypt(value.encode())
        t = now()
        existing = self._get_entry(v[0], key)
        if existing is not None:
            self.db.execute(
                "UPDATE vault_entries SET value = ?, is_secret = ?, updated_at = ? WHERE id = ?",
                (blob, is_secret, t, existing[0]),
            )
        else:
            self.db.execute(
                "INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (v[0], key, blob, is_secret, t, t),
            )
        self.db.execute("UPDATE vaults SET updated_at = ? WHERE id = ?", (t, v[0]))

    def get_entry(self, vault: str, key: str) -> str:
        v = self.get_vault(vault)
        if v is None:
            raise KeyError(f"vault '{vault}' not found")
        e = self._get_entry(v[0], key)
        if e is None:
            raise KeyError(f"key '{key}' not found in vault '{vault}'")
        return self.enc.decrypt(e[3]).decode()

    def list_entries(self, vault: str) -> list[dict]:
        v = self.get_vault(vault)
        if v is None:
            raise KeyError(f"vault '{vault}' not found")
        rows = self.db.execute(
            "SELECT id, vault_id, key, value, is_secret, created_at, updated_at "
            "FROM vault_entries WHERE vault_id = ? ORDER BY key",
            (v[0],),
        ).fetchall()
        views = []
        for _id, _vid, key, blob, is_secret, created, updated in rows:
            value = self.enc.decrypt(blob).decode()
            if is_secret:
                value = mask_secret(value)
            views.append(
                {"key": key, "value": value, "is_secret": bool(is_secret), "created_at": created, "updated_at": updated}
            )
        return views

    def show(self, vault: str) -> dict | None:
        v = self.get_vault(vault)
        if v is None:
            return None
        entries = self.list_entries(vault)  # selects the vault again, as upstream does
        return {"name": v[1], "description": v[2], "entries": entries, "created_at": v[3], "updated_at": v[4]}

    def vault_data(self, vault: str) -> dict[str, str]:
        v = self.get_vault(vault)
        if v is None:
            raise KeyError(f"vault '{vault}' not found")
        rows = self.db.execute(
            "SELECT id, vault_id, key, value, is_secret, created_at, updated_at FROM vault_entries WHERE vault_id = ?",
            (v[0],),
        ).fetchall()
        return {row[2]: self.enc.decrypt(row[3]).decode() for row in rows}

    def registration_payload(self, vaults: list[str]) -> str:
        combined: dict[str, str] = {}
        for name in vaults:
            combined.update(self.vault_data(name))
        return json.dumps({"vaults": combined}, sort_keys=True)

    def rotate_key(self, new_key: bytes) -> None:
        """No upstream rotation: read all, re-encrypt, UPDATE each row in one transaction."""
        nxt = Encryptor(new_key)
        updates = []
        for (name,) in self.db.execute("SELECT name FROM vaults ORDER BY name").fetchall():
            v = self.get_vault(name)
            for row in self.db.execute(
                "SELECT id, vault_id, key, value, is_secret, created_at, updated_at "
                "FROM vault_entries WHERE vault_id = ?",
                (v[0],),
            ).fetchall():
                updates.append((nxt.encrypt(self.enc.decrypt(row[3])), now(), row[0]))
        self.db.execute("BEGIN")
        self.db.executemany("UPDATE vault_entries SET value = ?, updated_at = ? WHERE id = ?", updates)
        self.db.execute("COMMIT")
        self.enc = nxt


# --- measuring ---------------------------------------------------------------


def summarize(name: str, per_op: list[float], iterations: int, **extra) -> dict:
    s = sorted(per_op)

    def q(p: float) -> float:
        if len(s) == 1:
            return s[0]
        pos = p * (len(s) - 1)
        lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    r = {
        "workload": name,
        "median_ns": statistics.median(s),
        "p10_ns": q(0.1),
        "p90_ns": q(0.9),
        "min_ns": s[0],
        "max_ns": s[-1],
        "samples": len(s),
        "iterations": iterations,
    }
    r.update(extra)
    return r


class Bench:
    def __init__(self, quick: bool, budget: float, only: str) -> None:
        self.quick, self.budget, self.only = quick, budget, re.compile(only)
        self.results: list[dict] = []

    def wanted(self, name: str) -> bool:
        return bool(self.only.search(name))

    def record(self, r: dict) -> None:
        print(f"upstream-python: {r['workload']} median {r['median_ns']:.0f} ns ({r['iterations']} iterations)",
              file=sys.stderr)
        self.results.append(r)

    def measure(self, name: str, op: Callable[[], object], **extra) -> None:
        if not self.wanted(name):
            return
        if self.quick:
            t = time.perf_counter_ns()
            op()
            self.record(summarize(name, [time.perf_counter_ns() - t], 1, **extra))
            return
        n, start = 0, time.perf_counter_ns()
        while time.perf_counter_ns() - start < 100_000_000 or n < 2:
            op()
            n += 1
        per = (time.perf_counter_ns() - start) / n
        samples = 20
        batch = max(1, int(self.budget * 1e9 / samples / per))
        per_op = []
        for _ in range(samples):
            t = time.perf_counter_ns()
            for _ in range(batch):
                op()
            per_op.append((time.perf_counter_ns() - t) / batch)
        self.record(summarize(name, per_op, samples * batch, **extra))

    def measure_each(self, name: str, samples: int, op: Callable[[], object], **extra) -> None:
        if not self.wanted(name):
            return
        per_op = []
        for _ in range(1 if self.quick else samples):
            t = time.perf_counter_ns()
            op()
            per_op.append(time.perf_counter_ns() - t)
        self.record(summarize(name, per_op, len(per_op), **extra))

    def measure_parallel(self, name: str, threads: int, op: Callable[[], object]) -> None:
        if not self.wanted(name):
            return
        samples, batch = (1, 1) if self.quick else (10, 1)
        if not self.quick:
            n, start = 0, time.perf_counter_ns()
            while time.perf_counter_ns() - start < 100_000_000:
                op()
                n += 1
            batch = max(1, int(n * self.budget * 1e9 / samples / (time.perf_counter_ns() - start) / threads))
        per_op = []
        for _ in range(samples):
            errors: list[BaseException] = []

            def worker() -> None:
                try:
                    for _ in range(batch):
                        op()
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            ts = [threading.Thread(target=worker) for _ in range(threads)]
            t = time.perf_counter_ns()
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            el = time.perf_counter_ns() - t
            if errors:
                raise errors[0]
            per_op.append(el / (threads * batch))
        r = summarize(name, per_op, samples * threads * batch, threads=threads)
        r["ops_per_sec"] = 1e9 / r["median_ns"]
        self.record(r)


def secret_value(i: int) -> str:
    return ("sk-proj-" + os.urandom(16).hex() + f"{i:06d}")[:40]


def payload_store(store: Store) -> list[str]:
    names = ["payload-a", "payload-b", "payload-c"]
    for v, name in enumerate(names):
        store.create_vault(name, "payload bench")
        for i in range(20):
            store.set_entry(name, f"KEY_{v * 10 + i:02d}", secret_value(i))
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="run each workload once (no timings)")
    ap.add_argument("--out", help="write the JSON document here instead of standard output")
    ap.add_argument("--budget", type=float, default=1.0, help="measuring seconds per fast workload")
    ap.add_argument("--only", default="", help="run only workloads whose id matches this regular expression")
    args = ap.parse_args(argv)
    b = Bench(args.quick, args.budget, args.only)

    enc = Encryptor(os.urandom(32))
    for label, size in (("64B", 64), ("16KiB", 16 * 1024)):
        pt = os.urandom(size)
        blob = enc.encrypt(pt)
        b.measure(f"cipher/encrypt_{label}", lambda pt=pt: enc.encrypt(pt))
        b.measure(f"cipher/decrypt_{label}", lambda blob=blob: enc.decrypt(blob))

    with tempfile.TemporaryDirectory(prefix="upstream-python-bench-") as d:
        s = Store(os.path.join(d, "bench.db"), os.urandom(32))
        s.create_vault("bench", "single-entry operations")
        for i in range(100):
            s.set_entry("bench", f"KEY_{i:03d}", secret_value(i))
        counter = iter(range(10**9))
        b.measure(
            "store/set",
            lambda: s.set_entry("bench", f"KEY_{next(counter) % 100:03d}", secret_value(0)),
            note="update of an existing key; journal_mode=WAL, synchronous=FULL",
        )
        b.measure("store/get", lambda: s.get_entry("bench", "KEY_042"))
        s.create_vault("show50", "fifty entries")
        for i in range(50):
            s.set_entry("show50", f"KEY_{i:02d}", secret_value(i), i % 5 != 0)
        b.measure("store/show_50", lambda: s.show("show50"))
        names = payload_store(s)
        b.measure("store/payload_3x20", lambda: s.registration_payload(names))
        for threads in (1, 2):
            b.measure_parallel(f"store/payload_3x20_threads_{threads}", threads, lambda: s.registration_payload(names))

        bulk = 200 if args.quick else 20000
        if b.wanted("store/rotate_20000"):
            sr = Store(os.path.join(d, "rotate.db"), os.urandom(32))
            now_s = now()
            sr.db.execute("BEGIN")
            for v in range(20):
                cur = sr.db.execute("INSERT INTO vaults (name) VALUES (?)", (f"rotate-{v:02d}",))
                sr.db.executemany(
                    "INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at) "
                    "VALUES (?, ?, ?, 1, ?, ?)",
                    [(cur.lastrowid, f"KEY_{e:05d}", sr.enc.encrypt(secret_value(e).encode()), now_s, now_s)
                     for e in range(bulk // 20)],
                )
            sr.db.execute("COMMIT")
            b.measure_each(
                "store/rotate_20000", 3, lambda: sr.rotate_key(os.urandom(32)),
                note=f"{bulk} entries; read all, re-encrypt, UPDATE each row in one transaction",
            )

        if b.wanted("store/payload_3x20_big_store"):
            sb = Store(os.path.join(d, "big.db"), os.urandom(32))
            nv, ne = (100, 10) if args.quick else (10000, 100)
            filler = sb.enc.encrypt(secret_value(0).encode())
            now_s = now()
            t = time.perf_counter()
            # Generated inside SQLite in one transaction with a big page cache (setup, not measured).
            sb.db.execute("PRAGMA cache_size = -524288")
            sb.db.execute("BEGIN")
            sb.db.execute(
                "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < ?) "
                "INSERT INTO vaults (name, description, created_at, updated_at) "
                "SELECT printf('filler-%05d', n), '', ?, ? FROM c",
                (nv - 1, now_s, now_s),
            )
            sb.db.execute(
                "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < ?) "
                "INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at) "
                "SELECT v.id, printf('FILLER_%03d', c.n), ?, 1, ?, ? FROM vaults v, c "
                "WHERE v.name LIKE 'filler-%' ORDER BY v.id, c.n",
                (ne - 1, filler, now_s, now_s),
            )
            sb.db.execute("COMMIT")
            sb.db.execute("PRAGMA cache_size = -2000")
            print(f"upstream-python: big store setup {nv}x{ne} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
            bnames = payload_store(sb)
            b.measure("store/payload_3x20_big_store", lambda: sb.registration_payload(bnames),
                      note=f"store of {nv} vaults x {ne} entries plus the 3 x 20")

    doc = {
        "peer": "upstream-python",
        "meta": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cryptography": cryptography_version,
            "journal_mode": "wal",
            "synchronous": "FULL",
            "quick": args.quick,
            "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "skipped": {"store/import_20000": "20,000 upstream-style sets take about a minute; the Go model measures it"},
        },
        "results": b.results,
    }
    text = json.dumps(doc, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
