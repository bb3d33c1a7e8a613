"""A CSM snoozes and reassigns a task from its page in Chromium, with the keyboard only and
no JavaScript, under the collector's CSP; the page is axe-clean in en, de and fr, with its
playbook and the customer's history shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxops.followup.apply import apply_rules
from cxops.followup.collector import create_collector
from cxops.followup.links import task_link
from cxops.followup.tasks import close_task
from cxops.spec.lookup import project_surveys
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.followup import add_response, at, read_mbox, serving, write_survey

ARTIFACTS = Path(__file__).parent / "artifacts"
AUGUST = "2026-08-17T09:00:00+00:00"
NOW = "2026-11-23T09:00:00+00:00"
STEPS = "\n    steps: [Call the customer, Log the call in the CRM]"
BOB = "bob@acme.example"


def axe_violations(checker, page) -> list[str]:
    """axe-core's findings on what `page` (scripts off) shows, checked in `checker` (axe
    needs scripts): the same document, without its network."""
    from axe_playwright_python.sync_playwright import Axe

    checker.set_content(page.content())
    results = Axe().run(checker)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.fixture
def task_page(empty_project, tmp_path):
    """(settings, store, the page's path, the task id): Ada's detractor task with a
    playbook, and her earlier answer and closed task as history."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    write_survey(empty_project.root, notify="{url: 'https://hooks.example/x'}" + STEPS)
    name = {"name": "Ada Lovelace"}
    add_response(store, "ada", {"score": 9}, when=at(AUGUST), wave="2026-08", contact=name)
    surveys = project_surveys(empty_project.settings().surveys_path, empty_project.root).surveys
    apply_rules(empty_project.settings(now=at(AUGUST)), store, surveys["nps-test"])
    with store.session() as session:
        [august] = q.all_tasks(session)
    close_task(store, august.task.id, "resolved", "gave a reference", at(AUGUST))
    add_response(
        store, "ada", {"score": 3, "reason": "Support is slow"}, when=at(NOW), contact=name
    )
    settings = empty_project.settings(now=at(NOW))
    apply_rules(settings, store, surveys["nps-test"])
    with store.session() as session:
        view = next(v for v in q.all_tasks(session) if v.task.status == "open")
    path = task_link(settings, view.key, at(NOW)).removeprefix(settings.public_url)
    yield settings, store, path, view.task.id
    store.dispose()


def tab_to(page, element_id: str, limit: int = 40) -> None:
    """Press Tab until the element with `element_id` has the focus."""
    for _ in range(limit):
        if page.evaluate("document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} not reached with Tab")


@pytest.mark.browser
def test_snooze_and_reassign_with_the_keyboard(empty_project, task_page, browser):
    settings, store, path, task_id = task_page
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(create_collector(settings, store=store)) as base:
        context = browser.new_context(locale="en-US", java_script_enabled=False)
        page = context.new_page()
        checker = browser.new_page()
        blocked: list[str] = []
        page.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        for lang in ("en", "de", "fr"):
            page.goto(f"{base}{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert page.locator("#history-answers tbody tr").count() == 2
            assert axe_violations(checker, page) == [], lang
            page.screenshot(path=str(ARTIFACTS / f"task-page-actions-{lang}.png"), full_page=True)

        # Snooze: from the page's first link, Tab to the date, type it, a reason, Enter.
        page.goto(base + path)
        page.keyboard.press("Tab")
        tab_to(page, "snooze-until")
        page.keyboard.type("12012026")  # en-US date field: month, day, year
        assert page.locator("#snooze-until").input_value() == "2026-12-01"
        tab_to(page, "snooze-note", limit=4)  # past the field's own segments and picker
        page.keyboard.type("Customer on holiday")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "The task is snoozed until 2026-12-01 00:00" in page.locator("p.notice").inner_text()
        assert "Snoozed until 2026-12-01 00:00" in page.locator("p.meta").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "task-page-snoozed.png"), full_page=True)

        # Reassign: an address the channel cannot deliver is refused on the page, kept in
        # the field to correct; then the right one.
        page.keyboard.press("Tab")
        tab_to(page, "reassign-to")
        page.keyboard.type("bob@acme.test")
        page.keyboard.press("Tab")
        page.keyboard.type("Anna is on leave")
        page.keyboard.press("Tab")
        with page.expect_navigation() as refused:
            page.keyboard.press("Enter")
        assert refused.value.status == 422
        assert "“bob@acme.test” is not an email address" in page.get_by_role("alert").inner_text()
        assert page.locator("#reassign-note").input_value() == "Anna is on leave"
        assert axe_violations(checker, page) == []
        page.screenshot(path=str(ARTIFACTS / "task-page-reassign-refused.png"), full_page=True)
        page.keyboard.press("Tab")
        tab_to(page, "reassign-to")
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.type(BOB)
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        with page.expect_navigation() as moved:
            page.keyboard.press("Enter")
        assert moved.value.status == 200
        notice = page.locator("p.notice").inner_text()
        assert notice.startswith(f"The task is now with {BOB}. They were told by email.")
        assert page.locator("form").count() == 0
        assert page.locator("#assignee").inner_text() == BOB
        assert axe_violations(checker, page) == []
        page.screenshot(path=str(ARTIFACTS / "task-page-reassigned.png"), full_page=True)

        # The old link no longer opens (or closes) the task, and says who has it now, as a
        # page of the site; Bob's link from his email opens it.
        assert page.goto(base + path).status == 410
        assert f"is now with {BOB}" in page.locator("main").inner_text()
        assert axe_violations(checker, page) == []
        [message] = read_mbox(empty_project.root / "outbox")
        assert message["To"] == BOB
        token = message.get_body(preferencelist=("plain",)).get_content().split("/t/")[1].split()[0]
        assert page.goto(f"{base}/t/{token}").status == 200
        assert page.locator("#assignee").inner_text() == BOB
        assert blocked == []
        context.close()
        checker.close()
    with store.session() as session:
        task = q.get_task(session, task_id).task
    assert (task.status, task.assignee, task.assignment) == ("open", BOB, 1)
    assert task.snoozed_until == at("2026-11-30T23:00:00+00:00")
    assert "snoozed until 2026-11-30 23:00: Customer on holiday" in task.note
    assert f"to {BOB}: Anna is on leave" in task.note
