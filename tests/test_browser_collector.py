"""The collector in a real browser (Debian's chromium driven by Playwright): keyboard-only
answering with and without JavaScript, the error path, the unsubscribe page.

Screenshots of every page land in tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.store.db import Store, open_store
from cxops.store.models import Response, Suppression
from cxops.testing.collect import SentInvitation, invite
from cxops.testing.followup import serving

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass
class Live:
    base: str
    store: Store
    key: bytes
    now: object

    def invite(self, contact_key: str, **fields) -> SentInvitation:
        return invite(
            self.store,
            self.key,
            survey_id="nps-quarterly",
            contact_key=contact_key,
            email=f"{contact_key}@example.com",
            sent_at=self.now - timedelta(hours=1),
            **fields,
        )

    def response(self, send_id: str) -> Response | None:
        with self.store.session() as session:
            return session.scalar(select(Response).where(Response.send_id == send_id))


@pytest.fixture
def live(project) -> Iterator[Live]:

    # the example survey declares no locales (pages in en): these tests speak de and fr too
    survey_file = project.path("surveys/nps-quarterly.yaml")
    text = survey_file.read_text(encoding="utf-8")
    survey_file.write_text(
        text.replace(
            "  template: nps_invite\n", "  template: nps_invite\n  locales: [en, de, fr]\n"
        ),
        encoding="utf-8",
    )

    settings = project.settings()
    store = open_store(settings.store_url)
    app = create_app(settings, store=store)
    try:
        with serving(app) as base:
            yield Live(base, store, app.state.collector.signing_key, settings.clock())
    finally:
        store.dispose()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"collector-{name}.png"), full_page=True)


def watch_csp(page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return problems


def test_keyboard_only_answer_with_javascript(live, browser):
    inv = live.invite("kb-js")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    csp_problems = watch_csp(page)
    page.goto(f"{live.base}{inv.answer_path}?score=7")
    page.wait_for_selector("#answer-form[data-autosaved='yes']", timeout=10_000)
    assert "counts once you tap or type" in page.inner_text("#autosave-status")
    stored = live.response(inv.send_id)
    assert (stored.status, stored.answers) == ("partial", {"score": 7})
    assert stored.confirmed_at is None  # provisional until a person does something
    shot(page, "answer-js-preselected")
    axe(page)

    page.keyboard.press("Tab")
    page.wait_for_selector("#answer-form[data-confirmed='yes']", timeout=10_000)
    assert "has been saved" in page.inner_text("#autosave-status")
    assert live.response(inv.send_id).confirmed_at is not None
    assert page.evaluate("document.activeElement.id") == "score-7"
    page.keyboard.press("ArrowRight")
    assert page.is_checked("#score-8")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "reason-input"
    page.keyboard.type("Fast support & <b>fair</b> prices")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Thank you')")
    shot(page, "thanks")

    stored = live.response(inv.send_id)
    assert stored.status == "complete"
    assert stored.answers == {"score": 8, "reason": "Fast support & <b>fair</b> prices"}
    assert csp_problems == []
    context.close()


def test_keyboard_only_answer_without_javascript(live, browser):
    inv = live.invite("kb-nojs", locale="de")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.base}{inv.answer_path}?score=3")
    assert page.is_checked("#score-3")
    assert live.response(inv.send_id) is None, "a bare GET recorded something"
    shot(page, "answer-nojs-preselected-de")

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "reason-input"
    page.keyboard.type("Zu teuer")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Vielen Dank')")
    shot(page, "thanks-nojs-de")
    stored = live.response(inv.send_id)
    assert (stored.status, stored.answers) == ("complete", {"score": 3, "reason": "Zu teuer"})
    context.close()


def test_a_missing_answer_is_shown_next_to_the_field_without_javascript(live, browser):
    inv = live.invite("missing")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.base}{inv.answer_path}")
    page.fill("#reason-input", "no score given")
    page.focus("button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#score-error")
    assert page.inner_text("#score-error") == "Please answer this question."
    assert page.input_value("#reason-input") == "no score given"
    shot(page, "answer-error")
    assert page.title() == "Please check your answers – Would you recommend us?"
    page.keyboard.press("Tab")
    page.focus("#score-0")
    page.keyboard.press("Space")
    page.focus("button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Thank you')")
    assert live.response(inv.send_id).answers == {"score": 0, "reason": "no score given"}
    context.close()


def test_unsubscribe_page_with_one_button(live, browser):
    inv = live.invite("leaver", locale="fr")
    context = browser.new_context()
    page = context.new_page()
    csp_problems = watch_csp(page)
    page.goto(f"{live.base}{inv.unsubscribe_path}")
    assert page.locator("button").count() == 1
    shot(page, "unsubscribe-fr")
    with live.store.session() as session:
        assert session.scalars(select(Suppression)).all() == []
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Vous êtes désabonné')")
    shot(page, "unsubscribed-fr")
    with live.store.session() as session:
        [row] = session.scalars(select(Suppression)).all()
    assert (row.email, row.reason) == ("leaver@example.com", "unsubscribed")
    axe(page)
    page.get_by_role("button", name="Me réabonner").click()
    page.wait_for_selector("h1:has-text('Vous êtes de nouveau abonné')")
    shot(page, "resubscribed-fr")
    axe(page)
    with live.store.session() as session:
        assert session.scalars(select(Suppression)).all() == []
    assert csp_problems == []
    context.close()


def axe(page) -> None:
    """axe-core (axe-playwright-python) finds no violation on the page as it is."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_a_link_from_a_real_outbox_message(project, live, browser):
    """The whole path: a wave rendered into the outbox, its email's score link, the page."""
    import mailbox
    import re
    from email import policy
    from email.parser import BytesParser

    from cxops.channels import make_channel
    from cxops.messages.render import InvitationRenderer
    from cxops.spec import find_survey
    from cxops.wave.ids import WaveContext
    from cxops.wave.prepare import prepare_wave
    from cxops.wave.send import send_one_batch

    # the wave went out an hour ago, links pointing at this collector
    settings = project.settings(public_url=live.base, now=live.now - timedelta(hours=1))
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings)
    planned = prepare_wave(live.store, wave)
    renderer = InvitationRenderer(survey, settings, wave_id=planned.wave)
    result = send_one_batch(live.store, wave, make_channel(settings), renderer, "h:1:b")
    assert result.sent == 300
    (mbox_path,) = (settings.outbox_path / survey.id / planned.wave).glob("*.mbox")
    message = next(
        iter(mailbox.mbox(mbox_path, factory=lambda f: BytesParser(policy=policy.default).parse(f)))
    )
    html = message.get_body(preferencelist=("html",)).get_content()
    link = re.search(r'href="([^"]+/a/[^"?]+\?score=9)"', html).group(1).replace("&amp;", "&")
    send_id = message["X-Cxops-Send-Id"]

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(link)
    assert page.is_checked("#score-9")
    assert live.response(send_id) is None  # opening the email's link records nothing by itself
    page.focus("#reason-input")
    page.keyboard.type("Love the reports")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1")
    shot(page, "thanks-from-outbox-link")
    stored = live.response(send_id)
    assert stored.status == "complete" and not stored.suspect
    assert stored.answers == {"score": 9, "reason": "Love the reports"}
    context.close()


def _tasks(project, live):
    from cxops.followup.apply import apply_rules
    from cxops.spec import find_survey
    from cxops.store.models import Task

    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    apply_rules(project.settings(), live.store, survey, now=live.now)
    with live.store.session() as session:
        return list(session.scalars(select(Task)))


def test_a_scanner_loading_every_link_confirms_nothing_then_a_person_does(project, live, browser):
    """Headless chromium as Safe Links-style sandboxes run it: every link of the
    invitation loaded, scripts run, nothing touched. Then a person clicks a score."""
    import html as html_lib
    import re

    from cxops.messages.render import InvitationRenderer, SendView
    from cxops.spec import find_survey

    contact = {"name": "Quinn", "company": "Corp", "csm_email": "csm@acme.example"}
    inv = live.invite("scanned", contact=contact)
    # the invitation's real email, its links pointing at this collector
    settings = project.settings(public_url=live.base)
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    email = InvitationRenderer(survey, settings).render_one(
        SendView(
            send_id=inv.send_id,
            email=inv.email,
            contact_key="scanned",
            segment="other",
            locale="en",
            contact=contact,
            step=0,
            expires_at=live.now + timedelta(days=14),
        )
    )
    every_link = {html_lib.unescape(h) for h in re.findall(r'href="([^"]+)"', email.html)}
    assert len(every_link) == 13  # 11 scores, the honeypot, unsubscribe
    assert any("/h/" in link for link in every_link)
    # the scanner is another client than the person's browser (the collector tells them
    # apart by address, User-Agent and languages; both are on 127.0.0.1 here)
    scanner = browser.new_context(user_agent="Mozilla/5.0 HeadlessChrome link scanner")
    page = scanner.new_page()
    for link in sorted(every_link):
        page.goto(link)
        page.wait_for_load_state("networkidle")
    scanner.close()
    stored = live.response(inv.send_id)
    assert stored is not None and stored.answers == {"score": 9}  # the last link loaded
    assert stored.confirmed_at is None, "a scanner's page load confirmed an answer"
    assert _tasks(project, live) == []
    with live.store.session() as session:
        assert session.scalars(select(Suppression)).all() == []

    person = browser.new_context(viewport={"width": 375, "height": 800})
    page = person.new_page()
    page.goto(f"{live.base}{inv.answer_path}?score=4")
    page.wait_for_selector("#answer-form[data-autosaved='yes']", timeout=10_000)
    assert live.response(inv.send_id).confirmed_at is None
    page.click("#score-2")  # a real pointer event
    page.wait_for_selector("#answer-form[data-confirmed='yes']", timeout=10_000)
    shot(page, "answer-confirmed-by-a-click")
    stored = live.response(inv.send_id)
    assert stored.answers == {"score": 2}
    assert stored.confirmed_at is not None and not stored.suspect
    [task] = _tasks(project, live)
    assert task.contact_key == "scanned"
    person.close()
