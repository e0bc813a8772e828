#!/usr/bin/env bash
# The benchmark harness in quick mode (CI): builds the upstream Go model (its
# modules come through the Go module proxy), runs every peer once and checks
# that each output parses. No timings: `python3 benches/compare.py` makes those.
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3
if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
fi
"$py" benches/compare.py --quick
