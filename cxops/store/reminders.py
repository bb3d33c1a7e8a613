"""What a reminder round reads of the ledger: each invitee of a wave with where they stand.

A reminder is step k of the wave (1 ≤ k ≤ `invitation.reminder.max`), a ledger row of
its own like the invitation's (`add_invitees` with `step=k`, then claimed and sent as
any batch). Who is due is decided in `cxops.wave.remind`; this module reads, per
invitee whose invitation went out and who has no step-k row yet: the invitation's
time, the previous step's, whether a person confirmed an answer, and any suppression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, func, select, update
from sqlalchemy.orm import aliased

from cxops.chunks import chunks
from cxops.store.db import Store
from cxops.store.erasures import ERASED, is_placeholder
from cxops.store.ledger import due
from cxops.store.models import Response, Send, Suppression
from cxops.store.responses import CONFIRMED
from cxops.store.sql import in_values

_STREAM = 10_000
_SENDS = cast(Table, Send.__table__)


@dataclass(frozen=True, slots=True)
class ReminderCandidate:
    """An invitee of the wave with no row at the step yet, as the ledger has them."""

    contact_key: str
    email: str
    segment: str
    locale: str
    contact: dict[str, Any]
    #: When the invitation was claimed for sending: its links expire from then.
    invited_at: datetime
    #: When the previous message (the invitation, or reminder k-1) was sent; None when
    #: that message did not go out (not sent yet, failed, in doubt, skipped).
    previous_at: datetime | None
    #: A person confirmed an answer (a provisional one-click score is not one).
    answered: bool
    #: erased, unsubscribed, bounced or spam; None when the address may be written to.
    suppressed: str | None
    #: The invitation's variant (its reminders keep it); None without an experiment.
    variant: str | None = None


def reminder_candidates(
    store: Store, survey_id: str, wave_id: str, step: int
) -> Iterator[ReminderCandidate]:
    """Invitees whose invitation was sent and who have no row at `step` (≥ 1), streamed."""
    if step < 1:
        raise ValueError("reminder steps start at 1")
    invitation = aliased(Send)
    previous = aliased(Send)
    current = aliased(Send)
    answered = exists().where(Response.send_id == invitation.send_id, CONFIRMED)
    no_row_yet = ~exists().where(_same_person(current, invitation), current.step == step)
    columns = (
        invitation.contact_key,
        invitation.email,
        invitation.segment,
        invitation.locale,
        invitation.contact,
        func.coalesce(invitation.claimed_at, invitation.sent_at),
        # Reminder 1 follows the invitation; reminder k, reminder k-1 (when it was sent).
        invitation.sent_at if step == 1 else previous.sent_at,
        answered,
        Suppression.reason,
        invitation.variant,
    )
    query = select(*columns)
    if step > 1:
        query = query.outerjoin(
            previous,
            and_(
                _same_person(previous, invitation),
                previous.step == step - 1,
                previous.status == "sent",
            ),
        )
    query = (
        query.outerjoin(Suppression, Suppression.email == invitation.email)
        .where(
            invitation.survey_id == survey_id,
            invitation.wave_id == wave_id,
            invitation.step == 0,
            invitation.status == "sent",
            no_row_yet,
        )
        .order_by(invitation.id)
    )
    with store.engine.connect() as conn:
        for row in conn.execution_options(yield_per=_STREAM).execute(query):
            yield ReminderCandidate(
                contact_key=row[0],
                email=row[1],
                segment=row[2],
                locale=row[3],
                contact=row[4] or {},
                invited_at=row[5],
                previous_at=row[6],
                answered=bool(row[7]),
                suppressed=ERASED if is_placeholder(row[1]) else row[8],
                variant=row[9],
            )


def _same_person(row: Any, other: Any) -> ColumnElement[bool]:
    """`row` and `other` (ledger rows, aliased) are of one person in one wave."""
    return and_(
        row.survey_id == other.survey_id,
        row.wave_id == other.wave_id,
        row.contact_key == other.contact_key,
    )


def invitation_times(
    store: Store, survey_id: str, wave_id: str, contact_keys: Sequence[str]
) -> dict[str, datetime]:
    """When each person's invitation of the wave was claimed (their links expire from then)."""
    found: dict[str, datetime] = {}
    moment = func.coalesce(Send.claimed_at, Send.sent_at, Send.created_at)
    with store.connect() as conn:
        for part in chunks(contact_keys, 5_000):
            rows = conn.execute(
                select(Send.contact_key, moment).where(
                    Send.survey_id == survey_id,
                    Send.wave_id == wave_id,
                    Send.step == 0,
                    in_values(store, _SENDS.c.contact_key, part),
                )
            )
            found.update({key: at for key, at in rows})
    return found


def skip_answered_pending(store: Store, survey_id: str, wave_id: str, step: int) -> int:
    """Pending reminders of people who answered since they were planned become `skipped`
    (error `answered`); how many. (A round that died after planning leaves them pending.)"""
    invitation = aliased(Send)
    answered = exists().where(
        _same_person(invitation, Send),
        invitation.step == 0,
        exists().where(Response.send_id == invitation.send_id, CONFIRMED),
    )
    with store.connect(write=True) as conn:
        result = conn.execute(
            update(Send)
            .where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.step == step,
                Send.status == "pending",
                answered,
            )
            .values(status="skipped", error="answered")
        )
    return int(result.rowcount or 0)


def skip_expired_pending(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    now: datetime,
    expires: Callable[[datetime], datetime],
) -> int:
    """Pending reminders due at `now` whose invitation has expired (`expires(invited_at)`
    at or before `now`) become `skipped` (error `expired`); how many. A reminder planned
    to wait can come due after its invitation's links stopped working."""
    invitation = aliased(Send)
    invited_at = func.coalesce(invitation.claimed_at, invitation.sent_at, invitation.created_at)
    query = (
        select(Send.id, invited_at)
        .join(invitation, and_(_same_person(invitation, Send), invitation.step == 0))
        .where(
            Send.survey_id == survey_id,
            Send.wave_id == wave_id,
            Send.step == step,
            Send.status == "pending",
            due(now),
        )
    )
    with store.connect() as conn:
        expired = [row_id for row_id, at in conn.execute(query) if expires(at) <= now]
    skipped = 0
    for part in chunks(expired, 5_000):
        with store.connect(write=True) as conn:
            result = conn.execute(
                update(Send)
                .where(in_values(store, _SENDS.c.id, part), Send.status == "pending")
                .values(status="skipped", error="expired")
            )
            skipped += int(result.rowcount or 0)
    return skipped


def step_rows(store: Store, survey_id: str, wave_id: str) -> dict[int, dict[str, int]]:
    """Rows by step and status for one wave: {step: {status: count}}."""
    out: dict[int, dict[str, int]] = {}
    with store.connect() as conn:
        rows = conn.execute(
            select(Send.step, Send.status, func.count())
            .where(Send.survey_id == survey_id, Send.wave_id == wave_id)
            .group_by(Send.step, Send.status)
        )
        for step, status, count in rows:
            out.setdefault(int(step), {})[status] = int(count)
    return out


def confirmed_answers(store: Store, survey_id: str, wave_id: str) -> int:
    """People of the wave whose answer a person confirmed."""
    with store.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(Response)
                .where(Response.survey_id == survey_id, Response.wave_id == wave_id, CONFIRMED)
            )
            or 0
        )


def last_invitation_at(store: Store, survey_id: str, wave_id: str) -> datetime | None:
    """When the wave's last invitation was claimed (None: none was)."""
    with store.connect() as conn:
        return conn.scalar(
            select(func.max(Send.claimed_at)).where(
                Send.survey_id == survey_id, Send.wave_id == wave_id, Send.step == 0
            )
        )
