#!/usr/bin/env bash
# Python: build and install runqy_vault into .venv the way a user does
# (`pip install ./runqy-vault-py`, maturin from PyPI as the build backend),
# then the pytest suite (stubtest included), the example, and the payload
# bench once. One release build per run; cargo reuses target/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
PY=.venv/bin/python

"$PY" -m pip install --quiet --force-reinstall --no-deps ./runqy-vault-py
# The suite must test the installed wheel, not the source tree.
(cd runqy-vault-py && ../"$PY" -c 'import runqy_vault, sys; assert "site-packages" in runqy_vault.__file__, runqy_vault.__file__')

(cd runqy-vault-py && ../"$PY" -m pytest)
"$PY" -m mypy --strict runqy-vault-py/python/runqy_vault examples/python
"$PY" examples/python/server.py
"$PY" benches/python/bench_payload.py --quick
