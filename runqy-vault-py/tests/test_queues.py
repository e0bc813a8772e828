"""Store.usage and Store.check (SPEC §14): typed results in the core's shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

import runqy_vault
from runqy_vault import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "queues"


@pytest.fixture(autouse=True)
def _no_queue_workers_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_WORKERS_DIR", raising=False)


def fill(store: Store) -> None:
    for v in ["api-keys", "model-credentials", "github", "shared-infrastructure", "old"]:
        store.create_vault(v)
    store.set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx")
    store.set("model-credentials", "OPENAI_API_KEY", "sk-other-1234")
    store.set("github", "GIT_TOKEN", "ghp_secrettoken")


def test_usage_of_the_examples_names_queues_unused_and_missing_vaults(store: Store) -> None:
    fill(store)
    usage = store.usage(EXAMPLES)
    assert usage["vaults"] == [
        {"vault": "api-keys", "queues": ["inference"], "git_token_of": []},
        {"vault": "github", "queues": [], "git_token_of": ["inference"]},
        {"vault": "model-credentials", "queues": ["inference"], "git_token_of": []},
        {"vault": "old", "queues": [], "git_token_of": []},
        {"vault": "shared-infrastructure", "queues": ["project-a", "project-b"], "git_token_of": []},
    ]
    assert [m["vault"] for m in usage["missing"]] == ["project-a-secrets", "project-b-secrets"]
    assert usage["problems"] == []
    # A list of paths, os.PathLike or str, gives the same answer.
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert store.usage([str(f) for f in files]) == usage


def test_usage_reads_queue_workers_dir_by_default(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store)
    assert store.usage()["missing"] == []
    monkeypatch.setenv("QUEUE_WORKERS_DIR", str(EXAMPLES))
    assert len(store.usage()["missing"]) == 2


def test_check_reports_findings_without_values(store: Store, tmp_path: Path) -> None:
    fill(store)
    cfg = tmp_path / "q.yaml"
    cfg.write_text("queues:\n  q:\n    deployment: {vaults: [api-keys, gone], git_token: ghp_PLAIN_s3cr3t}\n")
    report = store.check(cfg, max_age_days=30)
    assert report["errors"] == 1
    missing = [f for f in report["findings"] if f["check"] == "missing_vault"]
    assert missing == [
        {
            "severity": "error",
            "check": "missing_vault",
            "queue": "q",
            "vault": "gone",
            "key": None,
            "message": "queue 'q' lists vault 'gone', which does not exist: its workers fail to register",
        }
    ]
    text = repr(report)
    assert "s3cr3t" not in text and "sk-proj" not in text
    assert {f["severity"] for f in report["findings"]} <= {"error", "warning", "note"}


def test_check_of_a_disabled_store_is_a_finding_not_an_exception(db: Path, key: str) -> None:
    with Store(db, key) as s:
        fill(s)
    with Store(db) as disabled:
        report = disabled.check(EXAMPLES)
    assert report["findings"][0]["check"] == "store_key"
    assert "vaults not configured" in report["findings"][0]["message"]
    assert report["errors"] >= 1


def test_bad_configs_raise_clear_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(runqy_vault.VaultError, match="queue configuration not found"):
        store.usage(tmp_path / "nope.yaml")
    with pytest.raises(TypeError, match="configs must be a path or a list of paths"):
        store.usage(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"configs\[1\]"):
        store.check([str(EXAMPLES), 3])  # type: ignore[list-item]
    bad = tmp_path / "bad.yaml"
    bad.write_text("queues:\n  a: [\n")
    assert store.usage(bad)["problems"][0].startswith(f"{bad}: YAML error at line ")
