"""`cxops sync`: the store's changes since the last sync, loaded with dlt.

0. The database sums each block of rows (`cxops.sync.checksums`). When the sums equal
   those of the last sync that completed into this destination (`cxops.sync.state`) and
   no erasure is pending, the sync stops there: dlt is not even imported.
1. A load a killed sync left behind is finished first (dlt keeps it in the pipeline's
   folder, `.cxops/sync/<destination>/`): nothing is extracted twice.
2. Blocks whose sums moved since the checksums kept in the destination's state are read
   (through the driver's cursor, `cxops.sync.rows`).
3. Their rows are compared by fingerprint with the destination's rows of the same blocks:
   new and changed rows are written (databases merge them by key), keys gone from the
   store are deleted (Parquet gets a row with `_cxops_deleted`).
4. The new checksums go into dlt's state, loaded in the same package as the rows.

A second sync with nothing new reads and writes no row. After `cxops forget` the
destination's files are rewritten (`cxops.sync.compact`)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxops.errors import ConfigError, CxopsError
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.sync import checksums
from cxops.sync.compact import compact
from cxops.sync.destinations import Destination, read_destinations, remember, sync_folder
from cxops.sync.state import (
    Blocks,
    clear_state,
    read_state,
    survey_checksum,
    unchanged,
    write_state,
)
from cxops.sync.tables import HIDDEN, SCHEMA_VERSION, Table

if TYPE_CHECKING:  # Arrow, DuckDB and dlt are imported once there is something to load
    import pyarrow as pa

    from cxops.sync.rows import Context

SOURCE_NAME = "cxops"
#: The order sources are read and loaded in.
SOURCES = ("surveys", "sends", "responses", "tasks", "suppressions")
_DLT_TYPES = {
    "text": "text",
    "json": "json",
    "bigint": "bigint",
    "double": "double",
    "bool": "bool",
    "timestamp": "timestamp",
}


@dataclass(slots=True)
class SyncResult:
    """What one sync wrote: rows per table (deleted keys count as rows written)."""

    destination: str
    rows: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    compacted: bool = False
    #: PostgreSQL backends whose snapshots kept erased row versions in the files.
    kept_by: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "rows": dict(self.rows),
            "deleted": dict(self.deleted),
            "resumed_interrupted_load": self.resumed,
            "rewritten_after_erasure": self.compacted,
            "kept_by": list(self.kept_by),
        }


def _quiet_dlt() -> None:
    logging.getLogger("dlt").setLevel(logging.ERROR)


def pipeline_for(destination: Destination, project_dir: Path) -> Any:
    import dlt

    # Staging tables hold copies of merged rows: emptied after each load (erasures).
    dlt.config["load.truncate_staging_dataset"] = True
    pipeline = dlt.pipeline(
        pipeline_name=f"cxops_{destination.slug}",
        destination=destination.dlt_destination(),
        dataset_name=destination.dataset,
        pipelines_dir=str(sync_folder(project_dir) / "pipelines"),
    )
    _quiet_dlt()
    return pipeline


def _hints(table: Table, destination: Destination, personal_data: bool) -> Any:
    import dlt

    columns: dict[str, Any] = {}
    for column in [*table.columns, *HIDDEN]:
        if column.personal and not personal_data:
            continue
        columns[column.name] = {
            "name": column.name,
            "data_type": _DLT_TYPES[column.type],
            "description": column.description,
            "nullable": column.name not in table.primary_key,
        }
    if destination.appends:
        disposition: Any = "append"
    else:
        # Merged even into an empty table: a load job that committed just before a kill
        # and runs again on resume replaces its rows instead of adding them twice.
        disposition = {"disposition": "merge", "strategy": "delete-insert"}
        columns["_cxops_deleted"]["hard_delete"] = True
    return dlt.mark.make_hints(
        table_name=table.name,
        write_disposition=disposition,
        primary_key=list(table.primary_key),
        columns=columns,
        additional_table_hints={"description": table.description},
    )


def _destination_rows(
    pipeline: Any, table: Table, ranges: list[tuple[int, int]] | None
) -> dict[tuple[Any, ...], int]:
    """Key -> fingerprint of the destination's current rows in `ranges` (all when None)."""
    keys = ", ".join(f'"{name}"' for name in table.primary_key)
    width = len(table.primary_key)
    found: dict[tuple[Any, ...], tuple[Any, int, bool]] = {}
    # dlt's SQL client runs the query as written (its dataset API rewrites queries with
    # sqlglot); Parquet destinations get DuckDB views over their files.
    with pipeline.sql_client() as client:
        query = (
            f'SELECT {keys}, "_cxops_fp", "_cxops_deleted", "_cxops_synced_at" '
            f"FROM {client.make_qualified_table_name(table.name)}"
        )
        if ranges:
            query += " WHERE " + " OR ".join(
                f'("_cxops_row" >= {low} AND "_cxops_row" < {high})' for low, high in ranges
            )
        rows = client.execute_sql(query) or []
    for row in rows:
        key = tuple(row[:width])
        fp, deleted, synced_at = row[width], row[width + 1], row[width + 2]
        earlier = found.get(key)
        if earlier is None or synced_at >= earlier[0]:  # appended versions: the latest wins
            found[key] = (synced_at, fp, bool(deleted))
    return {key: fp for key, (_, fp, deleted) in found.items() if not deleted}


def _keys(values: pa.Table, table: Table) -> list[tuple[Any, ...]]:
    columns = [values.column(name).to_pylist() for name in table.primary_key]
    return list(zip(*columns, strict=True))


def _tombstones(
    table: Table, keys: list[tuple[Any, ...]], context: Context, personal: bool
) -> pa.Table:
    import pyarrow as pa

    from cxops.sync.rows import schema

    shape = schema(table, personal_data=personal)
    data: dict[str, list[Any]] = {name: [None] * len(keys) for name in shape.names}
    for index, name in enumerate(table.primary_key):
        data[name] = [key[index] for key in keys]
    data["_cxops_row"] = [0] * len(keys)
    data["_cxops_fp"] = [0] * len(keys)
    data["_cxops_deleted"] = [True] * len(keys)
    data["_cxops_synced_at"] = [context.synced_at] * len(keys)
    return pa.table(data, schema=shape)


class _Plan:
    """The rows of one sync, produced while dlt extracts them."""

    def __init__(
        self,
        store: Store,
        pipeline: Any,
        destination: Destination,
        context: Context,
        changed: dict[str, list[int]],
    ):
        self.store = store
        self.pipeline = pipeline
        self.destination = destination
        self.context = context
        self.changed = changed
        schema_tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
        self.loaded = {
            name
            for name, t in schema_tables.items()
            if t.get("columns") and not name.startswith("_dlt")
        }
        self.rows: dict[str, int] = {}
        self.deleted: dict[str, int] = {}

    def items(self, source: str, state: Callable[[], None]) -> Iterator[Any]:
        import dlt
        import pyarrow as pa

        from cxops.sync.rows import SOURCE_TABLES

        state()
        tables = SOURCE_TABLES[source]
        blocks = self.changed[source]
        whole = source in ("surveys", "suppressions")
        ranges = None if whole else checksums.ranges(blocks)
        existing = {
            t.name: _destination_rows(self.pipeline, t, ranges)
            for t in tables
            if t.name in self.loaded
        }
        hints = {t.name: _hints(t, self.destination, self.context.personal_data) for t in tables}
        seen: dict[str, set[tuple[Any, ...]]] = {t.name: set() for t in tables}
        for chunk in self._chunks(source, ranges or []):
            for table in tables:
                values = chunk[table.name]
                before = existing.get(table.name)
                if before is not None:  # a new table has nothing to compare or delete
                    keys = _keys(values, table)
                    seen[table.name].update(keys)
                    fps = values.column("_cxops_fp").to_pylist()
                    mask = [before.get(k) != fp for k, fp in zip(keys, fps, strict=True)]
                    values = values.filter(pa.array(mask, type=pa.bool_()))
                if values.num_rows:
                    self.rows[table.name] = self.rows.get(table.name, 0) + values.num_rows
                    yield dlt.mark.with_hints(values, hints[table.name], create_table_variant=True)
        for table in tables:
            before = existing.get(table.name)
            if before is None or source == "surveys":  # survey versions are never deleted
                continue
            gone = sorted(set(before) - seen[table.name], key=repr)
            if gone:
                self.deleted[table.name] = len(gone)
                self.rows[table.name] = self.rows.get(table.name, 0) + len(gone)
                dead = _tombstones(table, gone, self.context, self.context.personal_data)
                yield dlt.mark.with_hints(dead, hints[table.name], create_table_variant=True)

    def _chunks(self, source: str, ranges: list[tuple[int, int]]) -> Iterator[dict[str, pa.Table]]:
        from cxops.sync.rows import READERS, survey_rows

        if source == "surveys":
            yield {"surveys": survey_rows(self.context)}
            return
        with self.store.connect() as conn:
            yield from READERS[source](conn, ranges, self.context)


def _finish_interrupted(pipeline: Any) -> bool:
    """Load what a killed sync extracted; True when there was something."""
    if not pipeline.has_pending_data:
        return False
    pipeline.normalize()
    pipeline.load()
    return True


def _known_state(pipeline: Any) -> dict[str, Any]:
    state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    return dict(state) if isinstance(state, Mapping) else {}


class SyncError(CxopsError):
    """A destination that could not be reached or loaded (one line: which, and why)."""


def sync(
    store: Store,
    destination: Destination,
    *,
    surveys: Mapping[str, Survey],
    project_dir: Path,
    now: datetime,
    personal_data: bool,
    key: Callable[[], bytes],
) -> SyncResult:
    """Load the store's changes into `destination`; see the module's docstring."""
    result = SyncResult(destination.safe_url)
    blocks: Blocks = {"surveys": survey_checksum(surveys), **checksums.store_checksums(store)}
    erasures = int(
        read_destinations(project_dir).get(destination.slug, {}).get("erasures_pending", 0)
    )
    last = read_state(project_dir, destination.slug)
    if not erasures and unchanged(
        last, blocks, schema_version=SCHEMA_VERSION, personal_data=personal_data
    ):
        remember(project_dir, destination, now=now, personal_data=personal_data)
        return result
    clear_state(project_dir, destination.slug)

    import duckdb
    import psycopg
    from dlt.common.exceptions import DltException

    try:
        _sync(
            result,
            blocks,
            erasures,
            store,
            destination,
            surveys=surveys,
            project_dir=project_dir,
            now=now,
            personal_data=personal_data,
            key=key,
        )
    except (DltException, OSError, duckdb.Error, psycopg.Error) as exc:
        cause: BaseException = exc
        while cause.__cause__ is not None and isinstance(cause, DltException):
            cause = cause.__cause__
        said = (str(cause).strip().splitlines() or [type(cause).__name__])[-1][:400]
        raise SyncError(f"sync into {destination.safe_url} failed: {said}") from exc
    write_state(
        project_dir,
        destination.slug,
        blocks=blocks,
        schema_version=SCHEMA_VERSION,
        personal_data=personal_data,
    )
    return result


def _sync(
    result: SyncResult,
    after: Blocks,
    erasures: int,
    store: Store,
    destination: Destination,
    *,
    surveys: Mapping[str, Survey],
    project_dir: Path,
    now: datetime,
    personal_data: bool,
    key: Callable[[], bytes],
) -> None:
    import dlt

    from cxops.sync.rows import Context

    pipeline = pipeline_for(destination, project_dir)
    result.resumed = _finish_interrupted(pipeline)
    if not _known_state(pipeline):
        pipeline.sync_destination()  # the state a sync left in the destination, if any
    known = _known_state(pipeline)
    version = known.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"sync: {destination.safe_url} holds warehouse schema version {version}, this "
            f"cxops writes version {SCHEMA_VERSION} (docs/warehouse.md): sync into a new "
            "destination, or drop the old tables first"
        )
    if bool(known.get("personal_data", personal_data)) != personal_data:
        raise ConfigError(
            f"sync: {destination.safe_url} was synced with sync.personal_data "
            f"{str(not personal_data).lower()}; a destination keeps one setting (sync into a "
            "new destination to change it)"
        )
    # Appended versions (Parquet) are ordered by this time: never earlier than the last.
    last = known.get("last_synced_at")
    stamp = datetime.now(UTC)
    if last and stamp <= datetime.fromisoformat(last):
        stamp = datetime.fromisoformat(last) + timedelta(microseconds=1)
    context = Context(personal_data, surveys, stamp, key, project_dir)
    before: Blocks = known.get("blocks", {})
    changed = {s: checksums.changed_blocks(before.get(s, {}), after.get(s, {})) for s in SOURCES}
    if any(changed.values()):
        plan = _Plan(store, pipeline, destination, context, changed)

        def save_state() -> None:
            state = dlt.current.source_state()
            state["schema_version"] = SCHEMA_VERSION
            state["personal_data"] = personal_data
            state["blocks"] = after
            state["last_synced_at"] = stamp.isoformat()

        resources = [
            dlt.resource(
                plan.items(source, save_state if index == 0 else lambda: None),
                name=f"cxops_{source}",
            )
            for index, source in enumerate(s for s in SOURCES if changed[s] or s == "surveys")
        ]

        @dlt.source(name=SOURCE_NAME)
        def cxops_source() -> Any:
            return resources

        pipeline.run(cxops_source(), loader_file_format="parquet" if destination.appends else None)
        result.rows, result.deleted = plan.rows, plan.deleted
    _forget_loaded_files(pipeline)
    if erasures:
        result.kept_by = compact(destination)
        result.compacted = True
    remember(project_dir, destination, now=now, personal_data=personal_data, erasures_pending=0)


def _forget_loaded_files(pipeline: Any) -> None:
    """Remove the files of completed loads from the pipeline's folder (they hold rows)."""
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    if loaded.is_dir():
        shutil.rmtree(loaded)
