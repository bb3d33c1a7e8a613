"""What `cxops forget` and `cxops export person` ask of the outbound webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cxops.settings.groups import WebhookEndpoint
from cxops.store import webhook_deliveries as outbox
from cxops.webhooks.payloads import body, person_data


def erase_person(
    session: Session,
    endpoints: Sequence[WebhookEndpoint],
    contact_keys: Sequence[str],
    *,
    pseudonym: str,
    subject: str,
    now: datetime,
) -> int:
    """In `forget`'s transaction: the person's queued deliveries never go out and
    delivered ones keep no payload; then a `person.erased` event (their contact keys, no
    address) is queued for every endpoint subscribed to it. Rows changed or queued.

    `contact_keys` are theirs before the erasure, the latest first; none (never
    invited): nothing to tell a receiver. `subject` (the erasure's keyed hash) makes the
    event's key, so a repeated `forget` queues nothing new."""
    if not contact_keys:
        return 0
    changed = outbox.erase_deliveries(session, contact_keys, pseudonym)
    subscribed = [e for e in endpoints if outbox.ERASED_EVENT in e.events]
    if not subscribed:
        return changed
    outbox.ensure_endpoints(session, [e.name for e in subscribed], now)
    data = person_data(list(contact_keys), "erased_at", now)
    events = [
        outbox.QueuedEvent(
            endpoint.name,
            f"{outbox.ERASED_EVENT}:{subject}",
            outbox.ERASED_EVENT,
            pseudonym,
            body(outbox.ERASED_EVENT, now, data),
            now,
        )
        for endpoint in subscribed
    ]
    return changed + outbox.enqueue(session, events)


def endpoints_sent(session: Session, contact_keys: Sequence[str]) -> list[dict[str, Any]]:
    """For `export person`: each endpoint that received events about them."""
    return outbox.delivered_about(session, contact_keys)
