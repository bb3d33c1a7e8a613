"""An interview invitation's pages in a real browser (Debian's chromium driven by Playwright):
accepting needs the consent tick and leads to the booking link with the reference, a
screened-out person gets a kind thank-you, the email's "No, thanks" link declines in one
click; each page state axe-clean, keyboard only, under the strict CSP.

Screenshots land in tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.interviews.service import recruitment, sync_interviews
from cxops.spec import find_survey
from cxops.store.db import Store, open_store
from cxops.store.models import Interview
from cxops.testing.browser import assert_accessible, screenshot
from cxops.testing.collect import INTERVIEW_STUDY, SentInvitation, invite
from cxops.testing.followup import serving

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STUDY = INTERVIEW_STUDY  # its follow-up rule plays no part here


@dataclass
class LiveStudy:
    base: str
    store: Store
    key: bytes
    survey: Any
    now: Any

    def invite(self, contact_key: str, **fields: Any) -> SentInvitation:
        return invite(
            self.store,
            self.key,
            survey_id="talk",
            contact_key=contact_key,
            email=f"{contact_key}@example.com",
            sent_at=self.now - timedelta(hours=1),
            **fields,
        )

    def interview(self, send_id: str) -> Interview:
        sync_interviews(self.store, self.survey, self.now)
        with self.store.session() as session:
            return session.scalars(select(Interview).where(Interview.send_id == send_id)).one()


@pytest.fixture
def live(project: Any) -> Iterator[LiveStudy]:
    project.write({"surveys/talk.yaml": STUDY})
    settings = project.settings()
    store = open_store(settings.store_url)
    app = create_app(settings, store=store)
    survey = find_survey("talk", project.root / "surveys")
    try:
        with serving(app) as base:
            yield LiveStudy(base, store, app.state.collector.signing_key, survey, settings.clock())
    finally:
        store.dispose()


def csp_problems(page: Any) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return found


def focus_and_press(page: Any, selector: str, key: str) -> None:
    """Tab until `selector` has the focus (failing after 30 stops), then press `key`."""
    target = page.locator(selector)
    for _ in range(30):
        if target.evaluate("element => element === document.activeElement"):
            page.keyboard.press(key)
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the keyboard focus")


def submit(page: Any) -> None:
    """Tab to the form's button and press Enter: the page the POST answers."""
    with page.expect_navigation():
        focus_and_press(page, "button[type=submit]", "Enter")


def test_accepting_needs_the_consent_tick_and_leads_to_booking(live: LiveStudy, browser: Any):
    inv = live.invite("ada")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    checker = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    problems = csp_problems(page)
    page.goto(f"{live.base}{inv.answer_path}?accepted=yes")
    text = page.inner_text("main")
    assert "45 min" in text and "A $40 voucher" in text
    assert "We record the call and delete it after 90 days." in text
    screenshot(page, ARTIFACTS, "interview-page")
    assert_accessible(page, checker)

    focus_and_press(page, "input[name=role][value=Admin]", "Space")
    submit(page)
    assert page.locator("[aria-invalid=true]").count() >= 1, page.inner_text("main")
    assert "book.example" not in page.content()
    screenshot(page, ARTIFACTS, "interview-consent-missing")
    assert_accessible(page, checker)

    focus_and_press(page, "input[name=consent]", "Space")
    submit(page)
    link = page.locator("a[href*='book.example']")
    link.wait_for()
    assert f"utm_content={inv.send_id}" in (link.get_attribute("href") or "")
    screenshot(page, ARTIFACTS, "interview-accepted")
    assert_accessible(page, checker)
    row = live.interview(inv.send_id)
    assert row.status == "accepted" and row.consent_at is not None
    assert problems == []
    context.close()


def test_a_screened_out_person_gets_a_kind_thank_you(live: LiveStudy, browser: Any):
    inv = live.invite("bo", locale="de")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    checker = browser.new_context().new_page()
    page.goto(f"{live.base}{inv.answer_path}?accepted=yes")
    assert page.get_attribute("html", "lang") == "de"
    focus_and_press(page, "input[name=role][value=Admin]", "ArrowDown")  # arrows move in a group
    assert page.is_checked("input[name=role][value=Viewer]")
    focus_and_press(page, "input[name=consent]", "Space")
    submit(page)
    page.wait_for_selector("text=anderes Profil")
    assert "book.example" not in page.content()
    screenshot(page, ARTIFACTS, "interview-screened-out-de")
    assert_accessible(page, checker)
    assert live.interview(inv.send_id).status == "screened_out"
    context.close()


def test_the_no_thanks_link_declines_in_one_click(live: LiveStudy, browser: Any):
    inv = live.invite("cy")
    context = browser.new_context()
    page = context.new_page()
    problems = csp_problems(page)
    page.goto(f"{live.base}{inv.answer_path}?accepted=no")
    page.wait_for_selector("#answer-form[data-autosaved='yes']", timeout=10_000)
    page.mouse.move(5, 5)  # a person on the page: the one click counts
    page.mouse.click(5, 5)
    page.wait_for_selector("#answer-form[data-confirmed='yes']", timeout=10_000)
    screenshot(page, ARTIFACTS, "interview-declined")
    assert_accessible(page)
    state = recruitment(live.store, live.survey)
    assert state.counts.get("declined") == 1 and state.accepted == 0
    assert problems == []
    context.close()
