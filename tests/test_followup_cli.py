"""`cxops followups`, `digest`, `tasks`, `tasks close`, `export tasks` through the real CLI,
the follow-up and digest work running as Prefect flow runs."""

from __future__ import annotations

import json

import pytest

from cxops.store.db import open_store
from cxops.testing.followup import OWNER, add_response, at, write_survey


@pytest.mark.prefect
def test_the_loop_from_the_terminal(empty_project, prefect_env, monkeypatch):
    write_survey(empty_project.root)
    store = open_store(empty_project.settings().store_url)
    add_response(store, "c1", {"score": 2, "reason": "=1+1"}, when=at("2026-11-23T08:00:00+00:00"))
    add_response(store, "c2", {"score": 10}, when=at("2026-11-23T08:00:00+00:00"))
    store.dispose()

    summary = empty_project.run(["followups", "--json"], env=prefect_env).json
    assert summary["created"] == 2 and summary["open"] == 2
    assert summary["surveys"][0]["by_rule"]["detractor"]["created"] == 1
    assert empty_project.run(["followups", "--json"], env=prefect_env).json["created"] == 0

    listed = empty_project.run(["tasks", "--assignee", "csm.anna@acme.example", "--json"]).json
    assert [row["rule"] for row in listed] == ["detractor", "promoter"]
    assert listed[0]["assignee"] == "csm.anna@acme.example"
    text = empty_project.run(["tasks"]).stdout
    assert "Call Customer c1 about their score of 2" in text

    digest = empty_project.run(["digest", "--json"], env=prefect_env).json
    assert digest["sent"][0]["assignee"] == "csm.anna@acme.example"
    assert list((empty_project.root / "outbox" / "_digests" / "2026-11-23").glob("*.mbox"))
    assert empty_project.run(["digest", "--json"], env=prefect_env).json["already_sent"]

    task_id = listed[0]["id"]
    closed = empty_project.run(
        [
            "tasks",
            "close",
            str(task_id),
            "--outcome",
            "contacted",
            "--note",
            "spoke to them",
            "--json",
        ]
    ).json
    assert closed == {
        "id": task_id,
        "status": "done",
        "outcome": "contacted",
        "note": "spoke to them",
        "steps_done": [],
    }
    refused = empty_project.run(
        ["tasks", "close", str(task_id), "--outcome", "resolved"], expect_pass=False
    )
    assert "already done" in refused.stderr
    bad = empty_project.run(
        ["tasks", "close", str(listed[1]["id"]), "--outcome", "maybe"], expect_pass=False
    )
    assert "outcome must be one of" in bad.stderr
    assert [r["id"] for r in empty_project.run(["tasks", "--status", "done", "--json"]).json] == [
        task_id
    ]

    # three business days later the promoter task is not due; move the clock past 7 days
    later = {**prefect_env, "CXOPS_NOW": "2026-12-01T09:00:00+00:00"}
    escalated = empty_project.run(["followups", "--json"], env=later).json
    assert escalated["escalations"]["sent"] == 1
    assert escalated["escalations"]["escalations"][0]["to"] == OWNER
    overdue = empty_project.run(["tasks", "--status", "overdue", "--json"], env=later).json
    assert [row["rule"] for row in overdue] == ["promoter"]

    measures = empty_project.run(["tasks", "--summary", "--json"], env=later).json
    assert measures["overall"]["loop_closure"] == {"value": 50.0, "n": 2}
    assert measures["overall"]["contacted_within_sla"] == {"value": 100.0, "n": 1}
    assert "closed %" in empty_project.run(["tasks", "--summary"], env=later).stdout

    exported = empty_project.run(["export", "tasks", "nps-test", "--format", "jsonl"]).stdout
    records = [json.loads(line) for line in exported.splitlines()]
    assert {r["outcome"] for r in records} == {"contacted", None}
    csv_text = empty_project.run(["export", "tasks", "nps-test", "--format", "csv"]).stdout
    assert csv_text.splitlines()[0].startswith(
        "id,survey,contact_key,rule,assignee,due,priority,status,outcome"
    )


@pytest.mark.parametrize("columns", [80, 200])
def test_the_task_list_fits_the_terminal_with_times_in_a_stated_zone(empty_project, columns):
    from cxops.testing.followup import tasks_for

    store = open_store(empty_project.settings().store_url)
    answers = {"c1": {"score": 2}, "c2": {"score": 10}}
    long_name = {"name": "Maximiliane Alexandra von Hohenzollern-Sigmaringen"}
    try:
        tasks_for(empty_project, store, answers, "2026-11-23T08:00:00+00:00", contact=long_name)
    finally:
        store.dispose()
    env = {"COLUMNS": str(columns), "CXOPS_NOW": "2026-11-23T09:00:00+00:00"}
    text = empty_project.run(["tasks"], env=env).stdout
    assert max(len(line) for line in text.splitlines()) <= columns, text
    flat = " ".join(text.split())
    # The survey's zone (Europe/Berlin), as its emails show it, named in the header;
    # the detractor's task is due 2 business days later at 09:00 local (08:00 UTC).
    assert "due (Europe/Berlin)" in flat and "2026-11-25 09:00" in flat, text
    for field in ("csm.anna@acme.example (2)", "(c1)", "nps-test", "high", "open"):
        assert field in flat, (field, text)
    words = "Call Maximiliane Alexandra von Hohenzollern-Sigmaringen about their score of 2"
    assert all(word in flat for word in words.split()), text
    utc = empty_project.run(["tasks", "--timezone", "UTC"], env=env).stdout
    assert "due (UTC)" in " ".join(utc.split()) and "2026-11-25 08:00" in utc
    bad = empty_project.run(["tasks", "--timezone", "Mars/Base"], env=env, expect_pass=False)
    assert bad.stderr.startswith("error: --timezone: expected an IANA time zone")
