"""`cxops up`: the collector, a long-lived Prefect API and every schedule, in one process tree.

`up` starts three children, each in its own process group: a Prefect server whose
home is the project's `.cxops/prefect/` (SQLite there), the collector (`cxops serve`),
and a Prefect Runner serving every deployment (`cxops.schedule.serving`). It records
the API in `.cxops/api.json` so the project's other commands use it, watches the
children, and on SIGINT/SIGTERM (Ctrl-C) stops them in reverse order, says how each
ended, and removes the file. The ledger makes a restart a resume: nothing sent is sent
again.

Links in emails use the collector `up` starts (`http://HOST:PORT`) unless
CXOPS_PUBLIC_URL is set. Each start appends to the children's logs in `.cxops/logs/`
after a line saying so; a log past LOG_ROTATE_BYTES is moved to `NAME.log.1` first.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
#: A child's log larger than this at start is kept as NAME.log.1 (one generation).
LOG_ROTATE_BYTES = 20 * 1024 * 1024


class UpError(CxopsError):
    """`cxops up` could not start, or a child died."""


@dataclass
class Up:
    """The running tree; `children` in start order."""

    project_dir: Path
    api: UpApi
    children: list[Child] = field(default_factory=list)

    def stop(self, say: Callable[[str], None] = lambda line: None) -> None:
        """Stop the children in reverse order, saying how each ended and where its log is."""
        for child in reversed(self.children):
            code = child.stop(timeout=20, sig=signal.SIGINT)
            say(f"  {child.name} (pid {child.pid}) {_ended(code)}; log {child.log_path}")
        remove_up_api(self.project_dir, self.api.pid)


def _ended(code: int | None) -> str:
    if code == 0:
        return "stopped"
    if code is not None and code < 0:
        return f"ended by {signal.Signals(-code).name}"
    return f"exited with {code}"


def logs_dir(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / "logs"


def begin_log(path: Path, started: datetime, pid: int) -> Path:
    """Append a start line to `path` (moved to NAME.log.1 first when it is too big)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    with path.open("a", encoding="utf-8") as log:
        log.write(
            f"----- cxops up started {started.isoformat(timespec='seconds')} (pid {pid}) -----\n"
        )
    return path


def link_base(host: str, port: int) -> str:
    """The collector's URL for links when CXOPS_PUBLIC_URL is not set: a wildcard
    address is not one a browser can open, so loopback stands for it."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    return f"http://{shown}:{port}"


def start_up(
    project_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    prefect_port: int | None = None,
    public_url: str | None = None,
    timeout: float = 300,
    say: Callable[[str], None] = print,
) -> Up:
    """Start the three children; the running tree (children stopped again on failure).
    `public_url`: the base of links when CXOPS_PUBLIC_URL is set; else the collector's."""
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
    started = datetime.now(UTC)
    home = project_dir / STATE_DIR / "prefect"
    chosen = prefect_port or free_port(host)
    api_url = f"http://{host}:{chosen}/api"
    collector_url = f"http://{host}:{port}"
    links = public_url or link_base(host, port)
    up = Up(project_dir, UpApi(api_url, os.getpid(), host, chosen, collector_url, links))
    try:
        say(f"starting the Prefect API on {api_url} (state in {home})")
        server, _ = start_prefect_server(
            home,
            host=host,
            port=chosen,
            env=prefect_server_env(home),
            log_path=begin_log(logs / "prefect-server.log", started, up.api.pid),
            timeout=timeout,
        )
        up.children.append(server)
        child_env = {**os.environ, "PREFECT_API_URL": api_url}
        for name, value in QUIET_DEFAULTS.items():
            child_env.setdefault(name, value)
        child_env["CXOPS_PROJECT_DIR"] = str(project_dir)
        child_env["CXOPS_PUBLIC_URL"] = links
        collector = start_child(
            "collector",
            [sys.executable, "-m", "cxops", "serve", "--host", host, "--port", str(port)],
            log_path=begin_log(logs / "collector.log", started, up.api.pid),
            env=child_env,
            cwd=project_dir,
        )
        up.children.append(collector)
        said = "CXOPS_PUBLIC_URL" if public_url else "set CXOPS_PUBLIC_URL for another"
        say(f"starting the collector on {collector_url}; links in emails use {links} ({said})")
        runner = start_child(
            "schedules",
            [sys.executable, "-m", "cxops.schedule.serving", str(project_dir)],
            log_path=begin_log(logs / "schedules.log", started, up.api.pid),
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
        say(
            f"{signal.Signals(stopping[0]).name}: stopping the schedules, the collector, the Prefect API"
        )
        return 0
    finally:
        up.stop(say)
        say(f"stopped; logs in {logs_dir(up.project_dir)}")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
