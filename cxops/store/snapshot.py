"""Several read connections that see one and the same state of the store.

A report reads a few independent scans of a million rows; run on two connections at
once they use two cores, but only if both connections read the same snapshot (an
answer stored between the two would otherwise be counted by one scan and not the
other). `shared_snapshot` gives that guarantee or falls back to one connection:

- PostgreSQL exports the first transaction's snapshot (`pg_export_snapshot`) and the
  others import it (`SET TRANSACTION SNAPSHOT`), all REPEATABLE READ.
- SQLite (WAL) cannot share a snapshot between connections, but a read transaction's
  snapshot is fixed by its first read. The read transactions are started one after
  the other between two readings of `PRAGMA data_version` on a third connection; that
  value changes whenever another connection commits, so when both readings agree no
  commit fell between them and every transaction holds the same snapshot. Otherwise
  they are started again (a few times, then one connection is all there is).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from cxops.store.db import Store

_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")
#: Attempts at a common SQLite snapshot while other connections keep committing.
SQLITE_ATTEMPTS = 5


@contextmanager
def shared_snapshot(store: Store, count: int) -> Iterator[list[Connection]]:
    """Up to `count` connections, each in a read transaction, all seeing one snapshot.

    Fewer (down to one) when no common snapshot could be had: callers run on what they
    get. Nothing is written through them."""
    if count <= 1:
        with store.connect() as conn:
            yield [conn]
        return
    if store.dialect == "postgresql":
        with _postgresql(store, count) as conns:
            yield conns
        return
    if store.dialect == "sqlite":
        with _sqlite(store, count) as conns:
            yield conns
        return
    with store.connect() as conn:
        yield [conn]


@contextmanager
def _postgresql(store: Store, count: int) -> Iterator[list[Connection]]:
    with ExitStack() as stack:
        conns = [_reader(stack, store, "REPEATABLE READ") for _ in range(count)]
        snapshot = str(conns[0].execute(text("SELECT pg_export_snapshot()")).scalar_one())
        if not _SNAPSHOT_ID.fullmatch(snapshot):  # SET takes no parameters: a literal
            raise ValueError(f"unexpected PostgreSQL snapshot id {snapshot!r}")
        for conn in conns[1:]:
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        yield conns


@contextmanager
def _sqlite(store: Store, count: int) -> Iterator[list[Connection]]:
    for _attempt in range(SQLITE_ATTEMPTS):
        with ExitStack() as stack:
            conns = _started_together(stack, store, count)
            if conns is not None:
                yield conns
                return
    with store.connect() as conn:
        yield [conn]


def _started_together(stack: ExitStack, store: Store, count: int) -> list[Connection] | None:
    """`count` SQLite read transactions with one snapshot, or None when a commit by
    another connection may have fallen between their first reads."""
    monitor = store.engine.raw_connection()
    try:
        before = _data_version(monitor)
        conns = [_reader(stack, store, None) for _ in range(count)]
        for conn in conns:  # a WAL read transaction's snapshot is taken by its first read
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_schema").all()
        return conns if _data_version(monitor) == before else None
    finally:
        monitor.close()


def _reader(stack: ExitStack, store: Store, isolation: str | None) -> Connection:
    conn = stack.enter_context(store.engine.connect())
    if isolation is not None:
        conn = conn.execution_options(isolation_level=isolation)
    stack.enter_context(conn.begin())
    return conn


def _data_version(raw: Any) -> int:
    cursor: sqlite3.Cursor = raw.cursor()
    try:
        return int(cursor.execute("PRAGMA data_version").fetchone()[0])
    finally:
        cursor.close()
