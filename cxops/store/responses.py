"""Responses: one per invitation, created by the first answer, updated by every edit.

An edit reads the row `FOR UPDATE` (SQLite: under its write lock) and writes it back
only if its `revision` is still the one read, retried otherwise; the unique `send_id`
makes a second insert fail (PostgreSQL: `ON CONFLICT DO NOTHING`), and the loser
retries as an edit. So two submits racing for one invitation (the page's partial
save and the final submit) never make two rows or lose an edit, on SQLite and
PostgreSQL alike.

One coherent thing over 400 lines: every write of a response (first answer, edit,
confirmation, suspicion) goes through the one optimistic-revision loop here.

An answer is *provisional* until a person confirms it (`confirmed_at`): a one-click
score saved by the page's script when it loads is kept and shown to the person, but
counted nowhere (no task, no metric, not "answered" for reminders) until a real
pointer or key event on the page, or the form's submit, confirms it. Every reader
that counts answers filters with `CONFIRMED`.
A provisional save never changes a confirmed answer.

An answer is *suspect* only on evidence that ties it to a machine, and the evidence
follows the client (`cxops.collect.clients`): the client that fetched the hidden link
is a machine whatever it does on the page (its pointer events and submits confirm
nothing), while another client's answer is a person's however soon after the fetch;
and nobody has read a message seconds after it reached the inbox. A scanner fetching
every link at delivery therefore never makes the person's own later answer suspect.
"""

from __future__ import annotations

import enum
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.errors import NotFoundError, StoreError
from cxops.store.db import Store
from cxops.store.models import Response, Send

#: An answer arriving sooner than this after the message reached the person is a machine's.
TOO_FAST = timedelta(seconds=3)
#: An answer (with no page interaction) this soon after the hidden link was fetched is
#: the fetcher's: scanners load the hidden link and the visible ones together.
HONEYPOT_WINDOW = timedelta(seconds=30)
#: At most this many clients that fetched one send's hidden link are kept.
HONEYPOT_CLIENTS = 16
#: The responses a person confirmed: the only ones tasks, metrics and reminders count.
CONFIRMED: ColumnElement[bool] = Response.confirmed_at.is_not(None)
_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class SavedResponse:
    """The response as stored after a save."""

    send_id: str
    status: str
    answers: dict[str, Any]
    revision: int
    suspect: bool
    suspect_reason: str | None
    #: False when the save changed nothing (the same answers again).
    changed: bool
    #: A person confirmed it (False: provisional, counted nowhere).
    confirmed: bool = False


class _Conflict(Exception):
    """Someone else wrote the row between our read and our write."""


def find_send(session: Session, send_id: str) -> Send | None:
    return session.scalar(select(Send).where(Send.send_id == send_id))


def answer_send(session: Session, send: Send) -> Send:
    """The invitation a send belongs to: itself, or step 0 of its wave for a reminder."""
    if send.step == 0:
        return send
    invitation = session.scalar(
        select(Send).where(
            Send.survey_id == send.survey_id,
            Send.wave_id == send.wave_id,
            Send.contact_key == send.contact_key,
            Send.step == 0,
        )
    )
    return invitation or send


def suspect_reason(
    send: Send | AnsweringSend,
    invitation: Send | AnsweringSend,
    now: datetime,
    *,
    interacted: bool = False,
    client: str | None = None,
) -> str | None:
    """Why an answer given by `client` through `send` at `now` looks like a machine's,
    or None.

    The client that fetched the hidden link is a machine, whatever it does on the page;
    within `TOO_FAST` of the message reaching the inbox nobody has read it, even with a
    pointer event. Otherwise a real pointer or key event on the page (`interacted`) is
    a person's, and so is a client other than the hidden link's fetchers. Only when the
    fetcher is unknown (no `client`, or a fetch recorded before clients were) does time
    alone decide: an answer within `HONEYPOT_WINDOW` of the fetch.
    """
    fetchers = {*(send.honeypot_clients or ()), *(invitation.honeypot_clients or ())}
    if client is not None and client in fetchers:
        return "honeypot"
    reached = [moment for moment in (send.sent_at, send.delivered_at) if moment is not None]
    if reached and now - max(reached) < TOO_FAST:
        return "too_fast"
    if interacted:
        return None
    fetched = [m for m in (send.honeypot_at, invitation.honeypot_at) if m is not None]
    unknown_fetcher = client is None or not fetchers
    if fetched and unknown_fetcher and abs(now - max(fetched)) < HONEYPOT_WINDOW:
        return "honeypot"
    return None


def _person_confirms(loaded: _Loaded) -> bool:
    """This save is a person's confirmation: asked for (`confirm`), and not from a client
    that fetched the hidden link (whatever it clicks, it is a machine)."""
    change = loaded.change
    assert change is not None
    return change.confirm and not _fetched_hidden_link(loaded)


@dataclass(frozen=True, slots=True)
class AnswerUpdate:
    """What to store: `complete` replaces the answers, otherwise they are merged in.

    `unless_complete`: leave a complete response alone (the valid part of a submit
    that has errors must not overwrite a finished response).
    `confirm`: a person is behind this save (the form's submit, or `interacted`: a
    trusted pointer or key event on the page); the response stops being provisional.
    """

    answers: dict[str, Any]
    complete: bool
    unless_complete: bool = False
    confirm: bool = False
    interacted: bool = False
    #: The client saving (`cxops.collect.clients.client_hash`); None: not known.
    client: str | None = None


#: Decides the update once the send is loaded; None stores nothing.
Decide = Callable[["AnsweringSend"], AnswerUpdate | None]


def save_answers(
    store: Store,
    send_id: str,
    answers: Mapping[str, Any],
    *,
    complete: bool,
    now: datetime,
    unless_complete: bool = False,
    confirm: bool | None = None,
) -> SavedResponse | None:
    """Store answers given through send `send_id`, committed when this returns.

    `complete`: the final submit; its answers replace the stored ones. Otherwise the
    answers are merged into the stored ones and the status stays what it was
    (`partial` for a new response). `confirm` (default: `complete`) marks a person's
    answer; otherwise it stays provisional. None when nothing was stored.
    """
    confirmed = complete if confirm is None else confirm
    update = AnswerUpdate(dict(answers), complete, unless_complete, confirm=confirmed)
    return record_answers(store, send_id, lambda _send: update, now=now)


def record_answers(
    store: Store, send_id: str, decide: Decide, *, now: datetime
) -> SavedResponse | None:
    """Load send `send_id`, let `decide` say what to store, store it, committed on return.

    NotFoundError when there is no such send. Retried on a concurrent edit of the
    same response (`decide` may then run again). None when nothing was stored.

    The statements are Core, not ORM (a hot path), and few. On PostgreSQL the first
    answer to an invitation is two single-statement autocommit round trips: the send
    with its response (one join), then `INSERT ... ON CONFLICT DO NOTHING` (atomic on
    its own, so a racing first answer loses cleanly and becomes an edit). An edit is one
    transaction: the response `SELECT ... FOR UPDATE`, then the `UPDATE`. On SQLite all
    of it is one `BEGIN IMMEDIATE` transaction (the write lock serialises writers).
    """
    known: _Loaded | None = None
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            known = _load(conn, send_id, decide)
            if known.change is None:
                return None
            if known.row is None:
                saved = _insert(conn, known, now, on_conflict=True)
                if saved is not _EXISTS:
                    return saved
    for _ in range(_ATTEMPTS):
        try:
            with _writer(store), store.connect(write=True) as conn:
                return _save_locked(conn, send_id, decide, now, known)
        except (_Conflict, IntegrityError):
            known = None
            continue
    raise StoreError(f"answers not saved: {_ATTEMPTS} concurrent edits in a row")


_WRITERS: weakref.WeakKeyDictionary[Store, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def _writer(store: Store) -> AbstractContextManager[Any]:
    """SQLite has one writer at a time: queue this process's writers on a lock instead of
    letting them spin in SQLite's busy handler. PostgreSQL needs no such thing."""
    if store.dialect != "sqlite":
        return nullcontext()
    with _WRITERS_LOCK:
        lock = _WRITERS.get(store)
        if lock is None:
            lock = _WRITERS[store] = threading.Lock()
    return lock


@dataclass(frozen=True, slots=True)
class AnsweringSend:
    """The columns of a send that answering needs (a Core row, not an ORM object)."""

    send_id: str
    survey_id: str
    wave_id: str
    step: int
    contact_key: str
    email: str
    segment: str
    locale: str
    contact: dict[str, Any]
    sent_at: datetime | None
    delivered_at: datetime | None
    honeypot_at: datetime | None
    honeypot_clients: list[str] | None


_sends = cast(Table, Send.__table__)
_responses = cast(Table, Response.__table__)
_SEND_COLUMNS = [_sends.c[field.name] for field in fields(AnsweringSend)]
_ROW_COLUMNS = [
    _responses.c[name]
    for name in (
        "id",
        "status",
        "answers",
        "revision",
        "suspect",
        "suspect_reason",
        "confirmed_at",
    )
]
_ROW_LABELS = [column.label(f"r_{column.name}") for column in _ROW_COLUMNS]
#: The send and (for an invitation, the common case) its response in one statement.
_SEND_AND_RESPONSE = (
    select(*_SEND_COLUMNS, *_ROW_LABELS)
    .select_from(_sends.outerjoin(_responses, _responses.c.send_id == _sends.c.send_id))
    .where(_sends.c.send_id == bindparam("send_id"))
)
_INVITATION = select(*_SEND_COLUMNS).where(
    _sends.c.survey_id == bindparam("survey_id"),
    _sends.c.wave_id == bindparam("wave_id"),
    _sends.c.contact_key == bindparam("contact_key"),
    _sends.c.step == 0,
)
_RESPONSE = select(*_ROW_COLUMNS).where(_responses.c.send_id == bindparam("send_id"))
_RESPONSE_LOCKED = _RESPONSE.with_for_update()


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    status: str
    answers: dict[str, Any]
    revision: int
    suspect: bool
    suspect_reason: str | None
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Loaded:
    send: AnsweringSend
    invitation: AnsweringSend
    row: _Stored | None
    change: AnswerUpdate | None


#: `_insert` found the response already there (a racing first answer won).
class _Outcome(enum.Enum):
    EXISTS = "exists"


_EXISTS: Final = _Outcome.EXISTS


def _answering_send(row: Any) -> AnsweringSend:
    return AnsweringSend(*row[: len(_SEND_COLUMNS)])


def _load(conn: Connection, send_id: str, decide: Decide, *, lock: bool = False) -> _Loaded:
    """The send, its invitation, the invitation's response (locked with `lock`), the change."""
    first = conn.execute(_SEND_AND_RESPONSE, {"send_id": send_id}).first()
    if first is None:
        raise NotFoundError("no such invitation")
    send = _answering_send(first)
    change = decide(send)
    invitation = send
    if send.step != 0:
        found = conn.execute(
            _INVITATION,
            {"survey_id": send.survey_id, "wave_id": send.wave_id, "contact_key": send.contact_key},
        ).first()
        invitation = _answering_send(found) if found is not None else send
    stored: Sequence[Any] | None
    if lock or invitation is not send:
        stored = conn.execute(
            _RESPONSE_LOCKED if lock else _RESPONSE, {"send_id": invitation.send_id}
        ).first()
    else:
        stored = first[len(_SEND_COLUMNS) :] if first[len(_SEND_COLUMNS)] is not None else None
    row = _Stored(*stored) if stored is not None else None
    return _Loaded(send, invitation, row, change)


def read_answers(store: Store, send_id: str) -> tuple[AnsweringSend, dict[str, Any] | None]:
    """Send `send_id` and the answers stored for its invitation (None before any): the
    answer page's one read (usually one statement). NotFoundError when there is no send."""
    send, stored, _confirmed = read_response(store, send_id)
    return send, stored


def read_response(store: Store, send_id: str) -> tuple[AnsweringSend, dict[str, Any] | None, bool]:
    """`read_answers` and whether a person confirmed the stored answers."""
    with store.connect() as conn:
        loaded = _load(conn, send_id, lambda _send: None)
    row = loaded.row
    if row is None:
        return loaded.send, None, False
    return loaded.send, dict(row.answers), row.confirmed_at is not None


def _save_locked(
    conn: Connection, send_id: str, decide: Decide, now: datetime, known: _Loaded | None
) -> SavedResponse | None:
    """One transaction: the response row locked (FOR UPDATE; SQLite holds its write lock
    already), then inserted or updated. `known`: the send already loaded and decided."""
    if known is None:
        # SQLite: under the write lock, one join reads all (no FOR UPDATE there).
        loaded = _load(conn, send_id, decide, lock=conn.dialect.name != "sqlite")
    else:
        stored = conn.execute(_RESPONSE_LOCKED, {"send_id": known.invitation.send_id}).first()
        row = _Stored(*stored) if stored is not None else None
        loaded = _Loaded(known.send, known.invitation, row, known.change)
    change, row = loaded.change, loaded.row
    if change is None:
        return None
    if row is None:
        saved = _insert(conn, loaded, now, on_conflict=conn.dialect.name == "postgresql")
        if saved is _EXISTS:
            raise _Conflict  # inserted meanwhile: retried as an edit
        return saved
    if row.confirmed_at is not None and not change.confirm:
        # A provisional save (a page load: maybe a scanner's) never changes what a person
        # confirmed, such as a complete answer reopened from the email's one-click link.
        return _saved(loaded.invitation.send_id, row, changed=False)
    if row.confirmed_at is not None and not row.suspect and _fetched_hidden_link(loaded):
        return _saved(loaded.invitation.send_id, row, changed=False)  # a person's, kept
    answers, complete = dict(change.answers), change.complete
    confirmed_at = row.confirmed_at or (now if _person_confirms(loaded) else None)
    newly_confirmed = row.confirmed_at is None and confirmed_at is not None
    if change.unless_complete and row.status == "complete" and not newly_confirmed:
        return _saved(loaded.invitation.send_id, row, changed=False)
    if change.unless_complete and row.status == "complete":
        answers, complete = dict(row.answers), True
    merged = answers if complete else {**row.answers, **answers}
    status = "complete" if complete else row.status
    if merged == row.answers and status == row.status and not newly_confirmed:
        return _saved(loaded.invitation.send_id, row, changed=False)
    if row.confirmed_at is not None and not row.suspect:
        reason = None  # a person confirmed it before: later edits are theirs
    else:
        reason = suspect_reason(
            loaded.send,
            loaded.invitation,
            now,
            interacted=change.interacted,
            client=change.client,
        )
    values: dict[str, Any] = {
        "answers": merged,
        "status": status,
        "updated_at": now,
        "revision": row.revision + 1,
        "suspect": reason is not None,
        "suspect_reason": reason,
        "confirmed_at": confirmed_at,
    }
    if change.client is not None:
        values["client"] = change.client
    if change.complete:
        values["submitted_at"] = now
    result = conn.execute(
        update(_responses)
        .where(_responses.c.id == row.id, _responses.c.revision == row.revision)
        .values(**values)
    )
    if result.rowcount != 1:
        raise _Conflict
    return SavedResponse(
        send_id=loaded.invitation.send_id,
        status=status,
        answers=merged,
        revision=row.revision + 1,
        suspect=reason is not None,
        suspect_reason=reason,
        changed=True,
        confirmed=confirmed_at is not None,
    )


def _insert(
    conn: Connection, loaded: _Loaded, now: datetime, *, on_conflict: bool
) -> SavedResponse | Literal[_Outcome.EXISTS] | None:
    """The first answer to an invitation; `_EXISTS` when (`on_conflict`) it is there already,
    None when there is nothing to store."""
    change, invitation = loaded.change, loaded.invitation
    assert change is not None
    answers, complete = dict(change.answers), change.complete
    if not answers and not complete:
        return None
    reason = suspect_reason(
        loaded.send, invitation, now, interacted=change.interacted, client=change.client
    )
    confirmed = _person_confirms(loaded)
    status = "complete" if complete else "partial"
    values = {
        "send_id": invitation.send_id,
        "survey_id": invitation.survey_id,
        "wave_id": invitation.wave_id,
        "contact_key": invitation.contact_key,
        "segment": invitation.segment,
        "locale": invitation.locale,
        "status": status,
        "answers": answers,
        "suspect": reason is not None,
        "suspect_reason": reason,
        "first_answered_at": now,
        "submitted_at": now if complete else None,
        "updated_at": now,
        "revision": 1,
        "confirmed_at": now if confirmed else None,
        "client": change.client,
    }
    statement = _INSERT_NEW if on_conflict else _INSERT
    if conn.execute(statement, values).first() is None:
        return _EXISTS
    return SavedResponse(
        send_id=invitation.send_id,
        status=status,
        answers=answers,
        revision=1,
        suspect=reason is not None,
        suspect_reason=reason,
        changed=True,
        confirmed=confirmed,
    )


_INSERT = insert(_responses).returning(_responses.c.id)
#: PostgreSQL: nothing inserted (no row returned) when the invitation has a response.
_INSERT_NEW = (
    postgresql.insert(_responses)
    .on_conflict_do_nothing(index_elements=[_responses.c.send_id])
    .returning(_responses.c.id)
)


def _saved(send_id: str, row: _Stored, *, changed: bool) -> SavedResponse:
    return SavedResponse(
        send_id=send_id,
        status=row.status,
        answers=dict(row.answers),
        revision=row.revision,
        suspect=row.suspect,
        suspect_reason=row.suspect_reason,
        changed=changed,
        confirmed=row.confirmed_at is not None,
    )


def mark_honeypot(store: Store, send_id: str, now: datetime, client: str | None = None) -> bool:
    """Record that `client` fetched the hidden link of `send_id` (the latest fetch is kept).

    A fetch alone says nothing about the person's own answer: the response becomes
    suspect, and unconfirmed, when `client` saved it (its confirmation was a machine's);
    a response of an unknown client, when it is provisional and saved within
    `HONEYPOT_WINDOW` of the fetch. False when there is no such send.
    """
    with _writer(store), store.session(write=True) as session:
        send = find_send(session, send_id)
        if send is None:
            return False
        send.honeypot_at = now
        if client is not None and client not in (send.honeypot_clients or ()):
            send.honeypot_clients = [*(send.honeypot_clients or ()), client][-HONEYPOT_CLIENTS:]
        invitation = answer_send(session, send)
        unknown_and_recent = and_(
            Response.client.is_(None),
            Response.suspect.is_(False),
            Response.confirmed_at.is_(None),
            Response.updated_at >= now - HONEYPOT_WINDOW,
        )
        session.execute(
            update(Response)
            .where(
                Response.send_id == invitation.send_id,
                or_(Response.client == client, unknown_and_recent)
                if client is not None
                else unknown_and_recent,
            )
            .values(
                suspect=True,
                suspect_reason="honeypot",
                confirmed_at=None,
                revision=Response.revision + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return True


def _fetched_hidden_link(loaded: _Loaded) -> bool:
    client = loaded.change.client if loaded.change is not None else None
    fetchers = {
        *(loaded.send.honeypot_clients or ()),
        *(loaded.invitation.honeypot_clients or ()),
    }
    return client is not None and client in fetchers


def iter_responses(session: Session, survey_id: str) -> Iterator[Response]:
    """Every response of a survey, oldest first, streamed."""
    query = (
        select(Response)
        .where(Response.survey_id == survey_id)
        .order_by(Response.id)
        .execution_options(yield_per=500)
    )
    yield from session.scalars(query)
