"""The suppression list: addresses never invited again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cxops.audience.contacts import normalize_email
from cxops.store.models import Suppression
from cxops.store.sql import session_insert

#: Strongest first: a person held back for several reasons counts under the first.
REASONS = ("unsubscribed", "spam", "bounced")


def suppress(
    session: Session,
    email: str,
    reason: str,
    *,
    source: str,
    now: datetime,
    detail: str | None = None,
) -> bool:
    """Suppress `email` (normalized) for `reason`; True when this changed anything.

    Final: an existing suppression is kept, upgraded only to a stronger reason.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    email = address_key(email)
    inserted = session.connection().execute(
        session_insert(session, Suppression.__table__)
        .values(email=email, reason=reason, source=source, detail=detail, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(Suppression.__table__.c.email)  # rowcount is not reliable here (-1)
    )
    if inserted.first() is not None:  # also when another request suppresses it at once
        return True
    existing = session.get(Suppression, email, with_for_update=True, populate_existing=True)
    if existing is None:  # pragma: no cover - the row exists: the insert just conflicted
        return False
    if REASONS.index(reason) < REASONS.index(existing.reason):
        existing.reason = reason
        existing.source = source
        existing.detail = detail
        return True
    return False


def address_key(email: str) -> str:
    """The form the store keeps and compares an address in (see `normalize_email`)."""
    return normalize_email(email) or email.strip().lower()


def lift_unsubscribe(session: Session, email: str) -> bool:
    """Remove `email`'s *unsubscribed* suppression (the person asked to be mailed again);
    a bounce or spam report stays. Addresses compare case-insensitively. True if lifted."""
    result = session.execute(
        delete(Suppression)
        .where(func.lower(Suppression.email) == email.lower(), Suppression.reason == "unsubscribed")
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def suppression_reason(session: Session, email: str) -> str | None:
    key = address_key(email)
    return session.scalar(select(Suppression.reason).where(Suppression.email == key))


def list_suppressions(
    session: Session, *, reason: str | None = None, limit: int | None = None
) -> list[Suppression]:
    """Suppressions, newest first; only those for `reason` when given."""
    if reason is not None and reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.email)
    if reason is not None:
        query = query.where(Suppression.reason == reason)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
