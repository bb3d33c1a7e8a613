"""What the wave's gates decided, written into the ledger (`cxops.gates`).

A row a gate holds back stays (or goes back to) `pending` with `not_before` = until and
`held` = the reason; a row a gate skips becomes `skipped` with `error` and `held` both the
reason, so that the rows a gate held or skipped are told apart from those skipped for a
suppression. `held_counts` is the wave summary's `held` (reason -> rows).

Due rows are `pending` rows whose `not_before` is NULL or not after now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, inspect, select, update

from cxops.store.db import Store
from cxops.store.ledger import due
from cxops.store.models import Send
from cxops.store.sql import in_values

_SENDS = cast(Table, Send.__table__)
#: The ledger's column for a reason is String(64).
REASON_LENGTH = 64


def reason_text(reason: str) -> str:
    """A gate's reason as the ledger keeps it (at most 64 characters)."""
    return reason[:REASON_LENGTH]


def _step(survey_id: str, wave_id: str, step: int) -> tuple[ColumnElement[bool], ...]:
    return (
        _SENDS.c.survey_id == survey_id,
        _SENDS.c.wave_id == wave_id,
        _SENDS.c.step == step,
    )


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (_SENDS.c.status == "pending", due(now.astimezone(UTC)))


def due_segments(store: Store, survey_id: str, wave_id: str, step: int, now: datetime) -> list[str]:
    """The segments of the step that have rows due at `now`, in name order."""
    query = (
        select(_SENDS.c.segment)
        .where(*_step(survey_id, wave_id, step), *_due(now))
        .group_by(_SENDS.c.segment)
        .order_by(_SENDS.c.segment)
    )
    with store.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def hold_segment(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    segment: str,
    now: datetime,
    until: datetime,
    reason: str,
) -> int:
    """The segment's due rows wait until `until` because of `reason`; how many."""
    statement = (
        update(_SENDS)
        .where(*_step(survey_id, wave_id, step), *_due(now), _SENDS.c.segment == segment)
        .values(not_before=until.astimezone(UTC), held=reason_text(reason))
    )
    with store.connect(write=True) as conn:
        return conn.execute(statement).rowcount


def skip_segment(
    store: Store, survey_id: str, wave_id: str, step: int, segment: str, now: datetime, reason: str
) -> int:
    """The segment's due rows are skipped because of `reason`; how many."""
    text = reason_text(reason)
    statement = (
        update(_SENDS)
        .where(*_step(survey_id, wave_id, step), *_due(now), _SENDS.c.segment == segment)
        .values(status="skipped", error=reason, held=text)
    )
    with store.connect(write=True) as conn:
        return conn.execute(statement).rowcount


def hold_claimed(
    store: Store, claim_id: str, ids: Sequence[int], until: datetime, reason: str
) -> int:
    """Rows claimed by `claim_id` go back to `pending`, due at `until` (`held` = reason)."""
    if not ids:
        return 0
    statement = (
        update(_SENDS)
        .where(in_values(store, _SENDS.c.id, ids), *_claimed_by(claim_id))
        .values(
            status="pending",
            claim_id=None,
            claimed_at=None,
            not_before=until.astimezone(UTC),
            held=reason_text(reason),
        )
    )
    with store.connect(write=True) as conn:
        return conn.execute(statement).rowcount


def skip_claimed(store: Store, claim_id: str, ids: Sequence[int], reason: str) -> int:
    """Rows claimed by `claim_id` are skipped because of `reason` (never sent)."""
    if not ids:
        return 0
    statement = (
        update(_SENDS)
        .where(in_values(store, _SENDS.c.id, ids), *_claimed_by(claim_id))
        .values(status="skipped", error=reason, held=reason_text(reason))
    )
    with store.connect(write=True) as conn:
        return conn.execute(statement).rowcount


def _claimed_by(claim_id: str) -> tuple[ColumnElement[bool], ...]:
    return (_SENDS.c.claim_id == claim_id, _SENDS.c.status == "sending")


def held_counts(store: Store, survey_id: str, wave_id: str, step: int) -> dict[str, int]:
    """Reason -> rows of the step waiting (`pending`) or skipped because a gate said so."""
    query = (
        select(_SENDS.c.held, func.count())
        .where(
            *_step(survey_id, wave_id, step),
            _SENDS.c.held.is_not(None),
            _SENDS.c.status.in_(("pending", "skipped")),
        )
        .group_by(_SENDS.c.held)
        .order_by(_SENDS.c.held)
    )
    with store.connect() as conn:
        return {str(reason): int(count) for reason, count in conn.execute(query)}


def person_holds(store: Store, email: str, survey_ids: Sequence[str]) -> list[dict[str, Any]]:
    """`cxops why`: the person's ledger rows a gate holds back or skipped, newest first
    (none in a store older than the `held` column: `why` does not migrate)."""
    if not survey_ids:
        return []
    with store.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("sends")}
    if "held" not in columns:
        return []
    query = (
        select(
            _SENDS.c.survey_id,
            _SENDS.c.wave_id,
            _SENDS.c.step,
            _SENDS.c.status,
            _SENDS.c.held,
            _SENDS.c.not_before,
        )
        .where(
            _SENDS.c.email == email,
            _SENDS.c.survey_id.in_(list(survey_ids)),
            _SENDS.c.held.is_not(None),
            _SENDS.c.status.in_(("pending", "skipped")),
        )
        .order_by(_SENDS.c.created_at.desc(), _SENDS.c.id.desc())
    )
    with store.session() as session:
        rows = session.execute(query).all()
    found = []
    for row in rows:
        until = row.not_before
        found.append(
            {
                "survey": row.survey_id,
                "wave": row.wave_id,
                "step": row.step,
                "status": row.status,
                "reason": row.held,
                "until": until.isoformat() if row.status == "pending" and until else None,
            }
        )
    return found
