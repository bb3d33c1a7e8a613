"""Claiming ledger rows and recording what the channel said about them.

A sender claims a batch (`pending` -> `sending`, in one write transaction, `FOR UPDATE
SKIP LOCKED` on PostgreSQL), hands it to a channel, then records what happened
(`mark_results`). A `sending` row whose run died is `in_doubt` (`recover_dead_claims`):
reported, and sent again only when asked (`resend_in_doubt`).
"""

from __future__ import annotations

import socket
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection, CursorResult

from cxops.store.db import Store
from cxops.store.ledger import due
from cxops.store.liveness import claim_process_gone, new_claim_id
from cxops.store.models import Send, Suppression
from cxops.store.sql import ResultUpdate, in_values, result_update

if TYPE_CHECKING:
    from cxops.channels.base import Delivery

__all__ = [
    "ClaimedSend",
    "claim_batch",
    "mark_results",
    "new_claim_id",
    "recover_dead_claims",
    "resend_in_doubt",
]


@dataclass(slots=True)
class ClaimedSend:
    """A claimed ledger row: what sending it needs, read without the ORM's bookkeeping.

    It is also what the renderer reads of a send (`cxops.messages.render.SendView`).
    """

    id: int
    send_id: str
    survey_id: str
    wave_id: str
    step: int
    contact_key: str
    email: str
    segment: str
    locale: str
    contact: dict[str, Any]
    batch: int
    #: As the claim committed them: `sending`, by `claim_id`, at `claimed_at`.
    status: str
    claim_id: str
    claimed_at: datetime
    #: When the send's answer and honeypot links stop working (the claimer says).
    expires_at: datetime
    #: The invitation variant the row was assigned (None: no experiment).
    variant: str | None = None


_SENDS = cast(Table, Send.__table__)
#: The columns a claim reads back; the rest of a ClaimedSend is known to the claimer.
_CLAIM_READ = tuple(
    _SENDS.c[name]
    for name in (
        "id", "send_id", "step", "contact_key", "email", "segment", "locale", "contact", "batch",
        "variant",
    )
)  # fmt: skip


def claim_batch(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    claim_id: str,
    limit: int,
    now: datetime,
    *,
    expires_at: datetime | None = None,
    segments: Collection[str] | None = None,
) -> list[ClaimedSend]:
    """Move up to `limit` pending rows to `sending` under `claim_id`, and return them.

    Only due rows are claimed: `not_before` NULL or at most `now` (a claimed row's
    `held` is cleared). No two callers ever get the same row. Rows whose email is suppressed at claim
    time become `skipped` (error = the reason) instead; an empty list means
    nothing is pending any more. The rows come as `ClaimedSend`, ordered by batch
    and id, carrying `expires_at` (default: `now`). `segments`, when given, limits the
    claim to rows of those segments (the ones the wave's gates let through).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    claimed_at = now.astimezone(UTC)
    # Where the database can, the claiming UPDATE returns the rows (no second read).
    returning = store.engine.dialect.update_returning
    rows: list[Any] = []
    claimed = 0
    with store.connect(write=True) as conn:
        while claimed < limit:
            query = (
                select(_SENDS.c.id, Suppression.reason)
                .outerjoin(Suppression, Suppression.email == _SENDS.c.email)
                .where(
                    _SENDS.c.survey_id == survey_id,
                    _SENDS.c.wave_id == wave_id,
                    _SENDS.c.step == step,
                    _SENDS.c.status == "pending",
                    due(claimed_at),
                )
                .order_by(_SENDS.c.batch, _SENDS.c.id)
                .limit(limit - claimed)
            )
            if segments is not None:
                query = query.where(_SENDS.c.segment.in_(list(segments)))
            if store.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=_SENDS)
            candidates = conn.execute(query).all()
            if not candidates:
                break
            _skip_suppressed(conn, [(row.id, row.reason) for row in candidates if row.reason])
            ids = [row.id for row in candidates if not row.reason]
            if not ids:
                continue
            statement = (
                update(_SENDS)
                .where(in_values(store, _SENDS.c.id, ids))
                .values(status="sending", claim_id=claim_id, claimed_at=claimed_at, held=None)
            )
            if returning:
                rows.extend(conn.execute(statement.returning(*_CLAIM_READ)).all())
            else:
                conn.execute(statement)
                rows.extend(
                    conn.execute(
                        select(*_CLAIM_READ).where(in_values(store, _SENDS.c.id, ids))
                    ).all()
                )
            claimed += len(ids)
    rows.sort(key=lambda row: (row.batch, row.id))
    expiry = now if expires_at is None else expires_at
    return [
        ClaimedSend(
            row.id,
            row.send_id,
            survey_id,
            wave_id,
            row.step,
            row.contact_key,
            row.email,
            row.segment,
            row.locale,
            row.contact,
            row.batch,
            "sending",
            claim_id,
            claimed_at,
            expiry,
            row.variant,
        )
        for row in rows
    ]


def _skip_suppressed(conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
    by_reason: dict[str, list[int]] = defaultdict(list)
    for row_id, reason in rows:
        by_reason[reason].append(row_id)
    for reason, ids in by_reason.items():
        conn.execute(
            update(_SENDS).where(_SENDS.c.id.in_(ids)).values(status="skipped", error=reason)
        )


#: Deliveries with one outcome (status, provider id, error) from this many on are
#: recorded by one UPDATE … WHERE send_id IN (…), fewer by one UPDATE each.
_SHARED_OUTCOME_MIN = 8


def mark_results(
    store: Store,
    claim_id: str,
    deliveries: Iterable[Delivery],
    now: datetime,
    *,
    channel: str | None = None,
) -> dict[str, int]:
    """Record what the channel said about each claimed row; returns rows changed by status.

    sent -> `sent` (sent_at, provider_id, channel); failed -> `failed` (error);
    retry -> back to `pending`, unclaimed; in_doubt -> `in_doubt`. Only rows of
    `claim_id` still `sending` — or put `in_doubt` by recovery while this run was
    in fact alive — are touched: a late, definite answer beats doubt.
    """
    constants: dict[str, dict[str, Any]] = {
        "sent": {"status": "sent", "sent_at": now, "channel": channel, "error": None},
        "failed": {"status": "failed", "channel": channel},
        "retry": {"status": "pending", "claim_id": None, "claimed_at": None},
        "in_doubt": {"status": "in_doubt", "channel": channel},
    }
    grouped: dict[str, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.status not in constants:
            raise ValueError(f"unknown delivery status {delivery.status!r}")
        grouped[delivery.status].append((delivery.send_id, delivery.provider_id, delivery.error))
    changed = dict.fromkeys(constants, 0)
    dialect = store.engine.dialect
    mine = (_SENDS.c.claim_id == claim_id, _SENDS.c.status.in_(("sending", "in_doubt")))
    with store.connect(write=True) as conn:
        for status, rows in grouped.items():
            # Rows of one Mail Send request share their outcome: one UPDATE for all of them.
            alike: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
            for send_id, provider_id, error in rows:
                alike[(provider_id, error)].append(send_id)
            singles = []
            for (provider_id, error), send_ids in alike.items():
                if len(send_ids) < _SHARED_OUTCOME_MIN:
                    singles += [(send_id, provider_id, error) for send_id in send_ids]
                    continue
                own = {"provider_id": provider_id, "error": error}
                values = {name: own[name] for name in ResultUpdate.PER_ROW[status]}
                statement = (
                    update(_SENDS)
                    .where(in_values(store, _SENDS.c.send_id, send_ids), *mine)
                    .values(**constants[status], **values)
                )
                changed[status] += conn.execute(statement).rowcount
            if singles:
                compiled = result_update(dialect, status)
                params = compiled.params(claim_id, constants[status], singles)
                changed[status] += conn.exec_driver_sql(compiled.sql, params).rowcount
    return changed


def recover_dead_claims(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    now: datetime,
    lease_seconds: int,
) -> int:
    """Turn `sending` rows of dead runs into `in_doubt`; returns how many.

    A claim is dead when it was made on this host by a process that no longer
    runs, or — on any host — when it is older than `lease_seconds`. A live run's
    claims are left alone.
    """
    expired = now - timedelta(seconds=lease_seconds)
    host = socket.gethostname()
    where = (
        Send.survey_id == survey_id,
        Send.wave_id == wave_id,
        Send.step == step,
        Send.status == "sending",
    )
    with store.session(write=True) as session:
        claims = session.execute(
            select(Send.claim_id, func.min(Send.claimed_at)).where(*where).group_by(Send.claim_id)
        ).all()
        dead: dict[str | None, str] = {}
        for claim_id, claimed_at in claims:
            if claim_id is None or (claimed_at is not None and claimed_at < expired):
                dead[claim_id] = "claim older than the lease; the run may have died while sending"
            elif claim_process_gone(claim_id, host):
                dead[claim_id] = "the run died while sending"
        total = 0
        for claim_id, reason in dead.items():
            match = Send.claim_id.is_(None) if claim_id is None else Send.claim_id == claim_id
            result = session.execute(
                update(Send)
                .where(*where, match)
                .values(status="in_doubt", error=reason)
                .execution_options(synchronize_session=False)
            )
            total += cast(CursorResult[Any], result).rowcount
    return total


def resend_in_doubt(store: Store, survey_id: str, wave_id: str, step: int) -> int:
    """Put `in_doubt` rows back to `pending` (a duplicate beats a miss); returns how many."""
    with store.session(write=True) as session:
        result = session.execute(
            update(Send)
            .where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.step == step,
                Send.status == "in_doubt",
            )
            .values(status="pending", claim_id=None, claimed_at=None, error=None)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount
