"""Rows that two runs may both create at the same moment: the second waits for the first
and then finds the row, never fails on the unique key (found on PostgreSQL by two
`cxops followups` running at once beside a wave: the follow-up cursor was inserted by
both). On SQLite the write lock serialises the two; the same tests hold there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxops.store import notifications as n
from cxops.store.db import Store
from cxops.store.models import Notification, Suppression
from cxops.store.suppressions import suppress

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _at_once(store: Store, first: Callable[[Session], None], second: Callable[[Session], None]):
    """`first` in a transaction held open while `second` runs in another thread's
    transaction (which must wait for the first's row or lock); then both commit."""
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with store.session(write=True) as session:
                second(session)
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)

    thread = threading.Thread(target=other)
    with store.session(write=True) as session:
        first(session)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second transaction should wait for the first"
    thread.join(timeout=30)
    assert errors == [], errors


def test_two_runs_writing_the_first_cursor_at_once(store: Store) -> None:
    earlier, later = NOW - timedelta(hours=1), NOW
    _at_once(
        store,
        lambda s: n.write_cursor(s, "nps", earlier, NOW),
        lambda s: n.write_cursor(s, "nps", later, NOW),
    )
    with store.session() as session:
        assert n.read_cursor(session, "nps") == later
    _at_once(  # and never back
        store,
        lambda s: n.write_cursor(s, "nps", later + timedelta(hours=1), NOW),
        lambda s: n.write_cursor(s, "nps", earlier, NOW),
    )
    with store.session() as session:
        assert n.read_cursor(session, "nps") == later + timedelta(hours=1)


def test_two_runs_queueing_one_notification_at_once(store: Store) -> None:
    def queue(session: Session) -> None:
        n.queue_notification(session, "webhook:7:created", "webhook", "https://hooks.example", NOW)

    _at_once(store, queue, queue)
    with store.session() as session:
        rows = session.scalars(select(Notification)).all()
    assert [(row.key, row.status, row.attempts) for row in rows] == [
        ("webhook:7:created", "retry", 0)
    ]


def test_two_suppressions_of_one_address_at_once_keep_the_strongest(store: Store) -> None:
    _at_once(
        store,
        lambda s: suppress(s, "Ann@X.example", "bounced", source="sendgrid", now=NOW),
        lambda s: suppress(s, "ann@x.example", "unsubscribed", source="link", now=NOW),
    )
    with store.session() as session:
        rows = session.scalars(select(Suppression)).all()
    assert [(row.email, row.reason, row.source) for row in rows] == [
        ("ann@x.example", "unsubscribed", "link")
    ]
