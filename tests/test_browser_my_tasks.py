"""A CSM works from their task list in Chromium with the keyboard only: filters, closes
a task with an outcome; the page is axe-clean in en, de and fr, under the strict CSP."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxops.followup.apply import apply_rules
from cxops.followup.collector import create_collector
from cxops.followup.links import my_tasks_link
from cxops.spec.lookup import project_surveys
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.followup import add_response, at, serving, write_survey

ARTIFACTS = Path(__file__).parent / "artifacts"
NOW = "2026-11-23T09:00:00+00:00"
ANNA = "csm.anna@acme.example"


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


@pytest.mark.browser
def test_a_csm_works_the_list_with_the_keyboard(empty_project, tmp_path, browser):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    write_survey(empty_project.root)
    add_response(
        store,
        "old",
        {"score": 1, "reason": "Nobody called <b>back</b>"},
        when=at("2026-11-16T09:00:00+00:00"),
        contact={"name": "Olga Old"},
    )
    settings = empty_project.settings(now=at("2026-11-16T09:00:00+00:00"))
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    add_response(store, "new", {"score": 5}, when=at(NOW), contact={"name": "Nina New"})
    add_response(store, "fan", {"score": 10}, when=at(NOW), contact={"name": "Fay Fan"})
    settings = empty_project.settings(now=at(NOW))
    apply_rules(settings, store, surveys["nps-test"])
    path = my_tasks_link(settings, ANNA, at(NOW)).removeprefix(settings.public_url)
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(create_collector(settings, store=store)) as base:
        page = browser.new_page(java_script_enabled=False)
        blocked: list[str] = []
        page.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        page.goto(base + path)
        assert page.locator("article.task h2").all_inner_texts() == [
            "Call Olga Old about their score of 1",
            "Call Nina New about their score of 5",
            "Ask Fay Fan for a reference",
        ]
        assert "Nobody called <b>back</b>" in page.locator("#main").inner_text()
        page.screenshot(path=str(ARTIFACTS / "my-tasks-list.png"), full_page=True)

        # Filter with the keyboard: focus the priority select, pick "high", submit.
        page.locator("#f-priority").focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        assert page.locator("#f-priority").input_value() == "high"
        page.keyboard.press("Tab")  # the Show button
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("article.task").count() == 2
        assert "priority=high" in page.url

        # Close the overdue task: Tab into its outcome group, arrow to "resolved", note, Enter.
        page.locator("article.task").first.locator("a").focus()
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "outcome":
                break
        page.keyboard.press("Space")  # the first outcome: contacted
        page.keyboard.press("ArrowDown")  # resolved
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
        page.keyboard.type("Called Olga, fixed it.")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Task closed. Thank you!" in page.locator("p.notice").inner_text()
        assert page.locator("article.task").count() == 1
        page.screenshot(path=str(ARTIFACTS / "my-tasks-closed.png"), full_page=True)
        assert blocked == []
        page.close()

        for lang in ("en", "de", "fr"):
            checked = browser.new_page()
            checked.goto(f"{base}{path}?lang={lang}&status=all")
            assert checked.locator("html").get_attribute("lang") == lang
            assert axe_violations(checked) == [], lang
            if lang != "en":
                checked.screenshot(path=str(ARTIFACTS / f"my-tasks-{lang}.png"), full_page=True)
            checked.close()
    with store.session() as session:
        olga = next(v.task for v in q.all_tasks(session) if v.task.contact_key == "old")
    assert (olga.status, olga.outcome, olga.note) == ("done", "resolved", "Called Olga, fixed it.")
    store.dispose()
