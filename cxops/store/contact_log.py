"""Every invitation and reminder that may have reached someone since a moment, from the ledger.

The contact policy (`cxops.policy`) counts these: all surveys, all steps (0 the
invitation, k reminder k), rows `sent`, `sending` or `in_doubt`, at
`coalesce(sent_at, claimed_at, created_at)`. The rows of one wave may be left
out (the wave being planned does not count against itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, select

from cxops.store.db import Store
from cxops.store.ledger import MAYBE_SENT
from cxops.store.models import Send

_STREAM = 10_000


@dataclass(frozen=True, slots=True)
class LoggedContact:
    email: str
    survey_id: str
    wave_id: str
    step: int
    status: str
    at: datetime
    #: The contact's fields stored with the send (only when asked for).
    fields: dict[str, Any] | None


def contacts_since(
    store: Store,
    since: datetime | None,
    *,
    skip_wave: tuple[str, str] | None = None,
    email: str | None = None,
    with_fields: bool = False,
) -> Iterator[LoggedContact]:
    """Contacts at or after `since` (None: all), streamed; one person's with `email`."""
    at = func.coalesce(Send.sent_at, Send.claimed_at, Send.created_at)
    columns: list[Any] = [Send.email, Send.survey_id, Send.wave_id, Send.step, Send.status, at]
    if with_fields:
        columns.append(Send.contact)
    query = select(*columns).where(Send.status.in_(MAYBE_SENT))
    if since is not None:
        query = query.where(at >= since)
    if email is not None:
        query = query.where(Send.email == email)
    if skip_wave is not None:
        survey_id, wave_id = skip_wave
        query = query.where(not_(and_(Send.survey_id == survey_id, Send.wave_id == wave_id)))
    with store.engine.connect() as conn:
        for row in conn.execution_options(yield_per=_STREAM).execute(query.order_by(at)):
            yield LoggedContact(
                email=str(row[0]),
                survey_id=str(row[1]),
                wave_id=str(row[2]),
                step=int(row[3]),
                status=str(row[4]),
                at=_aware(row[5]),
                fields=_fields(row[6]) if with_fields else None,
            )


def last_invitations(
    store: Store, survey_id: str, since: datetime, *, skip_wave: str | None = None
) -> dict[str, datetime]:
    """Per email, the latest invitation (step 0) of `survey_id` that may have reached the
    person at or after `since`, leaving out wave `skip_wave` (a survey's `cooldown`)."""
    at = func.coalesce(Send.sent_at, Send.claimed_at, Send.created_at)
    query = select(Send.email, func.max(at)).where(
        Send.survey_id == survey_id,
        Send.step == 0,
        Send.status.in_(MAYBE_SENT),
        at >= since,
    )
    if skip_wave is not None:
        query = query.where(Send.wave_id != skip_wave)
    with store.engine.connect() as conn:
        rows = conn.execution_options(yield_per=_STREAM).execute(query.group_by(Send.email))
        return {str(row[0]): _aware(row[1]) for row in rows}


def _fields(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _aware(value: Any) -> datetime:
    """coalesce() loses the column type on SQLite: parse and mark UTC there."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from the ledger, found {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PersonSend:
    """One ledger row of a person, whatever its status, with its answer if any."""

    survey_id: str
    wave_id: str
    step: int
    status: str
    at: datetime
    answered: str | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class PersonSuppression:
    reason: str
    source: str
    at: datetime


def person_record(store: Store, email: str) -> tuple[list[PersonSend], list[PersonSuppression]]:
    """Every ledger row of `email` (oldest first, answers joined) and its suppressions."""
    from cxops.store.models import Response, Suppression

    at = func.coalesce(Send.sent_at, Send.claimed_at, Send.created_at)
    query = (
        select(
            Send.survey_id,
            Send.wave_id,
            Send.step,
            Send.status,
            at,
            Response.status,
            Response.first_answered_at,
        )
        .outerjoin(Response, Response.send_id == Send.send_id)
        .where(Send.email == email)
        .order_by(at, Send.step)
    )
    with store.engine.connect() as conn:
        sends = [
            PersonSend(
                survey_id=str(row[0]),
                wave_id=str(row[1]),
                step=int(row[2]),
                status=str(row[3]),
                at=_aware(row[4]),
                answered=None if row[5] is None else str(row[5]),
                answered_at=None if row[6] is None else _aware(row[6]),
            )
            for row in conn.execute(query)
        ]
        suppressions = [
            PersonSuppression(str(row[0]), str(row[1]), _aware(row[2]))
            for row in conn.execute(
                select(Suppression.reason, Suppression.source, Suppression.created_at).where(
                    Suppression.email == email
                )
            )
        ]
    return sends, suppressions
