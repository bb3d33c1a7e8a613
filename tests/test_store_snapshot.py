"""`shared_snapshot`: connections that read one state of the store, on SQLite and
PostgreSQL, while other connections commit; on SQLite, a commit that falls between the
first reads is detected and the transactions are started again."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from cxops.store import snapshot
from cxops.store.db import Store, open_store
from cxops.store.snapshot import shared_snapshot


@pytest.fixture
def store(store_url: str) -> Store:
    yield from _probe_store(store_url)


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    yield from _probe_store(f"sqlite:///{tmp_path / 'cxops.db'}")


def _probe_store(url: str):
    opened = open_store(url)
    with opened.connect(write=True) as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS snapshot_probe")
        conn.exec_driver_sql("CREATE TABLE snapshot_probe (n INTEGER)")
    yield opened
    with opened.connect(write=True) as conn:
        conn.exec_driver_sql("DROP TABLE snapshot_probe")
    opened.dispose()


def _add_row(store: Store) -> None:
    with store.connect(write=True) as conn:
        conn.execute(text("INSERT INTO snapshot_probe (n) VALUES (1)"))


def _rows(conn) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM snapshot_probe").scalar_one())


def test_every_connection_sees_the_snapshot_not_later_commits(store: Store) -> None:
    _add_row(store)
    with shared_snapshot(store, 2) as conns:
        assert len(conns) == 2
        _add_row(store)  # committed after the snapshot: neither connection sees it
        assert [_rows(conn) for conn in conns] == [1, 1]
    with store.connect() as conn:
        assert _rows(conn) == 2


def test_connections_agree_while_another_connection_keeps_committing(store: Store) -> None:
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            _add_row(store)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    try:
        for _ in range(40):
            with shared_snapshot(store, 2) as conns:
                # Read the second connection first: had it started later, it would see more.
                counts = [_rows(conn) for conn in reversed(conns)]
                seen.append(len(conns))
                assert len(set(counts)) == 1, counts
    finally:
        done.set()
        thread.join()
    assert 2 in seen  # not only the one-connection fallback
    with store.connect() as conn:
        assert _rows(conn) > 1  # the writer did commit meanwhile


def test_sqlite_retries_when_a_commit_falls_between_the_first_reads(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store  # PostgreSQL imports one snapshot: there is no race to detect
    started = []
    reader = snapshot._reader

    def commit_after_the_first(stack, store_, isolation):
        conn = reader(stack, store_, isolation)
        started.append(conn)
        if len(started) % 2 == 1 and len(started) < 4:  # the first two attempts are spoiled
            conn.exec_driver_sql("SELECT count(*) FROM snapshot_probe").all()
            _add_row(store)
        return conn

    monkeypatch.setattr(snapshot, "_reader", commit_after_the_first)
    with shared_snapshot(store, 2) as conns:
        assert len(conns) == 2
        assert len(started) == 6  # two attempts thrown away, the third kept
        assert [_rows(conn) for conn in conns] == [2, 2]


def test_sqlite_falls_back_to_one_connection_when_commits_never_stop(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store  # PostgreSQL imports one snapshot: there is no race to detect
    reader = snapshot._reader

    def always_spoiled(stack, store_, isolation):
        conn = reader(stack, store_, isolation)
        _add_row(store)
        return conn

    monkeypatch.setattr(snapshot, "_reader", always_spoiled)
    with shared_snapshot(store, 2) as conns:
        assert len(conns) == 1
        assert _rows(conns[0]) == 2 * snapshot.SQLITE_ATTEMPTS
