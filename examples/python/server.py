"""A runqy server side, in miniature: vaults, the registration payload, a task launched with it.

    python examples/python/server.py

Creates a throwaway store, puts two vaults in it, builds the payload a
worker gets for a queue listing both vaults, and starts task.py with
`child_env(payload)` as its environment. The task prints its secret; the
output shows the mask, because the task installed runqy_vault.redact.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import runqy_vault

HERE = Path(__file__).resolve().parent
SECRET = "sk-proj-3f9a2c1b7e6d5a4b9c8d"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, runqy_vault.Store(
        Path(tmp) / "vault.db", runqy_vault.generate_key()
    ) as store:
        store.create_vault("api-keys", "model API keys")
        store.create_vault("eu-overrides", "settings for the EU queue")
        store.set("api-keys", "OPENAI_API_KEY", SECRET)
        store.set("api-keys", "MODEL_REGION", "us-east-1", secret=False)
        store.set("eu-overrides", "MODEL_REGION", "eu-west-1", secret=False)

        # The queue lists its vaults in order; later ones override earlier ones.
        payload = store.registration_payload(["api-keys", "eu-overrides"])
        print("vault entries shown by the server:")
        for entry in store.entries("api-keys"):
            print(f"  {entry['key']:16} {entry['value']}")

        env = runqy_vault.child_env(payload)
        out = subprocess.run(
            [sys.executable, str(HERE / "task.py"), "summarize", "a long document to summarize"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    print("task output:")
    print(out.stdout, end="")
    if SECRET in out.stdout + out.stderr:
        print("error: the secret reached the task's output", file=sys.stderr)
        return 1
    # Every injected variable is redacted (the payload does not say which were
    # secret), so the region the task saw, eu-west-1, also shows as its mask.
    if runqy_vault.mask(SECRET) not in out.stdout or runqy_vault.mask("eu-west-1") not in out.stdout:
        print("error: the task did not see its vault entries", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
