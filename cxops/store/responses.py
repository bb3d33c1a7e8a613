"""Responses: one per invitation, created by the first answer, updated by every edit.

The row is read `FOR UPDATE` (SQLite: under its write lock) and written back only
if its `revision` is still the one read, retried otherwise; the unique `send_id`
makes a second insert fail, and the loser retries as an update. So two submits racing for one invitation (the
page's partial save and the final submit) never make two rows or lose an edit, on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.errors import NotFoundError, StoreError
from cxops.store.db import Store
from cxops.store.models import Response, Send

#: An answer arriving sooner than this after the message reached the person is a machine's.
TOO_FAST = timedelta(seconds=3)
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


def response_for(session: Session, send: Send) -> Response | None:
    """The response to `send`'s invitation, if any."""
    anchor = answer_send(session, send)
    return session.scalar(select(Response).where(Response.send_id == anchor.send_id))


def suspect_reason(send: Send, invitation: Send, now: datetime) -> str | None:
    """Why answers through `send` look like a machine's, or None."""
    if send.honeypot_at is not None or invitation.honeypot_at is not None:
        return "honeypot"
    reached = [moment for moment in (send.sent_at, send.delivered_at) if moment is not None]
    if reached and now - max(reached) < TOO_FAST:
        return "too_fast"
    return None


@dataclass(frozen=True, slots=True)
class AnswerUpdate:
    """What to store: `complete` replaces the answers, otherwise they are merged in.

    `unless_complete`: leave a complete response alone (the valid part of a submit
    that has errors must not overwrite a finished response).
    """

    answers: dict[str, Any]
    complete: bool
    unless_complete: bool = False


#: Decides the update once the send is loaded (in the same transaction); None stores nothing.
Decide = Callable[[Send], AnswerUpdate | None]


def save_answers(
    store: Store,
    send_id: str,
    answers: Mapping[str, Any],
    *,
    complete: bool,
    now: datetime,
    unless_complete: bool = False,
) -> SavedResponse | None:
    """Store answers given through send `send_id`, committed when this returns.

    `complete`: the final submit; its answers replace the stored ones. Otherwise the
    answers are merged into the stored ones and the status stays what it was
    (`partial` for a new response). None when nothing was stored.
    """
    update = AnswerUpdate(dict(answers), complete, unless_complete)
    return record_answers(store, send_id, lambda _send: update, now=now)


def record_answers(
    store: Store, send_id: str, decide: Decide, *, now: datetime
) -> SavedResponse | None:
    """Load send `send_id`, let `decide` say what to store, store it: one transaction.

    NotFoundError when there is no such send. Retried on a concurrent edit of the
    same response (`decide` may then run again). None when nothing was stored.
    """
    for _ in range(_ATTEMPTS):
        try:
            with _writer(store), store.session(write=True) as session:
                return _save_once(session, send_id, decide, now)
        except (_Conflict, IntegrityError):
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


def _save_once(
    session: Session, send_id: str, decide: Decide, now: datetime
) -> SavedResponse | None:
    send = find_send(session, send_id)
    if send is None:
        raise NotFoundError("no such invitation")
    change = decide(send)
    if change is None:
        return None
    answers, complete = dict(change.answers), change.complete
    invitation = answer_send(session, send)
    # FOR UPDATE (PostgreSQL; SQLite holds its write lock already): edits queue, not clash.
    row = session.scalar(
        select(Response).where(Response.send_id == invitation.send_id).with_for_update()
    )
    if row is None:
        if not answers and not complete:
            return None
        reason = suspect_reason(send, invitation, now)
        row = Response(
            send_id=invitation.send_id,
            survey_id=invitation.survey_id,
            wave_id=invitation.wave_id,
            contact_key=invitation.contact_key,
            segment=invitation.segment,
            locale=invitation.locale,
            status="complete" if complete else "partial",
            answers=answers,
            suspect=reason is not None,
            suspect_reason=reason,
            first_answered_at=now,
            submitted_at=now if complete else None,
            updated_at=now,
            revision=1,
        )
        session.add(row)
        session.flush()
        return _saved(row, changed=True)
    if change.unless_complete and row.status == "complete":
        return _saved(row, changed=False)
    merged = answers if complete else {**row.answers, **answers}
    status = "complete" if complete else row.status
    if merged == row.answers and status == row.status:
        return _saved(row, changed=False)
    reason = row.suspect_reason
    if reason is None and (send.honeypot_at or invitation.honeypot_at):
        reason = "honeypot"
    values: dict[str, Any] = {
        "answers": merged,
        "status": status,
        "updated_at": now,
        "revision": row.revision + 1,
        "suspect": reason is not None,
        "suspect_reason": reason,
    }
    if complete:
        values["submitted_at"] = now
    result = session.execute(
        update(Response)
        .where(Response.id == row.id, Response.revision == row.revision)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _Conflict
    return SavedResponse(
        send_id=row.send_id,
        status=status,
        answers=merged,
        revision=row.revision + 1,
        suspect=reason is not None,
        suspect_reason=reason,
        changed=True,
    )


def _saved(row: Response, *, changed: bool) -> SavedResponse:
    return SavedResponse(
        send_id=row.send_id,
        status=row.status,
        answers=dict(row.answers),
        revision=row.revision,
        suspect=row.suspect,
        suspect_reason=row.suspect_reason,
        changed=changed,
    )


def mark_honeypot(store: Store, send_id: str, now: datetime) -> bool:
    """Record that the hidden link of `send_id` was fetched; its answers become suspect.

    False when there is no such send. Idempotent: the first fetch time is kept.
    """
    with _writer(store), store.session(write=True) as session:
        send = find_send(session, send_id)
        if send is None:
            return False
        if send.honeypot_at is None:
            send.honeypot_at = now
        invitation = answer_send(session, send)
        session.execute(
            update(Response)
            .where(Response.send_id == invitation.send_id, Response.suspect.is_(False))
            .values(suspect=True, suspect_reason="honeypot", revision=Response.revision + 1)
            .execution_options(synchronize_session=False)
        )
        return True


def iter_responses(session: Session, survey_id: str) -> Iterator[Response]:
    """Every response of a survey, oldest first, streamed."""
    query = (
        select(Response)
        .where(Response.survey_id == survey_id)
        .order_by(Response.id)
        .execution_options(yield_per=500)
    )
    yield from session.scalars(query)
