#!/usr/bin/env bash
# Rust: format, lints, unit, integration and doc tests of the default members.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test
