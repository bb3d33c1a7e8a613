"""Email provider events (SendGrid's Event Webhook) applied to the store, each at most once.

Every event id is claimed in `webhook_events` with an insert that does nothing on
conflict, in the same transaction as its effect: a redelivered batch, or two
deliveries racing, apply each event once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from cxops.store.db import Store
from cxops.store.models import Send, WebhookEvent
from cxops.store.suppressions import suppress

#: Events that put the address on the suppression list, and under which reason.
SUPPRESSING: dict[str, str] = {
    "bounce": "bounced",
    "dropped": "bounced",
    "spamreport": "spam",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
#: Events that update the send ledger, and the column they set (first time only).
LEDGER: dict[str, str] = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
}


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One event as the store needs it (parsed by `cxops.collect.webhooks`)."""

    event_id: str
    event: str
    #: Normalized address, None when absent or invalid.
    email: str | None
    send_id: str | None
    occurred_at: datetime
    #: For `bounce`: `bounce` (hard) or `blocked` (not suppressed); for `dropped`: the reason.
    detail: str | None = None


@dataclass(slots=True)
class EventsApplied:
    """What a batch of events did."""

    received: int = 0
    duplicates: int = 0
    suppressed: int = 0
    sends_updated: int = 0
    ignored: int = 0


def apply_events(store: Store, events: Sequence[ProviderEvent], now: datetime) -> EventsApplied:
    """Apply every event not applied before, in one transaction."""
    summary = EventsApplied(received=len(events))
    with store.session(write=True) as session:
        for event in events:
            if not _claim(session, event, now):
                summary.duplicates += 1
                continue
            _apply(session, event, now, summary)
    return summary


def _claim(session: Session, event: ProviderEvent, now: datetime) -> bool:
    """True when this event id was not seen before (and is now recorded)."""
    values = {
        "event_id": event.event_id,
        "event": event.event[:32],
        "send_id": event.send_id,
        "email": event.email,
        "received_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(WebhookEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(WebhookEvent.event_id)
        )
        return session.execute(statement).first() is not None
    if session.get(WebhookEvent, event.event_id) is not None:
        return False
    session.add(WebhookEvent(**values))
    session.flush()
    return True


def _apply(session: Session, event: ProviderEvent, now: datetime, summary: EventsApplied) -> None:
    send = None
    if event.send_id:
        send = session.scalar(select(Send).where(Send.send_id == event.send_id))
    if event.event in SUPPRESSING:
        if event.event == "bounce" and (event.detail or "").lower() == "blocked":
            summary.ignored += 1
            return
        email = event.email or (send.email if send is not None else None)
        if email is None:
            summary.ignored += 1
            return
        detail = f"sendgrid {event.event}" + (f": {event.detail}" if event.detail else "")
        if suppress(
            session,
            email,
            SUPPRESSING[event.event],
            source="sendgrid",
            now=now,
            detail=detail[:500],
        ):
            summary.suppressed += 1
        return
    column = LEDGER.get(event.event)
    if column is None or send is None:
        summary.ignored += 1
        return
    target = getattr(Send, column)
    result = session.execute(
        update(Send)
        .where(Send.id == send.id, target.is_(None))
        .values({column: event.occurred_at})
        .execution_options(synchronize_session=False)
    )
    summary.sends_updated += result.rowcount if isinstance(result, CursorResult) else 0
