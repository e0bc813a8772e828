#!/usr/bin/env bash
# Installs everything the test suites need on a fresh machine of ours (Debian,
# Rust by rustup, Go, Python 3). Idempotent: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- Rust toolchain components --------------------------------------------
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# --- Fuzzing (scripts/fuzz.sh): the nightly toolchain and cargo-fuzz --------
# libFuzzer and -Zsanitizer=address need nightly; the targets' own workspace
# (fuzz/) builds only there.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! command -v cargo-fuzz >/dev/null; then
  rustup run nightly cargo install --locked --quiet cargo-fuzz
fi

# --- cbindgen, pinned: the header check compares its output byte for byte --
CBINDGEN_VERSION=0.29.4
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$CBINDGEN_VERSION" ]; then
  cargo install --locked --quiet cbindgen --version "$CBINDGEN_VERSION"
fi

# --- Python: a venv for the module, its tests and the benchmark peers -------
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r scripts/requirements-dev.txt

# --- C ABI (issue 3): a C compiler, valgrind and Go for scripts/test-c.sh and
# test-go.sh; pkg-config, through which the Go package finds the library
if ! command -v cc >/dev/null || ! command -v valgrind >/dev/null || ! command -v pkg-config >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq build-essential valgrind pkg-config >/dev/null
  else
    echo "setup: install a C compiler, valgrind and pkg-config" >&2
  fi
fi
command -v go >/dev/null || echo "setup: Go (1.22 or newer) is needed for scripts/test-go.sh" >&2
