#!/usr/bin/env python3
"""One-shot redaction from Python: runqy_vault.Redactor (the Rust core) vs the frozen baseline.

    .venv/bin/python benches/python/bench_redact.py            # MB/s of each and the ratio
    .venv/bin/python benches/python/bench_redact.py --quick    # a small input once: no secret survives in either
    .venv/bin/python benches/python/bench_redact.py --json     # results for benches/compare.py

The input is log-like text (lines of a worker's task output) with 50 secrets
of 20 to 60 characters; about one line in 200 carries one, raw, base64-encoded,
URL-encoded or inside a JSON document (forms both sides mask). Both sides get
the same text and the same secrets:

- baseline: benches/python/redact_baseline.py's ``Redactor.redact``, the pure
  Python redactor runqy_vault shipped before redaction moved into the core
  (one ``re`` alternation of every form);
- runqy_vault: ``runqy_vault.Redactor.redact``, every form of SPEC §11 on
  (more forms than the baseline matches: base64 at three alignments, repr).

Each side redacts the whole text once per round, in alternating rounds, so
machine noise hits both alike; the figure is the median round. Building the
redactors is outside the timing. Both redact the same 100 MB (``--mb``); the
baseline takes about 13 s a round at it, so ``--baseline-mb`` gives it only
the text's first N MB (alike line for line) when that is too long to wait.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import platform
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from types import ModuleType

import runqy_vault

HERE = Path(__file__).resolve().parent
BASELINE_PATH = HERE / "redact_baseline.py"
SECRETS = 50
MB = 1000 * 1000


def load_baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redact_baseline", BASELINE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_secrets(rng: random.Random) -> dict[str, str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./+="
    prefixes = ["sk-", "ghp_", "xoxb-", "AKIA", "pk_live_", ""]
    out = {}
    for i in range(SECRETS):
        value = rng.choice(prefixes)
        length = rng.randint(20, 60)
        while len(value) < length:
            value += rng.choice(alphabet)
        out[f"SECRET_{i}"] = value
    return out


def encoded_forms(value: str) -> list[str]:
    return [
        value,
        base64.b64encode(value.encode()).decode(),
        urllib.parse.quote(value, safe=""),
        json.dumps({"api_key": value}),
    ]


def log_text(rng: random.Random, secrets: dict[str, str], size: int) -> str:
    levels = ["INFO", "DEBUG", "WARN", "INFO", "ERROR"]
    words = [
        "processing", "task", "queue", "default", "retry", "download", "model", "batch",
        "completed", "request", "response", "status=200", "elapsed", "tokens", "worker",
        "connected", "redis://localhost:6379/0", "payload", "user_id=4821", "chunk",
    ]  # fmt: skip
    values = list(secrets.values())
    lines = []
    total = 0
    n = 0
    while total < size:
        n += 1
        line = (
            f"2025-06-01T12:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z {rng.choice(levels)} "
            f"worker[{1000 + rng.randrange(64)}]: " + " ".join(rng.choices(words, k=6 + rng.randrange(10)))
        )
        if rng.randrange(200) == 0:
            line += " auth=" + rng.choice(encoded_forms(rng.choice(values)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def survivors(out: str, secrets: dict[str, str]) -> list[str]:
    """The names whose value, in a form the text holds, is still in `out`."""
    return [name for name, v in secrets.items() if any(f in out for f in encoded_forms(v)[:3])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 1 MB input once; check that no secret survives")
    ap.add_argument("--mb", type=float, default=100, help="MB of text runqy_vault redacts (100)")
    ap.add_argument("--baseline-mb", type=float, default=None, help="MB of it the baseline redacts (all)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.mb, args.baseline_mb, args.rounds = 1, 1, 1

    rng = random.Random(20250601)
    secrets = make_secrets(rng)
    text = log_text(rng, secrets, int(args.mb * MB))
    if args.baseline_mb is None or args.baseline_mb >= args.mb:
        baseline_text = text
    else:
        baseline_text = text[: text.rfind("\n", 0, int(args.baseline_mb * MB)) + 1]

    baseline = load_baseline().Redactor(secrets)
    ours = runqy_vault.Redactor(secrets)

    if args.quick:
        failed = False
        for side, out in (("baseline", baseline.redact(baseline_text)), ("runqy_vault", ours.redact(text))):
            left = survivors(out, secrets)
            print(f"  {side:<12} {len(left)} of {SECRETS} secrets survive" + (f": {', '.join(left)}" if left else ""))
            failed = failed or bool(left)
        if failed:
            print("bench_redact: a secret survived redaction", file=sys.stderr)
            return 1
        print("(--quick: each side ran once on 1 MB; no figures)")
        return 0

    times: dict[str, list[float]] = {"baseline": [], "runqy_vault": []}
    for _ in range(args.rounds):
        for side, redactor, data in (("baseline", baseline, baseline_text), ("runqy_vault", ours, text)):
            t = time.perf_counter()
            redactor.redact(data)
            times[side].append(time.perf_counter() - t)

    sizes = {"baseline": len(baseline_text.encode()), "runqy_vault": len(text.encode())}
    rates = {side: sizes[side] / statistics.median(ts) / MB for side, ts in times.items()}
    ratio = rates["runqy_vault"] / rates["baseline"]
    if args.json:
        print(
            json.dumps(
                {
                    "workload": "redact_oneshot_50_secrets",
                    "python": platform.python_version(),
                    "rounds": args.rounds,
                    "bytes": sizes,
                    "mb_per_s": rates,
                    "ratio": ratio,
                },
                indent=2,
            )
        )
        return 0
    print(f"one-shot redaction, 50 secrets of 20-60 characters, log text, Python {platform.python_version()}")
    print(f"(median of {args.rounds} alternating rounds)")
    for side in ("runqy_vault", "baseline"):
        label = "runqy_vault (Rust core)" if side == "runqy_vault" else "baseline (redact_baseline.py)"
        print(f"  {label:<30} {rates[side]:8.1f} MB/s  on {sizes[side] / MB:6.1f} MB")
    print(f"  ratio: runqy_vault is {ratio:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
