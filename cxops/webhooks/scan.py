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

import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxops.chunks import chunks
from cxops.settings.groups import WebhookEndpoint
from cxops.store.erasures import PSEUDONYM_PREFIX
from cxops.store.models import Response, Send, Suppression, Task, WebhookDelivery
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
    key: bytes,
) -> list[QueuedEvent]:
    """The events `endpoint` subscribes to that happened in (since − LOOKBACK, until]
    and after `first` (when it was configured). `key` (the project's signing key) makes
    an unsubscribe's event key from the address without keeping the address."""
    start = max(first, since - LOOKBACK)
    found: list[QueuedEvent] = []
    facts = _facts(session, endpoint, start, until, personal, key)
    for type_, key_, contact_key, at, data in facts:
        if at > first:
            found.append(
                QueuedEvent(endpoint.name, key_, type_, contact_key, body(type_, at, data), at)
            )
    return found


_Fact = tuple[str, str, str | None, datetime, dict[str, object]]


def _facts(
    session: Session,
    endpoint: WebhookEndpoint,
    start: datetime,
    until: datetime,
    personal: bool,
    key: bytes,
) -> Iterator[_Fact]:
    types = endpoint.events
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
                at, event_key = (
                    task.closed_at,
                    f"task.closed:{task.id}:{int(task.closed_at.timestamp())}",
                )
            else:
                at, event_key = task.created_at, f"task.created:{task.id}"
            yield type_, event_key, task.contact_key, at, task_data(task, personal=personal)
    if "person.unsubscribed" in types:
        yield from _unsubscribes(session, endpoint.name, start, until, personal, key)


def _unsubscribes(
    session: Session, endpoint: str, start: datetime, until: datetime, personal: bool, key: bytes
) -> Iterator[_Fact]:
    """Unsubscribes not queued yet for `endpoint`, with the contact keys of their address:
    one read of the ledger by address per chunk of new ones (`sends.email` has no index:
    one more would cost every wave's inserts)."""
    suppressions = session.scalars(
        select(Suppression)
        .where(
            Suppression.reason == "unsubscribed",
            Suppression.created_at > start,
            Suppression.created_at <= until,
        )
        .order_by(Suppression.created_at)
    ).all()
    event_keys = {s.email: _unsubscribe_key(s.email, s.created_at, key) for s in suppressions}
    queued: set[str] = set()
    for chunk in chunks(list(event_keys.values()), 500):
        queued |= set(
            session.scalars(
                select(WebhookDelivery.event_key).where(
                    WebhookDelivery.endpoint == endpoint, WebhookDelivery.event_key.in_(chunk)
                )
            )
        )
    new = [s for s in suppressions if event_keys[s.email] not in queued]
    keys_of: dict[str, list[str]] = {}
    for chunk in chunks([s.email for s in new], 500):
        rows = session.execute(
            select(Send.email, Send.contact_key)
            .where(Send.email.in_(chunk))
            .order_by(Send.id.desc())
        )
        for email, contact_key in rows:
            found = keys_of.setdefault(email, [])
            if contact_key not in found:
                found.append(contact_key)
    for suppression in new:
        contact_keys = keys_of.get(suppression.email)
        if not contact_keys:  # never invited: no key to tell a receiver about
            continue
        at = suppression.created_at
        data = person_data(
            contact_keys, "unsubscribed_at", at, email=suppression.email if personal else None
        )
        yield "person.unsubscribed", event_keys[suppression.email], contact_keys[0], at, data


def _unsubscribe_key(email: str, at: datetime, key: bytes) -> str:
    """The event key of an unsubscribe: a keyed hash of the address (the store keeps no
    address in the outbox) and the moment."""
    digest = hmac.new(key, b"cxops-webhook-unsubscribe:" + email.encode(), hashlib.sha256)
    return f"person.unsubscribed:{digest.hexdigest()[:32]}:{int(at.timestamp())}"
