"""The process of a project's background Prefect API: Prefect's API app under uvicorn,
stopping itself once nobody has used it for a while.

Started by `cxops.schedule.background_api` as
`python -m cxops.schedule.background_server PROJECT_DIR HOST PORT IDLE_SECONDS`, in its own
session, with PREFECT_HOME in the project's `.cxops/`. The app is the one Prefect's
ephemeral mode runs (no UI, no background services), wrapped to note each request.
A watcher thread touches `.cxops/prefect-api.used` when requests came (so `cxops status`
can say until when it stays), and once no request has come for IDLE_SECONDS and none is
in flight, it takes the project's lock (so no command is picking this server meanwhile),
removes the state file and stops the server (SIGTERM to itself: uvicorn shuts down).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from cxops.schedule.background_api import (
    LOCK_FILE,
    USED_FILE,
    locked,
    remove_state,
)
from cxops.wave.prefect_api import stop_this_server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: How long the server has to stop after SIGTERM before it exits anyway.
STOP_SECONDS = 20.0


class Activity:
    """When the last request ended, and how many are in flight (websockets included)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.active = 0
        self.lock = threading.Lock()

    def wrap(self, app: App) -> App:
        async def noted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                await app(scope, receive, send)
                return
            with self.lock:
                self.active += 1
                self.last = time.monotonic()
            try:
                await app(scope, receive, send)
            finally:
                with self.lock:
                    self.active -= 1
                    self.last = time.monotonic()

        return noted

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is in flight."""
        with self.lock:
            return 0.0 if self.active else time.monotonic() - self.last


def watch_idle(project_dir: Path, activity: Activity, idle_seconds: float) -> threading.Thread:
    """A daemon thread: note use in USED_FILE; stop the server once idle for `idle_seconds`."""
    step = max(0.2, min(idle_seconds / 4, 5.0))
    used = project_dir / USED_FILE

    def watch() -> None:
        noted = activity.last
        while True:
            time.sleep(step)
            if activity.last != noted:
                noted = activity.last
                used.touch()
            if activity.idle_for() < idle_seconds:
                continue
            with locked(project_dir / LOCK_FILE, timeout=0) as held:
                # A command holding the lock may be choosing this server: ask again later.
                if not held or activity.idle_for() < idle_seconds:
                    continue
                remove_state(project_dir, os.getpid())
            stop_this_server(STOP_SECONDS)

    thread = threading.Thread(target=watch, name="watch-idle", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> None:
    """`PROJECT_DIR HOST PORT IDLE_SECONDS`: serve Prefect's API until idle."""
    project_dir, host, port, idle_seconds = Path(argv[0]), argv[1], int(argv[2]), float(argv[3])
    import uvicorn
    from prefect.server.api.server import create_app

    activity = Activity()
    app = activity.wrap(create_app(ephemeral=True, final=True))
    watch_idle(project_dir, activity, idle_seconds)
    uvicorn.run(app, host=host, port=port, log_level="error", lifespan="on")


if __name__ == "__main__":
    main(sys.argv[1:])
