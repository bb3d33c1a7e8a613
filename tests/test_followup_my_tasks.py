"""One assignee's task list in the collector: signed per assignee, theirs only, overdue
first, filters, close with an outcome per task; de/fr; the digest links to it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cxops.channels.outbox import OutboxChannel
from cxops.followup.apply import apply_rules
from cxops.followup.collector import create_collector
from cxops.followup.digest_mail import send_digests
from cxops.followup.links import TASK_LINK_TTL, assignee_ref, my_tasks_link
from cxops.messages.tokens import read_token
from cxops.spec.lookup import project_surveys
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.collect import client_for
from cxops.testing.followup import add_response, at, body, read_mbox, write_survey

NOW = "2026-11-23T09:00:00+00:00"
ANNA = "csm.anna@acme.example"
BOB = "bob@acme.example"


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.dispose()


@pytest.fixture
def tasks(empty_project, store):
    """Anna: an overdue detractor, a new detractor, a promoter; Bob: one detractor."""
    write_survey(empty_project.root)
    add_response(
        store,
        "old",
        {"score": 1},
        when=at("2026-11-16T09:00:00+00:00"),
        contact={"name": "Olga Old"},
    )
    settings = empty_project.settings(now=at("2026-11-16T09:00:00+00:00"))
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    add_response(
        store,
        "new",
        {"score": 4, "reason": "<script>x</script>"},
        when=at(NOW),
        contact={"name": "Nina New"},
    )
    add_response(store, "fan", {"score": 10}, when=at(NOW), contact={"name": "Fay Fan"})
    add_response(
        store, "bobs", {"score": 2}, when=at(NOW), contact={"name": "Bert Bob", "csm_email": BOB}
    )
    settings = empty_project.settings(now=at(NOW))
    apply_rules(settings, store, surveys["nps-test"])
    return settings


def client(settings, store):
    return client_for(create_collector(settings, store=store))


def path_for(settings, assignee, now=NOW):
    return my_tasks_link(settings, assignee, at(now)).removeprefix(settings.public_url)


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/t/[^"]+">([^<]+)</a></h2>', html)


def test_the_list_shows_the_assignees_tasks_overdue_first(tasks, store):
    page = client(tasks, store).get(path_for(tasks, ANNA))
    assert page.status_code == 200
    assert titles(page.text) == [
        "Call Olga Old about their score of 1",  # overdue
        "Call Nina New about their score of 4",
        "Ask Fay Fan for a reference",
    ]
    assert "Bert Bob" not in page.text  # nobody else's tasks
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script" not in page.text
    assert page.text.index("Overdue") < page.text.index("Nina New")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["cache-control"] == "no-store"


def test_filters_by_status_survey_and_priority(tasks, store):
    http = client(tasks, store)
    base = path_for(tasks, ANNA)
    assert titles(http.get(base, params={"status": "overdue"}).text) == [
        "Call Olga Old about their score of 1"
    ]
    assert titles(http.get(base, params={"priority": "high"}).text) == [
        "Call Olga Old about their score of 1",
        "Call Nina New about their score of 4",
    ]
    assert titles(http.get(base, params={"survey": "no-such"}).text) == []
    assert len(titles(http.get(base, params={"survey": "nps-test", "status": "all"}).text)) == 3


def test_close_a_task_from_the_list(tasks, store):
    http = client(tasks, store)
    base = path_for(tasks, ANNA)
    with store.session() as session:
        nina = next(v.task.id for v in q.all_tasks(session) if v.task.contact_key == "new")
        berts = next(v.task.id for v in q.all_tasks(session) if v.task.contact_key == "bobs")
    missing = http.post(base + "/close", data={"task": nina, "note": "x"})
    assert missing.status_code == 422 and "Choose an outcome." in missing.text
    done = http.post(
        base + "/close",
        data={"task": nina, "outcome": "resolved", "note": "called", "status": "open"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "saved=closed" in done.headers["location"]
    after = http.get(done.headers["location"])
    assert "Task closed. Thank you!" in after.text
    assert "Nina New" not in after.text
    again = http.post(base + "/close", data={"task": nina, "outcome": "resolved"})
    assert again.status_code == 409
    # Bob's task through Anna's link: not found, nothing changed.
    assert (
        http.post(base + "/close", data={"task": berts, "outcome": "resolved"}).status_code == 404
    )
    with store.session() as session:
        assert q.get_task(session, nina).task.outcome == "resolved"
        assert q.get_task(session, berts).task.status == "open"


def test_the_link_is_signed_and_expires(tasks, store, empty_project):
    http = client(tasks, store)
    assert http.get("/m/not-a-token").status_code == 404
    path = path_for(tasks, ANNA)
    later = empty_project.settings(now=at(NOW) + TASK_LINK_TTL + timedelta(minutes=1))
    assert client(later, store).get(path).status_code == 410


@pytest.mark.parametrize(
    ("lang", "heading", "close"),
    [("de", "Aufgaben von", "Aufgabe abschließen"), ("fr", "Tâches de", "Clore la tâche")],
)
def test_the_list_speaks_german_and_french(tasks, store, lang, heading, close):
    http = client(tasks, store)
    by_header = http.get(path_for(tasks, ANNA), headers={"accept-language": f"{lang}-CH,en;q=0.5"})
    assert f'<html lang="{lang}">' in by_header.text
    assert heading in by_header.text and close in by_header.text
    assert close in http.get(path_for(tasks, ANNA), params={"lang": lang}).text


def test_the_digest_links_to_the_list(tasks, store):
    settings = tasks
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
    send_digests(settings, store, surveys, channel, now=at(NOW))
    messages = {m["To"]: m for m in read_mbox(settings.outbox_path)}
    text = body(messages[ANNA])
    link = text.split("All your tasks, with filters: ")[1].split()[0]
    token = link.split("/m/")[1]
    assert read_token(settings.signing_key(), "tasks", token, at(NOW)) == assignee_ref(
        settings, ANNA
    )
    assert "anna" not in link.lower() and "YW5u" not in token  # no address, not even base64
    assert "/m/" in body(messages[ANNA], "html")


def test_every_form_has_a_valid_action_that_reaches_the_list(tasks, store):
    """The Nu validator refuses `action=""`: the filter form names the list itself."""
    http = client(tasks, store)
    path = path_for(tasks, ANNA)
    html = http.get(path).text
    actions = re.findall(r'<form [^>]*action="([^"]*)"', html)
    assert actions and "" not in actions
    [filter_action] = re.findall(r'<form method="get" action="([^"]*)"', html)
    assert filter_action == path.rsplit("/", 1)[1]  # relative: /m/TOKEN itself
    filtered = http.get(f"/m/{filter_action}", params={"status": "all", "priority": "high"})
    assert filtered.status_code == 200 and "Call Olga Old" in filtered.text


def test_a_task_with_a_playbook_is_resolved_from_the_list(empty_project, store):
    """The list offers the playbook's steps: ticking them resolves the task there; a
    resolve without them says which are open (the ticked ones kept), nothing fails."""
    write_survey(
        empty_project.root, notify="{url: 'https://hooks.example/x'}\n    steps: [Call, Log it]"
    )
    add_response(store, "new", {"score": 4}, when=at(NOW), contact={"name": "Nina New"})
    settings = empty_project.settings(now=at(NOW))
    apply_rules(
        settings,
        store,
        project_surveys(settings.surveys_path, settings.project_dir).surveys["nps-test"],
    )
    with store.session() as session:
        [view] = q.all_tasks(session)
    http = client(settings, store)
    base = path_for(settings, ANNA)
    page = http.get(base).text
    assert f'id="step-{view.task.id}-0" name="step" value="0"' in page and "Log it" in page
    form = {"task": view.task.id, "outcome": "resolved", "step": [0]}
    refused = http.post(base + "/close", data=form)
    assert refused.status_code == 422
    assert "tick every step of the playbook or say in the note why not" in refused.text
    assert f'id="step-{view.task.id}-0" name="step" value="0" checked' in refused.text
    done = http.post(base + "/close", data={**form, "step": [1]}, follow_redirects=False)
    assert done.status_code == 303
    with store.session() as session:
        task = q.get_task(session, view.task.id).task
    assert (task.status, task.outcome, task.steps_done) == ("done", "resolved", [0, 1])
