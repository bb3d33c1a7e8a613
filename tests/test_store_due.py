"""Due rows in the ledger (SQLite and PostgreSQL): a row with `not_before` waits, claims
take only due rows, the steps with due rows and what waits until when are found, and a
claimed row can be put back to wait (a gate's hold)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cxops.channels.base import Delivery
from cxops.store import claims, holds, ledger
from cxops.store.db import Store
from cxops.store.models import Send

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def people(count: int, *, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "contact_key": f"c{i}",
            "email": f"person{i}@example.com",
            "segment": "smb",
            "locale": "en",
            "contact": {},
            **extra,
        }
        for i in range(start, start + count)
    ]


def by_key(store: Store) -> dict[str, Send]:
    with store.session() as session:
        return {row.contact_key: row for row in session.scalars(select(Send))}


def test_rows_keep_their_not_before_and_claims_take_only_due_rows(store: Store) -> None:
    rows = people(3) + [
        {**row, "not_before": NOW + (i + 1) * HOUR, "held": "send window"}
        for i, row in enumerate(people(4, start=3))
    ]
    assert ledger.add_invitees(store, "s", "w", 0, rows, NOW) == 7
    stored = by_key(store)
    assert stored["c0"].not_before is None and stored["c0"].held is None
    assert stored["c4"].not_before == NOW + 2 * HOUR and stored["c4"].held == "send window"

    first = claims.claim_batch(store, "s", "w", 0, "a", 100, NOW)
    assert sorted(row.contact_key for row in first) == ["c0", "c1", "c2"]
    assert claims.claim_batch(store, "s", "w", 0, "a", 100, NOW + HOUR - timedelta(seconds=1)) == []
    # At its not_before a row is due (not only after it).
    at_two = claims.claim_batch(store, "s", "w", 0, "b", 100, NOW + 2 * HOUR)
    assert sorted(row.contact_key for row in at_two) == ["c3", "c4"]
    stored = by_key(store)
    assert stored["c3"].held is None and stored["c3"].status == "sending"  # cleared when claimed
    assert stored["c5"].held == "send window" and stored["c5"].status == "pending"


def test_due_groups_and_what_waits_until_when(store: Store) -> None:
    ledger.add_invitees(store, "a", "w1", 0, people(2), NOW)
    ledger.add_invitees(store, "a", "w1", 1, people(3, not_before=NOW + 5 * HOUR), NOW)
    ledger.add_invitees(
        store, "b", "w9", 0, people(4, not_before=NOW - HOUR, held="quota round"), NOW
    )
    ledger.add_invitees(
        store,
        "b",
        "w9",
        0,
        [{**row, "not_before": NOW + i * 24 * HOUR, "held": "quota round"}
         for i, row in enumerate(people(3, start=10), start=1)],
        NOW,
    )  # fmt: skip
    groups = ledger.due_groups(store, NOW)
    assert [(g.survey_id, g.wave_id, g.step, g.due) for g in groups] == [
        ("a", "w1", 0, 2),
        ("b", "w9", 0, 4),
    ]
    waiting = ledger.waiting_rows(store, NOW)
    assert [(w["survey"], w["step"], w["held"], w["count"]) for w in waiting] == [
        ("a", 1, None, 3),
        ("b", 0, "quota round", 3),
    ]
    assert waiting[1]["earliest"] == NOW + 24 * HOUR and waiting[1]["latest"] == NOW + 72 * HOUR
    assert ledger.pending_split(store, "b", "w9", 0, NOW) == (4, 3)
    counts = ledger.wave_counts(store, "b", "w9", 0, now=NOW)
    assert counts["waiting"] == {
        "count": 3,
        "earliest": (NOW + 24 * HOUR).isoformat(),
        "latest": (NOW + 72 * HOUR).isoformat(),
    }
    assert "waiting" not in ledger.wave_counts(store, "b", "w9", 0)
    # Claimed or sent rows neither wait nor are due.
    claimed = claims.claim_batch(store, "a", "w1", 0, "x", 10, NOW)
    claims.mark_results(store, "x", [Delivery(r.send_id, "sent") for r in claimed], NOW)
    assert [(g.survey_id, g.due) for g in ledger.due_groups(store, NOW)] == [("b", 4)]
    later = NOW + 100 * HOUR
    assert [(g.survey_id, g.step, g.due) for g in ledger.due_groups(store, later)] == [
        ("a", 1, 3),
        ("b", 0, 7),
    ]
    assert ledger.waiting_rows(store, later) == []


def test_a_claimed_row_held_back_waits_again_and_only_a_claimed_one(store: Store) -> None:
    ledger.add_invitees(store, "s", "w", 0, people(4), NOW)
    rows = claims.claim_batch(store, "s", "w", 0, "a", 10, NOW)
    claims.mark_results(store, "a", [Delivery(rows[0].send_id, "sent")], NOW)
    until = NOW + 3 * HOUR
    held = holds.hold_claimed(store, "a", [row.id for row in rows[:3]], until, "send window")
    assert held == 2  # the sent row is never put back
    stored = by_key(store)
    assert stored[rows[0].contact_key].status == "sent"
    for row in rows[1:3]:
        back = stored[row.contact_key]
        assert (back.status, back.not_before, back.held, back.claim_id) == (
            "pending",
            until,
            "send window",
            None,
        )
    assert claims.claim_batch(store, "s", "w", 0, "b", 10, NOW + HOUR) == []
    again = claims.claim_batch(store, "s", "w", 0, "b", 10, until)
    assert {row.contact_key for row in again} == {row.contact_key for row in rows[1:3]}
    assert holds.hold_claimed(store, "b", [], until, "x") == 0
