"""Invariants of the collector's edges:

- `/healthz` is 200 only when the store takes a write (a read-only store is 503);
- the SQLite file locked by another program: an answer gets 503, nothing stored, then once;
- a request body that stalls is dropped after the bound (408, connection closed);
- a client that goes away mid-request is logged as such, never as an unexpected error.
"""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import quote

import pytest

from cxops.collect.app import create_app
from cxops.store.db import Store, open_store
from cxops.testing.collect import client_for, invited_person, serving


def _read_only(url: str) -> str:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    separator = "&" if "?" in url else "?"
    return url + separator + "options=" + quote("-c default_transaction_read_only=on")


def test_healthz_checks_a_write(project, store_url):
    settings = project.settings(database_url=store_url)
    open_store(store_url).dispose()
    with client_for(create_app(settings)) as client:
        reply = client.get("/healthz")
        assert reply.status_code == 200 and reply.json()["status"] == "ok"
    read_only = Store(_read_only(store_url))
    try:
        with client_for(create_app(settings, store=read_only)) as client:
            reply = client.get("/healthz")
        assert reply.status_code == 503 and reply.json()["status"] == "unavailable"
    finally:
        read_only.dispose()


def _partial_post(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        "score=10&".encode()
    )
    return sock


@pytest.fixture
def answer_path(project) -> str:
    return invited_person(project.settings()).answer_path


def test_a_stalled_body_is_dropped_after_the_bound(project, answer_path, caplog):
    app = create_app(project.settings(), body_timeout=1.0)
    with serving(app) as port:
        started = time.monotonic()
        sock = _partial_post(port, answer_path)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert waited < 8, f"held the connection {waited:.1f} s"
    assert "unexpected error" not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.slow
def test_a_client_going_away_is_no_unexpected_error(project, answer_path, caplog):
    caplog.set_level(logging.INFO, logger="cxops.collect")
    app = create_app(project.settings())
    with serving(app) as port:
        for _ in range(5):
            _partial_post(port, answer_path).close()
        time.sleep(1.5)
    assert "unexpected error" not in caplog.text and "Traceback" not in caplog.text
    assert "client went away" in caplog.text


def test_a_sqlite_file_locked_by_another_program_gives_503_and_loses_nothing(
    project, answer_path, monkeypatch
):
    """Invariant: while another program holds the SQLite file's lock past the busy
    timeout, an answer gets a retryable 503 (never a thank-you) and nothing is stored;
    once the lock is gone the same answer is stored, once."""
    import sqlite3

    from sqlalchemy import select

    from cxops.store import db
    from cxops.store.models import Response

    monkeypatch.setattr(db, "SQLITE_BUSY_MS", 500)  # the wait before giving up, shortened
    settings = project.settings()
    store = open_store(settings.store_url)
    path = settings.store_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with client_for(create_app(settings, store=store)) as client:
            holder.execute("BEGIN EXCLUSIVE")  # another program writing, for as long as it likes
            refused = client.post(answer_path, data={"score": "8"})
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert "Thank you" not in refused.text
            health = client.get("/healthz")
            assert health.status_code == 503
            holder.execute("ROLLBACK")
            stored = client.post(answer_path, data={"score": "8"})
            assert stored.status_code == 200 and "Thank you" in stored.text
            again = client.post(answer_path, data={"score": "8"})
            assert again.status_code == 200
        with store.session() as session:
            rows = session.scalars(select(Response)).all()
        assert [(row.answers, row.revision) for row in rows] == [({"score": 8}, 1)]
    finally:
        holder.close()
        store.dispose()
