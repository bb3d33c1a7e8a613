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
        ("cxops/store/upward.py", "import cxops.privacy.erase\n", "Imports go down"),
        ("cxops/privacy/upward.py", "import cxops.cli\n", "Imports go down"),
        ("cxops/privacy/upward.py", "import cxops.testing\n", "Test support"),
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


def test_every_module_of_the_package_is_in_both_contracts() -> None:
    import tomllib

    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers, forbidden = contracts["tool"]["importlinter"]["contracts"]
    layered = {name.strip() for layer in layers["layers"] for name in layer.split(":")}
    guarded = set(forbidden["source_modules"])
    package = REPO_ROOT / "cxops"
    modules = {
        f"cxops.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem not in {"__init__", "__main__"})
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "testing")
    }
    assert modules - layered == set(), "not in the layers contract"
    assert modules - guarded == set(), "not in the test-support contract"


def _map_rows() -> dict[str, str]:
    """ARCHITECTURE.md's "Where things are": each row's path and its text."""
    rows = {}
    for line in (REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            path, _, text = line[3:].partition("`")
            rows[path] = text
    return rows


def test_the_map_names_every_module_of_the_package() -> None:
    """Each module is named in its package's row (the CLI's modules are one per area)."""
    rows = _map_rows()
    unnamed = []
    for module in sorted((REPO_ROOT / "cxops").rglob("*.py")):
        relative = module.relative_to(REPO_ROOT)
        parts = relative.parts
        if module.name in {"__init__.py", "__main__.py"} or parts[1] in {"cli", "testing"}:
            continue
        if "migrations" in parts:
            continue
        if len(parts) == 2:
            if f"`{relative}`" not in (REPO_ROOT / "ARCHITECTURE.md").read_text("utf-8"):
                unnamed.append(str(relative))
            continue
        row = rows.get(f"cxops/{parts[1]}/", "")
        if (
            f"`{module.name}`" not in row
            and f"`{module.stem}`" not in row
            and (f"`{module.stem}." not in row)
        ):
            unnamed.append(str(relative))
    assert unnamed == [], "ARCHITECTURE.md does not name these"


def test_every_file_the_map_names_exists() -> None:
    text = (REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    import re

    named = set(re.findall(r"`([\w/]+\.(?:py|j2|md|json))`", text))
    files = {path.name for path in REPO_ROOT.rglob("*") if ".venv" not in path.parts}
    missing = sorted(name for name in named if Path(name).name not in files)
    assert missing == [], "ARCHITECTURE.md names files that do not exist"
