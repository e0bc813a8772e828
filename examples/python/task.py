"""A runqy task, worker side: its secrets arrive as environment variables.

The worker injected the registration payload's vault entries (and their
names in RUNQY_VAULT_KEYS) before starting this process; one call turns
redaction on so an accidental print or log line shows masks, not secrets.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import runqy_vault.redact

runqy_vault.redact.install()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
log = logging.getLogger("summarize")

TASKS: dict[str, Callable[..., Any]] = {}


def task(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The shape of runqy's @task decorator: registers a handler by name."""
    TASKS[fn.__name__] = fn
    return fn


@task
def summarize(text: str) -> dict[str, Any]:
    api_key = os.environ["OPENAI_API_KEY"]  # from the vault, never from a config file
    region = os.environ["MODEL_REGION"]
    # Oops: a debugging line left in. Redaction turns the value into its mask.
    print(f"using key {api_key} in {region}")
    log.info("calling the model with Authorization: Bearer %s", api_key)
    return {"summary": text[:20], "injected": os.environ["RUNQY_VAULT_KEYS"].split(",")}


if __name__ == "__main__":
    result = TASKS[sys.argv[1]](sys.argv[2])
    print(result)
