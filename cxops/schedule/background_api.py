"""A project's background Prefect API: started by the first command that runs a flow,
reused by the next ones, stopped after CXOPS_PREFECT_IDLE_MINUTES without use.

Prefect's ephemeral API costs every command its start (7-50 s). Instead the first
command starts one in the background (`cxops.schedule.background_server`, its own
session, PREFECT_HOME `.cxops/prefect-api/`, log `.cxops/logs/prefect-api.log`) and
records it in `.cxops/prefect-api.json`; later commands of the project use it. Choosing
or starting one happens under the project's lock (`.cxops/prefect-api.lock`, flock),
so commands started together share one server, and the server takes the same lock
before it stops for idleness. A state file whose process is gone (or is not this
server any more) is replaced. Which API a command uses, first match wins:
PREFECT_API_URL / CXOPS_PREFECT_API_URL (or a Prefect profile's API URL), a running
`cxops up`, this background API, and Prefect's ephemeral one when it does not start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cxops.schedule.env import QUIET_DEFAULTS, pid_alive, profile_settings

STATE_FILE = Path(".cxops") / "prefect-api.json"
LOCK_FILE = Path(".cxops") / "prefect-api.lock"
USED_FILE = Path(".cxops") / "prefect-api.used"
HOME_DIR = Path(".cxops") / "prefect-api"
LOG_FILE = Path(".cxops") / "logs" / "prefect-api.log"
#: The module the server runs as; a pid whose command line lacks it is not our server.
SERVER_MODULE = "cxops.schedule.background_server"


@dataclass(frozen=True, slots=True)
class BackgroundApi:
    """A running background API, as its state file records it."""

    url: str
    pid: int
    host: str
    port: int
    started: datetime
    idle_minutes: float

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "started": self.started.isoformat(timespec="seconds"),
            "idle_minutes": self.idle_minutes,
        }

    def idle_until(self, project_dir: Path) -> datetime:
        """When it stops unless used again: the idle time after its last use."""
        last = self.started
        with contextlib.suppress(OSError):
            last = max(last, datetime.fromtimestamp((project_dir / USED_FILE).stat().st_mtime, UTC))
        return last + timedelta(minutes=self.idle_minutes)


def read_background_api(project_dir: Path) -> BackgroundApi | None:
    """The project's background API: recorded, its process this server and running."""
    try:
        data = json.loads((project_dir / STATE_FILE).read_text(encoding="utf-8"))
        found = BackgroundApi(
            url=str(data["url"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            started=datetime.fromisoformat(str(data["started"])),
            idle_minutes=float(data["idle_minutes"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if is_server_process(found.pid) else None


def is_server_process(pid: int) -> bool:
    """`pid` runs a background server (not a zombie; on Linux, judged by its command line)."""
    if not pid_alive(pid):
        return False
    proc = Path("/proc") / str(pid)
    if not proc.is_dir():
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        command = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and SERVER_MODULE.encode() in command


def explicit_api(environ: Mapping[str, str]) -> bool:
    """An API URL the user chose (or `up`'s, set by the CLI): no background API then."""
    if environ.get("PREFECT_API_URL") or environ.get("CXOPS_PREFECT_API_URL"):
        return True
    return bool(profile_settings(environ).get("PREFECT_API_URL"))


@contextlib.contextmanager
def locked(path: Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive flock on `path` (waiting up to `timeout` s); whether it is held.
    The kernel drops the lock when the process dies, so a lock is never stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_background_api(
    project_dir: Path, idle_minutes: float, timeout: float = 180
) -> BackgroundApi:
    """The project's running background API, started when there is none (ProcessError
    when it does not answer within `timeout` s)."""
    from cxops.schedule.processes import ProcessError, api_healthy

    with locked(project_dir / LOCK_FILE, timeout + 60) as held:
        if not held:
            raise ProcessError(f"{project_dir / LOCK_FILE}: another command holds it")
        found = read_background_api(project_dir)
        # The health check is a request: it also tells an idle server it is in use again.
        if found is not None and api_healthy(found.url, timeout=30):
            return found
        if found is not None:
            stop_process(found.pid)
        return start_background_api(project_dir, idle_minutes, timeout)


def start_background_api(project_dir: Path, idle_minutes: float, timeout: float) -> BackgroundApi:
    """Start the server (the caller holds the lock), wait until it answers, record it."""
    from cxops.schedule.processes import (
        ProcessError,
        free_port,
        prefect_server_env,
        start_child,
        wait_healthy,
    )

    host = "127.0.0.1"
    port = free_port(host)
    home = project_dir / HOME_DIR
    home.mkdir(parents=True, exist_ok=True)
    env = prefect_server_env(home, ui=False)
    env["PREFECT__SERVER_EPHEMERAL"] = "1"
    env["PREFECT__SERVER_FINAL"] = "1"
    for name, value in QUIET_DEFAULTS.items():
        env.setdefault(name, value)
    log_path = project_dir / LOG_FILE
    child = start_child(
        "the background Prefect API",
        [
            sys.executable,
            "-m",
            SERVER_MODULE,
            str(project_dir),
            host,
            str(port),
            str(idle_minutes * 60),
        ],
        log_path=log_path,
        env=env,
        cwd=project_dir,
    )
    url = f"http://{host}:{port}/api"
    try:
        wait_healthy(url, child, timeout)
    except ProcessError:
        exited = not child.alive()
        code = child.stop(timeout=20)
        why = f"it exited with {code}" if exited else f"no answer at {url} within {timeout:.0f} s"
        raise ProcessError(
            f"the background Prefect API did not start: {why} (log: {log_path})"
        ) from None
    api = BackgroundApi(url, child.pid, host, port, datetime.now(UTC), idle_minutes)
    write_state(project_dir, api)
    return api


def write_state(project_dir: Path, api: BackgroundApi) -> None:
    path = project_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(api.as_dict(), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    with contextlib.suppress(OSError):
        (project_dir / USED_FILE).unlink()


def remove_state(project_dir: Path, pid: int) -> None:
    """Remove the state file if it still records process `pid`."""
    path = project_dir / STATE_FILE
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(path.read_text(encoding="utf-8"))["pid"]) == pid:
            path.unlink()


def stop_process(pid: int, timeout: float = 30) -> None:
    """SIGTERM to the server, then SIGKILL if it is still there after `timeout` s."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while is_server_process(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not is_server_process(pid):
            return


def stop_background_api(project_dir: Path, timeout: float = 30) -> BackgroundApi | None:
    """Stop the project's background API; the one stopped, or None when none ran."""
    with locked(project_dir / LOCK_FILE, timeout + 60):
        found = read_background_api(project_dir)
        if found is not None:
            stop_process(found.pid, timeout)
        with contextlib.suppress(OSError):
            (project_dir / STATE_FILE).unlink()
        return found


def use_background_api(
    project_dir: Path,
    idle_minutes: float,
    environ: MutableMapping[str, str] | None = None,
    timeout: float | None = None,
) -> BackgroundApi | None:
    """Before a command's first flow run: point Prefect at the project's background API
    (started if needed), unless an API was chosen or `idle_minutes` is 0. ProcessError
    when it does not start (the caller then lets Prefect start its ephemeral one)."""
    env = os.environ if environ is None else environ
    if idle_minutes <= 0 or explicit_api(env):
        return None
    if timeout is None:
        timeout = float(env.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 180)
    api = ensure_background_api(project_dir.resolve(), idle_minutes, timeout)
    env["PREFECT_API_URL"] = api.url
    return api
