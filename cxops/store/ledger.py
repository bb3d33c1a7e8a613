"""The send ledger: who is invited, claimed, sent, failed, in doubt or skipped.

A row is committed `pending` before its message can leave. A sender claims a
batch (`pending` -> `sending`, in one write transaction, `FOR UPDATE SKIP
LOCKED` on PostgreSQL), hands it to a channel, then records what happened
(`mark_results`). A `sending` row whose run died is `in_doubt`: reported, and
sent again only when asked (`resend_in_doubt`).

Every function takes a `Store` and plain values; none imports Prefect.
"""

from __future__ import annotations

import functools
import operator
import os
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import any_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cxops.store.db import Store
from cxops.store.models import Send, Suppression, Wave

if TYPE_CHECKING:
    from cxops.channels.base import Delivery

STATUSES = ("pending", "sending", "sent", "failed", "in_doubt", "skipped")
#: Statuses of a row whose message may have reached the person.
MAYBE_SENT = ("sent", "sending", "in_doubt")
WAVE_STATUSES = ("planning", "planned", "sending", "complete", "failed")
_INSERT_CHUNK = 20_000


# -- waves ---------------------------------------------------------------------------


def ensure_wave(store: Store, survey_id: str, wave_id: str, now: datetime) -> Wave:
    """The wave row, created `planning` on first call; later calls return it unchanged."""
    with store.session(write=True) as session:
        session.execute(
            _insert(store, Wave)
            .values(
                survey_id=survey_id, wave_id=wave_id, started_at=now, status="planning", summary={}
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "wave_id"])
        )
        return _wave(session, survey_id, wave_id)


def get_wave(store: Store, survey_id: str, wave_id: str) -> Wave | None:
    with store.session() as session:
        return session.scalar(
            select(Wave).where(Wave.survey_id == survey_id, Wave.wave_id == wave_id)
        )


def set_wave_status(store: Store, survey_id: str, wave_id: str, status: str, now: datetime) -> Wave:
    """Set the wave's status; `complete` and `failed` also stamp `finished_at`."""
    if status not in WAVE_STATUSES:
        raise ValueError(f"unknown wave status {status!r}; expected one of {WAVE_STATUSES}")
    with store.session(write=True) as session:
        wave = _wave(session, survey_id, wave_id)
        wave.status = status
        wave.finished_at = now if status in ("complete", "failed") else None
        return wave


def save_wave_summary(
    store: Store, survey_id: str, wave_id: str, summary: Mapping[str, Any]
) -> Wave:
    """Store the wave summary (JSON-safe values), replacing the previous one."""
    with store.session(write=True) as session:
        wave = _wave(session, survey_id, wave_id)
        wave.summary = dict(summary)
        return wave


def _wave(session: Session, survey_id: str, wave_id: str) -> Wave:
    wave = session.scalar(select(Wave).where(Wave.survey_id == survey_id, Wave.wave_id == wave_id))
    if wave is None:
        raise LookupError(f"no wave {wave_id!r} of survey {survey_id!r}; call ensure_wave first")
    return wave


# -- planning --------------------------------------------------------------------------


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
    in the order given. Returns how many
    rows were new. Commits every few thousand rows, so a crash loses nothing that
    a second call would not add.
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
    insert = _fast_insert(store.engine.dialect)
    created_at = insert.bind("created_at", now)
    bind_contact = insert.processors["contact"] or (lambda value: value)
    added = 0
    position = 0
    for chunk in _chunks(rows, _INSERT_CHUNK):
        tokens = _send_ids(len(chunk))
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


def _send_ids(count: int) -> list[str]:
    """`count` new send ids: 32 hex digits, the first 12 shared by the whole chunk.

    The rest (80 random bits) keeps each id unguessable; the shared part keeps a chunk's
    ids together in the unique index, so inserting or recording a batch touches a few
    index pages instead of one random page per row (a third of the insert time at a
    million rows).
    """
    shared = os.urandom(6).hex()
    own = os.urandom(10 * count).hex()
    return [shared + own[20 * index : 20 * index + 20] for index in range(count)]


class _FastInsert:
    """`INSERT … ON CONFLICT DO NOTHING` into sends, compiled once, values bound by hand.

    The DBAPI's executemany gets ready-made parameters: SQLAlchemy's per-row
    processing would cost most of the time on SQLite.
    """

    COLUMNS = (
        "send_id", "survey_id", "wave_id", "step", "contact_key", "email",
        "segment", "locale", "contact", "status", "batch", "created_at",
    )  # fmt: skip

    def __init__(self, dialect: Any):
        statement = (
            (postgresql if dialect.name == "postgresql" else sqlite)
            .insert(Send)
            .values({name: bindparam(name) for name in self.COLUMNS})
            .on_conflict_do_nothing(index_elements=["survey_id", "wave_id", "contact_key", "step"])
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = dialect.positional
        if self.positional and tuple(compiled.positiontup or ()) != self.COLUMNS:
            raise AssertionError(f"unexpected parameter order {compiled.positiontup}")
        self.processors = {
            name: Send.__table__.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in ("created_at", "contact")
        }

    def bind(self, name: str, value: Any) -> Any:
        processor = self.processors[name]
        return value if processor is None else processor(value)

    def row(self, values: tuple[Any, ...]) -> Any:
        return values if self.positional else dict(zip(self.COLUMNS, values, strict=True))


@functools.lru_cache(maxsize=16)
def _fast_insert(dialect: Any) -> _FastInsert:
    """The compiled insert of a dialect (an engine's dialect lives as long as the engine)."""
    return _FastInsert(dialect)


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _insert(store: Store, model: type[Any]) -> Any:
    dialect = postgresql if store.dialect == "postgresql" else sqlite
    return dialect.insert(model)


# -- sending ---------------------------------------------------------------------------


@dataclass(slots=True)
class ClaimedSend:
    """A claimed ledger row: what sending it needs, read without the ORM's bookkeeping."""

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


_SENDS = Send.__table__
#: The columns a claim reads back; the rest of a ClaimedSend is known to the claimer.
_CLAIM_READ = tuple(
    _SENDS.c[name]
    for name in (
        "id", "send_id", "step", "contact_key", "email", "segment", "locale", "contact", "batch",
    )
)  # fmt: skip


def new_claim_id() -> str:
    """`host:pid:uuid` — tells a dead run's claims from a live one's."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


def claim_batch(
    store: Store,
    survey_id: str,
    wave_id: str,
    step: int,
    claim_id: str,
    limit: int,
    now: datetime,
) -> list[ClaimedSend]:
    """Move up to `limit` pending rows to `sending` under `claim_id`, and return them.

    No two callers ever get the same row. Rows whose email is suppressed at claim
    time become `skipped` (error = the reason) instead; an empty list means
    nothing is pending any more. The rows come as `ClaimedSend`, ordered by batch
    and id.
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
                )
                .order_by(_SENDS.c.batch, _SENDS.c.id)
                .limit(limit - claimed)
            )
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
                .where(_in(store, _SENDS.c.id, ids))
                .values(status="sending", claim_id=claim_id, claimed_at=claimed_at)
            )
            if returning:
                rows.extend(conn.execute(statement.returning(*_CLAIM_READ)).all())
            else:
                conn.execute(statement)
                rows.extend(
                    conn.execute(select(*_CLAIM_READ).where(_in(store, _SENDS.c.id, ids))).all()
                )
            claimed += len(ids)
    rows.sort(key=lambda row: (row.batch, row.id))
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
        )
        for row in rows
    ]


def _in(store: Store, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)`: one array parameter on PostgreSQL rather than one per value."""
    if store.dialect == "postgresql":
        array = postgresql.ARRAY(column.type)
        return column == any_(bindparam(f"{column.name}_values", list(values), type_=array))
    return column.in_(values)


def _skip_suppressed(conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
    by_reason: dict[str, list[int]] = defaultdict(list)
    for row_id, reason in rows:
        by_reason[reason].append(row_id)
    for reason, ids in by_reason.items():
        conn.execute(
            update(_SENDS).where(_SENDS.c.id.in_(ids)).values(status="skipped", error=reason)
        )


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
                own = dict(zip(("provider_id", "error"), (provider_id, error), strict=True))
                values = {name: own[name] for name in _ResultUpdate.PER_ROW[status]}
                statement = (
                    update(_SENDS)
                    .where(_in(store, _SENDS.c.send_id, send_ids), *mine)
                    .values(**constants[status], **values)
                )
                changed[status] += conn.execute(statement).rowcount
            if singles:
                statement = _result_update(dialect, status)
                params = statement.params(claim_id, constants[status], singles)
                changed[status] += conn.exec_driver_sql(statement.sql, params).rowcount
    return changed


#: Deliveries with one outcome (status, provider id, error) from this many on are
#: recorded by one UPDATE … WHERE send_id IN (…), fewer by one UPDATE each.
_SHARED_OUTCOME_MIN = 8


class _ResultUpdate:
    """`UPDATE sends SET … WHERE send_id = ? AND claim_id = ? AND status IN (sending,
    in_doubt)` for one delivery status, compiled once, values bound by hand.

    The DBAPI's executemany gets ready-made parameters (as `_FastInsert` does):
    SQLAlchemy's per-row processing would cost most of the time.
    """

    #: Columns set from each delivery (the rest are the status's constants).
    PER_ROW: Mapping[str, tuple[str, ...]] = {
        "sent": ("provider_id",),
        "failed": ("error",),
        "retry": ("error",),
        "in_doubt": ("provider_id", "error"),
    }
    CONSTANTS: Mapping[str, tuple[str, ...]] = {
        "sent": ("status", "sent_at", "channel", "error"),
        "failed": ("status", "channel"),
        "retry": ("status", "claim_id", "claimed_at"),
        "in_doubt": ("status", "channel"),
    }

    def __init__(self, dialect: Any, status: str):
        table = Send.__table__
        # Every parameter is named: c_* constants of the call, r_* values of a delivery.
        sets = {
            name: bindparam(f"c_{name}", type_=table.c[name].type)
            for name in self.CONSTANTS[status]
        }
        sets.update(
            {
                name: bindparam(f"r_{name}", type_=table.c[name].type)
                for name in self.PER_ROW[status]
            }
        )
        statement = (
            update(Send)
            .where(
                Send.send_id == bindparam("r_send_id", type_=table.c.send_id.type),
                Send.claim_id == bindparam("w_claim_id", type_=table.c.claim_id.type),
                or_(
                    Send.status == bindparam("w_sending", type_=table.c.status.type),
                    Send.status == bindparam("w_in_doubt", type_=table.c.status.type),
                ),
            )
            .values(sets)
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.constants = self.CONSTANTS[status]
        #: Parameters in the order `params` assembles them: call constants, then a row's.
        self.names = (
            "w_claim_id", "w_sending", "w_in_doubt",
            *(f"c_{name}" for name in self.constants),
            "r_send_id", *(f"r_{name}" for name in self.PER_ROW[status]),
        )  # fmt: skip
        self.processors = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        self.positional = dialect.positional
        order = tuple(compiled.positiontup or ()) if self.positional else self.names
        if sorted(order) != sorted(self.names):
            raise AssertionError(f"unexpected parameters {order}")
        #: The parameters in the statement's order, from call constants + a row's values.
        self.pick = operator.itemgetter(*(self.names.index(name) for name in order))
        first_row = 3 + len(self.constants)
        self.fixed_processors = self.processors[:first_row]
        self.row_processors = self.processors[first_row:]
        #: A row's values from a delivery's (send_id, provider_id, error).
        used = [0] + [
            index
            for index, name in ((1, "provider_id"), (2, "error"))
            if name in self.PER_ROW[status]
        ]
        self.take = operator.itemgetter(*used)

    def params(
        self,
        claim_id: str,
        constants: Mapping[str, Any],
        rows: Sequence[tuple[str, str | None, str | None]],
    ) -> list[Any]:
        """The executemany parameters: one set per (send_id, provider_id, error)."""
        fixed = tuple(
            value if process is None else process(value)
            for value, process in zip(
                (claim_id, "sending", "in_doubt", *(constants[name] for name in self.constants)),
                self.fixed_processors,
                strict=True,
            )
        )
        take, pick, names = self.take, self.pick, self.names
        row_processors = self.row_processors if any(self.row_processors) else None
        result = []
        for row in rows:
            values = take(row)
            if row_processors is not None:
                values = tuple(
                    value if process is None else process(value)
                    for value, process in zip(values, row_processors, strict=True)
                )
            combined = fixed + values
            result.append(
                pick(combined) if self.positional else dict(zip(names, combined, strict=True))
            )
        return result


@functools.lru_cache(maxsize=64)
def _result_update(dialect: Any, status: str) -> _ResultUpdate:
    return _ResultUpdate(dialect, status)


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
            elif _claim_process_gone(claim_id, host):
                dead[claim_id] = "the run died while sending"
        total = 0
        for claim_id, reason in dead.items():
            match = Send.claim_id.is_(None) if claim_id is None else Send.claim_id == claim_id
            total += session.execute(
                update(Send)
                .where(*where, match)
                .values(status="in_doubt", error=reason)
                .execution_options(synchronize_session=False)
            ).rowcount
    return total


def _claim_process_gone(claim_id: str, host: str) -> bool:
    parts = claim_id.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    return not pid_alive(int(parts[1]))


def pid_alive(pid: int) -> bool:
    """True when process `pid` runs on this machine (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def resend_in_doubt(store: Store, survey_id: str, wave_id: str, step: int) -> int:
    """Put `in_doubt` rows back to `pending` (a duplicate beats a miss); returns how many."""
    with store.session(write=True) as session:
        return session.execute(
            update(Send)
            .where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.step == step,
                Send.status == "in_doubt",
            )
            .values(status="pending", claim_id=None, claimed_at=None, error=None)
            .execution_options(synchronize_session=False)
        ).rowcount


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
    """Rows by status (every status, zeros included), `total`, and `by_segment`
    ({segment: {status: count}})."""
    with store.session() as session:
        rows = session.execute(
            select(Send.segment, Send.status, func.count())
            .where(Send.survey_id == survey_id, Send.wave_id == wave_id, Send.step == step)
            .group_by(Send.segment, Send.status)
        ).all()
    totals: Counter[str] = Counter()
    by_segment: dict[str, dict[str, int]] = {}
    for segment, status, count in rows:
        totals[status] += count
        by_segment.setdefault(segment, dict.fromkeys(STATUSES, 0))[status] = count
    result: dict[str, Any] = {status: totals[status] for status in STATUSES}
    result["total"] = sum(totals.values())
    result["by_segment"] = dict(sorted(by_segment.items()))
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
