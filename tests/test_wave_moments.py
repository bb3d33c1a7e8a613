"""Stored events become invitations through `send_due` (SQLite and PostgreSQL), without
Prefect: the example CSAT survey and ticket event of tests/data.

- an event is one message, sent once its delay has passed, not before;
- the same event stored twice, or two events with one dedupe value a week apart: one;
- an unsubscribed or erased person: none;
- a second (or interrupted) run never invites anybody twice.
"""

from __future__ import annotations

import copy
import json
import mailbox
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cxops.spec.loader import load_survey
from cxops.spec.models import Survey
from cxops.store.db import Store, open_store
from cxops.store.erasures import erasure_digest
from cxops.store.inbound import NewEvent, store_events, stored_events
from cxops.store.models import Erasure, Send, TriggerDedupe, TriggerProcessed
from cxops.store.suppressions import suppress
from cxops.store.waves import survey_waves
from cxops.testing import Project
from cxops.testing.project import run_cxops
from cxops.wave.due import send_due
from cxops.wave.moments import plan_moments
from tests.test_wave_due import send_all

DATA = Path(__file__).parent / "data"
SURVEY = "csat-ticket-solved"
SOLVED = datetime(2026, 12, 7, 10, 5, tzinfo=UTC)  # a Monday
DUE = SOLVED + timedelta(days=1)  # 1 business day, inside the Berlin send window
#: The end of that day's window (09:00-17:00 Berlin): each contact's slot is before it.
WINDOW_END = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)


def survey() -> Survey:
    return load_survey(DATA / "csat-ticket-solved.yaml", DATA)


def payload(**changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "event-ticket-solved.json").read_text())
    event = copy.deepcopy(loaded)
    event.update(changes)
    return event


def store_event(store: Store, raw: dict[str, Any], now: datetime = SOLVED) -> None:
    occurred = datetime.fromisoformat(raw["occurred_at"])
    event = NewEvent(raw["id"], raw["type"], occurred, raw["data"])
    store_events(store, [event], "key:test", now)


def run_due(project: Any, store: Store, moment: datetime) -> int:
    settings = project.settings(now=moment)
    summary = send_due(store, settings, {SURVEY: survey()}, lambda wave: send_all(store, wave))
    return summary.sent_now


def run_when_due(project: Any, store: Store) -> int:
    """`send_due` at the latest moment a pending row is due (its slot in the send window)."""
    waiting = [row.not_before for row in ledger(store) if row.status == "pending"]
    return run_due(project, store, max(w for w in waiting if w is not None))


def ledger(store: Store) -> list[Send]:
    with store.session() as session:
        rows = list(session.scalars(select(Send).where(Send.survey_id == SURVEY)))
        session.expunge_all()
    return rows


def messages(project: Any) -> list[Any]:
    folder = project.root / "outbox" / SURVEY
    return [m for path in sorted(folder.rglob("*.mbox")) for m in mailbox.mbox(path)]


def test_an_event_is_one_message_after_its_delay(project: Any, store: Store) -> None:
    store_event(store, payload())
    assert run_due(project, store, SOLVED + timedelta(minutes=5)) == 0
    [row] = ledger(store)
    # Due a business day later, at the contact's slot in that day's send window.
    due = row.not_before
    assert row.status == "pending" and due is not None and DUE <= due < WINDOW_END
    assert row.held == ("send window" if due > DUE else None)
    assert row.wave_id == "2026-12-08" and row.segment == "priority"
    assert row.contact["ticket_id"] == "48213"
    assert run_due(project, store, due - timedelta(seconds=1)) == 0
    assert run_due(project, store, due) == 1
    [message] = messages(project)
    assert message["To"].endswith("<ana.42@customer42.example>") or "ana.42" in message["To"]
    assert run_due(project, store, due + timedelta(minutes=1)) == 0
    assert len(messages(project)) == 1


def test_the_same_event_twice_is_one_invitation(project: Any, store: Store) -> None:
    store_event(store, payload())
    store_event(store, payload())
    run_due(project, store, SOLVED + timedelta(minutes=1))
    store_event(store, payload())
    run_due(project, store, DUE)
    run_when_due(project, store)
    assert len(ledger(store)) == 1
    assert len(messages(project)) == 1


def test_one_dedupe_value_a_week_apart_is_one_invitation(project: Any, store: Store) -> None:
    store_event(store, payload())
    run_due(project, store, SOLVED)
    run_when_due(project, store)
    # Reopened and solved again a week later, now asked by a colleague (whom the
    # survey's 14-day cooldown would not hold back): the ticket was asked about already.
    later = payload(id="zd-evt-000999", occurred_at="2026-12-14T10:05:00Z")
    later["data"]["requester"] = {
        "id": "C43",
        "email": "jo@customer42.example",
        "name": "Jo",
        "locale": "en",
    }
    store_event(store, later, now=SOLVED + timedelta(days=7))
    run_due(project, store, SOLVED + timedelta(days=9))
    assert len(ledger(store)) == 1
    assert len(messages(project)) == 1
    with store.session() as session:
        outcomes = sorted(session.scalars(select(TriggerProcessed.outcome)))
    assert outcomes == ["duplicate", "invited"]


def test_an_unsubscribed_person_is_not_invited(project: Any, store: Store) -> None:
    with store.session(write=True) as session:
        suppress(session, "Ana.42@customer42.example", "unsubscribed", source="test", now=SOLVED)
    store_event(store, payload())
    run_due(project, store, WINDOW_END)
    assert ledger(store) == []
    assert messages(project) == []
    with store.session() as session:
        assert list(session.scalars(select(TriggerProcessed.outcome))) == ["excluded: unsubscribed"]


def test_an_erased_person_is_not_invited(project: Any, store: Store) -> None:
    key = project.settings(now=SOLVED).signing_key()
    with store.session(write=True) as session:
        digest = erasure_digest("ana.42@customer42.example", key)
        session.add(Erasure(subject=digest, erased_at=SOLVED, counts={}))
    store_event(store, payload())
    run_due(project, store, WINDOW_END)
    assert ledger(store) == []
    assert messages(project) == []
    with store.session() as session:
        assert list(session.scalars(select(TriggerProcessed.outcome))) == ["excluded: erased"]


def test_runs_again_and_interrupted_invite_nobody_twice(
    project: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxops.wave import moments

    store_event(store, payload())
    store_event(store, payload(id="zd-evt-000124"))  # another event, same ticket
    other = payload(id="zd-evt-000125")
    other["data"]["ticket"]["id"] = "48214"
    other["data"]["requester"] = {
        "id": "C7",
        "email": "bo@customer7.example",
        "name": "Bo",
        "locale": "en",
    }
    store_event(store, other)
    settings = project.settings(now=SOLVED + timedelta(minutes=1))

    # A crash in the middle of writing the second invitation: its transaction is undone.
    real = moments.send_ids
    calls = {"n": 0}

    def failing(count: int) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(count)

    monkeypatch.setattr(moments, "send_ids", failing)
    with pytest.raises(RuntimeError, match="killed"):
        plan_moments(store, settings, {SURVEY: survey()}, settings.clock())
    monkeypatch.setattr(moments, "send_ids", real)
    assert len(ledger(store)) == 1
    with store.session() as session:
        assert len(list(session.scalars(select(TriggerDedupe)))) == 1

    assert survey_waves(store, SURVEY) == []  # the pass died before its wave rows

    first = plan_moments(store, settings, {SURVEY: survey()}, settings.clock())
    # The resumed pass writes the day's wave row, counting the dead pass's invitation too.
    assert sum(wave.summary["sampled"] for wave in survey_waves(store, SURVEY)) == 2
    second = plan_moments(store, settings, {SURVEY: survey()}, settings.clock())
    assert first.invited == 1 and second.invited == 0 and second.outcomes == {}
    assert sorted(row.email for row in ledger(store)) == [
        "ana.42@customer42.example",
        "bo@customer7.example",
    ]
    run_when_due(project, store)
    assert {row.status for row in ledger(store)} == {"sent"}
    assert len(messages(project)) == 2


def test_cli_trigger_queues_one_event_for_the_next_send_due(empty_project: Project) -> None:
    empty_project.path("surveys").mkdir()
    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.path("surveys/csat.yaml"))
    event = DATA / "event-ticket-solved.json"
    args = ["trigger", SURVEY, "--event", str(event)]
    result = json.loads(run_cxops([*args, "--json"], cwd=empty_project.root).stdout)
    assert (result["queued"], result["duplicate"]) == (True, False)
    assert result["plan"]["due_at"] == "2026-12-08T10:05:00+00:00"
    again = run_cxops(args, cwd=empty_project.root)
    assert "was stored before: nothing changed" in again.stdout

    store = open_store(empty_project.settings().store_url)
    try:
        [stored] = stored_events(store)
        assert (stored.event_id, stored.credential) == ("zd-evt-000123", "cli")
        settings = empty_project.settings(now=SOLVED)
        assert plan_moments(store, settings, {SURVEY: survey()}, SOLVED).invited == 1
    finally:
        store.dispose()


def test_cli_trigger_refuses_an_event_the_survey_cannot_use(empty_project: Project) -> None:
    empty_project.path("surveys").mkdir()
    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.path("surveys/csat.yaml"))
    for change, expected in (
        ({"type": "ticket.created"}, "is not the trigger's 'ticket.solved'"),
        ({"data": {"ticket": {"id": "1"}}}, "data.requester.id: expected a value"),
    ):
        bad = empty_project.root / "bad.json"
        bad.write_text(json.dumps(payload(**change)))
        result = run_cxops(
            ["trigger", SURVEY, "--event", str(bad)], cwd=empty_project.root, expect_pass=False
        )
        assert expected in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    assert not any(empty_project.root.glob("*.db")) or _no_events(empty_project)


def _no_events(project: Project) -> bool:
    store = open_store(project.settings().store_url)
    try:
        return stored_events(store) == []
    finally:
        store.dispose()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_event_of_a_survey_with_variants_gets_the_persons_variant(
    project: Any, store: Store
) -> None:
    from cxops.spec.models import Variant
    from cxops.wave.variants import one_variant

    base = survey()
    variants = [Variant(id="a", subject="A"), Variant(id="b", subject="B")]
    invitation = base.invitation.model_copy(update={"variants": variants})
    with_variants = base.model_copy(update={"invitation": invitation})
    store_event(store, payload())
    settings = project.settings(now=SOLVED + timedelta(minutes=5))
    send_due(store, settings, {SURVEY: with_variants}, lambda wave: send_all(store, wave))
    [row] = ledger(store)
    assert row.variant in ("a", "b")
    assert row.variant == one_variant(with_variants, row.contact_key)


def test_an_event_of_a_key_limited_to_a_survey_reaches_only_that_survey(
    project: Any, store: Store
) -> None:
    """Two surveys answer `ticket.solved`: an event posted with a key limited to one of
    them invites for that one only; an event of an open key, for both."""
    twin = survey().model_copy(update={"id": "csat-twin"})
    surveys = {SURVEY: survey(), twin.id: twin}
    scoped = payload()
    occurred = datetime.fromisoformat(scoped["occurred_at"])
    store_events(
        store,
        [NewEvent(scoped["id"], scoped["type"], occurred, scoped["data"])],
        "key:z",
        SOLVED,
        survey_id="csat-twin",
    )
    settings = project.settings(now=SOLVED)
    first = plan_moments(store, settings, surveys, SOLVED)
    assert first.outcomes == {"csat-twin": {"invited": 1}}
    other = payload(id="zd-evt-000200")
    other["data"]["ticket"]["id"] = "48299"
    other["data"]["requester"] = {
        "id": "C7",
        "email": "bo@customer7.example",
        "name": "Bo",
        "locale": "en",
    }
    store_event(store, other)
    second = plan_moments(store, settings, surveys, SOLVED)
    assert second.outcomes == {SURVEY: {"invited": 1}, "csat-twin": {"invited": 1}}


def test_a_backlog_plans_one_invitation_per_person_and_ticket(project: Any, store: Store) -> None:
    """2,000 events in one pass: 800 people with up to three tickets each over two days
    (the 14-day cooldown lets each have one invitation, whichever day), and 100 events
    repeating a ticket already invited for (now asked by someone new: a duplicate)."""
    events = []
    for index in range(2000):
        day = "07" if index < 1000 else "08"
        event = payload(id=f"bk-{index}", occurred_at=f"2026-12-{day}T10:05:00Z")
        ticket, person = str(index), index % 800
        if index >= 1900:
            ticket, person = str(index - 1900), 800 + index - 1900
        event["data"]["ticket"]["id"] = ticket
        event["data"]["requester"] = {
            "id": f"P{person}",
            "email": f"p{person}@backlog.example",
            "name": f"P {person}",
            "locale": "en",
        }
        occurred = datetime.fromisoformat(event["occurred_at"])
        events.append(NewEvent(event["id"], event["type"], occurred, event["data"]))
    store_events(store, events, "key:test", SOLVED)
    settings = project.settings(now=SOLVED)

    done = plan_moments(store, settings, {SURVEY: survey()}, SOLVED)
    assert done.outcomes == {SURVEY: {"invited": 800, "excluded: cooldown": 1100, "duplicate": 100}}
    rows = ledger(store)
    assert sorted(row.email for row in rows) == sorted(f"p{p}@backlog.example" for p in range(800))
    # Each person's first ticket (the oldest event) is the one asked about.
    assert {row.contact["ticket_id"] for row in rows} == {str(p) for p in range(800)}
    with store.session() as session:
        assert len(list(session.scalars(select(TriggerDedupe)))) == 800
        assert len(list(session.scalars(select(TriggerProcessed)))) == 2000
    assert plan_moments(store, settings, {SURVEY: survey()}, SOLVED).outcomes == {}
    # A ticket of someone already invited, a week later: still within the cooldown.
    late = payload(id="bk-late", occurred_at="2026-12-14T10:05:00Z")
    late["data"]["ticket"]["id"] = "late"
    late["data"]["requester"] = {
        "id": "P5",
        "email": "p5@backlog.example",
        "name": "P",
        "locale": "en",
    }
    store_event(store, late, now=SOLVED + timedelta(days=7))
    later = SOLVED + timedelta(days=7)
    again = plan_moments(store, project.settings(now=later), {SURVEY: survey()}, later)
    assert again.outcomes == {SURVEY: {"excluded: cooldown": 1}}
