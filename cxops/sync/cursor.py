"""The store's rows for a sync, read through the database driver's own cursor.

SQLAlchemy's rows (a type processor per time and JSON value, a Python object per row)
were about 90 % of a sync of a big store; the driver's tuples, fetched in chunks and
turned into Arrow arrays column by column, cost a fraction of it. What differs between
the databases stays here: SQLite gives times as text (parsed by Arrow), PostgreSQL as
aware datetimes (a server-side cursor keeps a big read out of memory); JSON columns are
selected as text on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import JSON, Boolean, Integer, Text, cast, select
from sqlalchemy.engine import Connection

from cxops.store.models import UTCDateTime

Kind = Literal["text", "int", "bool", "time", "json"]
TIMESTAMP = pa.timestamp("us", tz="UTC")


def kind_of(column: Any) -> Kind:
    """How a store column's raw values are turned into Arrow."""
    if isinstance(column.type, UTCDateTime):
        return "time"
    if isinstance(column.type, JSON):
        return "json"
    if isinstance(column.type, Boolean):
        return "bool"
    if isinstance(column.type, Integer):  # BigInteger is an Integer
        return "int"
    return "text"


def ranged_sql(conn: Connection, table: Any, names: Sequence[str], low: int, high: int) -> str:
    """SELECT `names` of `table`'s rows with low <= id < high, in id order (JSON as text)."""
    columns = [
        cast(table.c[name], Text) if kind_of(table.c[name]) == "json" else table.c[name]
        for name in names
    ]
    query = select(*columns).where(table.c.id >= low, table.c.id < high).order_by(table.c.id)
    return str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def fetch(conn: Connection, sql: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """`sql`'s rows, `size` at a time, in `conn`'s transaction."""
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = raw.cursor(name=f"cxops_sync_{uuid.uuid4().hex[:12]}")
        cursor.itersize = size
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def arrow(values: Sequence[Any], kind: Kind, dialect: str) -> pa.Array:
    """One column of raw values as an Arrow array of the warehouse's type for `kind`."""
    if kind == "time":
        return _times(values) if dialect == "sqlite" else pa.array(values, type=TIMESTAMP)
    if kind == "bool":
        return pa.array(values).cast(pa.bool_())  # SQLite's 0/1
    if kind == "int":
        return pa.array(values, type=pa.int64())
    return pa.array(values, type=pa.string())


def _times(values: Sequence[Any]) -> pa.Array:
    """SQLite's times: naive UTC text, as SQLAlchemy writes them ("2026-11-23 08:00:00.000000")."""
    try:
        naive = pa.array(values, type=pa.string()).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_time(value) for value in values], type=TIMESTAMP)
    return naive.cast(TIMESTAMP)  # the same instants, read as UTC


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
