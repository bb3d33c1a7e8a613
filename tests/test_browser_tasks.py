"""A CSM opens the task page from the digest link in Chromium and closes the task."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxops.followup.collector import create_collector
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.followup import one_task, serving

ARTIFACTS = Path(__file__).parent / "artifacts"
NOW = "2026-11-23T09:00:00+00:00"


@pytest.mark.browser
def test_close_a_task_in_the_browser(empty_project, tmp_path, browser):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    answers = {"score": 3, "reason": "Too slow <b>really</b>"}
    settings, path, _view = one_task(empty_project, store, answers, "Ada Lovelace", NOW)

    # the real collector app, which serves the task pages with its layout and CSP
    with serving(create_collector(settings, store=store)) as base:
        link = base + path
        ARTIFACTS.mkdir(exist_ok=True)
        page = browser.new_page()
        blocked: list[str] = []
        page.on(
            "console",
            lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.goto(link)
        # the collector's stylesheet applies under its strict CSP (nothing blocked)
        assert blocked == []
        assert (
            "serif" not in page.evaluate("getComputedStyle(document.body).fontFamily").split(",")[0]
        )
        assert page.locator("h1").inner_text() == "Call Ada Lovelace about their score of 3"
        assert page.locator("#customer-name").inner_text() == "Ada Lovelace"
        assert "Too slow <b>really</b>" in page.locator("dl.answers").inner_text()
        page.screenshot(path=str(ARTIFACTS / "task-page-open.png"), full_page=True)
        page.get_by_label("resolved").check()
        page.locator("#note").fill("Called, fixed their import.")
        page.get_by_role("button", name="Close the task").click()
        page.wait_for_load_state()
        assert "The task is closed" in page.locator("p.notice").inner_text()
        assert page.locator("section.task").get_attribute("data-task-status") == "done"
        assert page.locator("form").count() == 0
        page.screenshot(path=str(ARTIFACTS / "task-page-closed.png"), full_page=True)
        page.close()
    store.dispose()
    check = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with check.session() as session:
            task = q.all_tasks(session)[0].task
        assert (task.status, task.outcome, task.note) == (
            "done",
            "resolved",
            "Called, fixed their import.",
        )
    finally:
        check.dispose()


@pytest.mark.browser
def test_the_task_page_is_styled_like_the_answer_page(empty_project, tmp_path, browser):
    """Radios of at least 24 px, outcomes on one line each, one primary button, a real
    form action, no axe-core violation, at a phone's width."""
    from axe_playwright_python.sync_playwright import Axe

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    settings, path, _view = one_task(empty_project, store, {"score": 2}, "Ada Lovelace", NOW)
    with serving(create_collector(settings, store=store)) as base:
        context = browser.new_context(viewport={"width": 320, "height": 800})
        page = context.new_page()
        page.goto(base + path)
        actions = [form.get_attribute("action") for form in page.locator("form").all()]
        assert actions == [path.rsplit("/", 1)[-1]] * 3  # close, reassign, snooze
        for radio in page.locator("input[type=radio]").all():
            box = radio.bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24, box
        for option in page.locator(".choice span").all():
            lines = option.evaluate("e => e.getClientRects().length")
            assert lines == 1, option.inner_text()
        backgrounds = page.eval_on_selector_all(
            "button", "els => els.map(e => getComputedStyle(e).backgroundColor)"
        )
        white = "rgb(255, 255, 255)"
        # One primary button (close); keep open, reassign and snooze are secondary.
        assert len(backgrounds) == 4 and backgrounds.count(white) == 3, backgrounds
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "task-page-320px.png"), full_page=True)
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        context.close()
    store.dispose()
