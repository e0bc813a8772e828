#!/usr/bin/env bash
# Every suite script, in order; scripts/test-all.sh runs this beside PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
for suite in scripts/test-rust.sh scripts/test-c.sh scripts/test-go.sh scripts/test-python.sh scripts/bench-quick.sh; do
  echo "==> $suite"
  bash "$suite"
done
echo "==> all suites passed"
