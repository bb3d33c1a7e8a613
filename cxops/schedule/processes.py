"""Child processes of `cxops up` and of the real-server tests: started, awaited, stopped by pid.

A local Prefect server (`prefect server start`) with its own PREFECT_HOME, and any
other command run the same way. Each child gets its own session, so a Ctrl-C in the
terminal reaches `cxops up` alone and `up` stops its children in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from cxops.errors import CxopsError
from cxops.schedule.env import QUIET_DEFAULTS


class ProcessError(CxopsError):
    """A child process did not start, or died."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def prefect_bin() -> str:
    """The `prefect` console script of the Python running cxops."""
    candidate = Path(sys.executable).parent / "prefect"
    return str(candidate) if candidate.exists() else "prefect"


@dataclass
class Child:
    """A started child process and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30, sig: int = signal.SIGTERM) -> int | None:
        """Signal the child's process group, wait, then kill what is left; its exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def start_child(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start `argv` in its own session with stdout and stderr to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        log.close()
        raise ProcessError(f"could not start {name} ({argv[0]}): {exc}") from None
    return Child(name=name, process=process, log_path=log_path, _log=log)


def prefect_server_env(
    home: Path,
    base: Mapping[str, str] | None = None,
    *,
    database_url: str | None = None,
    ui: bool = True,
) -> dict[str, str]:
    """The environment of a local Prefect server whose state lives in `home`."""
    env = dict(os.environ if base is None else base)
    for name, value in QUIET_DEFAULTS.items():
        env.setdefault(name, value)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_UI_ENABLED"] = "true" if ui else "false"
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    return env


def start_prefect_server(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    timeout: float = 180,
) -> tuple[Child, str]:
    """`prefect server start` on `host:port` (a free port by default); the child and API URL."""
    home.mkdir(parents=True, exist_ok=True)
    chosen = port or free_port(host)
    url = f"http://{host}:{chosen}/api"
    server_env = dict(env if env is not None else prefect_server_env(home))
    # The UI asks `/ui-settings` where the API is; Prefect answers from its host and port
    # settings (4200), not from `--port`. A URL the user set (a proxy) wins.
    if not (server_env.get("PREFECT_UI_API_URL") or server_env.get("PREFECT_SERVER_UI_API_URL")):
        server_env["PREFECT_UI_API_URL"] = url
    child = start_child(
        "prefect server",
        [prefect_bin(), "server", "start", "--host", host, "--port", str(chosen)],
        log_path=log_path or home / "server.log",
        env=server_env,
    )
    try:
        wait_healthy(url, child, timeout)
    except BaseException:
        child.stop()
        raise
    return child, url


def wait_healthy(url: str, child: Child, timeout: float) -> None:
    """Until `url`/health answers 200; ProcessError if the child dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            tail = child.log_text()[-2000:]
            raise ProcessError(f"{child.name} exited with {child.process.returncode}:\n{tail}")
        if api_healthy(url):
            return
        time.sleep(0.25)
    raise ProcessError(f"{child.name} did not answer at {url} within {timeout:.0f} s")


def api_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the Prefect API at `url` answers its health check."""
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
