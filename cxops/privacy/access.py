"""`cxops export person EMAIL`: everything stored about a person, as plain JSON data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, func, inspect, or_, select
from sqlalchemy.orm import Session

from cxops.chunks import chunks
from cxops.privacy.files import messages_about
from cxops.privacy.subject import Subject, mentions
from cxops.store.db import Store
from cxops.store.models import (
    Erasure,
    InboundEvent,
    Interview,
    Notification,
    Response,
    Send,
    Suppression,
    Task,
    TriggerDedupe,
    TriggerProcessed,
    WebhookEvent,
    WebhookReject,
)
from cxops.webhooks.privacy import endpoints_sent


def person_record(store: Store, subject: Subject, *, folders: list[Path]) -> dict[str, Any]:
    """Every row and outbox message about `subject`, grouped by where it is kept."""
    with store.session() as session:
        sends = list(session.scalars(select(Send).where(Send.email == subject.email)))
        send_ids = [send.send_id for send in sends]
        keys = {(send.survey_id, send.contact_key) for send in sends}
        sent = send_ids or [""]  # an empty IN () is not valid everywhere
        record: dict[str, Any] = {
            "email": subject.email,
            "sends": [_row(send) for send in sends],
            "responses": [_row(r) for r in _in(session, Response, Response.send_id, send_ids)],
            "tasks": _tasks(session, keys, subject.email),
            "suppressions": _rows(session, Suppression, Suppression.email == subject.email),
            "webhook_events": _rows(
                session,
                WebhookEvent,
                or_(WebhookEvent.email == subject.email, WebhookEvent.send_id.in_(sent)),
            ),
            "notifications": _rows(
                session,
                Notification,
                or_(
                    Notification.recipient == subject.email,
                    Notification.key.contains(subject.email),
                ),
            ),
            "interviews": _rows(
                session,
                Interview,
                or_(Interview.email == subject.email, Interview.send_id.in_(sent)),
            ),
            "webhook_rejects": _rows(
                session,
                WebhookReject,
                func.lower(cast(WebhookReject.item, Text)).contains(subject.email, autoescape=True),
            ),
            "inbound_events": _inbound_events(session, subject.email),
            "erasures": _rows(session, Erasure, Erasure.subject == subject.digest),
            # Webhook endpoints that received events about them (by their contact keys).
            "webhook_endpoints": endpoints_sent(
                session, list(dict.fromkeys(send.contact_key for send in sends))
            ),
        }
    erasures = record["erasures"]
    record["erased"] = bool(erasures)
    if erasures:
        first = min(erasure["erased_at"] for erasure in erasures)
        record["contact"] = f"erased on request on {first[:10]}: never contacted again"
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


def _inbound_events(session: Session, email: str) -> list[dict[str, Any]]:
    """The events posted to `/api/v1/events` that mention them, each with what the
    triggered surveys made of it (`outcomes`: survey, outcome, when; `dedupe`: the
    values that stand for it, one invitation each)."""
    events = []
    for event in session.scalars(
        select(InboundEvent).where(mentions(InboundEvent.data, email)).order_by(InboundEvent.id)
    ):
        row = _row(event)
        row["outcomes"] = _rows(session, TriggerProcessed, TriggerProcessed.event_id == event.id)
        row["dedupe"] = _rows(session, TriggerDedupe, TriggerDedupe.event_id == event.event_id)
        events.append(row)
    return events


def _in(session: Session, model: type[Any], column: Any, values: list[str]) -> list[Any]:
    return [
        row
        for chunk in chunks(values, 500)
        for row in session.scalars(select(model).where(column.in_(chunk)))
    ]


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


def _rows(session: Session, model: type[Any], condition: Any) -> list[dict[str, Any]]:
    return [_row(row) for row in session.scalars(select(model).where(condition))]


def _row(instance: Any) -> dict[str, Any]:
    """A mapped row as JSON-ready data: every column, datetimes as ISO text."""
    values: dict[str, Any] = {}
    for column in inspect(type(instance)).columns:
        value = getattr(instance, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values
