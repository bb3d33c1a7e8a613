"""Email provider events (SendGrid's Event Webhook) applied to the store, each at most once.

Every event id is claimed in `webhook_events` with an insert that does nothing on
conflict, in the same transaction as its effect: a redelivered batch, or two
deliveries racing, apply each event once.

An event counts only when it reaches a send of the ledger, by its `send_id` (our
custom arg) or by SendGrid's message id with the address; its address must be the
send's (compared case-insensitively). Anything else (an address never mailed, a
forged event) is ignored and keeps no address. What suppresses follows SendGrid's
documentation (`DROP_REASONS`, `blocked` bounces); malformed items are kept aside
(`record_rejects`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, case, distinct, func, select, update
from sqlalchemy.orm import Session

from cxops.chunks import chunks
from cxops.store.db import Store
from cxops.store.models import Send, WebhookEvent, WebhookReject
from cxops.store.sql import session_insert
from cxops.store.suppressions import lift_unsubscribe, suppress

#: Events that put the address on the suppression list, and under which reason.
SUPPRESSING: dict[str, str] = {
    "bounce": "bounced",
    "spamreport": "spam",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
#: SendGrid's documented `dropped` reasons (Event Webhook reference) and the suppression
#: each means; None: the drop says nothing about the address (content, header or quota).
#: An undocumented reason suppresses nobody and is recorded.
DROP_REASONS: dict[str, str | None] = {
    "bounced address": "bounced",
    "unsubscribed address": "unsubscribed",
    "spam reporting address": "spam",
    "invalid": "bounced",  # an invalid address: never deliverable
    "invalid smtpapi header": None,
    "spam content": None,
    "recipient list over package quota": None,
}
#: Events that update the send ledger, and the column they set (first time only).
LEDGER: dict[str, str] = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
}
#: Events applied in one transaction: a short hold of the write lock (about a second).
EVENTS_PER_TRANSACTION = 200
#: SQLite's busy handler polls a lock every 100 ms at most: a waiting writer gets in.
WRITER_TURN_SECONDS = 0.15
#: How much of a malformed item is kept.
REJECT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One event as the store needs it (parsed by `cxops.collect.webhooks`)."""

    event_id: str
    event: str
    #: Normalized address, None when absent or invalid.
    email: str | None
    send_id: str | None
    occurred_at: datetime
    #: For `bounce`: `bounce` (hard) or `blocked` (temporary); for `dropped`: the reason.
    detail: str | None = None
    #: SendGrid's `sg_message_id` before `.filter…`: the Mail Send reply's X-Message-Id.
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """A webhook item that could not be read, and why."""

    reason: str
    item: Any


@dataclass(slots=True)
class EventsApplied:
    """What a batch of events did."""

    received: int = 0
    duplicates: int = 0
    suppressed: int = 0
    sends_updated: int = 0
    ignored: int = 0
    resubscribed: int = 0
    recorded: int = 0
    rejected: int = 0


def apply_events(
    store: Store,
    events: Sequence[ProviderEvent],
    now: datetime,
    rejects: Sequence[RejectedItem] = (),
) -> EventsApplied:
    """Apply every event not applied before, and keep `rejects` aside.

    A transaction holds at most `EVENTS_PER_TRANSACTION` events (each claimed with its
    effect, so a batch cut short is applied again, once, when SendGrid retries it): a
    batch of 10,000 in one transaction held SQLite's write lock long enough for answers
    posted meanwhile to fail with 503. On SQLite a pause of `WRITER_TURN_SECONDS`
    between transactions lets a writer waiting in SQLite's busy handler take the lock.
    """
    summary = EventsApplied(received=len(events) + len(rejects), rejected=len(rejects))
    parts = list(chunks(events, EVENTS_PER_TRANSACTION)) or [[]]
    for index, part in enumerate(parts):
        if index and store.dialect == "sqlite":
            time.sleep(WRITER_TURN_SECONDS)
        with store.session(write=True) as session:
            for event in part:
                send = _send_of(session, event)
                if not _claim(session, event, send, now):
                    summary.duplicates += 1
                    continue
                _apply(session, event, send, now, summary)
            if index == len(parts) - 1:  # kept once, also when SendGrid retries a failed batch
                record_rejects(session, rejects, now)
    return summary


def record_rejects(session: Session, rejects: Sequence[RejectedItem], now: datetime) -> None:
    for reject in rejects:
        text = json.dumps(reject.item, ensure_ascii=False, default=str)[:REJECT_CHARS]
        session.add(WebhookReject(received_at=now, reason=reject.reason[:255], item=text))


def _same_address(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


def _send_of(session: Session, event: ProviderEvent) -> Send | None:
    """The send this event is about, None when the ledger holds none for its address."""
    send = None
    if event.send_id:
        send = session.scalar(select(Send).where(Send.send_id == event.send_id))
    elif event.message_id and event.email:
        send = session.scalar(
            select(Send)
            .where(
                Send.provider_id == event.message_id,
                func.lower(Send.email) == event.email.lower(),
            )
            .limit(1)
        )
    if send is None:
        return None
    if event.email is not None and not _same_address(event.email, send.email):
        return None  # the event names another address than the one we mailed
    return send


def _claim(session: Session, event: ProviderEvent, send: Send | None, now: datetime) -> bool:
    """True when this event id was not seen before (and is now recorded)."""
    values = {
        "event_id": event.event_id,
        "event": event.event[:32],
        "send_id": send.send_id if send is not None else None,
        # Data minimisation: an address that matched nothing is not kept.
        "email": send.email if send is not None else None,
        "received_at": now,
        "detail": _detail(event, send),
    }
    if session.get_bind().dialect.name in ("postgresql", "sqlite"):
        statement = (
            session_insert(session, WebhookEvent)
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


def _detail(event: ProviderEvent, send: Send | None) -> str | None:
    if send is None:
        return "no send of the ledger for this event"
    if event.event == "bounce" and (event.detail or "").lower() == "blocked":
        return "blocked: a temporary block, not suppressed"
    return event.detail[:400] if event.detail else None


def suppression_for(event: ProviderEvent) -> str | None:
    """The suppression reason an event means, None for none (see `DROP_REASONS`)."""
    if event.event == "dropped":
        return DROP_REASONS.get((event.detail or "").strip().lower())
    if event.event == "bounce" and (event.detail or "").lower() == "blocked":
        return None  # SendGrid: a temporary block by the receiving server
    return SUPPRESSING.get(event.event)


def _apply(
    session: Session,
    event: ProviderEvent,
    send: Send | None,
    now: datetime,
    summary: EventsApplied,
) -> None:
    if send is None:
        summary.ignored += 1
        return
    if event.event in SUPPRESSING or event.event == "dropped":
        reason = suppression_for(event)
        if reason is None:
            summary.recorded += 1
            return
        detail = f"sendgrid {event.event}" + (f": {event.detail}" if event.detail else "")
        if suppress(session, send.email, reason, source="sendgrid", now=now, detail=detail[:500]):
            summary.suppressed += 1
        return
    if event.event == "group_resubscribe":
        summary.resubscribed += int(lift_unsubscribe(session, send.email))
        return
    column = LEDGER.get(event.event)
    if column is None:
        summary.ignored += 1
        return
    target = getattr(Send, column)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Send)
        .where(Send.id == send.id, target.is_(None))
        .values({column: event.occurred_at})
        .execution_options(synchronize_session=False)
    )
    summary.sends_updated += result.rowcount if isinstance(result, CursorResult) else 0


@dataclass(frozen=True, slots=True)
class DeliveryFigures:
    """What SendGrid's events say about one wave's messages (each message counted once
    per kind of event), the deliverability breaker's input.

    SendGrid's definitions (Event Webhook reference): `delivered`, the receiving server
    accepted the message; `bounce` of type `bounce`, the server rejected it for good (a
    hard bounce); `bounce` of type `blocked`, a temporary block; `deferred`, a temporary
    refusal SendGrid retries; `dropped`, SendGrid did not send it; `spamreport`, the
    recipient marked it as spam. Only delivered, hard bounces and spam reports are judged.
    """

    delivered: int = 0
    hard_bounced: int = 0
    blocked: int = 0
    deferred: int = 0
    dropped: int = 0
    spam_reports: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "hard_bounced": self.hard_bounced,
            "blocked": self.blocked,
            "deferred": self.deferred,
            "dropped": self.dropped,
            "spam_reports": self.spam_reports,
        }


#: The events the figures count (others say nothing of deliverability).
_FIGURE_EVENTS = ("delivered", "bounce", "deferred", "dropped", "spamreport")


def wave_delivery_figures(
    store: Store,
    survey_id: str,
    wave_id: str,
    *,
    received_since: datetime,
    sent_since: datetime | None = None,
) -> DeliveryFigures:
    """The wave's figures (all its steps) from the events received since
    `received_since` (the wave's start: none of its events can be older), about messages
    sent after `sent_since` (a resume: earlier messages were judged by a person)."""
    blocked = func.coalesce(func.lower(func.substr(WebhookEvent.detail, 1, 7)), "") == "blocked"
    kind = case(
        (WebhookEvent.event != "bounce", WebhookEvent.event),
        (blocked, "blocked"),
        else_="hard_bounced",
    )
    where = [
        WebhookEvent.received_at >= received_since,
        WebhookEvent.event.in_(_FIGURE_EVENTS),
        Send.survey_id == survey_id,
        Send.wave_id == wave_id,
    ]
    if sent_since is not None:
        where.append(Send.sent_at > sent_since)
    statement = (
        select(kind.label("kind"), func.count(distinct(WebhookEvent.send_id)))
        .select_from(WebhookEvent)
        .join(Send, Send.send_id == WebhookEvent.send_id)
        .where(*where)
        .group_by(kind)
    )
    with store.session() as session:
        counts = {str(name): int(count) for name, count in session.execute(statement)}
    return DeliveryFigures(
        delivered=counts.get("delivered", 0),
        hard_bounced=counts.get("hard_bounced", 0),
        blocked=counts.get("blocked", 0),
        deferred=counts.get("deferred", 0),
        dropped=counts.get("dropped", 0),
        spam_reports=counts.get("spamreport", 0),
    )
