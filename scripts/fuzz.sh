#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and fails on any crash (a panic,
# a failed property, an AddressSanitizer report, a leak, a time-out).
#
#   bash scripts/fuzz.sh [SECONDS]
#
# SECONDS (or $FUZZ_BUDGET; default 300) is the fuzzing time of all targets
# together, split evenly: the cargo-fuzz targets in fuzz/ and the Go
# package's `go test -fuzz` target. Building comes on top. .ci/run passes a
# budget of at most 600 s. README ("Fuzzing") says how to run one target longer.
#
# Each target starts from its seeds in the repository (fuzz/corpus/<target>,
# read only) and grows its corpus in target/fuzz-corpus/<target>, kept between
# runs; a crash is written to fuzz/artifacts/<target>/ with the command to
# replay it.
set -euo pipefail
cd "$(dirname "$0")/.."

budget="${1:-${FUZZ_BUDGET:-300}}"
case "$budget" in
  '' | *[!0-9]*) echo "fuzz.sh: the budget must be a number of seconds, got '$budget'" >&2; exit 2 ;;
esac

command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz is missing: run scripts/setup.sh" >&2; exit 1; }
rustup run nightly rustc --version >/dev/null 2>&1 || { echo "fuzz.sh: the nightly toolchain is missing: run scripts/setup.sh" >&2; exit 1; }

mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
go_targets=(FuzzPayloadJSON)
count=$(( ${#targets[@]} + ${#go_targets[@]} ))
per=$(( budget / count ))
(( per >= 1 )) || per=1
echo "--- fuzzing ${#targets[@]} Rust and ${#go_targets[@]} Go targets, ${per}s each (budget ${budget}s)"

echo "--- build (nightly, AddressSanitizer, debug assertions)"
(cd fuzz && cargo +nightly fuzz build)

grown="$PWD/target/fuzz-corpus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The C ABI target's store: on tmpfs when there is one (each write syncs).
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm="$work"
RUNQY_VAULT_FUZZ_DIR="$(mktemp -d "$shm/runqy-vault-fuzz.XXXXXX")"
export RUNQY_VAULT_FUZZ_DIR
trap 'rm -rf "$work" "$RUNQY_VAULT_FUZZ_DIR"' EXIT
for t in "${targets[@]}"; do
  echo "--- $t"
  mkdir -p "$grown/$t"
  log="$grown/$t.log"
  # -timeout: one input may take at most 10 s; -rss_limit_mb: memory bound.
  if ! (cd fuzz && cargo +nightly fuzz run "$t" "$grown/$t" "corpus/$t" -- \
    -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
    cat "$log"
    echo "fuzz.sh: $t failed; the input is in fuzz/artifacts/$t/ (replay: cd fuzz && cargo +nightly fuzz run $t <file>)" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$log" || tail -n 3 "$log"
done

echo "--- the Go package: library installed for pkg-config, then go test -fuzz"
# A fixed prefix: go's build cache keeps the link flags pkg-config gave it.
bash scripts/install-lib.sh "$PWD/target/fuzz-lib" --debug >/dev/null
export PKG_CONFIG_PATH="$PWD/target/fuzz-lib/lib/pkgconfig"
for t in "${go_targets[@]}"; do
  echo "--- $t"
  (cd runqy-vault-ffi/go && go test -run '^$' -fuzz "^${t}\$" -fuzztime "${per}s" -parallel 2 .)
done
echo "--- fuzzing: no crash"
