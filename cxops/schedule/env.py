"""The Prefect environment of every process cxops starts: quiet, offline, and `up`'s API.

Prefect reads its settings from the environment, so cxops sets its defaults there
before Prefect is imported, and only where the user said nothing: a variable already
in the environment, or a setting in the active Prefect profile, wins.

Imports the standard library only: `cxops validate` runs this too.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

#: Prefect settings cxops defaults, and why.
QUIET_DEFAULTS: Mapping[str, str] = {
    # The server's telemetry service phones home (and, on the ephemeral server's SQLite,
    # prints `database is locked` tracebacks for its TELEMETRY_SESSION row).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The SDK's own usage analytics (read by prefect._internal.analytics).
    "DO_NOT_TRACK": "1",
    # Per-run CPU/memory sampling, only of use to Prefect Cloud.
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    # The ephemeral API boots in 5-30 s on a busy machine; Prefect gives up after 20 s.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

#: Where `cxops up` says which Prefect API it runs, relative to the project.
API_FILE = Path(".cxops") / "api.json"


@dataclass(frozen=True, slots=True)
class UpApi:
    """The Prefect API of a running `cxops up`."""

    url: str
    pid: int
    host: str
    port: int
    collector_url: str | None = None
    #: The base of the links in emails sent while it runs (the project's commands use it
    #: unless CXOPS_PUBLIC_URL is set).
    public_url: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "collector_url": self.collector_url,
            "public_url": self.public_url,
        }


def profile_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings of the active Prefect profile (PREFECT_HOME/profiles.toml), if any."""
    env = os.environ if environ is None else environ
    home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    name = env.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = data.get("profiles", {}).get(name, {})
    return (
        {str(key): str(value) for key, value in profile.items()}
        if isinstance(profile, dict)
        else {}
    )


def apply_quiet_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set QUIET_DEFAULTS where neither the environment nor the profile has them; what was set."""
    env = os.environ if environ is None else environ
    profile = profile_settings(env)
    applied = {}
    for name, value in QUIET_DEFAULTS.items():
        if name in env or name in profile:
            continue
        env[name] = value
        applied[name] = value
    return applied


def read_up_api(project_dir: Path) -> UpApi | None:
    """The API of a `cxops up` running for this project: recorded, its process alive, listening."""
    try:
        data = json.loads((project_dir / API_FILE).read_text(encoding="utf-8"))
        found = UpApi(
            url=str(data["url"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            collector_url=data.get("collector_url"),
            public_url=data.get("public_url"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(found.pid) or not port_open(found.host, found.port):
        return None
    return found


def write_up_api(project_dir: Path, api: UpApi) -> Path:
    path = project_dir / API_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(api.as_dict(), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def remove_up_api(project_dir: Path, pid: int) -> None:
    """Remove the API file if it is still the one process `pid` wrote."""
    path = project_dir / API_FILE
    try:
        if int(json.loads(path.read_text(encoding="utf-8"))["pid"]) == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        return


def use_up_api(project_dir: Path, environ: MutableMapping[str, str] | None = None) -> UpApi | None:
    """Point Prefect at the running `up` of this project, unless an API URL is set explicitly.

    `PREFECT_API_URL` or `CXOPS_PREFECT_API_URL` in the environment wins; a Prefect
    profile's API URL does not (the project's own `up` is the more specific choice).
    """
    env = os.environ if environ is None else environ
    if env.get("PREFECT_API_URL") or env.get("CXOPS_PREFECT_API_URL"):
        return None
    found = read_up_api(project_dir)
    if found is not None:
        env["PREFECT_API_URL"] = found.url
    return found


def prepare_prefect_env(
    project_dir: Path, environ: MutableMapping[str, str] | None = None
) -> UpApi | None:
    """Quiet defaults, then `up`'s API if one runs for the project. Call before Prefect runs."""
    apply_quiet_defaults(environ)
    return use_up_api(project_dir, environ)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
