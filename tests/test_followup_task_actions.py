"""Reassigning and snoozing from the signed task page, over HTTP, on SQLite and PostgreSQL:
the CLI's services behind the forms, one email to the new assignee whatever is resubmitted,
the old link dead for closing, bad addresses and past dates refused with nothing changed."""

from __future__ import annotations

import pytest

from cxops.channels.outbox import OutboxChannel
from cxops.followup.collector import create_collector
from cxops.followup.tasks import assign_task
from cxops.store import tasks as q
from cxops.testing.collect import client_for
from cxops.testing.followup import at, read_mbox, task_path, tasks_for

NOW = "2026-11-23T09:00:00+00:00"
ANNA = "csm.anna@acme.example"
BOB = "bob@acme.example"
JSON = {"Accept": "application/json"}


@pytest.fixture
def page(empty_project, store):
    """(settings, an HTTP client of the collector, the task page's path, the task id)."""
    settings, [view] = tasks_for(empty_project, store, {"c1": {"score": 2, "reason": "slow"}}, NOW)
    path = task_path(settings, view, NOW)
    return settings, client_for(create_collector(settings, store=store)), path, view.task.id


def task_of(store, task_id):
    with store.session() as session:
        return q.get_task(session, task_id).task


def test_reassigning_from_the_page_tells_the_new_assignee_once(empty_project, store, page):
    settings, http, path, task_id = page
    form = {"action": "reassign", "assignee": " Bob@ACME.example ", "note": "Anna is on leave"}
    moved = http.post(path, data=form)
    assert moved.status_code == 200
    assert "The task is now with bob@acme.example. They were told by email." in moved.text
    assert "<form" not in moved.text  # this link no longer acts on the task
    task = task_of(store, task_id)
    assert (task.assignee, task.assignment) == (BOB, 1)
    assert f"reassigned from {ANNA} to {BOB}: Anna is on leave" in task.note
    # A resubmit (reload, double click) and a close through the old link change nothing,
    # and say the task was reassigned and to whom, as a page of the site.
    assert http.post(path, data=form).status_code == 410
    assert http.post(path, data={"action": "close", "outcome": "resolved"}).status_code == 410
    old = http.get(path, headers={"Accept-Language": "de"})
    assert old.status_code == 410
    assert "Diese Aufgabe wurde übergeben" in old.text and f"liegt jetzt bei {BOB}" in old.text
    assert '<html lang="de">' in old.text and "<main" in old.text and 'name="viewport"' in old.text
    assert http.get(path, headers=JSON).json() == {
        "error": "This task was reassigned",
        "assignee": BOB,
    }
    [message] = read_mbox(empty_project.root / "outbox")
    assert message["To"] == BOB and "Follow-up task for you" in message["Subject"]
    # Two submits that both got past the link check: the second changes and sends nothing.
    channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
    again = assign_task(settings, store, channel, task_id, BOB, None, at(NOW), expected=0)
    assert again.told == "already_sent"
    with pytest.raises(q.TaskMovedError, match="reassigned to someone else"):
        assign_task(
            settings, store, channel, task_id, "carol@acme.example", None, at(NOW), expected=0
        )
    assert len(read_mbox(empty_project.root / "outbox")) == 1
    assert task_of(store, task_id).assignee == BOB
    assert task_of(store, task_id).status == "open"


def test_a_bad_address_is_refused_on_the_page(empty_project, store, page):
    _, http, path, task_id = page
    for bad in ("bob at acme", "bob@acme.test", ""):
        refused = http.post(path, data={"action": "reassign", "assignee": bad})
        assert refused.status_code == 422, bad
        assert f"“{bad}” is not an email address; nothing was changed." in refused.text
        assert 'role="alert"' in refused.text and f'value="{bad}" required' in refused.text
    same = http.post(path, data={"action": "reassign", "assignee": ANNA.upper()})
    assert same.status_code == 422
    assert f"The task is already with {ANNA}; nothing was changed." in same.text
    as_json = http.post(path, data={"action": "reassign", "assignee": "x"}, headers=JSON)
    assert as_json.status_code == 422 and "not an email address" in as_json.json()["error"]
    task = task_of(store, task_id)
    assert (task.assignee, task.assignment, task.note) == (ANNA, 0, None)
    assert read_mbox(empty_project.root / "outbox") == []
    assert http.get(path).status_code == 200  # the link still works


def test_reassigning_as_json(empty_project, store, page):
    _, http, path, task_id = page
    reply = http.post(path, data={"action": "reassign", "assignee": BOB}, headers=JSON)
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "open",
        "id": task_id,
        "assignee": BOB,
        "previous": ANNA,
        "told": "sent",
    }


def test_snoozing_from_the_page(store, page):
    _, http, path, task_id = page
    form = {"action": "snooze", "until": "2026-12-01", "note": "customer on holiday"}
    snoozed = http.post(path, data=form, follow_redirects=False)
    assert snoozed.status_code == 303
    assert snoozed.headers["location"] == f"{path}?saved=snoozed&lang=en"
    shown = http.get(snoozed.headers["location"]).text
    # The survey's zone is Europe/Berlin: 1 December starts at 23:00 UTC on 30 November.
    assert "The task is snoozed until 2026-12-01 00:00" in shown
    assert "Snoozed until 2026-12-01 00:00" in shown
    task = task_of(store, task_id)
    assert task.snoozed_until == at("2026-11-30T23:00:00+00:00")
    assert "snoozed until 2026-11-30 23:00: customer on holiday" in task.note
    # Snoozed again as JSON; the page still closes the task afterwards.
    again = http.post(path, data={"action": "snooze", "until": "2026-12-03"}, headers=JSON)
    assert again.json()["snoozed_until"] == "2026-12-02T23:00:00+00:00"
    closed = http.post(path, data={"action": "close", "outcome": "contacted"}, headers=JSON)
    assert closed.json()["status"] == "done"


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("2026-11-20", "Choose a date after today (2026-11-23); nothing was changed."),
        ("2026-11-23", "Choose a date after today (2026-11-23); nothing was changed."),
        ("soon", "Enter a date as YYYY-MM-DD; nothing was changed."),
        ("", "Enter a date as YYYY-MM-DD; nothing was changed."),
    ],
)
def test_a_past_or_unreadable_date_is_refused(store, page, until, expected):
    _, http, path, task_id = page
    refused = http.post(path, data={"action": "snooze", "until": until, "note": "later"})
    assert refused.status_code == 422 and expected in refused.text
    as_json = http.post(path, data={"action": "snooze", "until": until}, headers=JSON)
    assert as_json.status_code == 422 and as_json.json() == {"error": expected}
    task = task_of(store, task_id)
    assert (task.snoozed_until, task.note) == (None, None)


def test_the_page_speaks_german_and_french(store, page):
    _, http, path, task_id = page
    german = http.get(path, headers={"Accept-Language": "de-AT,de;q=0.9"}).text
    assert '<html lang="de">' in german and "Aufgabe jemand anderem geben" in german
    french = http.get(f"{path}?lang=fr").text
    assert '<html lang="fr">' in french and "Reporter la tâche" in french
    refused = http.post(path, data={"action": "snooze", "until": "2026-11-01", "lang": "de"})
    assert "Bitte wählen Sie ein Datum nach heute (2026-11-23)" in refused.text
    done = http.post(
        path, data={"action": "close", "outcome": "contacted", "lang": "fr"}, follow_redirects=True
    )
    assert "La tâche est close. Merci !" in done.text and "Close : contacté" in done.text
    assert task_of(store, task_id).outcome == "contacted"
