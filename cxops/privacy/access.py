"""`cxops export person EMAIL`: everything stored about a person, as plain JSON data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from cxops.privacy.files import messages_about
from cxops.privacy.subject import Subject
from cxops.store.db import Store
from cxops.store.models import (
    Erasure,
    Interview,
    Notification,
    Response,
    Send,
    Suppression,
    Task,
    WebhookEvent,
)


def person_record(store: Store, subject: Subject, *, folders: list[Path]) -> dict[str, Any]:
    """Every row and outbox message about `subject`, grouped by where it is kept."""
    with store.session() as session:
        sends = list(session.scalars(select(Send).where(Send.email == subject.email)))
        send_ids = [send.send_id for send in sends]
        keys = {(send.survey_id, send.contact_key) for send in sends}
        record: dict[str, Any] = {
            "email": subject.email,
            "sends": [_row(send) for send in sends],
            "responses": [_row(r) for r in _in(session, Response, Response.send_id, send_ids)],
            "tasks": _tasks(session, keys, subject.email),
            "suppressions": [
                _row(s)
                for s in session.scalars(
                    select(Suppression).where(Suppression.email == subject.email)
                )
            ],
            "webhook_events": [
                _row(e)
                for e in session.scalars(
                    select(WebhookEvent).where(
                        or_(
                            WebhookEvent.email == subject.email,
                            WebhookEvent.send_id.in_(send_ids or [""]),
                        )
                    )
                )
            ],
            "notifications": [
                _row(n)
                for n in session.scalars(
                    select(Notification).where(
                        or_(
                            Notification.recipient == subject.email,
                            Notification.key.contains(subject.email),
                        )
                    )
                )
            ],
            "interviews": [
                _row(i)
                for i in session.scalars(
                    select(Interview).where(
                        or_(
                            Interview.email == subject.email,
                            Interview.send_id.in_(send_ids or [""]),
                        )
                    )
                )
            ],
            "erasures": [
                _row(e)
                for e in session.scalars(select(Erasure).where(Erasure.subject == subject.digest))
            ],
        }
    record["outbox_messages"] = [
        {
            "file": str(path),
            "to": message.get("To"),
            "subject": message.get("Subject"),
            "date": message.get("Date"),
        }
        for path, message in messages_about(folders, subject.email)
    ]
    return record


def _in(session: Session, model: type[Any], column: Any, values: list[str]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        found.extend(session.scalars(select(model).where(column.in_(chunk))))
    return found


def _tasks(session: Session, keys: set[tuple[str, str]], email: str) -> list[dict[str, Any]]:
    found: dict[int, Task] = {}
    for survey_id, contact_key in sorted(keys):
        for task in session.scalars(
            select(Task).where(Task.survey_id == survey_id, Task.contact_key == contact_key)
        ):
            found[task.id] = task
    for task in session.scalars(select(Task).where(Task.assignee == email)):
        found[task.id] = task
    return [_row(task) for _, task in sorted(found.items())]


def _row(instance: Any) -> dict[str, Any]:
    """A mapped row as JSON-ready data: every column, datetimes as ISO text."""
    values: dict[str, Any] = {}
    for column in inspect(type(instance)).columns:
        value = getattr(instance, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values
