"""The command line as a whole: --version, --help in the order of the work, completion."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import version

from cxops.cli.layout import ORDER
from cxops.testing import run_cxops


def test_version():
    assert run_cxops(["--version"]).stdout.strip() == f"cxops {version('cxops')}"


def test_help_lists_the_commands_in_the_order_of_the_work_in_panels():
    text = run_cxops(["--help"], env={"COLUMNS": "120"}).stdout
    panels = re.findall(r"╭─ ([^─]+?) ─", text)
    assert panels == ["Options", "Authoring", "Sending", "The loop", "Operations"]
    listed = re.findall(r"^│ (\w[\w-]*) {2,}", text, flags=re.M)
    commands = [name for name in listed if name in ORDER]
    assert commands == sorted(commands, key=list(ORDER).index)
    for name in ("validate", "plan", "preview", "run", "up", "followups", "deploy", "init", "db"):
        assert name in commands


def test_shell_completion_completes_command_names(tmp_path):
    done = run_cxops(
        [],
        env={"_CXOPS_COMPLETE": "complete_bash", "COMP_WORDS": "cxops dep", "COMP_CWORD": "1"},
        expect_pass=None,
    )
    assert done.stdout.split() == ["deploy"]
    # Typer finds the shell among the process's ancestors: run it from bash, as a user does
    # (a test runner's own ancestry may hold no shell at all).
    installed = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m cxops --install-completion; exit $?"],
        env={**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "completion installed" in installed.stdout
    assert "cxops.sh" in (tmp_path / ".bashrc").read_text()
