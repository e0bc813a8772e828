#!/usr/bin/env bash
# Go over cgo: vet, the race-checked test suite, and the payload example.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Go package links target/debug/librunqy_vault_ffi.a statically.
cargo build -p runqy-vault-ffi

cd examples/go
test -z "$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting" >&2; exit 1; }
go vet ./...
go test -race -count=1 ./...

echo "--- the payload example, as the runqy server hands it to a worker"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export RUNQY_VAULT_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
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
