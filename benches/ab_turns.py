#!/usr/bin/env python3
"""A/B by turns: two builds of one criterion bench, run alternately on one
filter (A B, B A, A B, ...), so the host's drift through the run falls on both.
Prints, for each bench the filter matched, every turn's criterion estimate
(the middle of its `time:` line) and the median over the turns, and B/A.

    python3 benches/ab_turns.py BIN_A BIN_B FILTER [TURNS]

BIN_A and BIN_B are bench executables (`cargo bench --no-run` prints them),
for example the same bench built in two target directories. Run it from the
bench's crate (runqy-vault/) so both find their data. A ratio is a finding
only when it is outside the spread of the turns on both sides.
"""
import re
import statistics
import subprocess
import sys

UNIT_US = {"ps": 1e-6, "ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def run(binary, pattern):
    """One criterion run: {bench name: middle estimate in µs}."""
    out = subprocess.run(
        [binary, "--bench", pattern, "--measurement-time", "4", "--warm-up-time", "1", "--noplot"],
        capture_output=True, text=True, check=True,
    ).stdout
    found, name = {}, None
    for line in out.splitlines():
        head = re.match(r"^(\S+/\S+)(\s+time:|\s*$)", line)
        if head:
            name = head.group(1)
        est = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if est and name:
            found[name] = float(est.group(1)) * UNIT_US[est.group(2)]
    return found


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    a, b, pattern = sys.argv[1:4]
    turns = int(sys.argv[4]) if len(sys.argv) == 5 else 3
    seen = {}
    for turn in range(turns):
        order = (("A", a), ("B", b)) if turn % 2 == 0 else (("B", b), ("A", a))
        for tag, binary in order:
            for name, us in run(binary, pattern).items():
                seen.setdefault(name, {"A": [], "B": []})[tag].append(us)
    for name, d in seen.items():
        ma, mb = statistics.median(d["A"]), statistics.median(d["B"])
        turns_a = " ".join(f"{x:.2f}" for x in d["A"])
        turns_b = " ".join(f"{x:.2f}" for x in d["B"])
        print(f"{name}: A {ma:.2f} µs ({turns_a})  B {mb:.2f} µs ({turns_b})  B/A {mb / ma:.3f}")


if __name__ == "__main__":
    main()
