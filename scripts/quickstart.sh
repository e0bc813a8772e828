#!/usr/bin/env bash
# The main job of runqy-vault with its CLI, on a fresh SQLite store in a
# temporary directory: create vaults, set secrets, show them masked, build the
# registration payload a runqy server hands a worker, and `run` a Python task
# the way the worker starts it: its secrets in its environment, the worker's
# own RUNQY_* credentials (here, the master key) not, and what it prints
# redacted; then the key's history after a rotation, the audit log of who got
# which secret (and its chain verified), and `check` against the queue's
# configuration. Needs only cargo and python3.
#   bash scripts/quickstart.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

cargo build -q --manifest-path "$root/Cargo.toml" -p runqy-vault --bin runqy-vault
runqy-vault() { cargo run -q --manifest-path "$root/Cargo.toml" -p runqy-vault --bin runqy-vault -- "$@"; }
# Prints a command as a user types it, then runs it.
step() {
  local shown=() arg
  for arg in "$@"; do
    case "$arg" in *" "*) shown+=("\"$arg\"") ;; *) shown+=("$arg") ;; esac
  done
  printf '\n$ %s\n' "${shown[*]}"
  "$@"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export RUNQY_VAULT_DB="$work/runqy-vault.db"
RUNQY_VAULT_MASTER_KEY="$(runqy-vault keygen)"
export RUNQY_VAULT_MASTER_KEY
echo "store: $RUNQY_VAULT_DB (a new master key in RUNQY_VAULT_MASTER_KEY)"

step runqy-vault create api-keys -d "Third-party API keys"
step runqy-vault create model-credentials -d "Model provider credentials"
# From standard input: the secret stays out of the shell history.
printf '\n$ printf %%s "$OLD_KEY" | runqy-vault set api-keys OPENAI_API_KEY -\n'
printf %s sk-proj-old-key-0000 | runqy-vault set api-keys OPENAI_API_KEY -
step runqy-vault set api-keys STRIPE_API_KEY sk_test_51Habc123xyz
step runqy-vault set api-keys LOG_LEVEL info --no-secret
step runqy-vault set model-credentials OPENAI_API_KEY sk-proj-abc123xx
step runqy-vault set model-credentials HF_TOKEN hf_AbCdEfGhIjKlMn
step runqy-vault show api-keys
step runqy-vault show model-credentials

# The queue lists both vaults: the later one wins OPENAI_API_KEY.
printf '\n$ runqy-vault payload api-keys model-credentials > payload.json\n'
runqy-vault payload api-keys model-credentials >payload.json
echo "(payload.json holds plaintext, as the server's registration response does: keys $(
  python3 -c 'import json, sys; print(", ".join(json.load(open(sys.argv[1]))["vaults"]))' payload.json))"

cat >task.py <<'PY'
import os
names = os.environ["RUNQY_VAULT_KEYS"].split(",")
print(f"python task sees {len(names)} vault variables: {', '.join(names)}")
print("the worker's master key reaches the task:", "RUNQY_VAULT_MASTER_KEY" in os.environ)
# A careless line: run's redactor shows the value masked.
print(f"calling the API with OPENAI_API_KEY={os.environ['OPENAI_API_KEY']}")
PY
step runqy-vault run --payload payload.json -- python3 task.py

# The key is rotated: its earlier value is kept as a version (SPEC §12).
step runqy-vault set api-keys STRIPE_API_KEY sk_test_51Hnew456uvw
step runqy-vault history api-keys STRIPE_API_KEY
# Who got which secret, when: values never, fingerprints only (SPEC §13).
step runqy-vault audit log --limit 5
step runqy-vault audit verify

# The queue's configuration, as the runqy server reads it (SPEC §14): which
# queue gets which vault, and what would keep its workers from registering.
cat >queues.yaml <<'YAML'
queues:
  inference:
    deployment:
      vaults: [api-keys, model-credentials]
YAML
step runqy-vault usage --config queues.yaml
step runqy-vault check --config queues.yaml
