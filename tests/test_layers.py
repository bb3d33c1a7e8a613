"""The import contracts in pyproject.toml hold, and they do catch an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(
        REPO_ROOT / "cxops", root / "cxops", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("cxops/spec/upward.py", "import cxops.followup.rules\n", "Imports go down"),
        ("cxops/store/upward.py", "from cxops.followup import rules\n", "Imports go down"),
        ("cxops/errors.py", "import cxops.settings\n", "Imports go down"),
        # No exception for the collector: the follow-up's pages are handed to it as routers.
        ("cxops/collect/app.py", "import cxops.followup.tasks\n", "Imports go down"),
        ("cxops/collect/upward.py", "import cxops.testing.collect\n", "Test support"),
    ],
)
def test_a_new_upward_import_breaks_a_contract(tmp_path: Path, module, line, contract) -> None:
    root = copy_of_the_package(tmp_path)
    path = root / module
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(before + line, encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout
    assert contract in result.stdout and "BROKEN" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
