"""`cxops up`: the collector, a long-lived Prefect API and every schedule, in one process tree.

`up` starts three children, each in its own process group: a Prefect server whose
home is the project's `.cxops/prefect/` (SQLite there), the collector (`cxops serve`),
and a Prefect Runner serving every deployment (`cxops.schedule.serving`). It records
the API in `.cxops/api.json` so the project's other commands use it, watches the
children, and on SIGINT/SIGTERM (Ctrl-C) stops them in reverse order and removes the
file. The ledger makes a restart a resume: nothing sent is sent again.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cxops.errors import CxopsError
from cxops.schedule.env import (
    QUIET_DEFAULTS,
    UpApi,
    apply_quiet_defaults,
    port_open,
    read_up_api,
    remove_up_api,
    write_up_api,
)
from cxops.schedule.processes import (
    Child,
    free_port,
    prefect_server_env,
    start_child,
    start_prefect_server,
)

STATE_DIR = Path(".cxops")


class UpError(CxopsError):
    """`cxops up` could not start, or a child died."""


@dataclass
class Up:
    """The running tree; `children` in start order."""

    project_dir: Path
    api: UpApi
    children: list[Child] = field(default_factory=list)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(timeout=20, sig=signal.SIGINT)
        remove_up_api(self.project_dir, self.api.pid)


def logs_dir(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / "logs"


def start_up(
    project_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    prefect_port: int | None = None,
    timeout: float = 300,
    say: Callable[[str], None] = print,
) -> Up:
    """Start the three children; the running tree (children stopped again on failure)."""
    running = read_up_api(project_dir)
    if running is not None:
        raise UpError(
            f"{project_dir / STATE_DIR / 'api.json'}: `cxops up` already runs for this project "
            f"(pid {running.pid}, {running.url})"
        )
    if port_open(host, port):
        raise UpError(f"--port {port}: something already listens on {host}:{port}")
    apply_quiet_defaults()
    logs = logs_dir(project_dir)
    home = project_dir / STATE_DIR / "prefect"
    chosen = prefect_port or free_port(host)
    api_url = f"http://{host}:{chosen}/api"
    collector_url = f"http://{host}:{port}"
    up = Up(project_dir, UpApi(api_url, os.getpid(), host, chosen, collector_url))
    try:
        say(f"starting the Prefect API on {api_url} (state in {home})")
        server, _ = start_prefect_server(
            home,
            host=host,
            port=chosen,
            env=prefect_server_env(home),
            log_path=logs / "prefect-server.log",
            timeout=timeout,
        )
        up.children.append(server)
        child_env = {**os.environ, "PREFECT_API_URL": api_url}
        for name, value in QUIET_DEFAULTS.items():
            child_env.setdefault(name, value)
        child_env["CXOPS_PROJECT_DIR"] = str(project_dir)
        collector = start_child(
            "collector",
            [sys.executable, "-m", "cxops", "serve", "--host", host, "--port", str(port)],
            log_path=logs / "collector.log",
            env=child_env,
            cwd=project_dir,
        )
        up.children.append(collector)
        say(f"starting the collector on {collector_url}")
        runner = start_child(
            "schedules",
            [sys.executable, "-m", "cxops.schedule.serving", str(project_dir)],
            log_path=logs / "schedules.log",
            env=child_env,
            cwd=project_dir,
        )
        up.children.append(runner)
        wait_listening(collector, host, port, timeout)
        write_up_api(project_dir, up.api)
    except BaseException:
        up.stop()
        raise
    return up


def wait_listening(child: Child, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if not child.alive():
            raise UpError(f"{child.name} exited: {child.log_text()[-1500:]}")
        if time.monotonic() > deadline:
            raise UpError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s")
        time.sleep(0.25)


def run_until_stopped(up: Up, say: Callable[[str], None] = print) -> int:
    """Watch the children until SIGINT/SIGTERM (exit 0) or one of them dies (exit 1)."""
    stopping: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            dead = [child for child in up.children if not child.alive()]
            if dead:
                say(
                    f"{dead[0].name} exited with {dead[0].process.returncode}; stopping "
                    f"(log: {dead[0].log_path})"
                )
                return 1
            time.sleep(0.5)
        say("stopping")
        return 0
    finally:
        up.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
