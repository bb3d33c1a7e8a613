"""What happened since an endpoint's cursor, read from the store's facts.

No hook runs in the collector or the follow-up code: the facts are already in the
store, each with its time — a response `complete` and confirmed (`updated_at`), a task
made (`created_at`) or closed (`closed_at`), an unsubscribe (`suppressions.created_at`).
A scan reads (cursor − LOOKBACK, now], so a transaction that committed a little after
the time it wrote is still seen; the outbox's unique (endpoint, event_key) keeps a fact
seen twice from being queued twice. Nothing before the endpoint was first configured
goes out, and no erased person (`erased:` contact keys) does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxops.settings.groups import WebhookEndpoint
from cxops.store.erasures import PSEUDONYM_PREFIX
from cxops.store.models import Response, Send, Suppression, Task
from cxops.store.webhook_deliveries import QueuedEvent
from cxops.webhooks.payloads import body, person_data, response_data, task_data

#: How far before its cursor a scan looks again (late commits).
LOOKBACK = timedelta(minutes=10)


def events_since(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    first: datetime,
    since: datetime,
    until: datetime,
    personal: bool,
) -> list[QueuedEvent]:
    """The events `endpoint` subscribes to that happened in (since − LOOKBACK, until]
    and after `first` (when it was configured)."""
    start = max(first, since - LOOKBACK)
    found: list[QueuedEvent] = []
    for type_, key, contact_key, at, data in _facts(
        session, endpoint.events, start, until, personal
    ):
        if at > first:
            found.append(
                QueuedEvent(endpoint.name, key, type_, contact_key, body(type_, at, data), at)
            )
    return found


_Fact = tuple[str, str, str | None, datetime, dict[str, object]]


def _facts(
    session: Session, types: tuple[str, ...], start: datetime, until: datetime, personal: bool
) -> Iterator[_Fact]:
    if "response.completed" in types:
        rows = session.execute(
            select(Response, Send.email, Send.contact)
            .join(Send, Send.send_id == Response.send_id)
            .where(
                Response.updated_at > start,
                Response.updated_at <= until,
                Response.status == "complete",
                Response.confirmed_at.is_not(None),
                Response.contact_key.not_like(f"{PSEUDONYM_PREFIX}%"),
            )
            .order_by(Response.updated_at, Response.id)
        )
        for response, email, contact in rows:
            at = response.submitted_at or response.updated_at
            data = response_data(response, email, contact or {}, personal=personal)
            yield (
                "response.completed",
                f"response.completed:{response.id}",
                response.contact_key,
                at,
                data,
            )
    for type_, column in (("task.created", Task.created_at), ("task.closed", Task.closed_at)):
        if type_ not in types:
            continue
        tasks = session.scalars(
            select(Task)
            .where(
                column > start,
                column <= until,
                Task.contact_key.not_like(f"{PSEUDONYM_PREFIX}%"),
            )
            .order_by(column, Task.id)
        )
        for task in tasks:
            if type_ == "task.closed":
                if task.closed_at is None or task.status == "open":
                    continue
                at, key = task.closed_at, f"task.closed:{task.id}:{int(task.closed_at.timestamp())}"
            else:
                at, key = task.created_at, f"task.created:{task.id}"
            yield type_, key, task.contact_key, at, task_data(task, personal=personal)
    if "person.unsubscribed" in types:
        yield from _unsubscribes(session, start, until, personal)


def _unsubscribes(
    session: Session, start: datetime, until: datetime, personal: bool
) -> Iterator[_Fact]:
    suppressions = session.scalars(
        select(Suppression)
        .where(
            Suppression.reason == "unsubscribed",
            Suppression.created_at > start,
            Suppression.created_at <= until,
        )
        .order_by(Suppression.created_at)
    )
    for suppression in suppressions:
        sends = session.execute(
            select(Send.id, Send.contact_key)
            .where(Send.email == suppression.email)
            .order_by(Send.id.desc())
        ).all()
        keys = list(dict.fromkeys(row.contact_key for row in sends))
        if not keys:  # never invited: no key to tell a receiver about
            continue
        at = suppression.created_at
        data = person_data(
            keys, "unsubscribed_at", at, email=suppression.email if personal else None
        )
        key = f"person.unsubscribed:{sends[0].id}:{int(at.timestamp())}"
        yield "person.unsubscribed", key, keys[0], at, data
