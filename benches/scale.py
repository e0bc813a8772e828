#!/usr/bin/env python3
"""The scale targets (issue 18): big stores through the release CLI, peak RSS and wall time.

    python3 benches/scale.py                 # full: 10k, 100k, 300k, 1M entries; list of 100k vaults
    python3 benches/scale.py --quick         # CI: 10k entries, list of 1k vaults; checks each op runs
    python3 benches/scale.py --sizes 10000,1000000 --plot docs/scale.png

Each operation runs as its own `runqy-vault` process on a fresh copy of a
cached store; its peak RSS is the child's `ru_maxrss` from `os.wait4` (the
kernel's figure for that process alone), its time the wall clock around it.
Targets: rotate-key, export, import and migrate of 1,000,000 entries (100-byte
values, 10,000 vaults) each under 256 MiB and 60 s (issue 18), and `audit log
--json` of that store's log held to the same bound (our own: its 100 import
records list 10,000 keys each, and it once peaked at 1.1 GiB); `list` of 100,000 vaults
under 200 ms; the payload flat in store size (the 1M store's within 1.5x of
the 10k store's). Stores are built once through the CLI's own `import`, in
documents of 10,000 entries, and cached under $TMPDIR/runqy-vault-scale
(a legacy store starts as the runqy server's tables, so it stays legacy).

Standard library only (matplotlib only for --plot). compare.py runs it as
`--only scale`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Bench keys only (base64 of 32 fixed bytes): never a real key.
KEY = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
NEW_KEY = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
VALUE_LEN = 100
ENTRIES_PER_VAULT = 100  # 1,000,000 entries in 10,000 vaults
CHUNK = 10_000  # entries per import document while building a store
GENERATOR_VERSION = 1  # bump when the stores built change shape
MIB = 1024 * 1024
TARGET_RSS = 256 * MIB
TARGET_S = 60.0
TARGET_LIST_S = 0.200
PAYLOAD_FLAT = 1.5
FULL_SIZES = [10_000, 100_000, 300_000, 1_000_000]
QUICK_SIZES = [10_000]
OPS = ["rotate-key", "export", "import", "migrate", "audit-log"]

# The runqy server's tables (SPEC §2), no meta table: runqy-vault keeps such a store legacy.
UPSTREAM_SCHEMA = """
CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
  description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_vaults_name ON vaults(name);
CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, vault_id INTEGER NOT NULL
  REFERENCES vaults(id) ON DELETE CASCADE, key TEXT NOT NULL, value BLOB NOT NULL,
  is_secret INTEGER DEFAULT 1, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(vault_id, key));
CREATE INDEX idx_vault_entries_vault_id ON vault_entries(vault_id);
CREATE INDEX idx_vault_entries_key ON vault_entries(vault_id, key);
"""


def log(msg: str) -> None:
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


class ScaleFailed(Exception):
    pass


def target_dir() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    return ROOT / "target"


def build_cli(quick: bool) -> Path:
    """The CLI: release for timings; quick mode (CI: does each op run?) takes the debug build."""
    cmd = ["cargo", "build", "-p", "runqy-vault", "--bin", "runqy-vault"] + ([] if quick else ["--release"])
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise ScaleFailed("building the CLI failed:\n" + p.stderr[-3000:])
    return target_dir() / ("debug" if quick else "release") / "runqy-vault"


def cache_dir() -> Path:
    d = Path(os.environ.get("RUNQY_VAULT_SCALE_CACHE", Path(tempfile.gettempdir()) / "runqy-vault-scale"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def env_for(db: Path, key: str = KEY) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNQY_VAULT_")}
    env.update({"RUNQY_VAULT_DB": str(db), "RUNQY_VAULT_MASTER_KEY": key, "RUNQY_VAULT_ACTOR": "bench:scale"})
    return env


def measured(cmd: list[str], env: dict, stdin: bytes | None = None) -> tuple[float, int, bytes]:
    """Runs `cmd` alone; (wall seconds, peak RSS in bytes, standard error)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin is not None:
            inp.write(stdin)
            inp.seek(0)
        t = time.monotonic()
        p = subprocess.Popen(cmd, env=env, stdin=inp, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if p.returncode != 0:
        raise ScaleFailed(f"`{' '.join(cmd)}` exited {p.returncode}: {text.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss * 1024, text  # ru_maxrss is in KiB on Linux


def document(first_vault: int, vaults: int, per_vault: int) -> dict:
    out = []
    for v in range(first_vault, first_vault + vaults):
        entries = []
        for k in range(per_vault):
            seed = f"{v:06d}-{k:04d}-"
            entries.append({"key": f"KEY_{k:04d}", "value": (seed * (VALUE_LEN // len(seed) + 1))[:VALUE_LEN],
                            "is_secret": k % 10 != 0})
        out.append({"name": f"vault-{v:06d}", "description": f"scale bench vault {v}", "entries": entries})
    return {"format": 1, "vaults": out}


def store(cli: Path, entries: int, vaults: int, legacy: bool) -> Path:
    """A cached store of `entries` entries in `vaults` vaults, built through `import`."""
    kind = "legacy" if legacy else "v2"
    path = cache_dir() / f"g{GENERATOR_VERSION}-{kind}-{entries}-{vaults}.db"
    if path.exists():
        return path
    per_vault = max(1, entries // vaults)
    log(f"building {path.name} ({entries} entries, {vaults} vaults, {kind}); cached for later runs")
    t = time.monotonic()
    part = path.with_suffix(".part")
    for p in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        p.unlink(missing_ok=True)
    if legacy:
        with sqlite3.connect(part) as c:
            c.executescript(UPSTREAM_SCHEMA)
    chunk_vaults = max(1, CHUNK // per_vault)
    with tempfile.TemporaryDirectory() as tmp:
        doc_path = Path(tmp) / "chunk.json"
        for first in range(0, vaults, chunk_vaults):
            n = min(chunk_vaults, vaults - first)
            doc_path.write_text(json.dumps(document(first, n, per_vault)))
            measured([str(cli), "import", str(doc_path)], env_for(part))
    shutil.move(part, path)
    log(f"built {path.name} in {time.monotonic() - t:.0f}s")
    return path


def fresh_copy(src: Path, work: Path) -> Path:
    dst = work / "store.db"
    for p in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
        p.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


def run_op(cli: Path, op: str, entries: int, work: Path) -> dict:
    vaults = max(1, entries // ENTRIES_PER_VAULT)
    src = store(cli, entries, vaults, legacy=(op == "migrate"))
    db = fresh_copy(src, work)
    env = env_for(db)
    if op == "rotate-key":
        (work / "new.key").write_text(NEW_KEY + "\n")
        wall, rss, _ = measured([str(cli), "rotate-key", "--new-key-file", str(work / "new.key")], env)
    elif op == "export":
        out = work / "export.json"
        out.unlink(missing_ok=True)
        wall, rss, _ = measured([str(cli), "export", "--plaintext", str(out)], env)
    elif op == "import":
        doc = work / f"import-{entries}.json"
        if not doc.exists():
            measured([str(cli), "export", "--plaintext", str(doc)], env)
        empty = work / "empty.db"
        for p in (empty, Path(f"{empty}-wal"), Path(f"{empty}-shm")):
            p.unlink(missing_ok=True)
        wall, rss, _ = measured([str(cli), "import", str(doc)], env_for(empty))
    elif op == "migrate":
        wall, rss, _ = measured([str(cli), "migrate"], env)
    elif op == "audit-log":
        wall, rss, _ = measured([str(cli), "audit", "log", "--json"], env)
    else:
        raise ValueError(op)
    met = rss < TARGET_RSS and wall < TARGET_S
    return {"workload": f"scale/{op}", "entries": entries, "seconds": wall, "peak_rss_bytes": rss,
            "median_ns": wall * 1e9, "samples": 1, "met": met if entries == 1_000_000 else None}


def best_of(n: int, cmd: list[str], env: dict) -> tuple[float, int]:
    runs = [measured(cmd, env) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def run_list(cli: Path, vaults: int, work: Path, quick: bool) -> dict:
    src = store(cli, vaults, vaults, legacy=False)  # one entry per vault
    db = fresh_copy(src, work)
    wall, rss = best_of(1 if quick else 5, [str(cli), "list"], env_for(db))
    return {"workload": "scale/list", "vaults": vaults, "seconds": wall, "peak_rss_bytes": rss,
            "median_ns": wall * 1e9, "samples": 1 if quick else 5,
            "met": (wall < TARGET_LIST_S) if vaults == 100_000 else None}


def run_payload(cli: Path, sizes: list[int], work: Path, quick: bool) -> list[dict]:
    out = []
    for entries in sizes:
        src = store(cli, entries, max(1, entries // ENTRIES_PER_VAULT), legacy=False)
        db = fresh_copy(src, work)
        cmd = [str(cli), "payload", "vault-000000", "vault-000001", "vault-000002"]
        wall, rss = best_of(1 if quick else 10, cmd, env_for(db))
        out.append({"workload": "scale/payload_3x100", "entries": entries, "seconds": wall, "peak_rss_bytes": rss,
                    "median_ns": wall * 1e9, "samples": 1 if quick else 10})
    if len(out) > 1:
        ratio = out[-1]["seconds"] / out[0]["seconds"]
        out[-1]["flat_ratio"] = ratio
        out[-1]["met"] = ratio <= PAYLOAD_FLAT if out[-1]["entries"] == 1_000_000 else None
    return out


def run(quick: bool, sizes: list[int] | None = None, ops: list[str] | None = None) -> dict:
    """Every scale measurement; {"results": [...], "lines": markdown table}."""
    cli = build_cli(quick)
    sizes = sizes or (QUICK_SIZES if quick else FULL_SIZES)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="runqy-vault-scale-") as tmp:
        work = Path(tmp)
        for entries in sizes:
            for op in ops or OPS:
                r = run_op(cli, op, entries, work)
                log(f"{op} {entries}: {r['seconds']:.2f}s, peak RSS {r['peak_rss_bytes'] / MIB:.0f} MiB")
                results.append(r)
        r = run_list(cli, 1_000 if quick else 100_000, work, quick)
        log(f"list {r['vaults']} vaults: {r['seconds'] * 1000:.0f} ms")
        results.append(r)
        for r in run_payload(cli, [sizes[0], sizes[-1]] if len(sizes) > 1 else sizes, work, quick):
            results.append(r)
    return {"results": results, "lines": table(results)}


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[met]


def table(results: list[dict]) -> list[str]:
    lines = ["| operation | store | wall time | peak RSS | target | |", "|---|---|---|---|---|---|"]
    for r in results:
        op = r["workload"].removeprefix("scale/")
        if op == "list":
            size = f"{r['vaults']:,} vaults"
            target = "< 200 ms" if r["vaults"] == 100_000 else ""
        elif op.startswith("payload"):
            size = f"{r['entries']:,} entries"
            target = f"≤ {PAYLOAD_FLAT}× the smallest store's" if "flat_ratio" in r else ""
            if "flat_ratio" in r:
                target += f" ({r['flat_ratio']:.2f}×)"
        else:
            size = f"{r['entries']:,} entries"
            target = "< 256 MiB and < 60 s" if r["entries"] == 1_000_000 else ""
        lines.append(f"| `{op}` | {size} | {fmt_s(r['seconds'])} | {r['peak_rss_bytes'] / MIB:.0f} MiB "
                     f"| {target} | {verdict(r.get('met'))} |")
    return lines


def fmt_s(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for op in OPS:
        rs = sorted((r for r in results if r["workload"] == f"scale/{op}"), key=lambda r: r["entries"])
        if not rs:
            continue
        xs = [r["entries"] for r in rs]
        ax_t.plot(xs, [r["seconds"] for r in rs], marker="o", label=op)
        ax_m.plot(xs, [r["peak_rss_bytes"] / MIB for r in rs], marker="o", label=op)
    ax_t.axhline(TARGET_S, color="red", linestyle="--", linewidth=1, label="60 s target")
    ax_m.axhline(TARGET_RSS / MIB, color="red", linestyle="--", linewidth=1, label="256 MiB target")
    for ax, title, unit in ((ax_t, "wall time", "seconds"), (ax_m, "peak RSS", "MiB")):
        ax.set_xscale("log")
        ax.set_xlabel("entries in the store (100 per vault, 100-byte values)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("runqy-vault CLI, one process per operation (benches/scale.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    log(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k entries only: checks each op runs, in seconds")
    ap.add_argument("--sizes", default="", help="comma-separated store sizes in entries")
    ap.add_argument("--ops", default="", help=f"comma-separated subset of {','.join(OPS)}")
    ap.add_argument("--plot", default="", help="write a PNG of time and peak RSS against store size (matplotlib)")
    ap.add_argument("--json", default="", help="write every figure to this file")
    ap.add_argument("--from-json", default="", help="measure nothing: table (and --plot) from a --json file")
    args = ap.parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        print("\n".join(table(results)))
        if args.plot:
            plot(results, Path(args.plot))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    ops = [o for o in args.ops.split(",") if o]
    try:
        out = run(args.quick, sizes or None, ops or None)
    except ScaleFailed as e:
        print(f"scale FAILED: {e}", file=sys.stderr)
        return 1
    print("\n".join(out["lines"]))
    if args.json:
        Path(args.json).write_text(json.dumps(out["results"], indent=1) + "\n")
    if args.plot:
        plot(out["results"], Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
