#!/usr/bin/env bash
# Python: build the one abi3 manylinux2014 wheel (scripts/build-wheel.sh),
# install it into .venv, then the pytest suite (stubtest included), mypy
# --strict, the example, and the payload bench once; then the same wheel in a
# fresh venv without Rust (scripts/test-wheel.sh). One release build per run;
# cargo reuses target/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
PY=.venv/bin/python

WHEEL=$(bash scripts/build-wheel.sh | tail -n 1)
"$PY" -m pip install --quiet --force-reinstall --no-deps "$WHEEL"
# The suite must test the installed wheel, not the source tree.
(cd runqy-vault-py && ../"$PY" -c 'import runqy_vault, sys; assert "site-packages" in runqy_vault.__file__, runqy_vault.__file__')

(cd runqy-vault-py && ../"$PY" -m pytest)
"$PY" -m mypy --strict runqy-vault-py/python/runqy_vault examples/python
"$PY" examples/python/server.py
"$PY" benches/python/bench_payload.py --quick

bash scripts/test-wheel.sh "$WHEEL"
