"""Temporary projects and the real CLI in a subprocess (dbt's `run_dbt` habit)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxops.settings import Settings

#: The clock tests run at unless they move it: the day the sample data was made for.
DEFAULT_NOW = "2026-11-23T09:00:00+00:00"
#: What `copy_example_project` copies from the project under test.
EXAMPLE_PARTS = ("templates", "data", "surveys")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    args: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cxops(
    args: list[str] | str,
    *,
    expect_pass: bool | None = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> Result:
    """Run the real `cxops` CLI in a subprocess; assert on its exit code."""
    argv = shlex.split(args) if isinstance(args, str) else list(args)
    # A wide terminal whatever the caller's shell has: tests read whole table cells.
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "cxops", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Result(completed.returncode, completed.stdout, completed.stderr, argv)
    if expect_pass is True and result.exit_code != 0:
        raise AssertionError(f"cxops {argv} failed ({result.exit_code}):\n{result.output}")
    if expect_pass is False and result.exit_code == 0:
        raise AssertionError(f"cxops {argv} passed but should fail:\n{result.output}")
    return result


def run_cxops_at_once(
    args: list[str],
    *,
    count: int = 2,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> list[Result]:
    """Start `count` copies of the same `cxops` command together (races), wait for all;
    their results in start order. Exit codes are the caller's to check."""
    argv = [sys.executable, "-m", "cxops", *args]
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    processes = [
        subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    outputs = [process.communicate(timeout=timeout) for process in processes]
    return [
        Result(process.returncode, out, err, list(args))
        for process, (out, err) in zip(processes, outputs, strict=True)
    ]


@dataclass
class Project:
    """A temporary cxops project directory."""

    root: Path

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def path(self, name: str) -> Path:
        return self.root / name

    def run(self, args: list[str] | str, **kwargs: Any) -> Result:
        kwargs.setdefault("cwd", self.root)
        return run_cxops(args, **kwargs)

    def settings(self, **overrides: Any) -> Settings:
        from cxops.settings import get_settings

        return get_settings(project_dir=self.root, **overrides)


def copy_example_project(source: Path, target: Path, *, with_surveys: bool = True) -> None:
    """Copy the surveys, templates and data of the project at `source` into `target`.

    `source` is the project under test: pytest's rootdir (where its `pyproject.toml` is),
    so this works the same from a source checkout and from an installed wheel.
    """
    for name in EXAMPLE_PARTS:
        if name == "surveys" and not with_surveys:
            continue
        part = source / name
        if part.is_dir():
            shutil.copytree(part, target / name, dirs_exist_ok=True)


def kill_cxops_once(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str],
    sent: Callable[[], int],
    kill_after: int,
    *,
    what: str,
) -> None:
    """Start `cxops ARGS` in a session of its own and SIGKILL the whole session as soon as
    `sent()` reaches `kill_after` (within 300 s; `what` names the work in the messages)."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "cxops", *args],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while sent() < kill_after:
        assert process.poll() is None, f"{what} ended before it could be killed"
        assert time.monotonic() < deadline, f"nothing of {what} went out"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
