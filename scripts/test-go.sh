#!/usr/bin/env bash
# Go over cgo: gofmt and vet, the race-checked tests of the module
# runqy-vault-ffi/go against a debug install of the library, the payload
# example (examples/go, which uses the module through a replace directive),
# and the same program built from outside the repository
# (scripts/test-go-outside.sh, against the debug library installed the same
# way users install the release one: CI's 45 minutes on 2 cores have no room
# for another release build, and the bench harness's quick mode already runs
# install-lib.sh's release path).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "--- the library (debug build), installed for pkg-config"
bash scripts/install-lib.sh "$work/prefix" --debug
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# A build cache of this run's own: Go's cache does not key a cgo package on the
# library pkg-config points at, so a shared cache would link a deleted prefix.
export GOCACHE="$work/gocache"

echo "--- gofmt, go vet"
unformatted="$(gofmt -l runqy-vault-ffi/go examples/go)"
test -z "$unformatted" || { echo "$unformatted"; echo "gofmt: files above need formatting" >&2; exit 1; }
(cd runqy-vault-ffi/go && go vet ./...)
# The paired bench's files too; vet links nothing, so the hooks' macro is enough.
(cd runqy-vault-ffi/go && CGO_CFLAGS=-DRUNQY_VAULT_BENCH_HOOKS go vet -tags runqyvault_paired ./...)
(cd examples/go && go vet ./...)

echo "--- go test -race of the module"
if [ -z "${RUNQY_VAULT_TEST_POSTGRES_URL:-}" ]; then
  echo "(RUNQY_VAULT_TEST_POSTGRES_URL is unset: the PostgreSQL tests are skipped; scripts/with-postgres.sh sets it)"
fi
(cd runqy-vault-ffi/go && go test -race -count=1 ./...)

echo "--- the payload example (examples/go), as the runqy server hands it to a worker"
(cd examples/go && go build -o "$work/bin/" ./cmd/payload ./cmd/seed ./cmd/server ./cmd/worker)
echo "--- the registration server example: each payload recorded as its worker and queue"
(cd examples/go && go test -race -count=1 ./cmd/server)
bash scripts/check-go-example.sh "$work/bin"

echo "--- a program using the module from outside the repository (installed by install-lib.sh)"
bash scripts/test-go-outside.sh --debug
echo "--- Go: all passed"
