"""An interview invitation's email links as a person's browser uses them, over real HTTP
against the collector (SQLite and PostgreSQL): the GET of the one-click link, the save
the page's script sends on load (read off the page as the script reads it), and the
form's POST.

- A person the screener turned away who opens "Yes, I'm in" again keeps their answer
  (the on-load save is provisional and never overwrites a confirmed one) and gets no
  task; the follow-up rules see the screening outcome whatever the stored answers say.
- "No, thanks" opens a page that says so in words, in the contact's language, with one
  button to confirm the decline and one to take part after all. Its on-load save stays
  provisional (a scanner opts nobody out); the confirmed decline ends reminders and
  counts as declined.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.collect.i18n import message
from cxops.expr import Evaluator
from cxops.followup.apply import apply_rules
from cxops.followup.rules import Create, decide
from cxops.interviews.service import recruitment
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.facts import ResponseFacts
from cxops.store.models import Response, Send, Task
from cxops.store.reminders import reminder_candidates
from cxops.testing.collect import INTERVIEW_STUDY, SentInvitation, invite
from cxops.testing.followup import serving

STUDY = INTERVIEW_STUDY.replace("locales: [en, de]", "locales: [en, de, fr]")


class PageForms(HTMLParser):
    """What answer.js reads off a page: the answer form's action, the names it saves on
    load (`data-autosave`) and the values those inputs hold (checked, or hidden); also
    the page's headings, buttons and field names."""

    def __init__(self, html: str):
        super().__init__()
        self.action: str | None = None
        self.autosave: list[str] = []
        self.inputs: list[dict[str, str]] = []
        self.h1 = 0
        self.buttons: list[str] = []
        self._in_form = False
        self._in_button = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form" and found.get("id") == "answer-form":
            self._in_form = True
            self.action = found.get("action")
            self.autosave = found.get("data-autosave", "").split()
        elif tag == "input":
            self.inputs.append({**found, "in_answer_form": "yes" if self._in_form else ""})
        elif tag == "h1":
            self.h1 += 1
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data

    @property
    def names(self) -> set[str]:
        return {field["name"] for field in self.inputs if field.get("name")}

    def on_load_save(self) -> dict[str, list[str]] | None:
        """The body the page's script POSTs when it loads (None: it posts nothing)."""
        body: dict[str, list[str]] = {}
        for field in self.inputs:
            name = field.get("name", "")
            if not field["in_answer_form"] or name not in self.autosave:
                continue
            if "checked" in field or field.get("type") == "hidden":
                body.setdefault(name, []).append(field.get("value", ""))
        return {**body, "_partial": ["1"]} if body else None


class LiveStudy:
    def __init__(self, project: Any, store_url: str):
        project.write({"surveys/talk.yaml": STUDY})
        self.settings = project.settings(database_url=store_url)
        self.store = open_store(store_url)
        self.app = create_app(self.settings, store=self.store)
        self.now = self.settings.clock()
        self.survey = find_survey("talk", project.root / "surveys", project.root)
        self.http: httpx.Client

    def invite(self, key: str, locale: str = "en") -> SentInvitation:
        return invite(
            self.store,
            self.app.state.collector.signing_key,
            survey_id="talk",
            contact_key=key,
            email=f"{key}@example.com",
            sent_at=self.now - timedelta(hours=2),
            locale=locale,
        )

    def open_link(self, path: str) -> tuple[str, PageForms]:
        """GET a link as the browser does, then send the page's on-load save, if any."""
        reply = self.http.get(path)
        assert reply.status_code == 200, reply.text
        page = PageForms(reply.text)
        body = page.on_load_save()
        if body is not None:
            saved = self.http.post(
                path.split("?")[0], data=body, headers={"Accept": "application/json"}
            )
            assert saved.status_code == 200, saved.text
        return reply.text, page

    def stored(self, send_id: str) -> tuple[dict[str, Any], bool]:
        with self.store.session() as session:
            row = session.scalars(select(Response).where(Response.send_id == send_id)).one()
            return dict(row.answers), row.confirmed_at is not None

    def tasks(self) -> list[str]:
        apply_rules(self.settings, self.store, self.survey, now=self.now)
        with self.store.session() as session:
            return [task.title for task in session.scalars(select(Task))]

    def reminded(self, send_id: str) -> bool:
        """Whether the reminder round would still consider this invitee unanswered."""
        (candidate,) = [
            found
            for found in reminder_candidates(self.store, "talk", "w1", 1)
            if found.email == self.email_of(send_id)
        ]
        return not candidate.answered

    def email_of(self, send_id: str) -> str:
        with self.store.session() as session:
            return session.scalars(select(Send.email).where(Send.send_id == send_id)).one()


@pytest.fixture
def study(project: Any, store_url: str) -> Iterator[LiveStudy]:
    made = LiveStudy(project, store_url)
    try:
        with serving(made.app) as base, httpx.Client(base_url=base, timeout=60) as http:
            made.http = http
            yield made
    finally:
        made.store.dispose()


def test_a_screened_out_person_reopening_the_yes_link_keeps_their_answer_and_gets_no_task(
    study: LiveStudy,
) -> None:
    inv = study.invite("ethan")
    _, page = study.open_link(inv.answer_path + "?accepted=yes")
    assert page.autosave == ["accepted"]  # the first visit saves the click, provisionally
    done = study.http.post(
        inv.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Viewer"}
    )
    assert done.status_code == 200 and "looking for a different profile" in done.text
    answers, confirmed = study.stored(inv.send_id)
    assert (answers["accepted"], answers["screened_out"], confirmed) == (False, True, True)

    # The "Yes, I'm in" email link opened again, days later: the page shows the choice,
    # and whatever its script sends on load changes nothing the person confirmed.
    html, again = study.open_link(inv.answer_path + "?accepted=yes")
    assert again.on_load_save() is None
    assert 'data-confirmed="yes"' in html
    stale = study.http.post(
        inv.answer_path,
        data={"accepted": "yes", "_partial": "1"},
        headers={"Accept": "application/json"},
    )
    assert stale.json()["answers"]["screened_out"] is True
    # Nor does a tap on the page: only the form's submit (which screens) changes it.
    tapped = study.http.post(
        inv.answer_path,
        data={"accepted": "yes", "role": "Viewer", "_partial": "1", "_confirm": "1"},
        headers={"Accept": "application/json"},
    )
    assert tapped.json()["answers"]["accepted"] is False
    assert study.stored(inv.send_id)[0] == answers
    assert study.tasks() == []
    assert recruitment(study.store, study.survey).counts.get("screened_out") == 1


def test_the_follow_up_rules_see_the_screening_outcome(study: LiveStudy) -> None:
    # Answers stored before this was fixed: accepted and screened out at once.
    response = ResponseFacts(
        id=1,
        send_id="s1",
        survey_id="talk",
        wave_id="w1",
        contact_key="ethan",
        segment="other",
        status="complete",
        answers={"accepted": True, "consent": True, "role": "Viewer", "screened_out": True},
        contact={"email": "ethan@example.com"},
        answered_at=study.now,
    )
    decisions = decide(study.survey, response, {}, evaluator=Evaluator(study.now), now=study.now)
    assert decisions == []
    passed = replace(response, answers={"accepted": True, "consent": True, "role": "Admin"})
    made = decide(study.survey, passed, {}, evaluator=Evaluator(study.now), now=study.now)
    assert [type(decision) for decision in made] == [Create]


@pytest.mark.parametrize("locale", ["en", "de", "fr"])
def test_no_thanks_opens_a_page_that_says_so_and_a_confirmed_decline_ends_reminders(
    study: LiveStudy, locale: str
) -> None:
    inv = study.invite("cy", locale=locale)
    html, page = study.open_link(inv.answer_path + "?accepted=no")
    assert message(locale, "decline_chosen") in html
    assert message(locale, "provisional_score") not in html
    assert page.h1 == 1
    # No consent and no screener: one button confirms, one takes part after all.
    assert page.names == {"accepted"}
    assert [button.strip() for button in page.buttons] == [
        message(locale, "decline_confirm"),
        message(locale, "decline_take_part"),
    ]
    # The on-load save stayed provisional: nobody declined yet, the reminder still goes.
    answers, confirmed = study.stored(inv.send_id)
    assert (answers, confirmed) == ({"accepted": False}, False)
    assert study.reminded(inv.send_id)
    assert recruitment(study.store, study.survey).counts.get("declined") is None

    assert page.action is not None and inv.answer_path.endswith("/" + page.action)
    done = study.http.post(inv.answer_path, data={"accepted": "no"})  # the confirm button
    assert done.status_code == 200
    assert message(locale, "thanks_interview_declined") in done.text
    assert study.stored(inv.send_id)[1] is True
    assert not study.reminded(inv.send_id)
    assert recruitment(study.store, study.survey).counts.get("declined") == 1
    assert study.tasks() == []

    # The link again: it says the decline is noted; taking part after all is one button.
    html, again = study.open_link(inv.answer_path + "?accepted=no")
    assert message(locale, "decline_done") in html and again.action is None
    assert [button.strip() for button in again.buttons] == [message(locale, "decline_take_part")]
    (take_part,) = [field for field in again.inputs if field.get("name") == "accepted"]
    assert take_part["value"] == "yes"
    form = study.http.get(inv.answer_path, params={"accepted": "yes"}).text
    assert 'name="consent"' in form and 'name="role"' in form


def test_a_scanner_loading_the_no_thanks_link_opts_nobody_out(study: LiveStudy) -> None:
    inv = study.invite("dee")
    study.open_link(inv.answer_path + "?accepted=no")  # the GET and the script's save
    assert study.stored(inv.send_id)[1] is False
    assert study.reminded(inv.send_id)
    # The person later accepts from the same email: the provisional decline is replaced.
    study.open_link(inv.answer_path + "?accepted=yes")
    study.http.post(inv.answer_path, data={"accepted": "yes", "consent": "yes", "role": "Admin"})
    assert study.tasks() == ["Confirm the slot with dee@example.com"]
