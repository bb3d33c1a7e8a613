"""`send_due` on the wave path with the clock moved (SQLite and PostgreSQL), without Prefect:
each step's batches go through the wave's own claims and batch sender.

- nobody is sent before their `not_before`, and everyone once, over runs through a day;
- reminders are due rows: planned early, sent by `send_due` when due, not to people who
  answered or whose invitation expired meanwhile;
- a wave whose last waiting invitations `send_due` sends is complete; rows of a survey
  no longer in the project are left and named; a dry run writes nothing.
"""

from __future__ import annotations

import mailbox
import random
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from sqlalchemy import select, update

from cxops.spec import find_survey
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.models import Send, Wave
from cxops.store.responses import save_answers
from cxops.store.waves import pause_wave, resume_wave
from cxops.testing.waves import send_all
from cxops.wave.due import DueSummary, send_due
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.reminder_round import remind_survey
from cxops.wave.send import finish_summary

SURVEY = "nps-quarterly"
START = datetime.fromisoformat("2026-10-01T09:00:00+00:00")


def survey_of(project: Any) -> Survey:
    return find_survey(SURVEY, project.root / "surveys", project.root)


def due_at(project: Any, store: Store, moment: datetime, *, dry_run: bool = False) -> DueSummary:
    settings = project.settings(now=moment, batch_size=40)
    surveys = {SURVEY: survey_of(project)}
    return send_due(
        store, settings, surveys, None if dry_run else (lambda wave: send_all(store, wave))
    )


def rows(store: Store, step: int = 0) -> list[Send]:
    with store.session() as session:
        query = select(Send).where(Send.survey_id == SURVEY, Send.step == step)
        return list(session.scalars(query.order_by(Send.id)))


def mail(project: Any, prefix: str = "batch") -> list[Any]:
    folder = project.root / "outbox" / SURVEY / "q4"
    return [m for path in sorted(folder.glob(f"{prefix}*.mbox")) for m in mailbox.mbox(path)]


def planned_waiting(project: Any, store: Store, seed: int) -> dict[str, datetime]:
    """Wave q4 planned at START, each row due at a seeded moment of the next 24 hours
    (as a send window or a quota round would leave them); {contact_key: not_before}."""
    wave = WaveContext.begin(survey_of(project), project.settings(now=START), "q4")
    prepare_wave(store, wave)
    draw = random.Random(seed)
    when = {}
    with store.connect(write=True) as conn:
        for row in rows(store):
            moment = START + timedelta(minutes=draw.randrange(0, 24 * 60))
            when[row.contact_key] = moment
            conn.execute(
                update(Send).where(Send.id == row.id).values(not_before=moment, held="window")
            )
    return when


def test_nobody_is_sent_before_their_not_before_and_everyone_once(
    project: Any, store: Store, store_url: str
) -> None:
    when = planned_waiting(project, store, seed=len(store_url))
    moments = sorted(START + timedelta(hours=h, minutes=7 * h) for h in range(0, 26, 5))
    for moment in moments:
        summary = due_at(project, store, moment)
        sent = {row.contact_key: row for row in rows(store) if row.status == "sent"}
        assert set(sent) == {key for key, due in when.items() if due <= moment}
        for key, row in sent.items():
            assert row.sent_at is not None and row.sent_at >= when[key]
            assert row.held is None
        assert summary.waiting["count"] == sum(due > moment for due in when.values())
    assert len(sent) == 300
    recipients = Counter(m["To"] for m in mail(project))
    assert len(recipients) == 300 and set(recipients.values()) == {1}


def test_the_run_sends_no_more_before_its_time_than_the_claims_allow(
    project: Any, store: Store
) -> None:
    """The wave's own run sends the due and leaves the waiting to `send_due`; its
    summary says how many wait and until when, and the wave completes once they went."""
    when = planned_waiting(project, store, seed=7)
    settings = project.settings(now=START + timedelta(hours=12), batch_size=40)
    wave = WaveContext.begin(survey_of(project), settings, "q4")
    sent = send_all(store, wave)
    waiting = [due for due in when.values() if due > settings.clock()]
    assert sent == 300 - len(waiting) and waiting
    planned = finish_summary(store, wave, prepare_wave(store, wave))
    assert planned.waiting == {
        "count": len(waiting),
        "earliest": min(waiting).isoformat(),
        "latest": max(waiting).isoformat(),
    }
    assert planned.as_dict()["waiting"]["count"] == len(waiting)
    assert any("waiting to be sent" in note for note in planned.notes)

    done = due_at(project, store, START + timedelta(days=1))
    assert [(s.wave, s.step, s.due, s.sent_now, s.pending) for s in done.steps] == [
        ("q4", 0, len(waiting), len(waiting), 0)
    ]
    with store.session() as session:
        row = session.scalar(select(Wave).where(Wave.wave_id == "q4"))
        assert row is not None and row.status == "complete"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_dry_run_says_what_is_due_and_writes_nothing(project: Any, store: Store) -> None:
    when = planned_waiting(project, store, seed=3)
    moment = START + timedelta(hours=6)
    dry = due_at(project, store, moment, dry_run=True)
    due = sum(at <= moment for at in when.values())
    assert dry.dry_run and [(s.step, s.due, s.sent_now) for s in dry.steps] == [(0, due, 0)]
    assert dry.as_dict()["waiting"]["count"] == 300 - due
    assert {row.status for row in rows(store)} == {"pending"} and mail(project) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rows_of_a_survey_no_longer_in_the_project_are_left_and_named(
    project: Any, store: Store
) -> None:
    planned_waiting(project, store, seed=4)
    settings = project.settings(now=START + timedelta(days=2))
    summary = send_due(store, settings, {}, lambda wave: send_all(store, wave))
    assert summary.steps == [] and summary.left == [
        {"survey": SURVEY, "wave": "q4", "step": 0, "due": 300}
    ]
    assert "no longer in the project" in summary.notes[0]
    assert {row.status for row in rows(store)} == {"pending"}


def test_reminders_are_due_rows_sent_when_due(project: Any, store: Store) -> None:
    survey = survey_of(project)
    settings = project.settings(now=START, batch_size=40)
    wave = WaveContext.begin(survey, settings, "q4")
    prepare_wave(store, wave)
    send_all(store, wave)
    invited = rows(store)
    answered_early, answered_late = invited[0], invited[1]
    save_answers(store, answered_early.send_id, {"score": 9}, complete=True, now=START)

    # A round a day later plans everyone else's reminder 1, due 3 days after the invitation.
    early = remind_survey(
        store, survey, project.settings(now=START + timedelta(days=1)), lambda w: 0
    )
    assert [(s.due, s.waiting, s.sent_now) for s in early.steps] == [(0, 299, 0)]
    assert due_at(project, store, START + timedelta(days=2, hours=23)).steps == []
    save_answers(
        store, answered_late.send_id, {"score": 3}, complete=True, now=START + timedelta(days=2)
    )

    summary = due_at(project, store, START + timedelta(days=3, minutes=1))
    assert [(s.step, s.due, s.stale, s.sent_now, s.sent) for s in summary.steps] == [
        (1, 299, 1, 298, 298)
    ]
    reminded = {row.contact_key: row for row in rows(store, 1)}
    assert reminded[answered_late.contact_key].status == "skipped"
    assert reminded[answered_late.contact_key].error == "answered"
    assert answered_early.contact_key not in reminded
    assert len(mail(project, "reminder1-")) == 298
    # A second run, and a reminder round after it, send nobody again.
    assert due_at(project, store, START + timedelta(days=3, minutes=2)).steps == []
    again = remind_survey(
        store, survey, project.settings(now=START + timedelta(days=3, minutes=3)),
        lambda w: send_all(store, w),
    )  # fmt: skip
    assert again.sent_now == 0 and len(mail(project, "reminder1-")) == 298


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_waiting_reminder_whose_invitation_expired_is_not_sent(
    project: Any, store: Store
) -> None:
    survey = survey_of(project)
    wave = WaveContext.begin(survey, project.settings(now=START), "q4")
    prepare_wave(store, wave)
    send_all(store, wave)
    remind_survey(store, survey, project.settings(now=START + timedelta(days=1)), lambda w: 0)
    # Nobody ran send-due until after the invitation (14 days) expired.
    summary = due_at(project, store, START + timedelta(days=15))
    assert [(s.due, s.stale, s.sent_now) for s in summary.steps] == [(300, 300, 0)]
    assert {(row.status, row.error) for row in rows(store, 1)} == {("skipped", "expired")}
    assert mail(project, "reminder1-") == []


def test_send_windows_hold_each_contact_to_their_own_local_morning(
    project: Any, store: Store
) -> None:
    """The window gate, the due claims and `send_due` together: a wave planned at one
    moment leaves over the following days, each invitation inside its contact's own
    window (09:00-11:00 local, weekdays; an unknown zone read in the survey's)."""
    path = project.root / "surveys" / f"{SURVEY}.yaml"
    text = path.read_text(encoding="utf-8")
    window = (
        '  send_window: {from: "09:00", to: "11:00", days: weekdays, timezone: contact.timezone}\n'
    )
    text = text.replace("  template: nps_invite\n", "  template: nps_invite\n" + window)
    # 80 people (a run of send-due each time one comes due: each has a moment of their own).
    path.write_text(text.replace("    size: 300\n", "    size: 80\n"))
    survey = survey_of(project)
    wave = WaveContext.begin(survey, project.settings(now=START, batch_size=40), "q4")
    planned = prepare_wave(store, wave)
    assert planned.held and planned.held.get("send window", 0) > 0
    assert planned.bad_timezone and planned.bad_timezone > 0
    send_all(store, wave)  # the wave's own run sends only who is due now
    # As the every-minute `send-due` would: a run at each moment a row comes due.
    calls = 0
    while waiting := [row.not_before for row in rows(store) if row.status == "pending"]:
        moment = max(min(when for when in waiting if when is not None), START)
        calls += 1
        assert calls <= 400, "rows keep coming due and are never sent"
        due_at(project, store, moment)
    sent = rows(store)
    assert {row.status for row in sent} == {"sent"} and len(sent) == 80
    for row in sent:
        assert row.sent_at is not None
        local = row.sent_at.astimezone(_zone(row.contact.get("timezone")))
        assert local.weekday() < 5, (row.contact_key, local)
        assert time(9) <= local.time() < time(11), (row.contact_key, local)
    assert len({row.sent_at for row in sent}) > 5  # spread over the days, not one moment


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("Europe/Berlin")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Berlin")  # the survey's schedule.timezone


def test_a_paused_wave_is_passed_over_until_a_person_resumes_it(project: Any, store: Store) -> None:
    """The breaker's pause holds for send-due too: its due rows are left as they are, with
    a note, and go once the wave is resumed."""
    planned_waiting(project, store, seed=3)
    later = START + timedelta(days=1)
    assert pause_wave(store, SURVEY, "q4", "bounce", {"delivered": 250}, START)
    summary = due_at(project, store, later)
    assert summary.steps == []
    assert any("deliverability breaker paused it" in note for note in summary.notes)
    assert {row.status for row in rows(store)} == {"pending"}
    assert resume_wave(store, SURVEY, "q4", later)
    due_at(project, store, later)
    assert {row.status for row in rows(store)} == {"sent"}
