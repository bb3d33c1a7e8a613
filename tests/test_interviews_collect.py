"""Interview pages and Calendly's webhook on the real collector app (SQLite and PostgreSQL):
consent with its hash, the screener's kind thank-you, one-click decline, follow-up tasks
for accepted people only, signed bookings and cancellations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.followup.apply import apply_rules
from cxops.interviews import calendly
from cxops.interviews.recruit import consent_sha256
from cxops.interviews.service import recruitment, sync_interviews
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.models import Interview, Task
from cxops.testing.collect import INTERVIEW_STUDY, client_for, invite

KEY = "whsec-test-calendly-key"
STUDY = INTERVIEW_STUDY


class Study:
    def __init__(self, project: Any, store_url: str, key: str | None = KEY):
        project.write({"surveys/talk.yaml": STUDY})
        self.project = project
        self.settings = project.settings(database_url=store_url, calendly_webhook_signing_key=key)
        self.store = open_store(store_url)
        self.app = create_app(self.settings, store=self.store)
        self.client = client_for(self.app)
        self.now = self.settings.clock()
        self.survey = find_survey("talk", project.root / "surveys", project.root)

    def invite(self, key: str) -> Any:
        return invite(
            self.store,
            self.app.state.collector.signing_key,
            survey_id="talk",
            contact_key=key,
            email=f"{key}@example.com",
            sent_at=self.now - timedelta(hours=2),
        )

    def interview(self, send_id: str) -> Interview:
        sync_interviews(self.store, self.survey, self.now)
        with self.store.session() as session:
            return session.scalars(select(Interview).where(Interview.send_id == send_id)).one()

    def webhook(self, body: bytes, *, sign_with: str | None = KEY, age: int = 0) -> Any:
        headers = {"Content-Type": "application/json"}
        if sign_with is not None:
            stamp = int(self.now.timestamp()) - age
            headers[calendly.SIGNATURE_HEADER] = calendly.sign(sign_with, body, stamp)
        return self.client.post("/webhooks/calendly", content=body, headers=headers)


@pytest.fixture
def study(project: Any, store_url: str) -> Iterator[Study]:
    made = Study(project, store_url)
    yield made
    made.store.dispose()


def test_the_page_shows_duration_incentive_and_consent_and_accepting_needs_the_tick(
    study: Study,
) -> None:
    inv = study.invite("ada")
    page = study.client.get(inv.answer_path + "?accepted=yes").text
    assert "45 min" in page and "A $40 voucher" in page
    assert "We record the call and delete it after 90 days." in page
    refused = study.client.post(inv.answer_path, data={"accepted": "yes", "role": "Admin"})
    assert refused.status_code == 422
    done = study.client.post(
        inv.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Admin"}
    )
    assert done.status_code == 200
    assert f"utm_content={inv.send_id}" in done.text
    row = study.interview(inv.send_id)
    assert row.status == "accepted"
    assert row.consent_sha256 == consent_sha256("We record the call and delete it after 90 days.")
    assert row.consent_at == study.now
    assert (row.incentive_amount, row.incentive_currency) == (40.0, "USD")


def test_screened_out_people_get_a_kind_thank_you_and_no_task(study: Study) -> None:
    admin, viewer = study.invite("ada"), study.invite("bo")
    study.client.post(
        admin.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Admin"}
    )
    out = study.client.post(
        viewer.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Viewer"}
    )
    assert out.status_code == 200
    assert "looking for a different profile" in out.text
    assert "book.example" not in out.text
    assert study.interview(viewer.send_id).status == "screened_out"
    apply_rules(study.settings, study.store, study.survey, now=study.now)
    with study.store.session() as session:
        titles = [task.title for task in session.scalars(select(Task))]
    assert titles == ["Confirm the slot with ada@example.com"]
    german = study.invite("de-person")
    with study.store.session(write=True) as session:
        from cxops.store.models import Send

        session.scalars(select(Send).where(Send.send_id == german.send_id)).one().locale = "de"
    page = study.client.post(
        german.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Viewer"}
    )
    assert "anderes Profil" in page.text


def test_declining_is_one_click(study: Study) -> None:
    inv = study.invite("cy")
    page = study.client.get(inv.answer_path + "?accepted=no").text
    # the email's "No, thanks" link opens the page with the decline chosen; its script saves it
    assert 'data-autosave="accepted"' in page
    saved = study.client.post(
        inv.answer_path,
        data={"accepted": "no", "_partial": "1", "_confirm": "1"},
        headers={"Accept": "application/json"},
    )
    assert saved.status_code == 200 and saved.json()["answers"] == {"accepted": False}
    state = recruitment(study.store, study.survey)
    assert state.counts.get("declined") == 1 and state.accepted == 0


def _body(kind: str, email: str, ref: str | None, uri: str) -> bytes:
    return json.dumps(
        {
            "created_at": "2026-11-23T09:00:00.000000Z",
            "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
            "event": kind,
            "payload": {
                "email": email,
                "name": "Ada Example",
                "rescheduled": False,
                "status": "active" if kind == "invitee.created" else "canceled",
                "timezone": "Europe/London",
                "tracking": {"utm_source": "cxops", "utm_content": ref, "utm_campaign": None},
                "uri": uri,
                "scheduled_event": {
                    "uri": "https://api.calendly.com/scheduled_events/EEEE",
                    "start_time": "2026-11-26T15:00:00.000000Z",
                    "end_time": "2026-11-26T15:45:00.000000Z",
                    "status": "active",
                },
            },
        }
    ).encode()


def test_calendly_bookings_and_cancellations_are_signed_and_applied(study: Study) -> None:
    inv = study.invite("ada")
    study.client.post(inv.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Admin"})
    uri = "https://api.calendly.com/scheduled_events/EEEE/invitees/IIII"
    created = _body("invitee.created", "ada@example.com", inv.send_id, uri)
    assert study.webhook(created, sign_with=None).status_code == 403
    assert study.webhook(created, sign_with="wrong-key").status_code == 403
    assert study.webhook(created, age=600).status_code == 403
    assert study.interview(inv.send_id).status == "accepted"  # nothing changed
    reply = study.webhook(created)
    assert reply.status_code == 200 and reply.json() == {"result": f"booked: {inv.send_id}"}
    row = study.interview(inv.send_id)
    assert row.status == "booked" and row.booking_uri == uri
    assert row.starts_at is not None and row.starts_at.isoformat() == "2026-11-26T15:00:00+00:00"
    assert study.webhook(b"not json").status_code == 400
    other = json.dumps({"event": "routing_form_submission.created", "payload": {}}).encode()
    assert "ignored" in study.webhook(other).json()["result"]
    canceled = _body("invitee.canceled", "ada@example.com", inv.send_id, uri)
    assert study.webhook(canceled).json() == {"result": f"cancelled: {inv.send_id}"}
    assert recruitment(study.store, study.survey).places_left == 2


def test_without_a_signing_key_every_calendly_event_is_refused(
    project: Any, store_url: str
) -> None:
    unsigned = Study(project, store_url, key=None)
    try:
        body = _body("invitee.created", "x@example.com", None, "u")
        reply = unsigned.webhook(body)
        assert reply.status_code == 403
        assert "CXOPS_CALENDLY_WEBHOOK_SIGNING_KEY" in reply.json()["error"]
    finally:
        unsigned.store.dispose()


@pytest.mark.parametrize(
    "stamp", ["99999999999999999999", "253402300800", "1_700_000_000", "-1", ""]
)
def test_a_signature_timestamp_that_is_no_time_is_refused_not_a_server_error(
    study: Study, stamp: str
) -> None:
    """`t=` beyond datetime's range or a number int() reads but Calendly never writes:
    403, as any bad signature, though the HMAC over it matches."""
    body = _body("invitee.created", "x@example.com", None, "u")
    seconds = int(stamp) if stamp else 0
    digest = calendly.sign(KEY, body, seconds).split("v1=", 1)[1]
    reply = study.client.post(
        "/webhooks/calendly",
        content=body,
        headers={
            "Content-Type": "application/json",
            calendly.SIGNATURE_HEADER: f"t={stamp},v1={digest}",
        },
    )
    assert reply.status_code == 403, reply.text


def test_digits_int_refuses_are_a_refused_signature() -> None:
    """'²' passes str.isdigit() and fails int() (a header byte 0xB2, read as Latin-1)."""
    body = b"{}"
    digest = calendly.sign(KEY, body, 2).split("v1=", 1)[1]
    for stamp in ("\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT TWO}"):
        with pytest.raises(calendly.CalendlyRefused):
            calendly.verify(KEY, f"t={stamp},v1={digest}", body, datetime.fromtimestamp(2, UTC))
