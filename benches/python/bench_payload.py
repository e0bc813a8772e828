#!/usr/bin/env python3
"""Registration payload for 3 vaults x 20 entries: runqy_vault from Python vs the upstream way in Python.

    .venv/bin/python benches/python/bench_payload.py            # medians and the ratio
    .venv/bin/python benches/python/bench_payload.py --quick    # each side once: proves it runs
    .venv/bin/python benches/python/bench_payload.py --json     # results for benches/compare.py
    .venv/bin/python benches/python/bench_payload.py --no-rust  # without the Rust side (no cargo build)

All sides read the same SQLite file, written the upstream way (legacy
ciphertexts, no meta table, as a runqy server leaves it; 3 vaults x 20
40-byte values, 40 keys once merged):

- upstream: benches/upstream-python/upstream_model.py's Store, the runqy
  server's design in Python: ``sqlite3``, per vault one SELECT for the vault
  and one for its entries, a fresh ``cryptography`` AESGCM object per value,
  ``json.dumps`` of the merged map;
- runqy_vault: ``Store.registration_payload(vaults)``, returning the dict;
- rust: the same core call, ``Store::registration_payload(vaults, None)``, on
  the same file from Rust (runqy-vault-py/examples/payload_same_file.rs, run
  with ``cargo run --release``; ``--rust-bin`` takes a built one). The
  binding's overhead is runqy_vault / rust: the same data, format and file,
  unlike criterion's ``store/payload_3x20`` (64-byte v2 values, 20 keys once
  merged) or the C/Go benches' baseline (v2, 20 keys). Skipped in --quick
  unless --rust-bin is given, and with a note if cargo fails.

The sides are measured in alternating rounds (the Rust process waits on a
read while Python runs), so machine noise hits all alike. Each sample is the
mean of a batch of calls; ours and rust use the same batch size.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import runqy_vault

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MODEL_PATH = HERE.parent / "upstream-python" / "upstream_model.py"
VAULTS = ["payload-a", "payload-b", "payload-c"]
ENTRIES = 20


def load_model():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("upstream_model", MODEL_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fill(model, store) -> None:  # type: ignore[no-untyped-def]
    for v, name in enumerate(VAULTS):
        store.create_vault(name, "payload bench")
        for i in range(ENTRIES):
            value = ("sk-proj-" + os.urandom(16).hex() + f"{i:06d}")[:40]
            store.set_entry(name, f"KEY_{v * 10 + i:02d}", value)


def quantile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    pos = p * (len(s) - 1)
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def result(workload: str, per_op: list[float], iterations: int) -> dict[str, object]:
    return {
        "workload": workload,
        "median_ns": statistics.median(per_op),
        "p10_ns": quantile(per_op, 0.1),
        "p90_ns": quantile(per_op, 0.9),
        "min_ns": min(per_op),
        "max_ns": max(per_op),
        "samples": len(per_op),
        "iterations": iterations,
    }


def batch_size(op: Callable[[], object], target_ns: float) -> int:
    t = time.perf_counter_ns()
    op()
    once = max(time.perf_counter_ns() - t, 1)
    return max(1, int(target_ns / once))


class RustSide:
    """payload_same_file.rs on the bench's file: `run(n)` times n calls in Rust."""

    def __init__(self, cmd: list[str], key_b64: str) -> None:
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.stdin.write(key_b64 + "\n")
        self.stdin.flush()
        ready = self.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "ready":
            self.close()
            raise RuntimeError(f"{' '.join(cmd[:6])} did not start (exit {self.proc.returncode})")
        self.values = int(ready[1])

    def run(self, n: int) -> float:
        self.stdin.write(f"{n}\n")
        self.stdin.flush()
        return float(self.stdout.readline())

    def close(self) -> None:
        try:
            self.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=60)


def rust_side(rust_bin: str | None, path: str, key_b64: str) -> RustSide | None:
    if rust_bin:
        cmd = [rust_bin]
    elif shutil.which("cargo"):
        cmd = ["cargo", "run", "--quiet", "--release", "-p", "runqy-vault-py", "--example", "payload_same_file", "--"]
    else:
        print("bench_payload: cargo not found; no Rust side (--rust-bin PATH gives one)", file=sys.stderr)
        return None
    try:
        return RustSide([*cmd, path, *VAULTS], key_b64)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"bench_payload: no Rust side: {e}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="run each side once (a smoke test; times mean nothing)")
    ap.add_argument("--json", action="store_true", help="print one JSON document for benches/compare.py")
    ap.add_argument("--samples", type=int, default=30, help="samples per side (default 30)")
    ap.add_argument("--no-rust", action="store_true", help="skip the Rust side (no cargo build)")
    ap.add_argument("--rust-bin", metavar="PATH", help="a built payload_same_file example (default: cargo run)")
    args = ap.parse_args(argv)

    model = load_model()
    raw_key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "payload.db")
        upstream = model.Store(path, raw_key)
        fill(model, upstream)
        key_b64 = base64.b64encode(raw_key).decode()
        rust = None
        if not args.no_rust and (args.rust_bin or not args.quick):
            rust = rust_side(args.rust_bin, path, key_b64)
        with runqy_vault.Store(path, key_b64) as ours:
            assert ours.format == "legacy", ours.format
            # The read path alone, as the other bindings' benches: with audit-reads on
            # each payload also commits its record (runqy-vault/benches/audit.rs).
            ours.audit_reads = False

            def run_ours() -> object:
                return ours.registration_payload(VAULTS)

            def run_upstream() -> object:
                return upstream.registration_payload(VAULTS)

            # Same answer before timing anything.
            expected = json.loads(run_upstream())
            # Keys overlap between vaults (KEY_10..KEY_29), so later vaults override: 40 keys.
            assert run_ours() == expected and len(expected["vaults"]) == 40
            assert rust is None or rust.values == 40, rust.values

            if args.quick:
                samples, sides = 1, {"ours": 1, "upstream": 1}
            else:
                samples = args.samples
                for _ in range(20):  # warm caches and connections
                    run_ours()
                    run_upstream()
                if rust is not None:
                    rust.run(20)
                sides = {"ours": batch_size(run_ours, 20e6), "upstream": batch_size(run_upstream, 20e6)}
            sides["rust"] = sides["ours"]
            per_op: dict[str, list[float]] = {"ours": [], "upstream": [], "rust": []}
            ops = {"ours": run_ours, "upstream": run_upstream}
            for _ in range(samples):
                for side, op in ops.items():
                    n = sides[side]
                    t = time.perf_counter_ns()
                    for _ in range(n):
                        op()
                    per_op[side].append((time.perf_counter_ns() - t) / n)
                if rust is not None:
                    per_op["rust"].append(rust.run(sides["rust"]) / sides["rust"])
        if rust is not None:
            rust.close()

    ours_r = result("python/registration_payload_3x20", per_op["ours"], samples * sides["ours"])
    # Named without "payload" so benches/compare.py does not take it for the binding's result.
    base_r = result("upstream-python/reg_3x20_same_run", per_op["upstream"], samples * sides["upstream"])
    ratio = float(base_r["median_ns"]) / float(ours_r["median_ns"])  # type: ignore[arg-type]
    results = [ours_r, base_r]
    overhead = None
    if per_op["rust"]:
        # Also named without "payload": compare.py reads it as this bench's Rust baseline.
        rust_r = result("rust-same-file/reg_3x20", per_op["rust"], samples * sides["rust"])
        results.append(rust_r)
        overhead = float(ours_r["median_ns"]) / float(rust_r["median_ns"])  # type: ignore[arg-type]
    if args.json:
        doc = {
            "peer": "python",
            "meta": {
                "python": platform.python_version(),
                "runqy_vault": runqy_vault.__version__,
                "quick": args.quick,
                "speedup_vs_upstream_python": ratio,
                "overhead_vs_rust_same_file": overhead,
            },
            "results": results,
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"registration payload, {len(VAULTS)} vaults x {ENTRIES} entries, legacy store, Python {platform.python_version()}")
    if args.quick:
        print("(--quick: each side ran once; the times below mean nothing)")
    labels = ["runqy_vault (Rust from Python)", "upstream way in Python", "Rust, same call and file"]
    for label, r in zip(labels, results):
        print(
            f"  {label:32} median {float(r['median_ns']) / 1e3:9.1f} µs"  # type: ignore[arg-type]
            f"  (p10 {float(r['p10_ns']) / 1e3:.1f}, p90 {float(r['p90_ns']) / 1e3:.1f}; {r['samples']} samples)"  # type: ignore[arg-type]
        )
    print(f"  ratio: runqy_vault is {ratio:.1f}x faster")
    if overhead is not None:
        print(f"  overhead: runqy_vault from Python / Rust = {overhead:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
