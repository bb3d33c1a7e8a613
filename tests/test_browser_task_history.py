"""The task page shows the customer's history: earlier answers (score, date, comment)
and earlier tasks with their outcomes; in Chromium, axe-clean."""

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
from cxops.testing.collect import client_for
from cxops.testing.followup import add_response, at, serving, write_survey

ARTIFACTS = Path(__file__).parent / "artifacts"
AUGUST = "2026-08-17T09:00:00+00:00"
NOW = "2026-11-23T09:00:00+00:00"


@pytest.fixture
def history(empty_project, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    write_survey(empty_project.root)
    name = {"name": "Ada Lovelace"}
    add_response(
        store,
        "ada",
        {"score": 9, "reason": "Great onboarding"},
        when=at(AUGUST),
        wave="2026-08",
        contact=name,
    )
    add_response(store, "someone", {"score": 2}, when=at(NOW), contact={"name": "Other Person"})
    settings = empty_project.settings(now=at(AUGUST))
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    with store.session() as session:
        august = next(v.task.id for v in q.all_tasks(session) if v.task.contact_key == "ada")
    close_task(store, august, "resolved", "gave a reference", at("2026-08-20T09:00:00+00:00"))
    add_response(
        store,
        "ada",
        {"score": 3, "reason": "Support is <i>slow</i> now"},
        when=at(NOW),
        contact=name,
    )
    settings = empty_project.settings(now=at(NOW))
    apply_rules(settings, store, surveys["nps-test"])
    with store.session() as session:
        view = next(
            v
            for v in q.all_tasks(session)
            if v.task.contact_key == "ada" and v.task.status == "open"
        )
    path = task_link(settings, view.key, at(NOW)).removeprefix(settings.public_url)
    yield settings, store, path
    store.dispose()


def test_the_task_page_shows_earlier_answers_and_tasks(history):
    settings, store, path = history
    page = client_for(create_collector(settings, store=store)).get(path)
    assert page.status_code == 200
    html = page.text
    table = html[html.index('id="history-answers"') : html.index("</table>")]
    assert table.index("2026-11-23") < table.index("2026-08-17")  # newest first
    assert "9 (promoter)" in table and "Great onboarding" in table
    assert "3 (detractor)" in table and "Support is &lt;i&gt;slow&lt;/i&gt; now" in table
    assert "(this answer)" in table and "Other Person" not in html
    tasks = html[html.index('id="history-tasks"') :]
    assert "Ask Ada Lovelace for a reference – closed: resolved" in tasks


@pytest.mark.browser
def test_the_history_in_the_browser(history, browser):
    from axe_playwright_python.sync_playwright import Axe

    settings, store, path = history
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(create_collector(settings, store=store)) as base:
        page = browser.new_page()
        page.goto(base + path)
        rows = page.locator("#history-answers tbody tr").all_inner_texts()
        assert len(rows) == 2 and "9 (promoter)" in rows[1]
        violations = Axe().run(page).response["violations"]
        assert [v["id"] for v in violations] == []
        page.screenshot(path=str(ARTIFACTS / "task-page-history.png"), full_page=True)
        page.close()


@pytest.mark.browser
def test_the_task_page_and_the_list_fit_a_320_px_phone(history, browser):
    """The history table stacks, and a long address in a heading wraps: nothing is wider
    than the screen (the table was 394–426 px wide, the list's heading 381 px)."""
    from cxops.followup.links import my_tasks_link

    settings, store, path = history
    list_path = my_tasks_link(settings, "csm.anna@acme.example", at(NOW)).removeprefix(
        settings.public_url
    )
    widest = (
        "() => Math.max(document.documentElement.scrollWidth,"
        " ...[...document.querySelectorAll('main *')].map(e => e.getBoundingClientRect().right))"
    )
    with serving(create_collector(settings, store=store)) as base:
        context = browser.new_context(viewport={"width": 320, "height": 800})
        page = context.new_page()
        for lang in ("en", "de", "fr"):
            page.goto(f"{base}{path}?lang={lang}")
            table = page.locator("#history-answers").bounding_box()
            assert table is not None and table["x"] + table["width"] <= 320
            assert page.evaluate(widest) <= 320, f"the task page overflows in {lang}"
            page.goto(f"{base}{list_path}?lang={lang}")
            heading = page.locator("h1").bounding_box()
            assert heading is not None and heading["x"] + heading["width"] <= 320
            assert page.evaluate(widest) <= 320, f"the list overflows in {lang}"
        page.screenshot(path=str(ARTIFACTS / "task-list-320px.png"), full_page=True)
        context.close()
