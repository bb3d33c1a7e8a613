"""Playbook steps: a rule's `steps:` become the task's checklist; `resolved` needs every
step ticked (or a note saying why not); the measures show where open tasks stall."""

from __future__ import annotations

import re

import pytest

from cxops.followup.collector import create_collector
from cxops.followup.links import task_link
from cxops.followup.measures import loop_measures, measures_markdown
from cxops.store import tasks as q
from cxops.store.tasks import StepsOpenError
from cxops.testing.collect import client_for
from cxops.testing.followup import at, tasks_for, write_survey

NOW = "2026-11-23T09:00:00+00:00"
STEPS = "\n    steps: [Call the customer, Log the call in the CRM, Send the promised follow-up]"


@pytest.fixture
def playbook(empty_project, store):
    settings, views = tasks_for(
        empty_project,
        store,
        {"c1": {"score": 2}, "c2": {"score": 3}},
        NOW,
        notify="{url: 'https://hooks.example/x'}" + STEPS,
    )
    ids = [view.task.id for view in views if view.task.rule_id == "detractor"]
    return settings, ids


def test_resolved_needs_every_step_or_a_reason(store, playbook):
    _, (first, second) = playbook
    with store.session() as session:
        assert q.get_task(session, first).task.steps == [
            "Call the customer",
            "Log the call in the CRM",
            "Send the promised follow-up",
        ]
    with (
        pytest.raises(StepsOpenError, match="open: Log the call in the CRM; Send the promised"),
        store.session() as session,
    ):
        q.close_task(session, first, "resolved", None, at(NOW), steps_done=[0])
    with store.session() as session:
        q.close_task(session, first, "resolved", None, at(NOW), steps_done=[0, 1, 2])
        q.close_task(session, second, "resolved", "customer did not want a follow-up", at(NOW))
        # Other outcomes never need the steps.
    with store.session() as session:
        assert q.get_task(session, first).task.steps_done == [0, 1, 2]
        assert q.get_task(session, second).task.status == "done"


def test_the_task_page_is_a_checklist(store, playbook):
    settings, (first, _) = playbook
    with store.session() as session:
        key = q.get_task(session, first).key
    path = task_link(settings, key, at(NOW)).removeprefix(settings.public_url)
    http = client_for(create_collector(settings, store=store))
    page = http.get(path).text
    assert re.findall(r'name="step" value="(\d)"', page) == ["0", "1", "2"]
    refused = http.post(path, data={"action": "close", "outcome": "resolved", "step": ["0"]})
    assert refused.status_code == 422 and "tick every step" in refused.text
    assert 'id="step-0" name="step" value="0" checked' in refused.text  # the tick was kept
    done = http.post(
        path,
        data={"action": "close", "outcome": "resolved", "step": ["1", "2"]},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with store.session() as session:
        assert q.get_task(session, first).task.status == "done"


def test_the_measures_show_where_tasks_stall(store, playbook):
    _, (first, _other) = playbook
    with store.session() as session:
        q.add_note(session, first, "called", at(NOW), steps_done=[0])
    measures = loop_measures(store, {}, at(NOW))
    assert measures["overall"]["stalled_at"] == {
        "detractor: Call the customer": 1,
        "detractor: Log the call in the CRM": 1,
    }
    assert "- detractor: Log the call in the CRM: 1" in measures_markdown(measures)


def test_validate_checks_the_steps(empty_project):
    write_survey(empty_project.root, notify="{url: 'https://hooks.example/x'}\n    steps: ['']")
    result = empty_project.run(["validate"], expect_pass=False)
    assert "steps" in result.output and "nps-test.yaml:" in result.output


def test_closing_from_the_terminal_ticks_steps(empty_project, store_url, store, playbook):
    _, (first, second) = playbook
    env = {"CXOPS_DATABASE_URL": store_url, "CXOPS_NOW": NOW}

    def close(task_id, *args, expect_pass=True):
        command = ["tasks", "close", str(task_id), "--outcome", "resolved", *args]
        return empty_project.run(command, env=env, expect_pass=expect_pass)

    refused = close(first, "--step", "1", "--step", "Log the call in the CRM", expect_pass=False)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f"error: task {first}: tick every step before resolved, or say in the note why not "
        "(open: Send the promised follow-up)"
    )
    unknown = close(first, "--step", "4", expect_pass=False)
    assert unknown.exit_code == 1 and len(unknown.stderr.strip().splitlines()) == 1
    assert unknown.stderr.strip() == (
        f"error: --step '4': task {first} has no such step; expected one of "
        "1 (Call the customer), 2 (Log the call in the CRM), 3 (Send the promised follow-up)"
    )
    with store.session() as session:
        task = q.get_task(session, first).task
        assert (task.status, task.steps_done) == ("open", [])  # nothing kept from a refusal
    closed = close(
        first, "--step", "1", "--step", "2", "--step", "send the PROMISED follow-up ", "--json"
    )
    assert closed.json["status"] == "done"
    assert closed.json["steps_done"] == [
        "Call the customer",
        "Log the call in the CRM",
        "Send the promised follow-up",
    ]
    # A note saying why not stands in for the steps, as on the page.
    why = close(second, "--step", "1", "--note", "they asked us not to follow up", "--json").json
    assert (why["status"], why["steps_done"]) == ("done", ["Call the customer"])
    other = empty_project.run(
        ["tasks", "close", str(second), "--outcome", "contacted"], env=env, expect_pass=False
    )
    assert "already done" in other.stderr
