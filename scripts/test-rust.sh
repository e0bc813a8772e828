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
cargo test -p runqy-vault --no-default-features --lib
cargo test
# The README's main job must keep working: run it and check the child saw its secrets.
out=$(cargo run -q --example quickstart)
echo "$out" | grep -q "python child sees 5 vault variables" || { echo "$out"; echo "quickstart example failed" >&2; exit 1; }
echo "$out" | grep -q "OPENAI_API_KEY=sk\*\*\*\*xx" || { echo "$out"; echo "quickstart: later vault did not win" >&2; exit 1; }
echo "quickstart example: ok"
