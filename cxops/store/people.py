"""Queries about one person across surveys (by email address) and about assignees.

Every function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxops.store.models import Response, Send, Task


def person_answers(session: Session, email: str) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """(survey, send id, answered at, answers) of every non-suspect answer given through a
    send to `email`, newest first."""
    rows = session.execute(
        select(
            Response.survey_id,
            Response.send_id,
            Response.submitted_at,
            Response.first_answered_at,
            Response.answers,
        )
        .join(Send, Send.send_id == Response.send_id)
        .where(func.lower(Send.email) == email.strip().lower(), Response.suspect.is_(False))
    ).all()
    found = [(s, send, sub or first, dict(a or {})) for s, send, sub, first, a in rows]
    return sorted(found, key=lambda row: row[2], reverse=True)


def person_tasks(session: Session, email: str) -> list[Task]:
    """Every task about answers given through a send to `email`, newest first."""
    query = (
        select(Task)
        .join(Response, Response.id == Task.response_id)
        .join(Send, Send.send_id == Response.send_id)
        .where(func.lower(Send.email) == email.strip().lower())
        .order_by(Task.created_at.desc(), Task.id.desc())
    )
    return list(session.scalars(query))


def assignees(session: Session) -> list[str]:
    """Everyone who has (or had) a task."""
    return sorted(session.scalars(select(Task.assignee).distinct()))
