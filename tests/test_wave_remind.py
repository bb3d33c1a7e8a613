"""Reminder rounds on the wave path, with the clock moved (SQLite and PostgreSQL).

(The candidates' SQL, the expiry and the cap run on both stores; the other rules on SQLite.)

Reminder k is step k of the same wave in the same ledger: due `after` the previous
message to people who have not answered (a provisional one-click score is not an answer),
are not suppressed and whose invitation has not expired; once per step; a policy rule
holds it back like an invitation; an expired wave closes with its final response rate.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
from sqlalchemy import func, select

from cxops.messages.tokens import TokenError, read_token
from cxops.spec import find_survey
from cxops.store.db import Store, open_store
from cxops.store.models import Response, Send, Wave
from cxops.store.responses import save_answers
from cxops.store.suppressions import suppress
from cxops.testing.waves import send_all
from cxops.wave import status
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.reminder_round import ReminderSummary, remind_survey

SURVEY = "nps-quarterly"
START = datetime.fromisoformat("2026-10-01T09:00:00+00:00")


@pytest.fixture
def store(project: Any, store_url: str) -> Iterator[Store]:
    store = open_store(store_url)
    yield store
    store.dispose()


def settings_at(project: Any, moment: datetime, **more: Any) -> Any:
    return project.settings(now=moment, batch_size=50, **more)


def invite(project: Any, store: Store) -> WaveContext:
    settings = settings_at(project, START)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "q4")
    prepare_wave(store, wave)
    send_all(store, wave)
    return wave


def remind(project: Any, store: Store, moment: datetime, **more: Any) -> ReminderSummary:
    settings = settings_at(project, moment, **more)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    return remind_survey(store, survey, settings, lambda wave: send_all(store, wave))


def rows(store: Store, step: int, status_: str | None = None) -> list[Send]:
    with store.session() as session:
        query = select(Send).where(Send.survey_id == SURVEY, Send.step == step)
        if status_:
            query = query.where(Send.status == status_)
        return list(session.scalars(query.order_by(Send.id)))


def reminder_mail(project: Any) -> list[Any]:
    folder = project.root / "outbox" / SURVEY / "q4"
    return [m for path in sorted(folder.glob("reminder1-*.mbox")) for m in mailbox.mbox(path)]


def subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_reminders_go_once_to_non_responders_after_the_delay(project: Any, store: Store) -> None:
    wave = invite(project, store)
    invited = rows(store, 0, "sent")
    assert len(invited) == 300
    confirmed, provisional, unsubscribed = invited[0], invited[1], invited[2]
    at = START + timedelta(hours=5)
    save_answers(store, confirmed.send_id, {"score": 9}, complete=True, now=at)
    # A scanner's one-click score: kept, but nobody confirmed it, so a reminder is due.
    save_answers(store, provisional.send_id, {"score": 0}, complete=False, now=at)
    with store.session(write=True) as session:
        suppress(session, unsubscribed.email, "unsubscribed", source="test", now=at)

    early = remind(project, store, START + timedelta(days=2, hours=23))
    assert [(s.step, s.due, s.waiting, s.sent_now) for s in early.steps] == [(1, 0, 298, 0)]
    assert early.steps[0].skipped == {"answered": 1, "unsubscribed": 1}
    # The waiting are planned at once as rows due `after` the invitation went out.
    waiting = rows(store, 1)
    assert len(waiting) == 298 and {row.status for row in waiting} == {"pending"}
    sent_at = {row.contact_key: row.sent_at for row in invited}
    assert all(row.not_before == sent_at[row.contact_key] + timedelta(days=3) for row in waiting)
    assert reminder_mail(project) == []

    due = remind(project, store, START + timedelta(days=3, minutes=1))
    step = due.steps[0]
    assert (step.due, step.sent_now, step.sent, step.in_doubt, step.failed) == (298, 298, 298, 0, 0)
    assert step.skipped == {"answered": 1, "unsubscribed": 1}
    reminded = {row.contact_key for row in rows(store, 1, "sent")}
    assert confirmed.contact_key not in reminded and unsubscribed.contact_key not in reminded
    assert provisional.contact_key in reminded
    mail = reminder_mail(project)
    assert len(mail) == 298 and len({m["To"] for m in mail}) == 298
    assert all(subject(m).startswith("Reminder: ") for m in mail)

    again = remind(project, store, START + timedelta(days=5))
    assert [(s.due, s.sent_now, s.sent) for s in again.steps] == [(0, 0, 298)]
    assert len(reminder_mail(project)) == 298  # at most once per step
    assert wave.survey.invitation.reminder is not None


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_reminder_link_answers_the_invitation(project: Any, store: Store) -> None:
    invite(project, store)
    remind(project, store, START + timedelta(days=3, minutes=1))
    reminder = rows(store, 1, "sent")[0]
    saved = save_answers(
        store, reminder.send_id, {"score": 4}, complete=True, now=START + timedelta(days=4)
    )
    assert saved is not None
    invitation = next(r for r in rows(store, 0) if r.contact_key == reminder.contact_key)
    with store.session() as session:
        stored = session.scalars(select(Response)).all()
    assert [(r.send_id, r.answers["score"]) for r in stored] == [(invitation.send_id, 4)]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_reminder_links_expire_with_the_invitation(project: Any, store: Store) -> None:
    invite(project, store)
    remind(project, store, START + timedelta(days=3, minutes=1))
    key = settings_at(project, START).signing_key()
    message = reminder_mail(project)[0]
    text = next(
        part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    link = next(word for word in text.split() if "/a/" in word)
    token = link.split("/a/", 1)[1].split("?", 1)[0].rstrip(">)")
    expiry = START + timedelta(days=14)
    assert read_token(key, "answer", token, now=expiry - timedelta(seconds=1))
    with pytest.raises(TokenError):
        read_token(key, "answer", token, now=expiry + timedelta(seconds=1))


def test_an_expired_wave_closes_with_its_final_rate_and_sends_no_reminder(
    project: Any, store: Store
) -> None:
    invite(project, store)
    for row in rows(store, 0, "sent")[:30]:
        save_answers(store, row.send_id, {"score": 8}, complete=True, now=START)
    late = remind(project, store, START + timedelta(days=14, minutes=1))
    assert late.steps == [] and rows(store, 1) == []
    assert late.closed == [
        {
            "wave": "q4",
            "closed_at": (START + timedelta(days=14)).isoformat(),
            "invited": 300,
            "answered": 30,
            "response_rate": 10.0,
            "reminders_sent": {},
        }
    ]
    with store.session() as session:
        wave = session.scalar(select(Wave).where(Wave.wave_id == "q4"))
        assert wave is not None and wave.status == "closed"
    assert status.open_waves(store, SURVEY) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_policy_rule_holds_a_reminder_back(project: Any, store: Store) -> None:
    invite(project, store)
    # A rule added after the invitations went out holds the reminders it covers.
    project.write(
        {
            "policy.yaml": (
                "rules:\n"
                "  - name: no-reminders-in-german\n"
                "    when: \"contact.locale == 'de'\"\n"
                "    limit: never\n"
            )
        }
    )
    german = {row.contact_key for row in rows(store, 0, "sent") if row.locale == "de"}
    assert german
    step = remind(project, store, START + timedelta(days=3, minutes=1)).steps[0]
    assert step.skipped == {"policy:no-reminders-in-german": len(german)}
    assert step.sent_now == 300 - len(german)
    assert not german & {row.contact_key for row in rows(store, 1)}


def test_the_contact_cap_counts_other_surveys_against_a_reminder(
    project: Any, store: Store
) -> None:
    invite(project, store)
    others = rows(store, 0, "sent")[:5]
    # A support survey reached five of them the next day (sent with the cap lifted).
    with store.session(write=True) as session:
        for index, row in enumerate(others):
            session.add(
                Send(
                    send_id=f"other{index:027d}",
                    survey_id="csat-support",
                    wave_id="w1",
                    step=0,
                    contact_key=row.contact_key,
                    email=row.email,
                    segment="other",
                    locale="en",
                    contact={},
                    status="sent",
                    batch=0,
                    created_at=START + timedelta(days=1),
                    claimed_at=START + timedelta(days=1),
                    sent_at=START + timedelta(days=1),
                )
            )
    step = remind(project, store, START + timedelta(days=3, minutes=1)).steps[0]
    assert step.skipped == {"contact_cap": 5}
    assert step.sent_now == 295
    lifted = remind(project, store, START + timedelta(days=3, minutes=2), contact_cap="none")
    assert lifted.steps[0].sent_now == 5


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_reminders_speak_the_contacts_language(project: Any, store_url: str) -> None:
    text = (project.root / "surveys" / "ces-onboarding.yaml").read_text()
    project.write(
        {
            "surveys/ces-onboarding.yaml": text.replace(
                "  expires_after: 10d", "  reminder: {after: 2d}\n  expires_after: 10d"
            )
        }
    )
    moment = datetime.fromisoformat("2026-11-20T09:00:00+00:00")
    store = open_store(store_url)
    try:
        survey = find_survey("ces-onboarding", project.root / "surveys", project.root)
        wave = WaveContext.begin(survey, settings_at(project, moment), "w47")
        prepare_wave(store, wave)
        send_all(store, wave)
        later = settings_at(project, moment + timedelta(days=2, minutes=1))
        round_ = remind_survey(store, survey, later, lambda step: send_all(store, step))
        assert round_.steps[0].sent_now == round_.steps[0].due > 0
    finally:
        store.dispose()
    folder = project.root / "outbox" / "ces-onboarding" / "w47"
    mail = [m for path in sorted(folder.glob("reminder1-*.mbox")) for m in mailbox.mbox(path)]
    firsts = {subject(m).split()[0] for m in mail}
    assert firsts == {"Reminder:", "Erinnerung:", "Rappel"}, firsts


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_dry_run_says_who_is_due_and_writes_nothing(project: Any, store: Store) -> None:
    invite(project, store)
    settings = settings_at(project, START + timedelta(days=3, minutes=1))
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    summary = remind_survey(store, survey, settings, None)
    assert summary.dry_run and [(s.due, s.rendered) for s in summary.steps] == [(300, 300)]
    with store.session() as session:
        assert session.scalar(select(func.count()).where(Send.step == 1)) == 0
    assert reminder_mail(project) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_pending_reminders_of_people_who_answered_meanwhile_are_skipped(
    project: Any, store: Store
) -> None:
    invite(project, store)
    moment = START + timedelta(days=3, minutes=1)
    settings = settings_at(project, moment)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)

    def die_before_sending(wave: WaveContext) -> int:
        raise KeyboardInterrupt  # the round dies after planning the step

    with pytest.raises(KeyboardInterrupt):
        remind_survey(store, survey, settings, die_before_sending)
    pending = rows(store, 1, "pending")
    assert len(pending) == 300
    answered = next(r for r in rows(store, 0) if r.contact_key == pending[0].contact_key)
    save_answers(store, answered.send_id, {"score": 10}, complete=True, now=moment)
    resumed = remind(project, store, moment + timedelta(minutes=5))
    assert resumed.steps[0].sent_now == 299
    assert [r.error for r in rows(store, 1, "skipped")] == ["answered"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_two_rounds_at_once_each_report_what_they_sent_themselves(
    project: Any, store: Store
) -> None:
    invite(project, store)
    moment = START + timedelta(days=3, minutes=1)
    settings = settings_at(project, moment)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    other: list[ReminderSummary] = []

    def another_round_first(wave: WaveContext) -> int:
        # The second round starts once this one has planned the step, claims every
        # batch and sends them all; this round's claims then find nothing left.
        other.append(remind_survey(store, survey, settings, lambda w: send_all(store, w)))
        return send_all(store, wave)

    first = remind_survey(store, survey, settings, another_round_first)
    assert other[0].as_dict()["sent"] == 300
    assert first.as_dict()["sent"] == 0
    assert first.steps[0].sent == 300  # the step's total in the ledger
    assert len(rows(store, 1, "sent")) == 300


def test_a_round_prints_its_totals_and_steps_from_the_typed_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`cxops remind` reads the `ReminderSummary` itself: the same totals as `--json`."""
    from cxops.cli.wave_commands import _print_reminders
    from cxops.wave.reminder_round import ReminderSummary, StepSummary

    steps = [
        StepSummary("w1", 1, due=4, waiting=1, skipped={"suppressed": 1, "answered": 2},
                    sent=3, sent_now=2, in_doubt=1),
        StepSummary("w2", 1, due=1, waiting=2, skipped={"answered": 1}, failed=1),
    ]  # fmt: skip
    summary = ReminderSummary("s", datetime(2026, 12, 1, 9), False, steps, notes=("hello",))

    data = summary.as_dict()
    assert (data["due"], data["sent"], data["in_doubt"], data["failed"], data["waiting"]) == (
        5, 2, 1, 1, 3
    )  # fmt: skip
    assert data["skipped"] == {"answered": 3, "suppressed": 1}
    _print_reminders(summary)
    printed = capsys.readouterr().out
    assert "reminders · survey s · 2026-12-01T09:00:00" in printed
    assert "due 5 · sent 2 · in doubt 1 · failed 1 · waiting 3" in printed
    assert printed.index("answered 2") < printed.index("suppressed 1")  # by reason
    assert "note: hello" in printed
