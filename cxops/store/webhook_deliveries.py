"""The outbound webhooks' outbox: endpoints with their scan cursors, and deliveries.

A delivery is one event for one endpoint, unique per (endpoint, event_key), so a scan
that looks at the same fact twice queues it once. Claiming a due delivery moves its
`next_attempt_at` forward by a lease instead of changing its status: a run that dies
leaves it due again when the lease ends (at least once), and two runs never hold the
same delivery at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cxops.store.models import WebhookDelivery, WebhookEndpointState
from cxops.store.sql import session_insert

#: Every status a delivery may have, in the order `cxops webhooks status` lists them.
STATUSES = ("pending", "delivered", "dead", "erased")
ERASED_EVENT = "person.erased"


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One event about to be queued for one endpoint."""

    endpoint: str
    event_key: str
    type: str
    contact_key: str | None
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for one attempt."""

    id: int
    delivery_id: str
    type: str
    payload: dict[str, Any]
    attempts: int


def delivery_id(endpoint: str, event_key: str) -> str:
    """The `webhook-id` of an event for an endpoint: the same whenever it is computed."""
    digest = hashlib.sha256(f"{endpoint}\n{event_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def ensure_endpoints(session: Session, names: Iterable[str], now: datetime) -> None:
    """Remember endpoints configured for the first time: their events start `now`."""
    for name in names:
        session.execute(
            session_insert(session, WebhookEndpointState)
            .values(name=name, created_at=now, scanned_until=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )


def endpoint_states(session: Session) -> dict[str, WebhookEndpointState]:
    return {state.name: state for state in session.scalars(select(WebhookEndpointState))}


def advance_cursor(session: Session, name: str, until: datetime) -> None:
    session.execute(
        update(WebhookEndpointState)
        .where(WebhookEndpointState.name == name, WebhookEndpointState.scanned_until < until)
        .values(scanned_until=until)
    )


def set_endpoint_error(session: Session, name: str, error: str | None) -> None:
    session.execute(
        update(WebhookEndpointState).where(WebhookEndpointState.name == name).values(error=error)
    )


def disable_endpoint(session: Session, name: str, now: datetime, reason: str) -> None:
    """Stop delivering to `name` (a 410 Gone) until `cxops webhooks retry` enables it."""
    session.execute(
        update(WebhookEndpointState)
        .where(WebhookEndpointState.name == name)
        .values(disabled_at=now, disabled_reason=reason)
    )


def enqueue(session: Session, events: Sequence[QueuedEvent]) -> int:
    """Queue each event for its endpoint, due at once; rows already queued stay as they
    are. How many were new."""
    added = 0
    for event in events:
        inserted = session.execute(
            session_insert(session, WebhookDelivery)
            .values(
                delivery_id=delivery_id(event.endpoint, event.event_key),
                endpoint=event.endpoint,
                event_key=event.event_key,
                type=event.type,
                contact_key=event.contact_key,
                payload=event.payload,
                status="pending",
                attempts=0,
                next_attempt_at=event.occurred_at,
                created_at=event.occurred_at,
            )
            .on_conflict_do_nothing(index_elements=["endpoint", "event_key"])
            .returning(WebhookDelivery.id)
        )
        added += inserted.first() is not None
    return added


def claim_due(
    session: Session, endpoint: str, now: datetime, *, limit: int, lease: timedelta
) -> list[Claimed]:
    """Up to `limit` pending deliveries of `endpoint` due at `now`, oldest first, each
    made due again only after `lease` (the claim)."""
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint == endpoint,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row in session.scalars(query):
        row.next_attempt_at = now + lease
        claimed.append(Claimed(row.id, row.delivery_id, row.type, row.payload or {}, row.attempts))
    return claimed


def release(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Claimed deliveries not tried after all: due again at once, attempts unchanged."""
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(list(ids)), WebhookDelivery.status == "pending")
            .values(next_attempt_at=now)
        )


def record_delivered(session: Session, id_: int, now: datetime, type_: str) -> None:
    """Delivered; a `person.erased` event keeps no payload once delivered (it holds the
    erased person's contact keys)."""
    values: dict[str, Any] = {
        "status": "delivered",
        "attempts": WebhookDelivery.attempts + 1,
        "delivered_at": now,
        "last_error": None,
    }
    if type_ == ERASED_EVENT:
        values["payload"] = None
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == id_, WebhookDelivery.status == "pending")
        .values(**values)
    )


def record_failed(session: Session, id_: int, error: str, next_attempt: datetime | None) -> None:
    """One failed attempt: due again at `next_attempt`, or dead (None)."""
    values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1, "last_error": error}
    if next_attempt is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = next_attempt
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == id_, WebhookDelivery.status == "pending")
        .values(**values)
    )


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Endpoint -> status -> deliveries, plus `failing` (pending with a failed attempt)."""
    found: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(
            WebhookDelivery.endpoint, WebhookDelivery.status, WebhookDelivery.attempts, func.count()
        ).group_by(WebhookDelivery.endpoint, WebhookDelivery.status, WebhookDelivery.attempts)
    )
    for endpoint, status, attempts, count in rows:
        figures = found.setdefault(endpoint, {name: 0 for name in (*STATUSES, "failing")})
        figures[status] += count
        if status == "pending" and attempts:
            figures["failing"] += count
    return found


def last_errors(session: Session) -> dict[str, str]:
    """Endpoint -> the error of its latest queued delivery still failing or dead."""
    found: dict[str, str] = {}
    rows = session.execute(
        select(WebhookDelivery.endpoint, WebhookDelivery.last_error, WebhookDelivery.id)
        .where(
            WebhookDelivery.last_error.is_not(None),
            WebhookDelivery.status.in_(("pending", "dead")),
        )
        .order_by(WebhookDelivery.id)
    )
    for endpoint, error, _ in rows:
        found[endpoint] = str(error)
    return found


def dead_letters(session: Session, endpoint: str | None = None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.status == "dead")
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint == endpoint)
    return list(session.scalars(query.order_by(WebhookDelivery.id)))


def retry_dead(session: Session, endpoint: str | None, now: datetime) -> int:
    """Dead letters (of `endpoint`, or all) back to pending, due now, attempts from 0;
    their endpoints enabled again. How many."""
    query = update(WebhookDelivery).where(WebhookDelivery.status == "dead")
    enable = update(WebhookEndpointState)
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint == endpoint)
        enable = enable.where(WebhookEndpointState.name == endpoint)
    session.execute(enable.values(disabled_at=None, disabled_reason=None))
    result = session.execute(query.values(status="pending", attempts=0, next_attempt_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def erase_deliveries(session: Session, contact_keys: Sequence[str], pseudonym: str) -> int:
    """A person's deliveries lose their payload and contact key (the pseudonym instead);
    those not delivered yet never go out (`erased`). Rows changed."""
    if not contact_keys:
        return 0
    about = WebhookDelivery.contact_key.in_(list(contact_keys))
    undelivered = session.execute(
        update(WebhookDelivery)
        .where(about, WebhookDelivery.status.in_(("pending", "dead")))
        .values(status="erased", payload=None, last_error=None, contact_key=pseudonym)
    )
    delivered = session.execute(
        update(WebhookDelivery).where(about).values(payload=None, contact_key=pseudonym)
    )
    return int(getattr(undelivered, "rowcount", 0) or 0) + int(
        getattr(delivered, "rowcount", 0) or 0
    )


def delivered_about(session: Session, contact_keys: Sequence[str]) -> list[dict[str, Any]]:
    """Per endpoint, the events about these contact keys it received: type -> count, and
    the first and last delivery."""
    if not contact_keys:
        return []
    rows = session.execute(
        select(
            WebhookDelivery.endpoint,
            WebhookDelivery.type,
            func.count(),
            func.min(WebhookDelivery.delivered_at),
            func.max(WebhookDelivery.delivered_at),
        )
        .where(
            WebhookDelivery.contact_key.in_(list(contact_keys)),
            WebhookDelivery.status == "delivered",
        )
        .group_by(WebhookDelivery.endpoint, WebhookDelivery.type)
        .order_by(WebhookDelivery.endpoint, WebhookDelivery.type)
    )
    found: dict[str, dict[str, Any]] = {}
    for endpoint, type_, count, first, last in rows:
        entry = found.setdefault(
            endpoint, {"endpoint": endpoint, "events": {}, "first": first, "last": last}
        )
        entry["events"][type_] = int(count)
        entry["first"] = min(entry["first"], first)
        entry["last"] = max(entry["last"], last)
    return [
        {**entry, "first": entry["first"].isoformat(), "last": entry["last"].isoformat()}
        for entry in found.values()
    ]
