"""The hand-written stubs match the module (mypy.stubtest) and the package type-checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runqy_vault

PACKAGE = Path(runqy_vault.__file__).parent


def test_package_ships_py_typed_and_stubs() -> None:
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_runqy_vault.pyi").exists()


def test_stubtest_finds_no_difference_between_stubs_and_runtime() -> None:
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "runqy_vault"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_stub_all_lists_every_public_name_of_the_module() -> None:
    from runqy_vault import _runqy_vault

    stub = (PACKAGE / "_runqy_vault.pyi").read_text()
    public = sorted(n for n in dir(_runqy_vault) if not n.startswith("_") or n == "__version__")
    assert sorted(runqy_vault.__all__) == public
    for name in public:
        assert f'"{name}"' in stub


def test_typed_usage_checks_under_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    usage = tmp_path / "usage.py"
    usage.write_text(
        "import runqy_vault\n"
        "with runqy_vault.Store('v.db', runqy_vault.generate_key()) as s:\n"
        "    summary = s.list_vaults()[0]\n"
        "    count: int = summary['entry_count']\n"
        "    payload = s.registration_payload(['a'])\n"
        "    values: dict[str, str] = payload.get('vaults', {})\n"
        "    names: list[str] = runqy_vault.inject(payload, {})\n"
        "    env: dict[str, str] = runqy_vault.child_env(payload)\n"
        "try:\n"
        "    pass\n"
        "except runqy_vault.VaultNotFoundError as e:\n"
        "    status: int = e.http_status\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(usage)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
