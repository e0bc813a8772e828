#!/usr/bin/env bash
# Rust: format, lints, unit, integration and doc tests of the default members.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The core without the postgres feature (a Rust user's default-features = false).
cargo clippy -p runqy-vault --all-targets --no-default-features -- -D warnings
# The C ABI with its test and bench hooks, which no default build compiles.
cargo clippy -p runqy-vault-ffi --all-targets --all-features -- -D warnings
# Without default features the core seals with the pure-Rust provider
# (rustcrypto); its bytes are held to the same vectors as the default aws-lc.
cargo test -p runqy-vault --no-default-features --lib --test providers --test vectors
cargo test
# The README's main job must keep working: the CLI on a fresh store, and a
# task started by `run` that sees its secrets, not the master key, and whose
# careless print is redacted.
out=$(bash scripts/quickstart.sh 2>&1)
for want in "python task sees 4 vault variables: HF_TOKEN, LOG_LEVEL, OPENAI_API_KEY, STRIPE_API_KEY" \
  "the worker's master key reaches the task: False" \
  "calling the API with OPENAI_API_KEY=sk****xx" \
  "OPENAI_API_KEY  sk****00  yes" \
  "Audit log intact: 9 records." \
  "note: queue 'inference': key 'OPENAI_API_KEY' of vault 'api-keys' is shadowed by vault 'model-credentials' (listed later, it wins)" \
  "0 errors, 0 warnings."; do
  grep -qxF "$want" <<<"$out" || { echo "$out"; echo "quickstart: no line '$want'" >&2; exit 1; }
done
echo "quickstart: ok"
# The Rust API's walk through the same job.
out=$(cargo run -q --example quickstart)
echo "$out" | grep -q "python child sees 5 vault variables" || { echo "$out"; echo "quickstart example failed" >&2; exit 1; }
echo "$out" | grep -q "OPENAI_API_KEY=sk\*\*\*\*xx" || { echo "$out"; echo "quickstart: later vault did not win" >&2; exit 1; }
echo "$out" | grep -q "the child sees no RUNQY_VAULT_MASTER_KEY" || { echo "$out"; echo "quickstart: the master key reached the child" >&2; exit 1; }
echo "quickstart example: ok"
