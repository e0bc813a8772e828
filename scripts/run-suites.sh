#!/usr/bin/env bash
# Every suite script, in order; scripts/test-all.sh runs this beside PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
# test-postgres-tls.sh comes last: its TLS test server changes a build cfg, and
# the builds before it would otherwise be redone.
for suite in scripts/test-rust.sh scripts/test-c.sh scripts/test-go.sh scripts/test-python.sh scripts/bench-quick.sh scripts/test-postgres-tls.sh; do
  echo "==> $suite"
  bash "$suite"
done
echo "==> all suites passed"
