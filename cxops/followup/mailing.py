"""Follow-up emails (digests, escalations): send a claimed batch, then record each result.

Each message is claimed first (a `notifications` row per key, see
`cxops.store.notifications`) and marked `sending` before the channel has it, so a
retry never sends it twice and a run that died is told apart. The batch is sent by the
wave path's one send-and-record helper (`cxops.wave.deliver`): every key is recorded
with what the channel said; a message it said nothing about (or a batch it raised on)
may have left, so it is recorded `in_doubt` and never resent on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
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
    survey_id: str,
    wave_id: str,
    emails: Sequence[Email],
    now: datetime,
    claimer: n.Claimer,
    covers: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Send `emails` claimed by `claimer` as one batch (a batch number of its own, under
    `survey_id`/`wave_id`) and record each result; notification key → status.

    `covers` names, per email key, other keys of the claimer's that the email delivers
    (an escalation digest's task steps): they are marked `sending` in the same
    transaction as the email and recorded with its result, so each is in doubt, sent or
    retried exactly as the email is.

    They are marked `sending` first, so that a run dying from here on leaves them in
    doubt, not claimable again; one whose claim is no longer the claimer's (taken over
    after the lease) is not sent (`busy`). The sending and the in-doubt rule are the wave
    path's (`cxops.wave.deliver`): a message the channel did not report on, or a batch
    the channel raised on, is recorded `in_doubt` and never resent on its own.
    """
    if not emails:
        return {}
    covered = covers or {}
    with store.session(write=True) as session:
        handed = n.mark_sending(session, [email.key for email in emails], claimer)
        n.mark_sending(session, [k for key in handed for k in covered.get(key, ())], claimer)
        batch = n.next_batch(session, now) if handed else 0
    statuses = {email.key: "busy" for email in emails if email.key not in handed}
    mine = [email for email in emails if email.key in handed]
    keys = {message_id(email.key): email.key for email in mine}

    def record(deliveries: Sequence[Delivery]) -> None:
        with store.session(write=True) as session:
            for delivery in deliveries:
                key = keys[delivery.send_id]
                for done in (key, *covered.get(key, ())):
                    n.finish_notification(
                        session, done, delivery.status, now, claimer, delivery.error
                    )
                statuses[key] = delivery.status

    if mine:
        context = BatchContext(survey_id=survey_id, wave_id=wave_id, batch=batch)
        wave_send_and_record(channel, [email.group() for email in mine], context, record)
    return statuses
