"""`cxops up` with real processes: its API used by the project's commands, Ctrl-C, restart."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cxops.schedule.env import API_FILE, pid_alive, port_open
from cxops.schedule.processes import free_port

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.timeout(900)]


def _start_up(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "cxops", "up", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=(root / "up.out").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_api(root: Path, up: subprocess.Popen[bytes], timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while not (root / API_FILE).exists():
        assert up.poll() is None, (root / "up.out").read_text()
        assert time.monotonic() < deadline, "cxops up did not start"
        time.sleep(0.5)
    return json.loads((root / API_FILE).read_text())


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _processes_of(root: Path) -> list[int]:
    """Processes whose environment names this project (up's tree and the flow runs it started)."""
    marker = f"CXOPS_PROJECT_DIR={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _stop(up: subprocess.Popen[bytes]) -> int:
    up.send_signal(signal.SIGINT)
    return up.wait(120)


def _flow_names(api_url: str) -> set[str]:
    flows = httpx.post(f"{api_url}/flows/filter", json={}, timeout=30).json()
    return {flow["name"] for flow in flows}


def _environ(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


def test_up_serves_the_project_links_follow_its_port_ctrl_c_stops_all_restart_resends_nothing(
    project,
):
    """One `up`, stopped and started again (each start is a Prefect server, a collector
    and a Runner: the expensive part, so one test checks everything around the two)."""
    root = project.root
    port = free_port()
    links = f"http://127.0.0.1:{port}"
    no_api = {"PREFECT_API_URL": ""}
    up = _start_up(root, port)
    try:
        api = _wait_api(root, up)
        assert api["pid"] == up.pid and port_open("127.0.0.1", port)
        assert api["public_url"] == links
        assert f"links in emails use {links}" in (root / "up.out").read_text()
        children = _children(up.pid)
        assert len(children) == 3
        # the collector and the schedules' flow runs link to this port …
        assert {_environ(pid).get("CXOPS_PUBLIC_URL") for pid in children} >= {links}
        # … and so do the project's commands while `up` runs, unless the URL is set
        assert project.run(["settings", "--json"]).json["public_url"] == links
        explicit = {"CXOPS_PUBLIC_URL": "https://cx.acme.example"}
        shown = project.run(["settings", "--json"], env=explicit).json["public_url"]
        assert shown == "https://cx.acme.example"
        # the Prefect UI asks /ui-settings where its API is: the one `up` started
        ui = api["url"].removesuffix("/api")
        assert httpx.get(f"{ui}/ui-settings", timeout=30).json()["api_url"] == api["url"]

        deadline = time.monotonic() + 180
        while True:  # the Runner registers its deployments once it has started
            served = httpx.post(f"{api['url']}/deployments/filter", json={}, timeout=30).json()
            if {"nps-quarterly", "followups", "digest", "send-due"} <= {d["name"] for d in served}:
                break
            assert time.monotonic() < deadline, (root / ".cxops/logs/schedules.log").read_text()
            time.sleep(1)

        run = project.run(["run", "nps-quarterly", "--json"], env=no_api)
        assert run.json["sent"] == 300
        assert "Traceback" not in run.stderr and "telemetry" not in run.stderr.lower()
        followups = project.run(["followups", "--json"], env=no_api).json
        assert followups["failed"] == 0
        assert {"wave-nps-quarterly", "followups"} <= _flow_names(api["url"])  # up's API ran them

        assert _stop(up) == 0
        said = (root / "up.out").read_text()
        for name in ("schedules", "collector", "prefect server"):
            line = next((line for line in said.splitlines() if f"{name} (pid " in line), "")
            assert "stopped; log " in line or "ended by" in line, said
        assert f"logs in {root / '.cxops' / 'logs'}" in said
        assert not (root / API_FILE).exists()
        assert [pid for pid in children if pid_alive(pid)] == []
        assert _processes_of(root) == []  # no orphan anywhere in the tree

        up = _start_up(root, port)
        api = _wait_api(root, up)
        again = project.run(["run", "nps-quarterly", "--json"], env=no_api).json
        assert again["sent"] == 300 and any("resumed" in note for note in again["notes"])
        messages = [
            m for p in (root / "outbox" / "nps-quarterly").rglob("*.mbox") for m in mailbox.mbox(p)
        ]
        assert len(messages) == 300  # the restart resent nobody
        assert _stop(up) == 0
        logs = root / ".cxops" / "logs"
        for log in ("prefect-server.log", "collector.log", "schedules.log"):
            text = (logs / log).read_text()
            assert "Traceback" not in text, f"{log}:\n{text[-3000:]}"
            # each start appends to the logs (a start line each), overwriting nothing
            starts = [i for i, line in enumerate(text.splitlines()) if "cxops up started" in line]
            assert len(starts) == 2 and starts[1] > starts[0] + 1, f"{log}:\n{text[-3000:]}"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(30)


def test_a_second_up_for_the_same_project_is_refused(project, tmp_path):
    import socket

    from cxops.schedule.env import UpApi, write_up_api

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    write_up_api(
        project.root, UpApi(f"http://127.0.0.1:{port}/api", os.getpid(), "127.0.0.1", port)
    )
    try:
        refused = project.run(["up", "--port", str(free_port())], expect_pass=False)
    finally:
        listener.close()
    assert "already runs for this project" in refused.stderr


def test_begin_log_appends_a_start_line_and_keeps_one_old_generation(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from cxops.schedule import up

    log = tmp_path / "logs" / "collector.log"
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    up.begin_log(log, at, 11)
    log.open("a").write("first run\n")
    up.begin_log(log, at, 12)
    assert log.read_text().splitlines() == [
        "----- cxops up started 2026-12-07T09:00:00+00:00 (pid 11) -----",
        "first run",
        "----- cxops up started 2026-12-07T09:00:00+00:00 (pid 12) -----",
    ]
    monkeypatch.setattr(up, "LOG_ROTATE_BYTES", 10)
    up.begin_log(log, at, 13)
    assert "first run" in (tmp_path / "logs" / "collector.log.1").read_text()
    assert log.read_text().count("cxops up started") == 1
