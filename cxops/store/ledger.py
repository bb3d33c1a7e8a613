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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select

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
    JSON-safe dict), and may have `not_before` (aware: the earliest it may leave; absent
    or None, due at once), `held` (why it waits, up to 64 characters) and `variant` (the
    invitation variant assigned, None without an experiment). New rows get a random `send_id` and the batch number
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
    bind_when = insert.processors["not_before"] or (lambda value: value)
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
                        None if (due := row.get("not_before")) is None else bind_when(due),
                        row.get("held"),
                        row.get("variant"),
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


def due(now: datetime) -> ColumnElement[bool]:
    """A ledger row may leave at `now`: it has no `not_before`, or that has come."""
    return or_(Send.not_before.is_(None), Send.not_before <= now)


@dataclass(frozen=True, slots=True)
class DueGroup:
    """A step of a wave of a survey with rows that may be claimed now."""

    survey_id: str
    wave_id: str
    step: int
    #: Pending rows due now.
    due: int


def due_groups(store: Store, now: datetime) -> list[DueGroup]:
    """Every (survey, wave, step) with pending rows due at `now`, in that order."""
    key = (Send.survey_id, Send.wave_id, Send.step)
    with store.connect() as conn:
        rows = conn.execute(
            select(*key, func.count())
            .where(Send.status == "pending", due(now))
            .group_by(*key)
            .order_by(*key)
        ).all()
    return [DueGroup(survey, wave, int(step), int(count)) for survey, wave, step, count in rows]


def waiting_rows(
    store: Store,
    now: datetime,
    survey_id: str | None = None,
    wave_id: str | None = None,
    step: int | None = None,
) -> list[dict[str, Any]]:
    """Pending rows not due before a later moment, by survey, wave, step and the reason
    they wait (`held`, None for a plain not_before): {survey, wave, step, held, count,
    earliest, latest} (aware UTC), in that order."""
    key = (Send.survey_id, Send.wave_id, Send.step, Send.held)
    query = select(*key, func.count(), func.min(Send.not_before), func.max(Send.not_before)).where(
        Send.status == "pending", Send.not_before > now
    )
    for column, value in ((Send.survey_id, survey_id), (Send.wave_id, wave_id), (Send.step, step)):
        if value is not None:
            query = query.where(column == value)
    with store.connect() as conn:
        rows = conn.execute(query.group_by(*key).order_by(*key)).all()
    return [
        {
            "survey": survey,
            "wave": wave,
            "step": int(step),
            "held": held,
            "count": int(count),
            "earliest": _utc(earliest),
            "latest": _utc(latest),
        }
        for survey, wave, step, held, count, earliest, latest in rows
    ]


def pending_split(
    store: Store, survey_id: str, wave_id: str, step: int, now: datetime
) -> tuple[int, int]:
    """A step's pending rows: (due at `now`, waiting for a later `not_before`)."""
    is_due = func.sum(case((due(now), 1), else_=0))
    with store.connect() as conn:
        row = conn.execute(
            select(is_due, func.count()).where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.step == step,
                Send.status == "pending",
            )
        ).one()
    ready, total = int(row[0] or 0), int(row[1] or 0)
    return ready, total - ready


def waiting_figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """{count, earliest, latest} (ISO, None when nothing waits) of `waiting_rows` rows."""
    listed = list(rows)
    earliest = min((row["earliest"] for row in listed), default=None)
    latest = max((row["latest"] for row in listed), default=None)
    return {
        "count": sum(row["count"] for row in listed),
        "earliest": earliest.isoformat() if earliest is not None else None,
        "latest": latest.isoformat() if latest is not None else None,
    }


def _utc(moment: datetime | None) -> datetime:
    # Not None: the rows counted are those with a not_before.
    assert moment is not None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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


def wave_counts(
    store: Store, survey_id: str, wave_id: str, step: int = 0, *, now: datetime | None = None
) -> dict[str, Any]:
    """Rows by status (every status, zeros included), `total`, `by_segment`
    ({segment: {status: count}}) and `first_sent_at` (aware UTC, None before any send);
    with `now`, also `waiting`: {count, earliest, latest} of the pending rows not due
    before a later moment (`waiting_figures`)."""
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
    if now is not None:
        result["waiting"] = waiting_figures(waiting_rows(store, now, survey_id, wave_id, step))
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
