"""Interview recruitment: answers to interview rows, goal and freed places, marks, incentives,
Calendly's signed events (recorded real-format payloads), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cxops.channels.base import Delivery
from cxops.interviews import calendly
from cxops.interviews.recruit import (
    InterviewError,
    booking_link,
    consent_sha256,
    parse_incentive,
    progress,
)
from cxops.interviews.screen import interview_answers
from cxops.interviews.service import (
    apply_calendly,
    holding_places,
    incentive_rows,
    mark,
    pay,
    person_year_total,
    recruitment,
    sync_interviews,
)
from cxops.spec import find_survey
from cxops.spec.models import Survey
from cxops.store import claims, ledger
from cxops.store.db import Store
from cxops.store.models import Interview, Send
from cxops.store.responses import save_answers

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REPO = Path(__file__).resolve().parent.parent
KEY = "calendly-signing-key-for-tests"


def survey(screen: str | None = None) -> Survey:
    base = find_survey("interviews-power-users", REPO / "surveys", REPO)
    if screen is None:
        return base
    interview = base.interview.model_copy(update={"screen": screen})  # type: ignore[union-attr]
    return base.model_copy(update={"interview": interview})


def invite(store: Store, people: int, wave: str = "w1") -> list[str]:
    """`people` sent invitations of the study; their send ids (the references)."""
    rows = [
        {
            "contact_key": f"c{i}",
            "email": f"p{i}@example.com",
            "segment": "s",
            "locale": "en",
            "contact": {},
        }
        for i in range(people)
    ]
    ledger.add_invitees(store, "interviews-power-users", wave, 0, rows, NOW - DAY)
    claim = claims.new_claim_id()
    claims.claim_batch(store, "interviews-power-users", wave, 0, claim, 1000, NOW - DAY)
    with store.session() as session:
        ids = list(
            session.scalars(
                select(Send.send_id).where(Send.wave_id == wave).order_by(Send.contact_key)
            )
        )
    claims.mark_results(store, claim, [Delivery(i, "sent") for i in ids], NOW - DAY)
    return ids


def answer(
    store: Store, spec: Survey, ref: str, values: dict[str, Any], at: datetime = NOW
) -> None:
    save_answers(store, ref, interview_answers(spec, values, at), complete=True, now=at)


def test_incentives_booking_links_and_progress_are_pure() -> None:
    assert parse_incentive("A $50 gift card") == (50.0, "USD")
    assert parse_incentive("Ein Gutschein über 40 EUR") == (40.0, "EUR")
    assert parse_incentive("£25.50 voucher") == (25.5, "GBP")
    assert parse_incentive("Our thanks") == (None, None)
    assert booking_link("https://cal.example/r?x=1", "abc123") == (
        "https://cal.example/r?x=1&utm_source=cxops&utm_content=abc123"
    )
    state = progress(8, 20, ["accepted"] * 3 + ["booked", "completed", "no_show", "declined"])
    assert (state.accepted, state.booked, state.completed, state.places_left) == (6, 2, 1, 3)
    assert not state.goal_reached
    assert progress(2, 5, ["booked", "completed", "cancelled"]).goal_reached
    assert "goal reached" in progress(1, 1, ["accepted"]).line()


def test_the_screener_and_consent_shape_the_stored_answer() -> None:
    spec = survey(screen="answers.role == 'admin'")
    consent = spec.interview.consent  # type: ignore[union-attr]
    passed = interview_answers(spec, {"accepted": True, "consent": True, "role": "admin"}, NOW)
    assert passed["consent_sha256"] == consent_sha256(consent)
    assert passed["consent_at"] == NOW.isoformat() and passed["accepted"] is True
    failed = interview_answers(spec, {"accepted": True, "consent": True, "role": "viewer"}, NOW)
    assert failed["accepted"] is False and failed["screened_out"] is True
    declined = interview_answers(spec, {"accepted": False, "consent": False}, NOW)
    assert "consent_sha256" not in declined and "screened_out" not in declined


def test_accepting_holds_a_place_and_a_no_show_frees_it(store: Store) -> None:
    spec = survey()
    refs = invite(store, 10)
    for ref in refs[:8]:
        answer(store, spec, ref, {"accepted": True, "consent": True})
    answer(store, spec, refs[8], {"accepted": False})
    state = recruitment(store, spec)
    assert state.as_dict() | {"by_status": None} == {
        "goal": 8,
        "invited": 10,
        "accepted": 8,
        "booked": 0,
        "completed": 0,
        "holding_places": 8,
        "places_left": 0,
        "goal_reached": True,
        "by_status": None,
    }
    assert sync_interviews(store, spec, NOW) == 9  # the rows, made from the answers once
    assert sync_interviews(store, spec, NOW) == 0
    with store.session() as session:
        row = session.scalars(select(Interview).where(Interview.send_id == refs[0])).one()
        assert row.consent_sha256 == consent_sha256(spec.interview.consent)  # type: ignore[union-attr]
        assert row.consent_at == NOW and row.status == "accepted"
        declined = session.scalars(select(Interview).where(Interview.send_id == refs[8])).one()
        assert declined.status == "declined" and declined.consent_sha256 is None
    mark(store, [spec], refs[0], "booked", NOW)
    mark(store, [spec], refs[1][-8:], "no-show", NOW)  # a unique ending is enough
    mark(store, [spec], refs[2], "cancelled", NOW)
    assert holding_places(store, spec) == 6
    state = recruitment(store, spec)
    assert (state.accepted, state.booked, state.places_left, state.goal_reached) == (8, 1, 2, False)
    with pytest.raises(InterviewError, match="declined: nothing to mark"):
        mark(store, [spec], refs[8], "booked", NOW)
    with pytest.raises(InterviewError, match="expected one of booked, completed, no-show"):
        mark(store, [spec], refs[0], "done", NOW)
    with pytest.raises(InterviewError, match="no interview"):
        mark(store, [spec], "zzzzzzzz", "booked", NOW)


def test_a_changed_answer_is_followed_until_the_person_booked(store: Store) -> None:
    spec = survey()
    [ref] = invite(store, 1)
    answer(store, spec, ref, {"accepted": False})
    assert recruitment(store, spec).accepted == 0
    answer(store, spec, ref, {"accepted": True, "consent": True}, NOW + DAY)
    assert recruitment(store, spec).accepted == 1
    mark(store, [spec], ref, "booked", NOW + DAY)
    answer(store, spec, ref, {"accepted": False}, NOW + 2 * DAY)
    assert recruitment(store, spec).booked == 1


def test_incentives_are_owed_on_completion_paid_once_and_totalled_per_year(store: Store) -> None:
    spec = survey()
    refs = invite(store, 3)
    for ref in refs:
        answer(store, spec, ref, {"accepted": True, "consent": True})
    with pytest.raises(InterviewError, match=r"nothing is owed .* accepted"):
        pay(store, [spec], refs[0], NOW)
    mark(store, [spec], refs[0], "completed", NOW)
    mark(store, [spec], refs[1], "completed", NOW)
    paid = pay(store, [spec], refs[0], NOW + DAY)
    assert paid["incentive_status"] == "paid" and paid["incentive_amount"] == 50.0
    with pytest.raises(InterviewError, match="was paid on"):
        pay(store, [spec], refs[0], NOW + DAY)
    with pytest.raises(InterviewError, match="stays completed"):
        mark(store, [spec], refs[0], "no-show", NOW + DAY)
    rows = list(incentive_rows(store, spec, NOW + DAY))
    assert [(r["ref"], r["incentive_status"]) for r in rows] == [
        (refs[0], "paid"),
        (refs[1], "owed"),
    ]
    assert rows[0]["person_year_total"] == 50.0 and rows[0]["year"] == 2026
    # the same person in a second study that year: their total is the sum of both
    second = invite(store, 1, wave="w2")[0]
    with store.session(write=True) as session:
        send = session.scalars(select(Send).where(Send.send_id == second)).one()
        send.email = "p0@example.com"
    answer(store, spec, second, {"accepted": True, "consent": True})
    mark(store, [spec], second, "completed", NOW + 2 * DAY)
    assert person_year_total(store, "p0@example.com", 2026) == {"USD": 100.0}
    assert person_year_total(store, "p0@example.com", 2027) == {}


# -- Calendly -------------------------------------------------------------------------


def calendly_body(kind: str, email: str, ref: str | None, uri: str, start: str) -> bytes:
    """A webhook body in Calendly's v2 format (fields as Calendly sends them)."""
    payload = {
        "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
        "created_at": "2026-11-24T10:00:00.000000Z",
        "email": email,
        "event": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
        "first_name": None,
        "last_name": None,
        "name": "Pat Example",
        "new_invitee": None,
        "old_invitee": None,
        "questions_and_answers": [],
        "reschedule_url": "https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA",
        "rescheduled": False,
        "status": "active" if kind == "invitee.created" else "canceled",
        "text_reminder_number": None,
        "timezone": "Europe/London",
        "tracking": {
            "utm_campaign": None,
            "utm_source": "cxops",
            "utm_medium": None,
            "utm_content": ref,
            "utm_term": None,
            "salesforce_uuid": None,
        },
        "updated_at": "2026-11-24T10:00:00.000000Z",
        "uri": uri,
        "scheduled_event": {
            "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "name": "Power user interview",
            "status": "active",
            "start_time": start,
            "end_time": start.replace("10:00", "10:30"),
            "event_type": "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2",
            "location": {"type": "zoom", "join_url": "https://zoom.example/j/1"},
            "invitees_counter": {"total": 1, "active": 1, "limit": 1},
            "created_at": "2026-11-24T10:00:00.000000Z",
            "updated_at": "2026-11-24T10:00:00.000000Z",
            "event_memberships": [{"user": "https://api.calendly.com/users/AAAA"}],
            "event_guests": [],
        },
    }
    if kind == "invitee.canceled":
        payload["cancellation"] = {
            "canceled_by": "Pat Example",
            "reason": "Conflict",
            "canceler_type": "invitee",
            "created_at": "2026-11-25T10:00:00.000000Z",
        }
    return json.dumps(
        {
            "created_at": "2026-11-24T10:00:00.000000Z",
            "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
            "event": kind,
            "payload": payload,
        }
    ).encode()


def test_calendly_signatures_are_checked_over_timestamp_and_raw_body() -> None:
    body = calendly_body("invitee.created", "p0@example.com", "ref", "u", "2026-11-30T10:00:00Z")
    stamp = int(NOW.timestamp())
    header = calendly.sign(KEY, body, stamp)
    calendly.verify(KEY, header, body, NOW + timedelta(seconds=30))
    for bad_header, why in (
        (None, "missing"),
        ("v1=abc", "expected"),
        (header.replace("v1=", "v1=0"), "does not match"),
        (calendly.sign("other-key", body, stamp), "does not match"),
    ):
        with pytest.raises(calendly.CalendlyRefused, match=why):
            calendly.verify(KEY, bad_header, body, NOW)
    with pytest.raises(calendly.CalendlyRefused, match="does not match"):
        calendly.verify(KEY, header, body.replace(b"p0@", b"p1@"), NOW)
    with pytest.raises(calendly.CalendlyRefused, match="too far"):
        calendly.verify(KEY, header, body, NOW + timedelta(minutes=4))
    event = calendly.parse(body)
    assert event is not None and event.kind == "invitee.created" and event.ref == "ref"
    assert event.starts_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert calendly.parse(b'{"event": "routing_form_submission.created", "payload": {}}') is None
    with pytest.raises(calendly.CalendlyPayloadError):
        calendly.parse(b"[1, 2]")


def test_calendly_books_by_reference_or_email_and_a_cancellation_frees_the_place(
    store: Store,
) -> None:
    spec = survey()
    refs = invite(store, 3)
    for ref in refs:
        answer(store, spec, ref, {"accepted": True, "consent": True})
    uri = "https://api.calendly.com/scheduled_events/E1/invitees/I1"
    booked = calendly.parse(
        calendly_body(
            "invitee.created", "someone@else.example", refs[0], uri, "2026-11-30T10:00:00.000000Z"
        )
    )
    assert booked is not None
    assert apply_calendly(store, [spec], booked, NOW) == f"booked: {refs[0]}"
    by_email = calendly.parse(
        calendly_body(
            "invitee.created", "P1@EXAMPLE.COM", None, uri + "b", "2026-12-01T10:00:00.000000Z"
        )
    )
    assert by_email is not None
    assert apply_calendly(store, [spec], by_email, NOW) == f"booked: {refs[1]}"
    stranger = calendly.parse(
        calendly_body("invitee.created", "nobody@example.com", None, "x", "2026-12-01T10:00:00Z")
    )
    assert stranger is not None
    assert apply_calendly(store, [spec], stranger, NOW).startswith("ignored")
    state = recruitment(store, spec)
    assert (state.booked, state.holding) == (2, 3)
    cancel = calendly.parse(
        calendly_body(
            "invitee.canceled", "someone@else.example", refs[0], uri, "2026-11-30T10:00:00.000000Z"
        )
    )
    assert cancel is not None
    assert apply_calendly(store, [spec], cancel, NOW) == f"cancelled: {refs[0]}"
    assert apply_calendly(store, [spec], cancel, NOW).startswith(
        "ignored"
    )  # a replay changes nothing
    with store.session() as session:
        row = session.scalars(select(Interview).where(Interview.send_id == refs[1])).one()
        assert row.starts_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        assert [e["source"] for e in row.events] == ["answer", "calendly"]
    assert recruitment(store, spec).holding == 2


def test_the_screen_expression_is_validated_like_the_rest(project: Any) -> None:
    study = (REPO / "surveys" / "interviews-power-users.yaml").read_text()
    bad = study.replace(
        "  consent:",
        "  screen: \"answers.rol == 'x' or contact.plan\"\n  consent:",
    ).replace(
        "interview:\n", 'questions:\n  - {id: role, type: text, text: "Your role"}\ninterview:\n'
    )
    project.write({"surveys/interviews-power-users.yaml": bad})
    shown = project.run(["validate"], expect_pass=False).stdout
    assert "interview.screen: unknown answers field 'rol' (did you mean 'role'?)" in shown
    assert "interview.screen: unknown name 'contact'; expected one of answers" in shown
