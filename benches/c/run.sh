#!/usr/bin/env bash
# The C ABI comparison: get and the registration payload (3 vaults x 20
# entries) through the C ABI from C and from Go (cgo), each against the same
# call made by the core in Rust, in the same process: short batches of the
# sides alternate, and each figure is the median of the per-pair ratios
# (see benches/c/bench_ffi.c for why: this machine's speed drifts, so
# figures from separate processes do not divide). Release builds, with the
# library's bench-hooks feature, which adds the Rust loops.
#   benches/c/run.sh [PAIRS]     (default 201; each pair is ~1 ms per side)
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs="${1:-201}"
cargo build --release -p runqy-vault-ffi --features bench-hooks
mkdir -p target/c-bench
cp target/release/librunqy_vault_ffi.a target/c-bench/
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude benches/c/bench_ffi.c \
  target/c-bench/librunqy_vault_ffi.a -lpthread -ldl -lm -o target/c-bench/bench_ffi
# Linked now, while target/release holds the bench-hooks build.
(cd examples/go && go test -tags 'runqyvault_release runqyvault_paired' -c -o ../../target/c-bench/go_paired.test .)
target/c-bench/bench_ffi "$pairs"
target/c-bench/go_paired.test -test.run '^TestPaired$' -pairs "$pairs"
