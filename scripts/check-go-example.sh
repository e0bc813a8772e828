#!/usr/bin/env bash
# Runs the Go example's programs, built into BIN_DIR (seed, payload, worker),
# on a temporary SQLite store and checks what they print: the payload as the
# runqy server hands it to a worker, a missing vault's error with its status,
# and the worker loop: a task that sees its secrets but not the worker's
# credentials, and whose output lines are logged redacted.
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

# The worker: the registration response as the server sends it; the worker's
# own RUNQY_* credentials in its environment; the task prints its secrets.
cat >"$store/registration.json" <<'JSON'
{"redis":{"addr":"localhost:6379"},"queue":{"name":"inference"},"vaults":{"GITHUB_TOKEN":"ghp_abcdef123456","REGION":"eu"},"git_token":"ghp_clone_token_99"}
JSON
got="$(RUNQY_API_KEY=worker-api-key "$bin/worker" -payload "$store/registration.json" -- sh -c \
  'echo "token=$GITHUB_TOKEN b64=$(printf %s "$GITHUB_TOKEN" | base64)"; echo "sees: ${RUNQY_API_KEY-none} ${RUNQY_VAULT_MASTER_KEY-none} $RUNQY_VAULT_KEYS"; printf "clone ghp_clone_token_99 failed" >&2; exit 3' || echo "exit $?")"
echo "$got"
for line in "worker: warning: not redacted, shorter than 6 characters: REGION" \
  "stdout: token=gh****56 b64=gh****56" "stdout: sees: none none GITHUB_TOKEN,REGION" \
  "stderr: clone gh****99 failed" "exit 3"; do
  grep -qxF "$line" <<<"$got" || { echo "worker example: no line '$line'" >&2; exit 1; }
done
