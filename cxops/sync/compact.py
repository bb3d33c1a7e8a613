"""Rewriting a destination after `cxops forget`, so no byte of an erased row is left.

A sync after an erasure merges the person's rows as the store now keeps them (the
pseudonym, no free text) and deletes what is gone; but a deleted value stays in the
bytes: DuckDB keeps it in its file after DELETE, CHECKPOINT and even VACUUM, PostgreSQL
in the heap and index pages until the table is rewritten, and Parquet files are never
edited. So:

- DuckDB: the staging schema is emptied and the whole database copied into a new file
  (`COPY FROM DATABASE`), which then replaces the old one;
- PostgreSQL: the staging tables are emptied and every table of the schema and of its
  staging schema rewritten with `VACUUM (FULL)`;
- Parquet: each table's files are read, the latest row of each key kept (deleted keys
  dropped), written as one new file, and the old files removed;
- other dlt destinations: nothing cxops can do beyond the deletes (their own retention,
  such as Snowflake's Time Travel, decides when deleted rows leave storage).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cxops.sync.destinations import Destination
from cxops.sync.tables import TABLES

STAGING_SUFFIX = "_staging"


def compact(destination: Destination) -> list[int]:
    """Rewrite `destination`'s files; PostgreSQL backends whose old snapshots kept row
    versions alive (empty: none; a later erasure rewrites again)."""
    if destination.kind == "duckdb":
        assert destination.path is not None
        rewrite_duckdb(destination.path, destination.dataset)
    elif destination.kind == "postgres":
        assert destination.credentials is not None
        return rewrite_postgres(destination.credentials, destination.dataset)
    elif destination.kind == "parquet":
        assert destination.path is not None
        rewrite_parquet(destination.path / destination.dataset)
    return []


def rewrite_duckdb(path: Path, dataset: str) -> None:
    import duckdb

    if not path.exists():
        return
    staging = f"{dataset}{STAGING_SUFFIX}"
    with duckdb.connect(str(path)) as con:
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [staging]
        ).fetchall():
            con.execute(f'DELETE FROM "{staging}"."{name}"')
        con.execute("CHECKPOINT")
    fresh = path.with_name(f".{path.name}.rewrite")
    for leftover in (fresh, Path(f"{fresh}.wal")):
        leftover.unlink(missing_ok=True)
    with duckdb.connect(str(fresh)) as con:
        con.execute(f"ATTACH '{path}' AS erased_source (READ_ONLY)")
        target = con.execute("SELECT current_database()").fetchone()
        assert target is not None
        con.execute(f'COPY FROM DATABASE erased_source TO "{target[0]}"')
        con.execute("DETACH erased_source")
        con.execute("CHECKPOINT")
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def rewrite_postgres(url: str, dataset: str, wait_seconds: float = 60) -> list[int]:
    """Empty the staging tables, then rewrite every table of both schemas; the backends
    whose snapshots kept old row versions alive past `wait_seconds` (empty: none)."""
    import psycopg

    staging = f"{dataset}{STAGING_SUFFIX}"
    with psycopg.connect(url, autocommit=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN (%s, %s) AND table_type = 'BASE TABLE'",
            (dataset, staging),
        ).fetchall()
        for schema, name in tables:
            if schema == staging:
                con.execute(f'TRUNCATE "{schema}"."{name}"')
        # VACUUM (FULL) copies row versions a transaction begun before the deletes may
        # still see: wait for those to end first.
        row = con.execute("SELECT pg_current_xact_id()::text").fetchone()
        assert row is not None
        holders = _wait_for_older_snapshots(con, int(row[0]) % 2**32, wait_seconds)
        for schema, name in tables:
            con.execute(f'VACUUM (FULL, ANALYZE) "{schema}"."{name}"')
    return holders


def _wait_for_older_snapshots(con: Any, xid: int, wait_seconds: float) -> list[int]:
    deadline = time.monotonic() + wait_seconds
    while True:
        pids = [
            int(pid)
            for (pid,) in con.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND (age(backend_xmin) >= age(%s::text::xid) "
                "OR age(backend_xid) >= age(%s::text::xid))",
                (str(xid), str(xid)),
            ).fetchall()
        ]
        if not pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.2)


def rewrite_parquet(folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for table in TABLES:
        files = sorted((folder / table.name).glob("*.parquet"))
        if not files:
            continue
        rows = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
        order = pc.sort_indices(rows, sort_keys=[("_cxops_synced_at", "descending")])
        rows = rows.take(order)
        keys = list(zip(*(rows.column(k).to_pylist() for k in table.primary_key), strict=True))
        seen: set[tuple[Any, ...]] = set()
        keep: list[bool] = []
        deleted = rows.column("_cxops_deleted").to_pylist()
        for key, dead in zip(keys, deleted, strict=True):
            keep.append(key not in seen and not dead)
            seen.add(key)
        latest = rows.filter(pa.array(keep, type=pa.bool_()))
        fresh = folder / table.name / f"compacted.{os.getpid()}.parquet.tmp"
        pq.write_table(latest, fresh)
        for old in files:
            old.unlink()
        os.replace(fresh, fresh.with_name(fresh.name.removesuffix(".tmp")))
