"""Notifications sent at most once per key (digests, escalations, webhooks), and the
follow-up cursor.

A run claims a key (`pending`, under its `Claimer`), marks the keys it hands to a
channel `sending` (`mark_sending`), and records what the channel said
(`finish_notification`). A run that died leaves its claims behind; the next claim of
such a key tells which: one still `pending` was never handed over and is claimed again,
one `sending` may have left and becomes `in_doubt` — reported, and sent again only when
asked. A claim is dead when its process on this machine is gone, or on any machine when
it is older than the lease (`send_lease_seconds`), as for the wave's claims.

Every function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.store.liveness import claim_process_gone, new_claim_id
from cxops.store.models import Notification, Task
from cxops.store.sql import session_insert

#: What claiming a key found. claimed: this run sends it. done: sent, or failed for good.
#: in_doubt: a run may have sent it (it died, or its channel did not say): not sent again
#: unless asked. busy: a live run has it claimed.
ClaimOutcome = Literal["claimed", "done", "in_doubt", "busy"]

#: The error of a `sending` claim found dead.
DIED_WHILE_SENDING = "the run died while sending"


@dataclass(frozen=True, slots=True)
class Claimer:
    """The run that claims notifications: its claim id, and the lease after which another
    machine's claim counts as dead."""

    claim_id: str
    lease_seconds: int
    host: str = field(default_factory=socket.gethostname)

    @classmethod
    def new(cls, lease_seconds: int) -> Claimer:
        return cls(new_claim_id(), lease_seconds)

    def finds_dead(self, row: Notification, now: datetime) -> bool:
        """Whether `row`'s claim was made by a run that is gone (or past the lease)."""
        if row.claim_id == self.claim_id:
            return False
        claimed_at = row.claimed_at or row.created_at
        if claimed_at < now - timedelta(seconds=self.lease_seconds):
            return True
        return row.claim_id is not None and claim_process_gone(row.claim_id, self.host)


# -- notifications: at most once per key ------------------------------------------------


def claim_notification(
    session: Session,
    key: str,
    kind: str,
    recipient: str,
    now: datetime,
    claimer: Claimer,
    *,
    resend_in_doubt: bool = False,
) -> ClaimOutcome:
    """Claim `key` for `claimer` (`claimed`), or say why not.

    A key left `retry` (certainly not delivered) is claimed again, and so is a dead
    run's `pending` claim; a dead run's `sending` claim becomes `in_doubt`. An
    `in_doubt` key is claimed again only with `resend_in_doubt` (a duplicate beats a
    miss, when the user says so).
    """
    existing = session.get(Notification, key, with_for_update=True, populate_existing=True)
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    Notification(
                        key=key,
                        kind=kind,
                        recipient=recipient,
                        status="pending",
                        attempts=1,
                        created_at=now,
                        claim_id=claimer.claim_id,
                        claimed_at=now,
                    )
                )
                session.flush()
        except IntegrityError:
            return "busy"  # another run inserted it at the same moment
        return "claimed"
    status = existing.status
    if status in ("pending", "sending") and claimer.finds_dead(existing, now):
        if status == "sending":
            existing.status, existing.error = "in_doubt", DIED_WHILE_SENDING
            session.flush()
            return "in_doubt"
        status = "retry"  # never handed to a channel: certainly not delivered
    if status == "in_doubt" and resend_in_doubt:
        status = "retry"
    if status in ("pending", "sending"):
        return "busy"
    if status != "retry":
        return "in_doubt" if status == "in_doubt" else "done"
    existing.status, existing.error = "pending", None
    existing.attempts += 1
    existing.claim_id, existing.claimed_at = claimer.claim_id, now
    session.flush()
    return "claimed"


def mark_sending(session: Session, keys: Collection[str], claimer: Claimer) -> set[str]:
    """Mark the claimer's `pending` keys `sending` (about to be handed to a channel);
    the keys marked. A key missing is no longer this run's (its claim was taken over
    after the lease): not to be sent."""
    if not keys:
        return set()
    table = cast(Table, Notification.__table__)
    statement = (
        update(table)
        .where(
            table.c.key.in_(list(keys)),
            table.c.claim_id == claimer.claim_id,
            table.c.status == "pending",
        )
        .values(status="sending")
        .returning(table.c.key)
    )
    return set(session.execute(statement).scalars())


def finish_notification(
    session: Session,
    key: str,
    status: str,
    now: datetime,
    claimer: Claimer,
    error: str | None = None,
) -> None:
    """`sent`, `failed` (for good), `retry` (not delivered, try again) or `in_doubt`.

    Only the claimer's own claim is finished — also once another run has put it in
    doubt while this one was in fact alive: a late, definite answer beats doubt.
    """
    session.execute(
        update(Notification)
        .where(
            Notification.key == key,
            Notification.claim_id == claimer.claim_id,
            Notification.status.in_(("pending", "sending", "in_doubt")),
        )
        .values(status=status, error=error, sent_at=now if status == "sent" else None)
    )


#: The counter of follow-up email batches (`next_batch`).
_BATCH_COUNTER = "counter:followup-batches"


def next_batch(session: Session, now: datetime) -> int:
    """A batch number no other batch of follow-up emails got, for the outbox's file name
    (`batch-000042.mbox`, replaced when the same number is sent again).

    One counter row, incremented under its row lock: runs at once wait for each other's
    transaction and never share a number. It starts above every number used before it
    existed (digests and escalations were numbered by notification counts, assignment
    emails by task id).
    """
    if session.get(Notification, _BATCH_COUNTER) is None:
        before = int(session.scalar(select(func.count()).select_from(Notification)) or 0)
        before += int(session.scalar(select(func.max(Task.id))) or 0)
        values = {"kind": "counter", "recipient": "followup", "status": "sent"}
        _insert_if_absent(session, _BATCH_COUNTER, attempts=before, created_at=now, **values)
    table = cast(Table, Notification.__table__)
    statement = (
        update(table)
        .where(table.c.key == _BATCH_COUNTER)
        .values(attempts=table.c.attempts + 1)
        .returning(table.c.attempts)
    )
    return int(session.execute(statement).scalar_one())


def notifications(session: Session, prefix: str) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.key.startswith(prefix))
            .order_by(Notification.key)
        )
    )


# -- the follow-up cursor ---------------------------------------------------------------
# Kept as a notification row (`cursor:followups:<survey>`, sent_at = the last response
# time looked at) until the store has a table for flow cursors.


def _cursor_key(survey_id: str) -> str:
    return f"cursor:followups:{survey_id}"


def read_cursor(session: Session, survey_id: str) -> datetime | None:
    row = session.get(Notification, _cursor_key(survey_id))
    return row.sent_at if row is not None else None


def write_cursor(session: Session, survey_id: str, moment: datetime, now: datetime) -> None:
    """Move the survey's cursor to `moment` (never back). Two runs at once both may find
    no cursor yet: the row is inserted only if absent, then moved under its lock."""
    key = _cursor_key(survey_id)
    values = {"kind": "cursor", "recipient": survey_id, "status": "sent", "attempts": 0}
    if _insert_if_absent(session, key, created_at=now, sent_at=moment, **values):
        return
    row = session.get(Notification, key, with_for_update=True, populate_existing=True)
    if row is not None and (row.sent_at is None or moment > row.sent_at):
        row.sent_at = moment
        session.flush()


def queue_notification(
    session: Session, key: str, kind: str, recipient: str, now: datetime
) -> None:
    """A notification to deliver later (status `retry`, no attempt yet), unless it exists
    (also when another run queues it at the same moment)."""
    _insert_if_absent(
        session, key, kind=kind, recipient=recipient, status="retry", attempts=0, created_at=now
    )


def _insert_if_absent(session: Session, key: str, **values: Any) -> bool:
    """INSERT … ON CONFLICT (key) DO NOTHING; True when this call inserted the row."""
    statement = (
        session_insert(session, Notification.__table__)
        .values(key=key, **values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.__table__.c.key)  # rowcount is not reliable here (-1)
    )
    return session.connection().execute(statement).first() is not None


def notifications_to_retry(session: Session, kind: str, max_attempts: int) -> list[Notification]:
    """Those queued (`retry`, fewer than `max_attempts` tries), and those claimed
    (`pending`: perhaps by a run that died; claiming tells)."""
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.kind == kind,
                or_(
                    and_(Notification.status == "retry", Notification.attempts < max_attempts),
                    Notification.status == "pending",
                ),
            )
            .order_by(Notification.created_at, Notification.key)
        )
    )


def attempts(session: Session, key: str) -> int:
    """How many times notification `key` was claimed (0 when it does not exist)."""
    row = session.get(Notification, key)
    return row.attempts if row is not None else 0
