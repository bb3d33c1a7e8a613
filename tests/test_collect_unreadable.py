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
from pathlib import Path

import httpx
from sqlalchemy import select

from cxops.store.db import open_store
from cxops.store.models import Response
from cxops.testing.collect import invited_person, serve_process

WITHOUT_FILE_MODE_OVERRIDE = ["--bounding-set=-dac_override,-dac_read_search"]


def _without_file_mode_override() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the collector bound by file modes"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_collector_started_on_an_unreadable_sqlite_file_gives_503_then_stores_once(project):
    settings = project.settings()
    path = invited_person(settings).answer_path
    database = Path(settings.store_url.removeprefix("sqlite:///"))
    files = [p for p in (database, *database.parent.glob(database.name + "-*")) if p.exists()]
    before = database.read_bytes()
    for file in files:
        file.chmod(0)
    try:
        with serve_process(project.root, wrapper=_without_file_mode_override()) as served:
            base = served.base
            refused = httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30)
            assert refused.status_code == 503, refused.text
            assert refused.headers.get("Retry-After") and "Thank you" not in refused.text
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 503
            for file in files:
                file.chmod(0o600)
            assert database.read_bytes() == before  # nothing was written while unreadable
            stored = httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30)
            assert stored.status_code == 200 and "Thank you" in stored.text
            again = httpx.post(f"{base}{path}", data={"score": "8"}, timeout=30)
            assert again.status_code == 200
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        for file in files:
            if file.exists():
                file.chmod(0o600)
    assert "Traceback" not in served.output(), served.output()
    store = open_store(settings.store_url)
    try:
        with store.session() as session:
            rows = session.scalars(select(Response)).all()
        assert [(row.answers, row.revision) for row in rows] == [({"score": 8}, 1)]
    finally:
        store.dispose()
