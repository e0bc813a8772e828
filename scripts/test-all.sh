#!/usr/bin/env bash
# The one test command: installs what is missing (scripts/setup.sh), then runs
# every suite, Rust, C, Go, Python, and the bench harness in quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for suite in scripts/test-rust.sh scripts/test-c.sh scripts/test-go.sh scripts/test-python.sh scripts/bench-quick.sh; do
  if [ -x "$suite" ]; then
    echo "==> $suite"
    "$suite"
  fi
done
echo "==> all suites passed"
