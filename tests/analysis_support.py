"""Seeding a real store with waves, invitations, answers and tasks for the report tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from cxops.store.db import open_store
from cxops.store.models import Response, Send, Task, Wave

T0 = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)

#: A one-question CSAT survey over `data/accounts.csv` (the report tests vary its id and
#: schedule).
CSAT_SURVEY = """\
id: csat-test
name: Support CSAT
kind: csat
audience:
  source: {csv: data/accounts.csv, key: id}
questions:
  - {id: score, type: csat, text: "How satisfied were you?"}
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
"""


@dataclass
class Row:
    """One invitation and (unless `answers` is None) its response."""

    wave: str
    segment: str
    key: str
    answers: dict[str, Any] | None
    status: str = "complete"
    suspect_reason: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    #: (status, outcome) of a follow-up task about this answer.
    task: tuple[str, str | None] | None = None
    locale: str = "en"
    #: The invitation variant of the ledger row (None: no experiment).
    variant: str | None = None


def seed(
    url: str,
    survey_id: str,
    waves: Sequence[str],
    rows: Sequence[Row],
    *,
    first_id: int = 1,
    spacing: timedelta = timedelta(days=90),
) -> None:
    """Insert `rows`; wave i starts (and is sent) at T0 + i × `spacing`."""
    store = open_store(url)
    try:
        with store.connect(write=True) as conn:
            known = {
                w for (w,) in conn.execute(select(Wave.wave_id).where(Wave.survey_id == survey_id))
            }
            new_waves = [w for w in waves if w not in known]
            if new_waves:
                conn.execute(
                    insert(Wave.__table__),
                    [
                        {
                            "survey_id": survey_id,
                            "wave_id": wave,
                            "started_at": T0 + spacing * i,
                            "status": "complete",
                            "summary": {},
                        }
                        for i, wave in enumerate(waves)
                        if wave in new_waves
                    ],
                )
            sends, responses, tasks = [], [], []
            for index, row in enumerate(rows, start=first_id):
                send_id = uuid.uuid4().hex
                moment = T0 + spacing * waves.index(row.wave) + timedelta(minutes=index)
                sends.append(
                    {
                        "send_id": send_id,
                        "survey_id": survey_id,
                        "wave_id": row.wave,
                        "step": 0,
                        "contact_key": row.key,
                        "email": f"{row.key}@example.com",
                        "segment": row.segment,
                        "locale": row.locale,
                        "contact": {"name": f"Person {row.key}", **row.contact},
                        "status": "sent",
                        "batch": 0,
                        "created_at": moment,
                        "sent_at": moment,
                        "variant": row.variant,
                    }
                )
                if row.answers is None:
                    continue
                responses.append(
                    {
                        "id": index,
                        "send_id": send_id,
                        "survey_id": survey_id,
                        "wave_id": row.wave,
                        "contact_key": row.key,
                        "segment": row.segment,
                        "locale": row.locale,
                        "status": row.status,
                        "answers": row.answers,
                        "suspect": row.suspect_reason is not None,
                        "suspect_reason": row.suspect_reason,
                        "first_answered_at": moment + timedelta(hours=1),
                        "submitted_at": moment + timedelta(hours=1),
                        "updated_at": moment + timedelta(hours=1),
                        "confirmed_at": moment + timedelta(hours=1),
                        "revision": 1,
                    }
                )
                if row.task is not None:
                    status, outcome = row.task
                    tasks.append(
                        {
                            "response_id": index,
                            "survey_id": survey_id,
                            "wave_id": row.wave,
                            "contact_key": row.key,
                            "segment": row.segment,
                            "rule_id": "rule_1",
                            "rule_version": "v1",
                            "title": f"Call {row.key}",
                            "assignee": "csm@example.com",
                            "priority": "high",
                            "status": status,
                            "outcome": outcome,
                            "context": {},
                            "created_at": moment + timedelta(hours=2),
                            "due_at": moment + timedelta(days=2),
                            "closed_at": moment + timedelta(days=1) if status == "done" else None,
                        }
                    )
            conn.execute(insert(Send.__table__), sends)
            if responses:
                conn.execute(insert(Response.__table__), responses)
            if tasks:
                conn.execute(insert(Task.__table__), tasks)
    finally:
        store.dispose()
