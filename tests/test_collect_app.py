"""The answer flow over HTTP, on SQLite and PostgreSQL: nothing recorded by a GET,
partial then complete, one response per invitation, errors that change nothing."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from cxops.collect import create_app
from cxops.messages.tokens import make_token
from cxops.store.db import open_store
from cxops.store.models import Base, Response, Send
from cxops.testing.collect import client_for, invite, links

ALL_TYPES = """\
id: all-types
name: Internal all-types survey
title: "Product check-in <b>&</b>"
kind: custom
audience:
  source: {csv: data/customers.csv, key: id}
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
  locales: [en, de, fr]
questions:
  - {id: score, type: nps, text: "How likely is {{ contact.name }} to recommend us?"}
  - {id: csat, type: csat, text: "Satisfied?", required: false}
  - {id: effort, type: ces, text: "Easy?", required: false}
  - {id: stars, type: rating, text: "Stars?", min: 1, max: 4, labels: {1: Bad, 4: Great}, required: false}
  - {id: plan, type: single, text: "Plan?", options: [Starter, Team], required: false}
  - {id: uses, type: multi, text: "Uses?", options: [Exports, API, "=cmd"], required: false}
  - {id: why, type: text, text: "Why?", max_length: 50, required: false}
"""

INTERVIEW = """\
id: talk
name: Talk to us
kind: interview
audience:
  source: {csv: data/customers.csv, key: id}
interview:
  goal: 3
  batch: 5
  duration: 30m
  incentive: A gift card
  booking_url: "https://book.example/slots"
  consent: "We record the call."
invitation:
  template: interview_invite
  from: "Research <research@acme.example>"
"""


class Collector:
    def __init__(self, project, store_url):
        project.write({"surveys/all-types.yaml": ALL_TYPES, "surveys/talk.yaml": INTERVIEW})
        self.settings = project.settings(database_url=store_url)
        self.store = open_store(store_url)
        self.app = create_app(self.settings, store=self.store)
        self.client = client_for(self.app)
        self.key = self.app.state.collector.signing_key
        self.now = self.settings.clock()

    def invite(self, survey_id="all-types", *, sent_ago=timedelta(hours=2), **fields):
        fields.setdefault("contact_key", f"c{abs(hash(str(fields)))}")
        fields.setdefault("email", f"{fields['contact_key']}@example.com")
        return invite(
            self.store, self.key, survey_id=survey_id, sent_at=self.now - sent_ago, **fields
        )

    def responses(self):
        with self.store.session() as session:
            return list(session.scalars(select(Response).order_by(Response.id)))

    def send(self, send_id):
        with self.store.session() as session:
            return session.scalar(select(Send).where(Send.send_id == send_id))


@pytest.fixture
def collector(project, store_url):
    made = Collector(project, store_url)
    yield made
    made.store.dispose()


JSON = {"Accept": "application/json"}


def test_bare_get_preselects_the_score_and_records_nothing(collector):
    inv = collector.invite(contact={"name": "<script>alert(1)</script>"})
    page = collector.client.get(inv.answer_path + "?score=7")
    assert page.status_code == 200
    assert re.search(r'value="7" checked', page.text)
    assert 'data-autosave="score"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Product check-in &lt;b&gt;&amp;&lt;/b&gt;" in page.text
    assert collector.responses() == []


def test_score_link_with_a_bad_value_preselects_nothing(collector):
    inv = collector.invite()
    page = collector.client.get(inv.answer_path + "?score=11")
    assert page.status_code == 200
    assert " checked" not in page.text
    assert 'data-autosave=""' in page.text


def test_partial_then_complete_is_one_response_with_revisions(collector):
    inv = collector.invite(segment="enterprise", wave_id="2026-q4")
    partial = collector.client.post(
        inv.answer_path, data={"score": "7", "_partial": "1"}, headers=JSON
    )
    assert partial.status_code == 200
    assert partial.json() == {
        "status": "partial",
        "revision": 1,
        "answers": {"score": 7},
        "confirmed": False,
    }
    [stored] = collector.responses()
    assert (stored.status, stored.answers, stored.revision) == ("partial", {"score": 7}, 1)
    assert stored.confirmed_at is None
    assert (stored.segment, stored.wave_id, stored.submitted_at) == ("enterprise", "2026-q4", None)

    done = collector.client.post(
        inv.answer_path, data={"score": "9", "uses": ["API", "Exports"], "why": "fast"}
    )
    assert done.status_code == 200
    assert "Thank you" in done.text
    [stored] = collector.responses()
    assert stored.status == "complete"
    assert stored.answers == {"score": 9, "uses": ["Exports", "API"], "why": "fast"}
    assert stored.revision == 2
    assert stored.submitted_at == collector.now
    assert stored.confirmed_at == collector.now


def test_answers_stay_editable_and_identical_resubmits_change_nothing(collector):
    inv = collector.invite()
    collector.client.post(inv.answer_path, data={"score": "3", "why": "slow"})
    collector.client.post(inv.answer_path, data={"score": "3", "why": "slow"})
    [stored] = collector.responses()
    assert stored.revision == 1
    page = collector.client.get(inv.answer_path)
    assert re.search(r'value="3" checked', page.text)
    assert ">slow</textarea>" in page.text
    edit = collector.client.post(inv.answer_path, data={"score": "6"}, headers=JSON)
    assert edit.json() == {
        "status": "complete",
        "revision": 2,
        "answers": {"score": 6},
        "confirmed": True,
    }
    assert len(collector.responses()) == 1


def test_a_score_link_opened_after_answering_changes_only_the_score_and_only_on_a_tap(collector):
    inv = collector.invite()
    collector.client.post(inv.answer_path, data={"score": "3", "why": "slow"})
    page = collector.client.get(inv.answer_path + "?score=3")
    assert 'data-autosave=""' in page.text and 'data-confirmed="yes"' in page.text
    page = collector.client.get(inv.answer_path + "?score=8")
    # shown chosen, but not saved on load: a load (maybe a scanner's) changes no confirmed answer
    assert 'data-autosave=""' in page.text and 'data-confirmed="no"' in page.text
    assert 'value="8" checked' in page.text
    on_load = collector.client.post(
        inv.answer_path, data={"score": "8", "_partial": "1"}, headers=JSON
    )
    assert on_load.json()["answers"] == {"score": 3, "why": "slow"}
    saved = collector.client.post(
        inv.answer_path, data={"score": "8", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert saved.json()["answers"] == {"score": 8, "why": "slow"}
    assert saved.json()["status"] == "complete"


def test_required_answer_missing_shows_the_error_next_to_the_field(collector):
    inv = collector.invite()
    page = collector.client.post(inv.answer_path, data={"why": "no score"})
    assert page.status_code == 422
    field = page.text[page.text.index('id="score-field"') :]
    field = field[: field.index("</fieldset>")]
    assert 'aria-invalid="true"' in field
    assert '<p class="error-text" id="score-error">Please answer this question.</p>' in field
    assert 'aria-describedby="score-anchors score-error"' in page.text
    assert ">no score</textarea>" in page.text
    assert 'role="alert"' in page.text
    [stored] = collector.responses()
    assert (stored.status, stored.answers) == ("partial", {"why": "no score"})


def test_errors_as_json_and_nothing_stored_when_nothing_valid(collector):
    inv = collector.invite()
    reply = collector.client.post(
        inv.answer_path, data={"score": "12", "why": "x" * 51}, headers=JSON
    )
    assert reply.status_code == 422
    assert reply.json()["errors"] == {
        "score": "Please choose a number from 0 to 10.",
        "why": "Please shorten your answer to at most 50 characters.",
    }
    assert collector.responses() == []


def test_an_invalid_edit_leaves_a_complete_response_alone(collector):
    inv = collector.invite()
    collector.client.post(inv.answer_path, data={"score": "5"})
    reply = collector.client.post(inv.answer_path, data={"csat": "4", "score": "99"})
    assert reply.status_code == 422
    [stored] = collector.responses()
    assert (stored.answers, stored.revision) == ({"score": 5}, 1)


def test_every_question_type_is_rendered_accessibly(collector):
    page = collector.client.get(collector.invite().answer_path).text
    for question in ("score", "csat", "effort", "stars", "plan", "uses"):
        block = page[page.index(f'<fieldset class="field" id="{question}-field"') :]
        block = block[: block.index("</fieldset>")]
        assert "<legend>" in block
        inputs = re.findall(r'<input type="(\w+)" id="([\w-]+)" name="(\w+)"', block)
        assert inputs, question
        for kind, input_id, name in inputs:
            assert kind == ("checkbox" if question == "uses" else "radio")
            assert name == question
            assert f'for="{input_id}"' in block
    assert len(re.findall(r'name="score" value="\d+"', page)) == 11
    assert len(re.findall(r'name="csat" value="\d+"', page)) == 5
    assert len(re.findall(r'name="effort" value="\d+"', page)) == 7
    assert len(re.findall(r'name="stars" value="\d+"', page)) == 4
    assert "<span>1 – Bad</span><span>4 – Great</span>" in page
    assert '<label class="block" for="why-input">' in page
    assert 'maxlength="50"' in page
    assert 'value="=cmd"' in page


@pytest.mark.parametrize(
    ("locale", "lang", "submit"),
    [
        ("de", "de", "Antworten senden"),
        ("fr-CA", "fr", "Envoyer mes réponses"),
        ("pt", "en", "Send my answers"),
    ],
)
def test_pages_speak_the_contacts_locale(collector, locale, lang, submit):
    inv = collector.invite(locale=locale)
    page = collector.client.get(inv.answer_path).text
    assert f'<html lang="{lang}">' in page
    assert submit in page
    thanks = collector.client.post(inv.answer_path, data={"score": "1"}).text
    assert f'<html lang="{lang}">' in thanks


def test_tampered_and_expired_tokens_change_nothing(collector):
    inv = collector.invite()
    token = inv.answer_path.removeprefix("/a/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for method in ("get", "post"):
        reply = getattr(collector.client, method)(
            "/a/" + tampered, **({"data": {"score": "5"}} if method == "post" else {})
        )
        assert reply.status_code == 404
        assert "This link is not valid" in reply.text
    expired = make_token(collector.key, "answer", inv.send_id, collector.now - timedelta(seconds=1))
    reply = collector.client.post("/a/" + expired, data={"score": "5"})
    assert reply.status_code == 410
    assert "This link has expired" in reply.text
    wrong_purpose = inv.unsubscribe_path.removeprefix("/u/")
    assert collector.client.post("/a/" + wrong_purpose, data={"score": "5"}).status_code == 404
    unknown = make_token(collector.key, "answer", "nosuchsend", collector.now + timedelta(days=1))
    assert collector.client.post("/a/" + unknown, data={"score": "5"}).status_code == 404
    assert collector.responses() == []


def test_honeypot_marks_the_answers_of_the_client_that_fetched_it(collector):
    person = client_for(collector.app, headers={"User-Agent": "a person's browser"})
    scanner = client_for(collector.app, headers={"User-Agent": "a link scanner"})
    first, second = collector.invite(contact_key="a"), collector.invite(contact_key="b")
    third = collector.invite(contact_key="c")
    person.post(second.answer_path, data={"score": "10"})
    scanner.post(third.answer_path, data={"score": "2", "_partial": "1"}, headers=JSON)
    assert scanner.get(first.honeypot_path).status_code == 200
    assert collector.send(first.send_id).honeypot_at == collector.now
    # the fetcher submitting the form: its answer, not a person's confirmation
    scanner.post(first.answer_path, data={"score": "10"})
    assert scanner.head(second.honeypot_path).status_code == 200
    assert scanner.get(third.honeypot_path).status_code == 200
    by_send = {r.send_id: r for r in collector.responses()}
    assert by_send[first.send_id].suspect and by_send[first.send_id].suspect_reason == "honeypot"
    assert by_send[first.send_id].answers == {"score": 10}
    assert by_send[first.send_id].confirmed_at is None
    # a person's submitted answer is never made suspect by another client's fetch
    assert (by_send[second.send_id].suspect, by_send[second.send_id].suspect_reason) == (
        False,
        None,
    )
    # a provisional score saved by the client that then fetched the hidden link is its own
    assert by_send[third.send_id].suspect_reason == "honeypot"


def test_a_score_right_after_sending_is_suspect_and_a_later_one_is_not(collector):
    fast = collector.invite(contact_key="fast", sent_ago=timedelta(seconds=1))
    human = collector.invite(contact_key="human", sent_ago=timedelta(seconds=40))
    collector.client.post(fast.answer_path, data={"score": "0", "_partial": "1"}, headers=JSON)
    collector.client.post(human.answer_path, data={"score": "0", "_partial": "1"}, headers=JSON)
    by_send = {r.send_id: r for r in collector.responses()}
    assert (by_send[fast.send_id].suspect, by_send[fast.send_id].suspect_reason) == (
        True,
        "too_fast",
    )
    assert (by_send[human.send_id].suspect, by_send[human.send_id].suspect_reason) == (False, None)


def test_a_reminder_link_answers_the_invitations_response(collector):
    invitation = collector.invite(contact_key="k1", wave_id="w9")
    reminder_id = collector.invite(contact_key="k1", wave_id="w9", step=1).send_id
    reminder = links(
        collector.key, reminder_id, "k1@example.com", collector.now + timedelta(days=3)
    )
    collector.client.post(
        invitation.answer_path, data={"score": "4", "_partial": "1"}, headers=JSON
    )
    collector.client.post(reminder.answer_path, data={"score": "5", "why": "later"})
    [stored] = collector.responses()
    assert stored.send_id == invitation.send_id
    assert (stored.status, stored.answers) == ("complete", {"score": 5, "why": "later"})


def test_interview_accept_with_consent_leads_to_booking(collector):
    inv = collector.invite("talk")
    page = collector.client.get(inv.answer_path + "?accepted=yes").text
    assert 'id="accepted-yes" name="accepted" value="yes" checked' in page
    assert "30 min" in page and "A gift card" in page
    refused = collector.client.post(inv.answer_path, data={"accepted": "yes"})
    assert refused.status_code == 422
    assert "Please agree to take part" in refused.text
    done = collector.client.post(inv.answer_path, data={"accepted": "yes", "consent": "yes"})
    assert done.status_code == 200
    # the booking link carries the invitation's reference (Calendly hands it back)
    booking = f"https://book.example/slots?utm_source=cxops&amp;utm_content={inv.send_id}"
    assert f'href="{booking}"' in done.text
    [stored] = collector.responses()
    assert stored.answers == {
        "accepted": True,
        "consent": True,
        "consent_sha256": hashlib.sha256(b"We record the call.").hexdigest(),
        "consent_at": collector.now.isoformat(),
    }


def test_a_database_error_is_a_retryable_page_not_a_thank_you(collector):
    inv = collector.invite()
    with collector.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE tasks"))
        conn.execute(text("DROP TABLE responses"))
    reply = collector.client.post(inv.answer_path, data={"score": "8"})
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "5"
    assert "nothing was saved" in reply.text
    assert "Thank you" not in reply.text
    assert "Traceback" not in reply.text and "sqlalchemy" not in reply.text.lower()
    Base.metadata.create_all(collector.store.engine)
    assert collector.client.post(inv.answer_path, data={"score": "8"}).status_code == 200
    assert [r.answers for r in collector.responses()] == [{"score": 8}]


def test_the_answer_is_committed_before_thanks(collector):
    inv = collector.invite()
    reply = collector.client.post(inv.answer_path, data={"score": "2"})
    assert "Thank you" in reply.text
    other = open_store(collector.store.url, upgrade=False)
    try:
        with other.session() as session:
            assert session.scalar(select(func.count()).select_from(Response)) == 1
    finally:
        other.dispose()
