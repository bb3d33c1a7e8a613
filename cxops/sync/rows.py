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
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from cxops.sync import cursor
from cxops.sync.state import survey_version
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
    """Rows of one warehouse table, collected row by row (the small sources)."""

    def __init__(self, table: Table, context: Context):
        self.table = table
        self.context = context
        self.columns = _value_columns(table, context.personal_data)
        self.data: dict[str, list[Any]] = {c.name: [] for c in self.columns}
        self.rows: list[int] = []

    def add(self, row: int, values: Mapping[str, Any]) -> None:
        for column in self.columns:
            self.data[column.name].append(values.get(column.name))
        self.rows.append(row)

    def arrow(self) -> pa.Table:
        return assemble(self.table, self.data, self.rows, self.context)


def assemble(
    table: Table,
    values: Mapping[str, pa.Array | Sequence[Any]],
    rows: pa.Array | Sequence[int],
    context: Context,
) -> pa.Table:
    """`table`'s rows from its columns' values (Arrow arrays, or lists to convert), the
    store rows they come from, and the bookkeeping columns (fingerprint, sync time)."""
    columns = _value_columns(table, context.personal_data)
    arrays: dict[str, pa.Array] = {}
    for column in columns:
        given = values[column.name]
        arrays[column.name] = (
            given if isinstance(given, pa.Array) else pa.array(given, type=_ARROW[column.type])
        )
    count = len(rows)
    arrays["_cxops_row"] = rows if isinstance(rows, pa.Array) else pa.array(rows, pa.int64())
    arrays["_cxops_fp"] = fingerprints(pa.table(arrays), [c.name for c in columns])
    arrays["_cxops_deleted"] = pa.repeat(pa.scalar(False), count)
    arrays["_cxops_synced_at"] = pa.repeat(
        pa.scalar(context.synced_at, type=_ARROW["timestamp"]), count
    )
    return pa.table(arrays, schema=schema(table, personal_data=context.personal_data))


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


def _columns(
    conn: Connection, table: Any, names: tuple[str, ...], ranges: list[tuple[int, int]]
) -> Iterator[dict[str, Any]]:
    """Chunks of `table`'s rows in `ranges`: each column as an Arrow array, and JSON
    columns as their raw text (to be parsed by the reader that needs them)."""
    dialect = conn.dialect.name
    kinds = {name: cursor.kind_of(table.c[name]) for name in names}
    for low, high in ranges:
        sql = cursor.ranged_sql(conn, table, names, low, high)
        for rows in cursor.fetch(conn, sql, CHUNK):
            chunk: dict[str, Any] = {}
            for name, values in zip(names, zip(*rows, strict=True), strict=True):
                kind = kinds[name]
                chunk[name] = values if kind == "json" else cursor.arrow(values, kind, dialect)
            yield chunk


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _parsed(texts: Sequence[str | None]) -> list[Any]:
    """Each JSON text parsed (None for NULL): the whole column in one parse when every
    text is one JSON value, as the store writes them (a parse per text costs 3 × more)."""
    try:
        values = json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(texts):
        return [_loads(text) for text in texts]
    return values


_SEND_COLUMNS = (
    "send_id", "survey_id", "wave_id", "step", "contact_key", "segment", "locale", "status",
    "channel", "created_at", "sent_at", "delivered_at", "opened_at", "clicked_at", "email",
)  # fmt: skip


def read_sends(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    personal = ("email", "contact") if context.personal_data else ()
    names = ("id", *(n for n in _SEND_COLUMNS if n != "email"), *personal)
    for chunk in _columns(conn, Send.__table__, names, ranges):
        values: dict[str, Any] = {n: chunk[n] for n in names if n in _SEND_COLUMNS}
        if context.personal_data:
            contacts = _parsed(chunk["contact"])
            values["name"] = [c.get("name") if isinstance(c, dict) else None for c in contacts]
        yield {"invitations": assemble(INVITATIONS, values, chunk["id"], context)}


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _value_json(value: Any) -> str:
    if type(value) is int:  # most answers: a score, written as json.dumps writes it
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_RESPONSE_COLUMNS = (
    "id", "send_id", "survey_id", "wave_id", "contact_key", "segment", "locale", "status",
    "suspect", "first_answered_at", "submitted_at", "updated_at", "revision", "confirmed_at",
    "answers",
)  # fmt: skip


def read_responses(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    main_questions: dict[str, str | None] = {}
    types: dict[tuple[str, str], str | None] = {}
    for chunk in _columns(conn, Response.__table__, _RESPONSE_COLUMNS, ranges):
        ids: list[int] = chunk["id"].to_pylist()
        surveys: list[str] = chunk["survey_id"].to_pylist()
        keys: list[str] = chunk["contact_key"].to_pylist()
        scores: list[float | None] = []
        answers: list[tuple[Any, ...]] = []
        for response_id, survey_id, contact_key, given in zip(
            ids, surveys, keys, _parsed(chunk["answers"]), strict=True
        ):
            if survey_id not in main_questions:
                main_questions[survey_id] = context.main_question(survey_id)
            main = main_questions[survey_id]
            if not given:
                scores.append(None)
                continue
            scores.append(_number(given.get(main)) if main else None)
            for question_id in sorted(given):
                value = given[question_id]
                known = types.get((survey_id, question_id), "")
                if known == "":
                    known = types[(survey_id, question_id)] = context.question_type(
                        survey_id, question_id
                    )
                text = value if isinstance(value, str) else None
                answers.append(
                    (response_id, question_id, survey_id, contact_key, known, _number(value),
                     text, _value_json(value))
                )  # fmt: skip
        names = [c.name for c in ANSWERS.columns]
        listed = list(zip(*answers, strict=True)) or [()] * len(names)
        values: dict[str, Any] = {n: chunk[n] for n in _RESPONSE_COLUMNS if n != "answers"}
        values["response_id"] = chunk["id"]
        values["score"] = scores
        values["confirmed"] = chunk["confirmed_at"].is_valid()
        yield {
            "responses": assemble(RESPONSES, values, chunk["id"], context),
            "answers": assemble(ANSWERS, dict(zip(names, listed, strict=True)), listed[0], context),
        }


def _event_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_TASK_COLUMNS = (
    "id", "response_id", "survey_id", "wave_id", "contact_key", "segment", "rule_id",
    "rule_version", "assignee", "priority", "status", "outcome", "created_at", "due_at",
    "first_action_at", "closed_at", "snoozed_until", "escalation_step", "events",
)  # fmt: skip


def read_tasks(
    conn: Connection, ranges: list[tuple[int, int]], context: Context
) -> Iterator[dict[str, pa.Table]]:
    personal = ("title", "note") if context.personal_data else ()
    names = (*_TASK_COLUMNS, *personal)
    for chunk in _columns(conn, Task.__table__, names, ranges):
        values: dict[str, Any] = {n: chunk[n] for n in names if n != "events"}
        values["task_id"] = chunk["id"]
        events = Builder(TASK_EVENTS, context)
        for task_id, listed in zip(chunk["id"].to_pylist(), _parsed(chunk["events"]), strict=True):
            for seq, event in enumerate(listed or [], start=1):
                events.add(
                    task_id,
                    {
                        "task_id": task_id,
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
        yield {
            "tasks": assemble(TASKS, values, chunk["id"], context),
            "task_events": events.arrow(),
        }


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
    builder = Builder(SUPPRESSIONS, context)
    for row in conn.execute(select(suppressions).order_by(suppressions.c.email)):
        values = dict(row._mapping)
        values["suppression_id"] = suppression_id(row.email, key)
        values["contact_key"] = keys.get(row.email)
        builder.add(0, values)
    if builder.rows:
        yield {"suppressions": builder.arrow()}


# -- the survey files -------------------------------------------------------------


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
