#!/usr/bin/env bash
# PostgreSQL over TLS: a cluster of its own with ssl=on and certificates made
# by openssl (scripts/with-postgres.sh --tls); the whole store suite over
# verify-full TLS, and the TLS tests (wrong CA, host name mismatch, client
# certificates). The test that needs a server without TLS runs in test-rust.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-postgres.sh --tls cargo test -p runqy-vault --test store --test postgres_tls
