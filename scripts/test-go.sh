#!/usr/bin/env bash
# Go over cgo: gofmt and vet, the race-checked tests of the module
# runqy-vault-ffi/go against a debug install of the library, and the payload
# example (examples/go, which uses the module through a replace directive).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "--- the library (debug build), installed for pkg-config"
bash scripts/install-lib.sh "$work/prefix" --debug
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"

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

echo "--- the payload example, as the runqy server hands it to a worker"
export RUNQY_VAULT_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
cd examples/go
go build -o "$work/payload" ./cmd/payload
go run ./cmd/seed -db "$work/v.db"
got="$("$work/payload" -db "$work/v.db" -git-token vault://model-credentials/GIT_TOKEN api-keys model-credentials)"
echo "$got"
want='{"git_token":"ghp_example","vaults":{"API_KEY":"new","GIT_TOKEN":"ghp_example","OPENAI_API_KEY":"sk-proj-abc123xx"}}'
[ "$got" = "$want" ] || { echo "payload example printed $got, want $want" >&2; exit 1; }
if "$work/payload" -db "$work/v.db" missing 2>"$work/err"; then
  echo "payload example succeeded on a missing vault" >&2; exit 1
fi
grep -qF "error: runqy-vault: vault 'missing' not found (HTTP 404)" "$work/err"
echo "--- Go: all passed"
