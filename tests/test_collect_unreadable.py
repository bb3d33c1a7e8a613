"""Invariant: a collector started while its SQLite file cannot be read (file modes: an
operator's `chmod`, a restore made as another user) answers 503 to every answer and
to `/healthz` and stores nothing; once the file can be read again the same answer is
stored, once.

The tests run as root, whom file modes do not stop, so `cxops serve` runs without the
two capabilities that let root pass them (`setpriv --bounding-set`): it is then bound
by the modes like any other user. A collector that already has the file open keeps
its open descriptors (an operating-system fact, not cxops's): the file is made
unreadable before it starts, as after a restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from cxops.schedule.processes import free_port
from cxops.store.db import open_store
from cxops.store.models import Response
from cxops.testing.collect import invite

WITHOUT_FILE_MODE_OVERRIDE = ["--bounding-set=-dac_override,-dac_read_search"]


def _serve(root: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "cxops", "serve", "--port", str(port)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run the collector bound by file modes"
        argv = [setpriv, *WITHOUT_FILE_MODE_OVERRIDE, *argv]
    return subprocess.Popen(
        argv,
        cwd=root,
        env={**os.environ, "CXOPS_PROJECT_DIR": str(root)},
        stdout=(root / "serve.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_until_listening(base: str, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, (root / "serve.out").read_text()
        try:
            httpx.get(f"{base}/healthz", timeout=5)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, (root / "serve.out").read_text()
            time.sleep(0.2)


def test_a_collector_started_on_an_unreadable_sqlite_file_gives_503_then_stores_once(project):
    settings = project.settings()
    store = open_store(settings.store_url)
    try:
        path = invite(
            store,
            settings.signing_key(),
            survey_id="nps-quarterly",
            contact_key="k1",
            email="person@example.com",
            sent_at=settings.clock() - timedelta(hours=1),
        ).answer_path
    finally:
        store.dispose()
    database = Path(settings.store_url.removeprefix("sqlite:///"))
    files = [p for p in (database, *database.parent.glob(database.name + "-*")) if p.exists()]
    before = database.read_bytes()
    for file in files:
        file.chmod(0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(project.root, port)
    try:
        _wait_until_listening(base, server, project.root)
        refused = httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.headers.get("Retry-After") and "Thank you" not in refused.text
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 503
        for file in files:
            file.chmod(0o600)
        assert database.read_bytes() == before  # nothing was written while unreadable
        stored = httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30)
        assert stored.status_code == 200 and "Thank you" in stored.text
        assert httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30).status_code == 200
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        for file in files:
            if file.exists():
                file.chmod(0o600)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    log = (project.root / "serve.out").read_text()
    assert "Traceback" not in log, log
    store = open_store(settings.store_url)
    try:
        with store.session() as session:
            rows = session.scalars(select(Response)).all()
        assert [(row.answers, row.revision) for row in rows] == [({"score": 8}, 1)]
    finally:
        store.dispose()
