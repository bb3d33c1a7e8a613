"""`cxops.testing` works for any project, not only from this source checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OTHER_PROJECT_TEST = """
def test_the_project_fixture_copies_this_project(project):
    assert (project.root / "surveys" / "mine.yaml").read_text() == "id: mine\\n"
    assert not (project.root / "surveys" / "nps-quarterly.yaml").exists()
    assert (project.root / "data" / "rows.csv").exists()
"""

ISOLATED = ("-p", "no:cacheprovider", "-p", "no:randomly", "test_other.py")


def test_the_plugin_copies_the_project_under_test_not_the_cxops_checkout(tmp_path: Path):
    other = tmp_path / "elsewhere"
    (other / "surveys").mkdir(parents=True)
    (other / "data").mkdir()
    (other / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    (other / "surveys" / "mine.yaml").write_text("id: mine\n", encoding="utf-8")
    (other / "data" / "rows.csv").write_text("id\n1\n", encoding="utf-8")
    (other / "test_other.py").write_text(OTHER_PROJECT_TEST, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "cxops.testing.plugin", *ISOLATED],
        cwd=other,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 passed" in completed.stdout


def test_importing_the_helpers_does_not_import_pytest():
    code = (
        "import sys, cxops.testing, cxops.testing.sendgrid_server; print('pytest' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "False"


CPU_TESTS = """
import subprocess, sys

def test_busy_child():
    # A child that burns CPU until it has used 1.5 s of it (whatever the machine's load).
    code = "import time\\nwhile time.process_time() < 1.5: pass"
    subprocess.run([sys.executable, "-c", code], check=True)

def test_idle():
    pass
"""


CPU_ARGS = ("--cpu-durations=1", "--junitxml=report.xml")


def test_cpu_durations_count_the_children_a_test_waited_for(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    (tmp_path / "test_other.py").write_text(CPU_TESTS, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "cxops.testing.plugin", *ISOLATED, *CPU_ARGS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    ranked = lines[lines.index(next(line for line in lines if "CPU seconds" in line)) + 1]
    seconds, nodeid = ranked.split()
    assert nodeid == "test_other.py::test_busy_child" and float(seconds) >= 1.5, completed.stdout
    assert "test_other.py::test_idle" not in completed.stdout  # only the first one asked for
    by_file = lines[lines.index(next(line for line in lines if "test files" in line)) + 1]
    assert by_file.split()[1] == "test_other.py" and float(by_file.split()[0]) >= 1.5
    assert 'name="cpu_seconds"' in (tmp_path / "report.xml").read_text(encoding="utf-8")


SLOW_TESTS = """
import pytest

@pytest.mark.slow
def test_slow_one():
    pass

@pytest.mark.slow
def test_slow_two():
    pass
"""

SOME_SLOW = """
import pytest

def test_quick():
    pass

@pytest.mark.slow
def test_slow():
    pass
"""


COLLECT_ONLY = (*ISOLATED[:4], "--collect-only", "-W", "ignore::pytest.PytestUnknownMarkWarning")


def test_files_with_more_slow_tests_are_handed_out_first(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    (tmp_path / "test_a_quick.py").write_text("def test_quick():\n    pass\n", encoding="utf-8")
    (tmp_path / "test_b_some.py").write_text(SOME_SLOW, encoding="utf-8")
    (tmp_path / "test_c_slow.py").write_text(SLOW_TESTS, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "cxops.testing.plugin", *COLLECT_ONLY],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert [line for line in completed.stdout.splitlines() if "::" in line] == [
        "test_c_slow.py::test_slow_one",
        "test_c_slow.py::test_slow_two",
        "test_b_some.py::test_quick",
        "test_b_some.py::test_slow",
        "test_a_quick.py::test_quick",
    ]
