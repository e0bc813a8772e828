#!/usr/bin/env bash
# The C ABI comparison: get and the registration payload (3 vaults x 20
# entries) from Rust (the core), from C and from Go (cgo), release builds,
# interleaved ROUNDS times so machine load hits all three alike. All three
# measure alike: the same iteration count, a warm-up, the median of 7 rounds
# (wall-clock ns/op and process cpu-ns/op).
#   benches/c/run.sh [ROUNDS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
iterations=20000 # per round: get; the payload runs a quarter of it
cargo build --release -p runqy-vault-ffi
cargo build --release -p runqy-vault-ffi --example bench_rust
mkdir -p target/c-bench
cp target/release/librunqy_vault_ffi.a target/c-bench/
cc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude benches/c/bench_ffi.c \
  target/c-bench/librunqy_vault_ffi.a -lpthread -ldl -lm -o target/c-bench/bench_ffi
(cd examples/go && go test -tags runqyvault_release -c -o ../../target/c-bench/go_bench.test .)
for _ in $(seq "$rounds"); do
  target/release/examples/bench_rust "$iterations"
  target/c-bench/bench_ffi "$iterations"
  target/c-bench/go_bench.test -test.run '^$' -test.bench . -test.benchtime "${iterations}x" -test.count 1 \
    | awk '/^Benchmark/ {n = $1; sub(/^Benchmark/, "", n); sub(/-[0-9]+$/, "", n); printf "go   %-24s %10.0f ns/op %10.0f cpu-ns/op\n", n, $3, $5}'
done
