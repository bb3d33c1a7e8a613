"""Follow-up emails (digests, escalations): send a claimed batch, then record each result.

Each message is claimed first (a `notifications` row per key, see
`cxops.store.notifications`), so a retry never sends it twice. The batch is sent by the
wave path's one send-and-record helper (`cxops.wave.deliver`): every key is recorded
with what the channel said; a message it said nothing about (or a batch it raised on)
may have left, so it is recorded `in_doubt` and never resent on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cxops.channels.base import BatchContext, Channel, Delivery
from cxops.messages.types import MessageGroup, Recipient
from cxops.spec.models import Survey
from cxops.store import notifications as n
from cxops.store.db import Store
from cxops.wave.deliver import send_and_record as wave_send_and_record


@dataclass(frozen=True, slots=True)
class Email:
    """One rendered follow-up email under its notification key."""

    key: str
    to: str
    from_header: str
    reply_to: str | None
    subject: str
    html: str
    text: str
    tags: tuple[tuple[str, str], ...] = ()

    def group(self) -> MessageGroup:
        recipient = Recipient(message_id(self.key), self.to, None, {}, {}, dict(self.tags))
        return MessageGroup(
            from_header=self.from_header,
            reply_to=self.reply_to,
            subject=self.subject,
            html=self.html,
            text=self.text,
            recipients=[recipient],
        )


def message_id(key: str) -> str:
    """A stable message id for a notification key (the channel's `send_id`)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def sender_of(surveys: Iterable[Survey], fallback: str) -> str:
    """The `from` of the first survey's invitation, else `fallback`."""
    for survey in surveys:
        return survey.invitation.from_
    return fallback


def send_and_record(
    store: Store,
    channel: Channel,
    context: BatchContext,
    emails: Sequence[Email],
    now: datetime,
) -> dict[str, str]:
    """Send claimed `emails` as one batch and record each result; notification key → status.

    The sending and the in-doubt rule are the wave path's (`cxops.wave.deliver`): a
    message the channel did not report on, or a batch the channel raised on, is
    recorded `in_doubt` and never resent on its own.
    """
    if not emails:
        return {}
    keys = {message_id(email.key): email.key for email in emails}
    statuses: dict[str, str] = {}

    def record(deliveries: Sequence[Delivery]) -> None:
        with store.session(write=True) as session:
            for delivery in deliveries:
                key = keys[delivery.send_id]
                n.finish_notification(session, key, delivery.status, now, delivery.error)
                statuses[key] = delivery.status

    wave_send_and_record(channel, [email.group() for email in emails], context, record)
    return statuses
