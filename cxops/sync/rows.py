"""The store's rows as warehouse rows: Arrow tables typed as `cxops.sync.tables` says.

A source (a store table, or the survey files) is read for id ranges and becomes one or
more warehouse tables (responses give `responses` and `answers`, tasks give `tasks` and
`task_events`). Each row gets a fingerprint of its values (DuckDB's `hash` over the
columns: the same values give the same number in every run) that the next sync compares.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.engine import Connection

from cxops.spec.models import Survey
from cxops.store.models import Response, Send, Suppression, Task
from cxops.sync.tables import (
    ANSWERS,
    HIDDEN,
    INVITATIONS,
    RESPONSES,
    SUPPRESSIONS,
    SURVEYS,
    TASK_EVENTS,
    TASKS,
    Column,
    Table,
)

#: Rows read from the store at a time.
CHUNK = 50_000

_ARROW = {
    "text": pa.string(),
    "json": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True, slots=True)
class Context:
    """What building rows needs besides the store: the sync's options and the surveys."""

    personal_data: bool
    surveys: Mapping[str, Survey]
    synced_at: datetime
    #: The project's signing key (the keyed hash of a suppressed address).
    key: Callable[[], bytes]
    project_dir: Path

    def main_question(self, survey_id: str) -> str | None:
        survey = self.surveys.get(survey_id)
        if survey is None or survey.kind not in ("nps", "csat", "ces"):
            return None
        question = survey.main_question
        return None if question is None else str(question.id)

    def question_type(self, survey_id: str, question_id: str) -> str | None:
        survey = self.surveys.get(survey_id)
        if survey is None:
            return None
        for question in survey.questions:
            if question.id == question_id:
                return str(question.type)
        return None


def schema(table: Table, *, personal_data: bool) -> pa.Schema:
    columns = [c for c in table.columns if personal_data or not c.personal] + list(HIDDEN)
    return pa.schema([pa.field(c.name, _ARROW[c.type]) for c in columns])


def _value_columns(table: Table, personal_data: bool) -> list[Column]:
    return [c for c in table.columns if personal_data or not c.personal]


class Builder:
    """Rows of one warehouse table, collected column by column."""

    def __init__(self, table: Table, context: Context):
        self.table = table
        self.context = context
        self.columns = _value_columns(table, context.personal_data)
        self.data: dict[str, list[Any]] = {c.name: [] for c in self.columns}
        self.data["_cxops_row"] = []

    def add(self, row: int, values: Mapping[str, Any]) -> None:
        for column in self.columns:
            self.data[column.name].append(values.get(column.name))
        self.data["_cxops_row"].append(row)

    def arrow(self) -> pa.Table:
        count = len(self.data["_cxops_row"])
        arrays = {c.name: pa.array(self.data[c.name], type=_ARROW[c.type]) for c in self.columns}
        arrays["_cxops_row"] = pa.array(self.data["_cxops_row"], type=pa.int64())
        arrays["_cxops_fp"] = fingerprints(pa.table(arrays), [c.name for c in self.columns])
        arrays["_cxops_deleted"] = pa.array([False] * count, type=pa.bool_())
        arrays["_cxops_synced_at"] = pa.array(
            [self.context.synced_at] * count, type=_ARROW["timestamp"]
        )
        return pa.table(arrays, schema=schema(self.table, personal_data=self.context.personal_data))


def fingerprints(values: pa.Table, names: list[str]) -> pa.Array:
    """A 63-bit fingerprint of each row's `names` columns (DuckDB's hash)."""
    if values.num_rows == 0:
        return pa.array([], type=pa.int64())
    listed = ", ".join(f'"{name}"' for name in names)
    with duckdb.connect() as con:
        con.register("rows_in", values)
        result = con.sql(f"SELECT (hash({listed}) >> 1)::BIGINT FROM rows_in").to_arrow_table()
    return result.column(0).combine_chunks()


# -- the sources ------------------------------------------------------------------


def _ranged(conn: Connection, table: Any, ranges: list[tuple[int, int]]) -> Iterator[Any]:
    for low, high in ranges:
        query = select(table).where(table.c.id >= low, table.c.id < high).order_by(table.c.id)
        yield from conn.execution_options(yield_per=CHUNK).execute(query)


def _chunked(
    rows: Iterator[Any], tables: tuple[Table, ...], context: Context, add: Callable[..., None]
) -> Iterator[dict[str, pa.Table]]:
    builders = {t.name: Builder(t, context) for t in tables}
    count = 0
    for row in rows:
        add(builders, row)
        count += 1
        if count % CHUNK == 0:
            yield {name: b.arrow() for name, b in builders.items()}
            builders = {t.name: Builder(t, context) for t in tables}
    if count % CHUNK:
        yield {name: b.arrow() for name, b in builders.items()}


def read_sends(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    def add(builders: dict[str, Builder], row: Any) -> None:
        values = dict(row._mapping)
        contact = values.get("contact") or {}
        values["name"] = contact.get("name") if isinstance(contact, dict) else None
        builders["invitations"].add(row.id, values)

    return _chunked(_ranged(conn, Send.__table__, ranges), (INVITATIONS,), context, add)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_responses(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    def add(builders: dict[str, Builder], row: Any) -> None:
        values = dict(row._mapping)
        answers = values["answers"] or {}
        main = context.main_question(row.survey_id)
        values["response_id"] = row.id
        values["score"] = _number(answers.get(main)) if main else None
        values["confirmed"] = row.confirmed_at is not None
        builders["responses"].add(row.id, values)
        for question_id, value in sorted(answers.items()):
            builders["answers"].add(
                row.id,
                {
                    "response_id": row.id,
                    "question_id": question_id,
                    "survey_id": row.survey_id,
                    "contact_key": row.contact_key,
                    "question_type": context.question_type(row.survey_id, question_id),
                    "value_number": _number(value),
                    "value_text": value if isinstance(value, str) else None,
                    "value_json": json.dumps(value, sort_keys=True, ensure_ascii=False),
                },
            )

    return _chunked(_ranged(conn, Response.__table__, ranges), (RESPONSES, ANSWERS), context, add)


def _event_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def read_tasks(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    def add(builders: dict[str, Builder], row: Any) -> None:
        values = dict(row._mapping)
        values["task_id"] = row.id
        builders["tasks"].add(row.id, values)
        for seq, event in enumerate(row.events or [], start=1):
            builders["task_events"].add(
                row.id,
                {
                    "task_id": row.id,
                    "seq": seq,
                    "kind": event.get("kind"),
                    "at": _event_time(event.get("at")),
                    "outcome": event.get("outcome"),
                    "from_assignee": event.get("from"),
                    "to_assignee": event.get("to"),
                    "until": event.get("until"),
                    "text": event.get("text"),
                },
            )

    return _chunked(_ranged(conn, Task.__table__, ranges), (TASKS, TASK_EVENTS), context, add)


def suppression_id(email: str, key: bytes) -> str:
    """The warehouse's key of a suppressed address (keyed: no dictionary reverses it)."""
    return hmac.new(key, b"cxops-sync:" + email.encode(), hashlib.sha256).hexdigest()[:32]


def read_suppressions(
    conn: Connection, _ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    sends = Send.__table__
    suppressions = Suppression.__table__
    latest = (
        select(sends.c.email, sends.c.contact_key, sends.c.id)
        .where(sends.c.email.in_(select(suppressions.c.email)))
        .order_by(sends.c.id)
    )
    keys = {email: contact_key for email, contact_key, _ in conn.execute(latest)}
    key = context.key()

    def add(builders: dict[str, Builder], row: Any) -> None:
        values = dict(row._mapping)
        values["suppression_id"] = suppression_id(row.email, key)
        values["contact_key"] = keys.get(row.email)
        builders["suppressions"].add(0, values)

    rows = conn.execute(select(suppressions).order_by(suppressions.c.email))
    return _chunked(iter(rows), (SUPPRESSIONS,), context, add)


# -- the survey files -------------------------------------------------------------


def survey_version(survey: Survey) -> str:
    """A digest of the survey's kind and questions (what answers are read against)."""
    document = {
        "kind": survey.kind,
        "questions": [q.model_dump(mode="json") for q in survey.questions],
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _commit(path: Path | None, project_dir: Path) -> str | None:
    """The last commit of `path` when the file is as committed, else None."""
    if path is None:
        return None
    try:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", str(path)],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", str(path)],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git repository, or git missing: no commit to name
    return commit if commit and not dirty else None


def survey_rows(context: Context) -> pa.Table:
    builder = Builder(SURVEYS, context)
    for survey_id, survey in sorted(context.surveys.items()):
        questions = [q.model_dump(mode="json", exclude_none=True) for q in survey.questions]
        builder.add(
            0,
            {
                "survey_id": survey_id,
                "version": survey_version(survey),
                "kind": survey.kind,
                "name": survey.name,
                "questions": json.dumps(questions, sort_keys=True, ensure_ascii=False),
                "commit": _commit(survey.source_path, context.project_dir),
            },
        )
    return builder.arrow()


def survey_checksum(context: Context) -> dict[str, str]:
    versions = sorted(f"{sid}:{survey_version(s)}" for sid, s in context.surveys.items())
    return {"0": hashlib.sha256("\n".join(versions).encode()).hexdigest()} if versions else {}


READERS: dict[str, Callable[..., Iterator[dict[str, pa.Table]]]] = {
    "sends": read_sends,
    "responses": read_responses,
    "tasks": read_tasks,
    "suppressions": read_suppressions,
}
#: The warehouse tables each source gives.
SOURCE_TABLES: dict[str, tuple[Table, ...]] = {
    "sends": (INVITATIONS,),
    "responses": (RESPONSES, ANSWERS),
    "tasks": (TASKS, TASK_EVENTS),
    "suppressions": (SUPPRESSIONS,),
    "surveys": (SURVEYS,),
}
