"""The task page over HTTP: signed links, closing with an outcome, nothing changed by a GET."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from cxops.followup.links import TASK_LINK_TTL
from cxops.followup.pages.task import router
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.followup import at, one_task, serving

NOW = "2026-11-23T09:00:00+00:00"


def task_app(settings, store) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.store = store
    app.include_router(router)
    return app


def assert_site_page(html: str, lang: str) -> None:
    """A page in the site's layout: language, phone viewport, title, one <main> with a heading."""
    assert html.startswith("<!doctype html>")
    assert f'<html lang="{lang}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<title>" in html and "</title>" in html
    assert html.count("<main") == 1 and "<h1>" in html.split("<main", 1)[1]
    assert "<style>" in html  # the site's stylesheet, as on every other page


@pytest.fixture
def setup(empty_project, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    answers = {"score": 2, "reason": "<script>alert(1)</script>"}
    settings, path, view = one_task(empty_project, store, answers, "Ada <Lovelace>", NOW)
    with serving(task_app(settings, store)) as base, httpx.Client(base_url=base) as client:
        yield settings, store, client, path, view.task.id
    store.dispose()


def test_the_page_shows_the_answer_and_the_customer_as_data(setup):
    _, store, client, path, task_id = setup
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Ada &lt;Lovelace&gt;" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert "2 (detractor)" in page.text
    with store.session() as session:
        task = q.get_task(session, task_id).task
    assert task.status == "open" and task.first_action_at is None  # a GET changes nothing


def test_closing_with_an_outcome_and_a_note(setup):
    _, store, client, path, task_id = setup
    bad = client.post(path, data={"action": "close", "outcome": "maybe"})
    assert bad.status_code == 422 and "Choose an outcome" in bad.text
    noted = client.post(
        path, data={"action": "note", "note": "left a voicemail"}, follow_redirects=False
    )
    assert noted.status_code == 303
    closed = client.post(
        path,
        data={"action": "close", "outcome": "resolved", "note": "fixed the export"},
        follow_redirects=True,
    )
    assert closed.status_code == 200 and "The task is closed" in closed.text
    with store.session() as session:
        task = q.get_task(session, task_id).task
    assert (task.status, task.outcome) == ("done", "resolved")
    assert task.note == "left a voicemail\nfixed the export"
    assert task.first_action_at == at(NOW) and task.closed_at == at(NOW)
    again = client.post(path, data={"outcome": "contacted"}, headers={"Accept": "application/json"})
    assert again.status_code == 409
    with store.session() as session:
        assert q.get_task(session, task_id).task.outcome == "resolved"


def test_tampered_and_expired_links(setup, empty_project):
    _, store, client, path, _ = setup
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/t/{tampered}").status_code == 404
    assert client.post(f"/t/{tampered}", data={"outcome": "resolved"}).status_code == 404
    assert_site_page(client.get(f"/t/{tampered}", headers={"Accept-Language": "fr"}).text, "fr")
    later = empty_project.settings(now=at(NOW) + TASK_LINK_TTL + timedelta(minutes=1))
    with serving(task_app(later, store)) as base, httpx.Client(base_url=base) as expired:
        gone = expired.get(path)
        assert gone.status_code == 410
        assert_site_page(gone.text, "en")
        assert "This link has expired" in gone.text
        assert expired.post(path, data={"outcome": "resolved"}).status_code == 410
    with store.session() as session:
        assert q.all_tasks(session)[0].task.status == "open"
