"""The send ledger: who is invited (a row per survey, wave, contact and step) and how it went.

A row is committed `pending` before its message can leave (`add_invitees`); claiming
and recording live in `cxops.store.claims`, wave rows in `cxops.store.waves`. This
module also answers what a wave's rows add up to (`wave_counts`, `failed_reasons`).

Every function takes a `Store` and plain values; none imports Prefect.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from cxops.chunks import chunks
from cxops.store.db import Store
from cxops.store.models import Send
from cxops.store.sql import fast_insert

STATUSES = ("pending", "sending", "sent", "failed", "in_doubt", "skipped")
#: Statuses of a row whose message may have reached the person.
MAYBE_SENT = ("sent", "sending", "in_doubt")
_INSERT_CHUNK = 20_000


def add_invitees(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    rows: Iterable[Mapping[str, Any]],
    now: datetime,
    batch_size: int = 1000,
) -> int:
    """Insert `pending` rows; those already in the ledger are left untouched.

    Each row has `contact_key`, `email`, `segment`, `locale` and `contact` (a
    JSON-safe dict). New rows get a random `send_id` and the batch number
    `first + position // batch_size`, `position` counting `rows` from 0 and `first`
    following the step's existing batches: at most `batch_size` rows per batch,
    in the order given. Returns how many rows were new. Commits every few thousand
    rows, so a crash loses nothing that a second call would not add.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with store.connect() as conn:
        last = conn.scalar(
            select(func.max(Send.batch)).where(
                Send.survey_id == survey_id, Send.wave_id == wave_id, Send.step == step
            )
        )
    first_batch = 0 if last is None else last + 1
    insert = fast_insert(store.engine.dialect)
    created_at = insert.bind("created_at", now)
    bind_contact = insert.processors["contact"] or (lambda value: value)
    added = 0
    position = 0
    for chunk in chunks(rows, _INSERT_CHUNK):
        tokens = send_ids(len(chunk))
        params = []
        for index, row in enumerate(chunk):
            params.append(
                insert.row(
                    (
                        tokens[index],
                        survey_id,
                        wave_id,
                        step,
                        row["contact_key"],
                        row["email"],
                        row["segment"],
                        row.get("locale") or "en",
                        bind_contact(row.get("contact") or {}),
                        "pending",
                        first_batch + (position + index) // batch_size,
                        created_at,
                    )
                )
            )
        position += len(chunk)
        with store.connect(write=True) as conn:
            added += conn.exec_driver_sql(insert.sql, params).rowcount
    return added


def send_ids(count: int) -> list[str]:
    """`count` new send ids: 32 hex digits, the first 12 shared by the whole chunk.

    The rest (80 random bits) keeps each id unguessable; the shared part keeps a chunk's
    ids together in the unique index, so inserting or recording a batch touches a few
    index pages instead of one random page per row (a third of the insert time at a
    million rows).
    """
    shared = os.urandom(6).hex()
    own = os.urandom(10 * count).hex()
    return [shared + own[20 * index : 20 * index + 20] for index in range(count)]


# -- reporting ---------------------------------------------------------------------------


def has_pending(store: Store, survey_id: str, wave_id: str, step: int = 0) -> bool:
    """Whether any row of the wave waits to be claimed (one index probe)."""
    with store.connect() as conn:
        found = conn.execute(
            select(Send.id)
            .where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.step == step,
                Send.status == "pending",
            )
            .limit(1)
        ).first()
    return found is not None


def wave_counts(store: Store, survey_id: str, wave_id: str, step: int = 0) -> dict[str, Any]:
    """Rows by status (every status, zeros included), `total`, `by_segment`
    ({segment: {status: count}}) and `first_sent_at` (aware UTC, None before any send)."""
    with store.session() as session:
        rows = session.execute(
            select(Send.segment, Send.status, func.count(), func.min(Send.sent_at))
            .where(Send.survey_id == survey_id, Send.wave_id == wave_id, Send.step == step)
            .group_by(Send.segment, Send.status)
        ).all()
    totals: Counter[str] = Counter()
    by_segment: dict[str, dict[str, int]] = {}
    first_sent: list[datetime] = []
    for segment, status, count, sent_at in rows:
        totals[status] += count
        by_segment.setdefault(segment, dict.fromkeys(STATUSES, 0))[status] = count
        if status == "sent" and sent_at is not None:
            first_sent.append(sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC))
    result: dict[str, Any] = {status: totals[status] for status in STATUSES}
    result["total"] = sum(totals.values())
    result["by_segment"] = dict(sorted(by_segment.items()))
    result["first_sent_at"] = min(first_sent, default=None)
    return result


def failed_reasons(
    store: Store, survey_id: str, wave_id: str, step: int = 0, *, examples: int = 3
) -> dict[str, dict[str, Any]]:
    """Failed rows by error: {reason: {"count": n, "examples": [contact_key, …]}}, most first."""
    where = (
        Send.survey_id == survey_id,
        Send.wave_id == wave_id,
        Send.step == step,
        Send.status == "failed",
    )
    with store.session() as session:
        counts = session.execute(
            select(Send.error, func.count()).where(*where).group_by(Send.error)
        ).all()
        result: dict[str, dict[str, Any]] = {}
        for error, count in sorted(counts, key=lambda item: (-item[1], item[0] or "")):
            keys = session.scalars(
                select(Send.contact_key)
                .where(*where, Send.error.is_(None) if error is None else Send.error == error)
                .order_by(Send.id)
                .limit(examples)
            ).all()
            result[error or "unknown"] = {"count": count, "examples": list(keys)}
    return result
