#!/usr/bin/env python3
"""Registration payload for 3 vaults x 20 entries: runqy_vault from Python vs the upstream way in Python.

    .venv/bin/python benches/python/bench_payload.py            # medians and the ratio
    .venv/bin/python benches/python/bench_payload.py --quick    # each side once: proves it runs
    .venv/bin/python benches/python/bench_payload.py --json     # results for benches/compare.py

Both sides read the same SQLite file, written the upstream way (legacy
ciphertexts, no meta table, as a runqy server leaves it):

- upstream: benches/upstream-python/upstream_model.py's Store, the runqy
  server's design in Python: ``sqlite3``, per vault one SELECT for the vault
  and one for its entries, a fresh ``cryptography`` AESGCM object per value,
  ``json.dumps`` of the merged map;
- runqy_vault: ``Store.registration_payload(vaults)``, returning the dict.

The two are measured in alternating rounds in one process, so machine noise
hits both alike. Each sample is the mean of a batch of calls.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import runqy_vault

HERE = Path(__file__).resolve().parent
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="run each side once (a smoke test; times mean nothing)")
    ap.add_argument("--json", action="store_true", help="print one JSON document for benches/compare.py")
    ap.add_argument("--samples", type=int, default=30, help="samples per side (default 30)")
    args = ap.parse_args(argv)

    model = load_model()
    raw_key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "payload.db")
        upstream = model.Store(path, raw_key)
        fill(model, upstream)
        with runqy_vault.Store(path, base64.b64encode(raw_key).decode()) as ours:
            assert ours.format == "legacy", ours.format

            def run_ours() -> object:
                return ours.registration_payload(VAULTS)

            def run_upstream() -> object:
                return upstream.registration_payload(VAULTS)

            # Same answer before timing anything.
            expected = json.loads(run_upstream())
            # Keys overlap between vaults (KEY_10..KEY_29), so later vaults override: 40 keys.
            assert run_ours() == expected and len(expected["vaults"]) == 40

            if args.quick:
                samples, sides = 1, {"ours": 1, "upstream": 1}
            else:
                samples = args.samples
                for _ in range(20):  # warm caches and connections
                    run_ours()
                    run_upstream()
                sides = {"ours": batch_size(run_ours, 20e6), "upstream": batch_size(run_upstream, 20e6)}
            per_op: dict[str, list[float]] = {"ours": [], "upstream": []}
            ops = {"ours": run_ours, "upstream": run_upstream}
            for _ in range(samples):
                for side, op in ops.items():
                    n = sides[side]
                    t = time.perf_counter_ns()
                    for _ in range(n):
                        op()
                    per_op[side].append((time.perf_counter_ns() - t) / n)

    ours_r = result("python/registration_payload_3x20", per_op["ours"], samples * sides["ours"])
    # Named without "payload" so benches/compare.py does not take it for the binding's result.
    base_r = result("upstream-python/reg_3x20_same_run", per_op["upstream"], samples * sides["upstream"])
    ratio = float(base_r["median_ns"]) / float(ours_r["median_ns"])  # type: ignore[arg-type]
    if args.json:
        doc = {
            "peer": "python",
            "meta": {
                "python": platform.python_version(),
                "runqy_vault": runqy_vault.__version__,
                "quick": args.quick,
                "speedup_vs_upstream_python": ratio,
            },
            "results": [ours_r, base_r],
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"registration payload, {len(VAULTS)} vaults x {ENTRIES} entries, legacy store, Python {platform.python_version()}")
    if args.quick:
        print("(--quick: each side ran once; the times below mean nothing)")
    for label, r in (("runqy_vault (Rust from Python)", ours_r), ("upstream way in Python", base_r)):
        print(
            f"  {label:32} median {float(r['median_ns']) / 1e3:9.1f} µs"  # type: ignore[arg-type]
            f"  (p10 {float(r['p10_ns']) / 1e3:.1f}, p90 {float(r['p90_ns']) / 1e3:.1f}; {r['samples']} samples)"  # type: ignore[arg-type]
        )
    print(f"  ratio: runqy_vault is {ratio:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
