"""The project's background Prefect API: started by the first command that runs a flow,
reused by the next, shared by commands started together, shown by `status`, stopped by
`cxops api stop` and by its idle timeout; a stale state file is replaced.

Real processes: real `cxops` commands and real servers (each test stops what it started,
by pid, in the fixture's teardown).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxops.schedule.background_api import (
    SERVER_MODULE,
    STATE_FILE,
    ensure_background_api,
    is_server_process,
    read_background_api,
    use_background_api,
)
from cxops.schedule.processes import ProcessError
from cxops.testing.project import Project, run_cxops_at_once

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

#: A dry run renders every invitation and runs the wave's flow: the smallest real flow run.
COMMAND = ["run", "nps-quarterly", "--dry-run", "--json"]
#: Generous: each start is a real Prefect server on a busy 2-core machine.
SERVER_WAIT = 300
#: The line of a command whose background API did not start.
FALLBACK = "the background Prefect API did not start"


def servers_of(project_dir: Path) -> list[int]:
    """Pids of background servers running for `project_dir` (from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = SERVER_MODULE.encode() in command and str(project_dir).encode() in command
        if ours and is_server_process(int(proc.name)):
            found.append(int(proc.name))
    return found


def wait_gone(pid: int, timeout: float = SERVER_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while is_server_process(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def state_of(project: Project) -> dict[str, object]:
    data: dict[str, object] = json.loads(project.path(str(STATE_FILE)).read_text("utf-8"))
    return data


@pytest.fixture
def background(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project whose commands use a background API (no PREFECT_API_URL); every server
    started for it is stopped at the end."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("CXOPS_PREFECT_IDLE_MINUTES", "30")
    root = project.root.resolve()
    yield project
    for pid in servers_of(root):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 30)


def test_a_stale_state_file_is_replaced_the_next_command_reuses_the_server_and_api_stop_stops_it(
    background: Project,
) -> None:
    # A state file left by a server that died: the first command starts a new server.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {
        "url": "http://127.0.0.1:9/api",
        "pid": dead.pid,
        "host": "127.0.0.1",
        "port": 9,
        "started": "2026-01-01T00:00:00+00:00",
        "idle_minutes": 30.0,
    }
    background.write({str(STATE_FILE): json.dumps(stale)})
    assert read_background_api(background.root) is None

    background.run(COMMAND, timeout=SERVER_WAIT * 2)
    first = state_of(background)
    assert first["pid"] != dead.pid
    assert servers_of(background.root.resolve()) == [first["pid"]]

    background.run(["followups", "--json"], timeout=SERVER_WAIT)
    background.run(COMMAND, timeout=SERVER_WAIT)
    assert state_of(background) == first
    assert servers_of(background.root.resolve()) == [first["pid"]]

    shown = background.run(["status", "--json"]).json["prefect"]["background"]
    assert (shown["pid"], shown["url"]) == (first["pid"], first["url"])
    assert shown["started"] == first["started"]
    assert shown["idle_until"] > shown["started"]
    assert f"pid {first['pid']}" in background.run(["status"]).stdout

    stopped = background.run(["api", "stop"])
    assert f"pid {first['pid']}" in stopped.stdout
    assert not is_server_process(int(str(first["pid"])))
    assert not background.path(str(STATE_FILE)).exists()
    assert "background Prefect API: not running" in background.run(["status"]).stdout
    assert "no background Prefect API runs" in background.run(["api", "stop"]).stdout


def test_commands_started_together_share_one_server(background: Project) -> None:
    results = run_cxops_at_once(COMMAND, count=2, cwd=background.root, timeout=SERVER_WAIT * 2)
    assert [result.exit_code for result in results] == [0, 0], [r.output for r in results]
    # Neither fell back to an ephemeral API of its own (a second server on the same
    # Prefect database fails to start, and the command then says so).
    assert [FALLBACK in result.stderr for result in results] == [False, False]
    assert servers_of(background.root.resolve()) == [state_of(background)["pid"]]


def test_an_idle_server_stops_itself(background: Project) -> None:
    api = ensure_background_api(background.root.resolve(), idle_minutes=0.05, timeout=SERVER_WAIT)
    assert is_server_process(api.pid)
    assert wait_gone(api.pid), "the server did not stop after its idle time"
    assert not background.path(str(STATE_FILE)).exists()


def test_a_server_that_does_not_start_is_one_line_and_leaves_nothing(
    background: Project,
) -> None:
    env: dict[str, str] = {}
    with pytest.raises(ProcessError) as raised:
        use_background_api(background.root, 30, env, timeout=0)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{FALLBACK}: no answer at http://127.0.0.1:")
    assert "prefect-api.log" in message
    assert "PREFECT_API_URL" not in env
    assert servers_of(background.root.resolve()) == []
    assert not background.path(str(STATE_FILE)).exists()


def test_a_chosen_api_or_no_idle_time_starts_none(project: Project) -> None:
    for env, idle in (({"PREFECT_API_URL": "http://elsewhere/api"}, 30.0), ({}, 0.0)):
        assert use_background_api(project.root, idle, dict(env)) is None
    assert not project.path(str(STATE_FILE)).exists()
