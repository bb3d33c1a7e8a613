"""An interview invitation's pages in a real browser (Debian's chromium driven by Playwright):
accepting needs the consent tick and leads to the booking link with the reference, a
screened-out person gets a kind thank-you, the email's "No, thanks" link opens a page that
says so, and its one button confirms the decline; each page state axe-clean, keyboard only,
under the strict CSP.

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
    survey = find_survey("talk", project.root / "surveys", project.root)
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


def test_no_thanks_says_so_and_the_decline_counts_once_confirmed(live: LiveStudy, browser: Any):
    inv = live.invite("cy", locale="de")
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    checker = browser.new_context(viewport={"width": 320, "height": 640}).new_page()
    problems = csp_problems(page)
    page.goto(f"{live.base}{inv.answer_path}?accepted=no")
    page.wait_for_selector("#answer-form[data-autosaved='yes']", timeout=10_000)
    text = page.inner_text("main")
    assert "nicht an diesem Interview teilzunehmen" in text
    assert "Bewertung" not in text and page.locator("input[name=consent]").count() == 0
    assert page.locator("h1").count() == 1
    screenshot(page, ARTIFACTS, "interview-decline-de")
    assert_accessible(page, checker)
    page.mouse.click(5, 5)  # a person on the page, but only the button confirms a decline
    assert recruitment(live.store, live.survey).counts.get("declined") is None
    # keyboard order: the confirming button first, then taking part after all
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Bestätigen: Ich nehme nicht teil"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Ich möchte doch teilnehmen"
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("text=erinnern Sie nicht mehr")
    screenshot(page, ARTIFACTS, "interview-declined-de")
    assert_accessible(page, checker)
    state = recruitment(live.store, live.survey)
    assert state.counts.get("declined") == 1 and state.accepted == 0
    assert live.interview(inv.send_id).status == "declined"

    # the same link again: the decline is noted, and taking part after all is one button
    page.goto(f"{live.base}{inv.answer_path}?accepted=no")
    assert "Sie haben uns mitgeteilt" in page.inner_text("main")
    assert_accessible(page, checker)
    with page.expect_navigation():
        focus_and_press(page, "button.secondary", "Enter")
    assert page.locator("input[name=consent]").count() == 1
    assert page.is_checked("input[name=accepted][value=yes]")
    assert problems == []
    context.close()
