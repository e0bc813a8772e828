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
# Installed for pkg-config into target/c-bench; its .pc defines
# RUNQY_VAULT_BENCH_HOOKS, which both benches need.
bash scripts/install-lib.sh target/c-bench --features bench-hooks
export PKG_CONFIG_PATH="$PWD/target/c-bench/lib/pkgconfig"
read -ra cflags <<<"$(pkg-config --cflags runqy_vault)"
read -ra libs <<<"$(pkg-config --libs runqy_vault)"
cc -O2 -std=c11 -Wall -Wextra -Werror "${cflags[@]}" benches/c/bench_ffi.c "${libs[@]}" -o target/c-bench/bench_ffi
(cd runqy-vault-ffi/go && go test -tags runqyvault_paired -c -o ../../target/c-bench/go_paired.test .)
target/c-bench/bench_ffi "$pairs"
target/c-bench/go_paired.test -test.run '^TestPaired$' -pairs "$pairs"
