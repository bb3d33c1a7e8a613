"""The sync's readers (the driver's cursor, columns converted by Arrow) give the values
the store's models give, on SQLite and on PostgreSQL, across chunks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from cxops.project import open_project
from cxops.store.db import Store
from cxops.store.models import Response, Send, Task
from cxops.store.task_events import record_event
from cxops.sync import cursor, rows
from cxops.sync.rows import Context, read_responses, read_sends, read_tasks
from cxops.testing.followup import SURVEY_ID, add_response, at, write_survey

WHEN = at("2026-11-23T08:00:00.123456+00:00")
LATER = at("2026-11-24T09:30:00+00:00")
EVERYTHING = [(0, 2**62)]


def _read(reader: Any, store: Store, context: Context) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[pa.Table]] = {}
    with store.connect() as conn:
        for chunk in reader(conn, EVERYTHING, context):
            for name, table in chunk.items():
                tables.setdefault(name, []).append(table)
    return {name: pa.concat_tables(parts).to_pylist() for name, parts in tables.items()}


def _context(project: Any, personal: bool) -> Context:
    settings = project.settings()
    with open_project(settings) as opened:
        surveys = opened.surveys.surveys(checks=False).surveys
    return Context(personal, surveys, LATER, settings.signing_key, project.root)


def _seed(store: Store) -> None:
    add_response(
        store,
        "c1",
        {"score": 3, "reason": "Zoë said “slow”\n", "tags": ["b", "a"], "extra": 2.5},
        when=WHEN,
        contact={"name": "Zoë Quist"},
    )
    add_response(store, "c2", {"score": 9}, when=WHEN, status="partial", suspect=True)
    add_response(store, "c3", {"score": True, "reason": None}, when=WHEN)
    with store.session(write=True) as session:
        send = session.scalars(select(Send).where(Send.contact_key == "c2")).one()
        send.delivered_at, send.status = LATER, "sent"
        response = session.scalars(select(Response).where(Response.contact_key == "c2")).one()
        response.confirmed_at = None
        task = Task(
            response_id=response.id,
            survey_id=SURVEY_ID,
            wave_id="2026-11",
            contact_key="c2",
            segment="smb",
            rule_id="detractor",
            rule_version="v1",
            title="Call Zoë",
            assignee="csm@acme.example",
            priority="high",
            status="closed",
            outcome="fixed",
            note="called",
            context={},
            created_at=WHEN,
            due_at=LATER,
            closed_at=LATER,
        )
        record_event(task, "closed", LATER, outcome="fixed", text="called back")
        session.add(task)


@pytest.mark.parametrize("personal", [False, True])
def test_readers_give_the_stores_values(project, store, monkeypatch, personal):
    write_survey(project.root)
    _seed(store)
    monkeypatch.setattr(rows, "CHUNK", 2)  # several chunks: the boundaries are crossed
    context = _context(project, personal)
    with store.session() as session:
        sends = session.scalars(select(Send).order_by(Send.id)).all()
        responses = session.scalars(select(Response).order_by(Response.id)).all()
        tasks = session.scalars(select(Task).order_by(Task.id)).all()

    invitations = _read(read_sends, store, context)["invitations"]
    assert [(r["send_id"], r["status"], r["sent_at"], r["delivered_at"]) for r in invitations] == [
        (s.send_id, s.status, s.sent_at, s.delivered_at) for s in sends
    ]
    assert invitations[0]["sent_at"] == WHEN  # microseconds and zone kept
    if personal:
        assert [(r["email"], r["name"]) for r in invitations] == [
            (s.email, s.contact["name"]) for s in sends
        ]
        assert invitations[0]["name"] == "Zoë Quist"
    else:
        assert "email" not in invitations[0] and "name" not in invitations[0]

    read = _read(read_responses, store, context)
    assert [
        (r["response_id"], r["score"], r["suspect"], r["confirmed"], r["submitted_at"])
        for r in read["responses"]
    ] == [
        (r.id, {"c1": 3.0, "c2": 9.0, "c3": None}[r.contact_key], r.suspect,
         r.confirmed_at is not None, r.submitted_at)
        for r in responses
    ]  # fmt: skip
    expected = [
        (
            r.id,
            question,
            type(value).__name__,
            json.dumps(value, sort_keys=True, ensure_ascii=False),
        )
        for r in responses
        for question, value in sorted(r.answers.items())
    ]
    assert [
        (a["response_id"], a["question_id"], a["question_type"], a["value_json"])
        for a in read["answers"]
    ] == [(rid, q, {"score": "nps", "reason": "text"}.get(q), js) for rid, q, _, js in expected]
    texts = {(a["question_id"], a["value_text"], a["value_number"]) for a in read["answers"]}
    assert ("reason", "Zoë said “slow”\n", None) in texts and ("extra", None, 2.5) in texts
    assert ("score", None, None) in texts  # a boolean is no number

    read = _read(read_tasks, store, context)
    assert [(t["task_id"], t["status"], t["closed_at"]) for t in read["tasks"]] == [
        (t.id, t.status, t.closed_at) for t in tasks
    ]
    events = read["task_events"]
    assert [(e["seq"], e["kind"], e["outcome"]) for e in events] == [
        (seq, e.get("kind"), e.get("outcome")) for seq, e in enumerate(tasks[0].events, start=1)
    ]
    assert (events[-1]["kind"], events[-1]["at"]) == ("closed", LATER)
    assert ("text" in events[-1]) is personal and ("title" in read["tasks"][0]) is personal


def test_sqlite_times_in_another_shape_are_read_too():
    times = cursor.arrow(["2026-11-23 09:00:00+01:00", None, "2026-11-23"], "time", "sqlite")
    assert times.to_pylist() == [
        datetime(2026, 11, 23, 8, tzinfo=UTC),
        None,
        datetime(2026, 11, 23, tzinfo=UTC),
    ]
