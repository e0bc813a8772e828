#!/usr/bin/env bash
# The one test command: installs what is missing (scripts/setup.sh), starts a
# throwaway PostgreSQL cluster (scripts/with-postgres.sh; an already set
# RUNQY_VAULT_TEST_POSTGRES_URL is used instead), then runs every suite, Rust,
# C, Go, Python, on SQLite and PostgreSQL, and the bench harness in quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/with-postgres.sh bash scripts/run-suites.sh
