"""Notifications sent at most once per key (digests, escalations, webhooks), and the
follow-up cursor.

Every function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.store.models import Notification
from cxops.store.sql import session_insert

# -- notifications: at most once per key ------------------------------------------------


def claim_notification(
    session: Session, key: str, kind: str, recipient: str, now: datetime
) -> bool:
    """Record that `key` is being sent; False when it was already (or is being) sent.

    A key left `retry` (certainly not delivered) is claimed again.
    """
    existing = session.get(Notification, key, with_for_update=True)
    if existing is not None:
        if existing.status != "retry":
            return False
        existing.status = "pending"
        existing.attempts += 1
        session.flush()
        return True
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
                )
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def finish_notification(
    session: Session, key: str, status: str, now: datetime, error: str | None = None
) -> None:
    """`sent`, `failed` (for good), `retry` (not delivered, try again) or `in_doubt`."""
    session.execute(
        update(Notification)
        .where(Notification.key == key)
        .values(status=status, error=error, sent_at=now if status == "sent" else None)
    )


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
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.kind == kind,
                Notification.status == "retry",
                Notification.attempts < max_attempts,
            )
            .order_by(Notification.created_at, Notification.key)
        )
    )


def count_notifications(session: Session, *, kind: str, prefix: str = "") -> int:
    query = select(func.count()).select_from(Notification).where(Notification.kind == kind)
    if prefix:
        query = query.where(Notification.key.startswith(prefix))
    return int(session.scalar(query) or 0)


def attempts(session: Session, key: str) -> int:
    """How many times notification `key` was claimed (0 when it does not exist)."""
    row = session.get(Notification, key)
    return row.attempts if row is not None else 0
