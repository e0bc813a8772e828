#!/usr/bin/env bash
# Runs the Go example's two programs, built into BIN_DIR (seed, payload), on a
# temporary SQLite store and checks what they print: the payload as the runqy
# server hands it to a worker, and a missing vault's error with its status.
# Called by scripts/test-go.sh and scripts/test-go-outside.sh.
#   scripts/check-go-example.sh BIN_DIR
set -euo pipefail
bin="${1:?usage: scripts/check-go-example.sh BIN_DIR}"
store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
export RUNQY_VAULT_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
"$bin/seed" -db "$store/v.db"
got="$("$bin/payload" -db "$store/v.db" -git-token vault://model-credentials/GIT_TOKEN api-keys model-credentials)"
echo "$got"
want='{"git_token":"ghp_example","vaults":{"API_KEY":"new","GIT_TOKEN":"ghp_example","OPENAI_API_KEY":"sk-proj-abc123xx"}}'
[ "$got" = "$want" ] || { echo "payload example printed $got, want $want" >&2; exit 1; }
if "$bin/payload" -db "$store/v.db" missing 2>"$store/err"; then
  echo "payload example succeeded on a missing vault" >&2; exit 1
fi
want_err="error: runqy-vault: vault 'missing' not found (HTTP 404)"
grep -qxF "$want_err" "$store/err" || { echo "payload example's error: $(cat "$store/err"), want $want_err" >&2; exit 1; }
