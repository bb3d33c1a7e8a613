"""Prefect's temporary API of a command that runs flows, ended with the command even when
it is killed.

With no API URL set, Prefect starts an API server in a child process at the first flow
run (`prefect.server.api.server.SubprocessASGIServer`) and stops it at exit; a SIGKILL
of the command skips that and left the server running for good. `own_ephemeral_api`
registers a server of the same kind under Prefect's key for it, so Prefect's client
starts this one instead: the same uvicorn command and environment, launched through
this module (`python -m cxops.wave.prefect_api PARENT_PID UVICORN_ARGS…`), where a
thread watches the parent and stops the server once the parent is gone. A thread and
not PR_SET_PDEATHSIG: that signal follows the thread that started the child, and
Prefect may start its server from a worker thread that ends long before the command.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from typing import Any

#: How often the server looks for its parent, and how long it has to stop after SIGTERM.
WATCH_SECONDS = 0.5
STOP_SECONDS = 10.0


def own_ephemeral_api() -> None:
    """In ephemeral mode, before Prefect starts its temporary API: make it one that stops
    when this process dies. Nothing when an API URL is set, or a temporary API exists."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    class ServerEndedWithParent(SubprocessASGIServer):
        """Prefect's ephemeral server (`_run_uvicorn_command` of prefect 3.9), watching
        the process that started it."""

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            import prefect
            from prefect.settings import get_current_settings

            server_env = {
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            }
            return subprocess.Popen(
                args=[
                    sys.executable,
                    "-m",
                    "cxops.wave.prefect_api",
                    str(os.getpid()),
                    "--app-dir",
                    str(prefect.__module_path__.parent),
                    "--factory",
                    "prefect.server.api.server:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env={
                    **os.environ,
                    **server_env,
                    **get_current_settings().to_environment_variables(exclude_unset=True),
                },
            )

    # Prefect keeps one server per port; the one its client asks for has the key None.
    if None not in SubprocessASGIServer._instances:
        ServerEndedWithParent()


def stop_this_server(grace_seconds: float) -> None:
    """SIGTERM to this process (uvicorn shuts down cleanly), then exit if that takes
    longer than `grace_seconds`. Called from a watching thread."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_seconds)
    os._exit(1)


def watch_parent(parent: int) -> threading.Thread:
    """A daemon thread that stops this process once `parent` is no longer its parent:
    SIGTERM to itself (uvicorn shuts down), then exit if that took too long."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        stop_this_server(STOP_SECONDS)

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> None:
    """`PARENT_PID UVICORN_ARGS…`: uvicorn as `python -m uvicorn` runs it, while the
    parent lives."""
    parent = int(argv[0])
    watch_parent(parent)
    sys.argv = ["uvicorn", *argv[1:]]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
