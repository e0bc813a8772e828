#!/usr/bin/env bash
# The one test command: every suite, Rust, C, Go, Python, and the bench harness
# in quick mode. Run scripts/setup.sh once first (.ci/run does).
set -euo pipefail
cd "$(dirname "$0")/.."
for suite in scripts/test-rust.sh scripts/test-c.sh scripts/test-go.sh scripts/test-python.sh scripts/bench-quick.sh; do
  if [ -x "$suite" ]; then
    echo "==> $suite"
    "$suite"
  fi
done
echo "==> all suites passed"
