"""Rules to tasks, escalations, digests, webhooks, exports and measures against a real store
(SQLite and PostgreSQL), with the clock (`now`) moved forward."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from cxops.channels.outbox import OutboxChannel
from cxops.followup import notify
from cxops.followup.apply import apply_rules
from cxops.followup.digest_mail import send_digests
from cxops.followup.escalation import escalate_overdue
from cxops.followup.export import export_tasks
from cxops.followup.measures import loop_measures
from cxops.followup.tasks import close_task
from cxops.followup.webhooks import deliver_webhooks
from cxops.messages.tokens import read_token
from cxops.spec.lookup import find_survey, project_surveys
from cxops.store import tasks as q
from cxops.store.models import Notification, Task
from cxops.store.notifications import notifications
from cxops.testing.followup import (
    FALLBACK,
    OWNER,
    add_response,
    at,
    body,
    edit_response,
    read_mbox,
    write_survey,
)

MONDAY = "2026-11-23T09:00:00+00:00"
#: Answers the follow-up run at MONDAY sees, older than the cursor's overlap.
EARLIER = "2026-11-23T08:30:00+00:00"


def settings_at(project, when: str, **overrides):
    return project.settings(now=at(when), **overrides)


def run_rules(project, store, when: str, *, replay=False, **overrides):
    settings = settings_at(project, when, **overrides)
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    return next(apply_rules(settings, store, s, replay=replay).as_dict() for s in surveys.values())


def all_tasks(store) -> list[Task]:
    with store.session() as session:
        return [view.task for view in q.all_tasks(session)]


def test_answers_become_one_task_per_rule_however_often_the_flow_runs(empty_project, store):
    write_survey(empty_project.root)
    detractor = add_response(store, "c1", {"score": 3, "reason": "slow"}, when=at(MONDAY))
    add_response(store, "c2", {"score": 8}, when=at(MONDAY))
    promoter = add_response(store, "c3", {"score": 10}, when=at(MONDAY), contact={"csm_email": ""})
    first = run_rules(empty_project, store, MONDAY)
    assert (first["evaluated"], first["created"]) == (3, 2)
    again = run_rules(empty_project, store, "2026-11-23T09:15:00+00:00")
    assert again["created"] == 0 and again["evaluated"] == 3  # inside the cursor's overlap
    tasks = {t.response_id: t for t in all_tasks(store)}
    assert set(tasks) == {detractor, promoter}
    task = tasks[detractor]
    assert (task.rule_id, task.assignee, task.priority, task.status) == (
        "detractor",
        "csm.anna@acme.example",
        "high",
        "open",
    )
    assert task.title == "Call Customer c1 about their score of 3"
    assert task.context == {"plan": "team", "mrr": 120.5}
    # Monday 10:00 in Berlin + 2 business days, stored in UTC
    assert task.due_at == at("2026-11-25T09:00:00+00:00")
    assert tasks[promoter].assignee == OWNER  # empty assign_to, no fallback: the owner

    # an answer arriving later is picked up by the next run; old ones are not looked at again
    later = add_response(store, "c4", {"score": 0}, when=at("2026-11-24T12:00:00+00:00"))
    third = run_rules(empty_project, store, "2026-11-24T12:05:00+00:00")
    assert (third["evaluated"], third["created"]) == (1, 1)
    assert {t.response_id for t in all_tasks(store)} == {detractor, promoter, later}


def test_an_edit_withdraws_a_task_that_no_longer_matches_and_reopens_it(empty_project, store):
    write_survey(empty_project.root)
    rid = add_response(store, "c1", {"score": 2}, when=at(MONDAY))
    run_rules(empty_project, store, MONDAY)
    edit_response(store, rid, {"score": 7}, at("2026-11-23T10:00:00+00:00"))
    edited = run_rules(empty_project, store, "2026-11-23T10:00:00+00:00")
    assert edited["withdrawn"] == 1
    [task] = all_tasks(store)
    assert (task.status, task.outcome) == ("withdrawn", "withdrawn")
    edit_response(store, rid, {"score": 1}, at("2026-11-23T11:00:00+00:00"))
    reopened = run_rules(empty_project, store, "2026-11-23T11:00:00+00:00")
    assert reopened["reopened"] == 1 and reopened["created"] == 0
    [task] = all_tasks(store)
    assert task.status == "open" and task.title.endswith("score of 1")
    # a suspect answer (link scanner) withdraws its open task
    edit_response(store, rid, {"score": 1}, at("2026-11-23T12:00:00+00:00"), suspect=True)
    run_rules(empty_project, store, "2026-11-23T12:00:00+00:00")
    assert all_tasks(store)[0].status == "withdrawn"


def test_replay_backfills_new_rules_and_withdraws_by_rule_version(empty_project, store):
    write_survey(empty_project.root)
    passive = add_response(store, "c1", {"score": 7}, when=at(EARLIER))
    six = add_response(store, "c2", {"score": 6}, when=at(EARLIER))
    two = add_response(store, "c3", {"score": 2}, when=at(EARLIER))
    run_rules(empty_project, store, MONDAY)
    old_versions = {t.response_id: t.rule_version for t in all_tasks(store)}
    assert set(old_versions) == {six, two}

    # The rule is tightened and a rule for passives is added.
    write_survey(
        empty_project.root,
        detractor_when="answers.score <= 5",
        extra_rule=(
            "  - id: passive\n"
            "    when: \"category == 'passive'\"\n"
            '    task: "Ask {{ contact.name }} what would make it a 9"\n'
            "    due: 5d\n"
        ),
    )
    later = "2026-11-30T09:00:00+00:00"
    quiet = run_rules(empty_project, store, later)
    assert quiet["evaluated"] == 0 and len(all_tasks(store)) == 2  # no new answers: nothing changes

    replay = run_rules(empty_project, store, later, replay=True)
    assert replay["by_rule"]["passive"]["created"] == 1
    assert replay["by_rule"]["detractor"]["withdrawn"] == 1
    assert replay["by_rule"]["detractor"]["reversioned"] == 1
    tasks = {(t.response_id, t.rule_id): t for t in all_tasks(store)}
    assert tasks[(six, "detractor")].status == "withdrawn"
    assert tasks[(two, "detractor")].rule_version != old_versions[two]
    assert tasks[(passive, "passive")].assignee == OWNER
    assert tasks[(passive, "passive")].due_at == at("2026-12-05T09:00:00+00:00")
    assert run_rules(empty_project, store, later, replay=True)["created"] == 0


def test_overdue_tasks_escalate_once_per_step_across_christmas(empty_project, store):
    write_survey(empty_project.root)
    add_response(store, "c1", {"score": 1}, when=at("2026-12-24T09:00:00+00:00"))
    run_rules(empty_project, store, "2026-12-24T09:00:00+00:00", holidays="DE")
    [task] = all_tasks(store)
    # Thursday 24th + 2 business days in Germany: 25th, 26th (holidays), weekend -> Tue 29th
    assert task.due_at == at("2026-12-29T09:00:00+00:00")

    def escalate(when: str):
        settings = settings_at(empty_project, when, holidays="DE")
        surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
        channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
        return escalate_overdue(settings, store, surveys, channel).as_dict()

    assert escalate("2026-12-28T18:00:00+00:00")["sent"] == 0
    first = escalate("2026-12-29T09:30:00+00:00")
    assert first["sent"] == 1 and first["escalations"][0]["to"] == OWNER
    assert escalate("2026-12-29T12:00:00+00:00")["sent"] == 0
    assert escalate("2026-12-30T12:00:00+00:00")["sent"] == 0
    # step 2 one `due` later: Tue 29th + 2 business days -> Thu 31st
    assert escalate("2026-12-31T08:00:00+00:00")["sent"] == 0
    second = escalate("2026-12-31T12:00:00+00:00")
    assert second["sent"] == 1 and second["escalations"][0]["step"] == 2
    # step 3: New Year's Day and the weekend are skipped -> Tue 5 Jan
    assert escalate("2027-01-04T12:00:00+00:00")["sent"] == 0
    assert escalate("2027-01-05T10:00:00+00:00")["sent"] == 1
    assert escalate("2027-01-20T10:00:00+00:00")["sent"] == 0  # three steps at most
    assert all_tasks(store)[0].escalation_step == 3
    messages = read_mbox(empty_project.root / "outbox" / "_escalations")
    assert [m["To"] for m in messages] == [OWNER, OWNER, OWNER]
    assert messages[0]["Subject"] == "Overdue follow-up: Call Customer c1 about their score of 1"
    assert "escalation 2" not in body(messages[0]) and "escalation 2" in body(messages[1])
    assert "Customer c1" in body(messages[0])


def test_digests_once_per_assignee_per_day_overdue_first(empty_project, store):
    write_survey(empty_project.root)
    add_response(
        store,
        "old",
        {"score": 2},
        when=at("2026-11-16T09:00:00+00:00"),
        contact={"name": "<b>Old & Co</b>"},
    )
    run_rules(empty_project, store, "2026-11-16T09:00:00+00:00")
    add_response(store, "new", {"score": 4, "reason": "=cmd|' /C calc'!A0"}, when=at(MONDAY))
    add_response(
        store, "bob", {"score": 1}, when=at(MONDAY), contact={"csm_email": "bob@acme.example"}
    )
    run_rules(empty_project, store, MONDAY)
    with store.session() as session:
        bob_task = q.list_tasks(session, now=at(MONDAY), assignee="bob@acme.example")[0].task.id
    close_task(store, bob_task, "resolved", "called", at(MONDAY))

    def digest(when: str):
        settings = settings_at(empty_project, when)
        surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
        channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
        return settings, send_digests(settings, store, surveys, channel).as_dict()

    settings, first = digest("2026-11-23T07:00:00+00:00")
    assert first["sent"] == [
        {"assignee": "csm.anna@acme.example", "tasks": 2, "overdue": 1, "status": "sent"}
    ]  # bob has nothing open: no email
    assert digest("2026-11-23T15:00:00+00:00")[1]["already_sent"] == ["csm.anna@acme.example"]
    [message] = read_mbox(empty_project.root / "outbox" / "_digests" / "2026-11-23")
    assert message["To"] == "csm.anna@acme.example"
    assert message["From"] == "Acme Research <research@acme.example>"
    text = body(message)
    assert text.index("[OVERDUE] Call <b>Old & Co</b>") < text.index("Call Customer new")
    assert "How likely are you to recommend us?: 4 (detractor)" in text and "plan: team" in text
    html = body(message, "html")
    assert "&lt;b&gt;Old &amp; Co&lt;/b&gt;" in html and "<b>Old" not in html
    token = text.split("/t/")[1].split()[0]
    key = read_token(settings.signing_key(), "task", token, at(MONDAY))
    with store.session() as session:
        assert q.find_task_by_key(session, key).task.contact_key == "old"
    assert digest("2026-11-24T07:00:00+00:00")[1]["sent"][0]["tasks"] == 2  # a new day


def test_a_digest_a_dead_run_left_is_sent_if_never_handed_over_else_reported_in_doubt(
    empty_project, store
):
    from cxops.store import notifications as n
    from cxops.testing.followup import dead_claimer

    write_survey(empty_project.root)
    add_response(store, "a", {"score": 2}, when=at(MONDAY))
    add_response(
        store, "b", {"score": 1}, when=at(MONDAY), contact={"csm_email": "bob@acme.example"}
    )
    run_rules(empty_project, store, MONDAY)
    gone = dead_claimer()
    day = "2026-11-23"
    with store.session(write=True) as session:  # the dead run claimed both, handed one over
        for assignee in ("csm.anna@acme.example", "bob@acme.example"):
            key = f"digest:{assignee}:{day}"
            n.claim_notification(session, key, "digest", assignee, at(MONDAY), gone)
        n.mark_sending(session, [f"digest:bob@acme.example:{day}"], gone)

    def digest(**options):
        settings = settings_at(empty_project, "2026-11-23T10:00:00+00:00")
        surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
        channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
        return send_digests(settings, store, surveys, channel, **options).as_dict()

    def recipients() -> list[str]:
        return [m["To"] for m in read_mbox(empty_project.root / "outbox" / "_digests" / day)]

    first = digest()
    assert [entry["assignee"] for entry in first["sent"]] == ["csm.anna@acme.example"]
    assert first["in_doubt"] == ["bob@acme.example"] and first["already_sent"] == []
    assert digest()["in_doubt"] == ["bob@acme.example"]  # told each run, never resent
    assert recipients() == ["csm.anna@acme.example"]
    resent = digest(resend_in_doubt=True)
    assert [entry["assignee"] for entry in resent["sent"]] == ["bob@acme.example"]
    assert resent["already_sent"] == ["csm.anna@acme.example"]
    assert sorted(recipients()) == ["bob@acme.example", "csm.anna@acme.example"]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first: ClassVar[int] = 0

    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), data))
        failing = type(self).fail_first > 0
        type(self).fail_first -= 1
        self.send_response(503 if failing else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    _Hook.received = []
    _Hook.fail_first = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    server.shutdown()
    server.server_close()


def test_new_tasks_are_posted_to_the_webhook_signed_and_retried(
    empty_project, store, hook_server, monkeypatch
):
    url, hook = hook_server
    monkeypatch.setenv("CXOPS_TEST_HOOK_SECRET", "s3cret")
    write_survey(empty_project.root, notify_url=url)
    add_response(store, "c1", {"score": 3}, when=at(MONDAY))
    add_response(store, "c2", {"score": 10}, when=at(MONDAY))  # the promoter rule has no webhook
    hook.fail_first = 1
    settings = settings_at(empty_project, MONDAY)
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    result = deliver_webhooks(settings, store, surveys, backoff=0.01)
    assert (result.sent, result.retry, result.failed) == (1, 0, 0)
    assert len(hook.received) == 2  # the 503, then the retry
    headers, data = hook.received[-1]
    assert headers["X-Cxops-Event"] == "task.created"
    assert notify.verify(
        b"s3cret", headers["X-Cxops-Timestamp"], data, headers["X-Cxops-Signature"]
    )
    assert not notify.verify(
        b"other", headers["X-Cxops-Timestamp"], data, headers["X-Cxops-Signature"]
    )
    payload = json.loads(data)
    assert payload["task"]["rule"] == "detractor" and payload["answers"] == {"score": 3}
    assert payload["customer"]["contact_key"] == "c1" and payload["category"] == "detractor"
    assert payload["task"]["url"].startswith("http://127.0.0.1:8000/t/")
    assert deliver_webhooks(settings, store, surveys, backoff=0.01).sent == 0
    assert len(hook.received) == 2
    with store.session() as session:
        [row] = notifications(session, "notify:")
        assert (row.status, row.attempts) == ("sent", 1)


def test_a_refused_webhook_is_not_retried_and_a_down_one_is(
    empty_project, store, hook_server, monkeypatch
):
    url, hook = hook_server
    write_survey(empty_project.root, notify_url=url)
    add_response(store, "c1", {"score": 3}, when=at(MONDAY))
    settings = settings_at(empty_project, MONDAY)
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    # the secret's variable is not set: nothing is posted unsigned, it waits
    waiting = deliver_webhooks(settings, store, surveys, backoff=0.01)
    assert waiting.retry == 1 and hook.received == []
    monkeypatch.setenv("CXOPS_TEST_HOOK_SECRET", "s3cret")
    hook.fail_first = 10
    down = deliver_webhooks(settings, store, surveys, attempts=2, backoff=0.01)
    assert down.retry == 1 and len(hook.received) == 2
    hook.fail_first = 0
    assert deliver_webhooks(settings, store, surveys, backoff=0.01).sent == 1
    with store.session() as session:
        assert session.get(Notification, notifications(session, "notify:")[0].key).attempts == 3


def test_export_tasks_is_safe_for_spreadsheets(empty_project, store):
    write_survey(empty_project.root)
    add_response(store, "=HYPERLINK(1)", {"score": 3}, when=at(MONDAY), contact={"name": "-2+3"})
    add_response(store, "c2", {"score": 9}, when=at(MONDAY))
    run_rules(empty_project, store, MONDAY)
    first = next(t for t in all_tasks(store) if t.rule_id == "detractor")
    close_task(store, first.id, "contacted", "@mention them", at(MONDAY))
    out = io.StringIO()
    assert (
        export_tasks(
            store,
            find_survey("nps-test", empty_project.path("surveys"), empty_project.root),
            "csv",
            out,
            at(MONDAY),
        )
        == 2
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    row = next(r for r in rows if r["rule"] == "detractor")
    assert row["contact_key"] == "'=HYPERLINK(1)"
    assert row["note"] == "'@mention them" and row["outcome"] == "contacted"
    assert row["title"] == "Call -2+3 about their score of 3"
    jsonl = io.StringIO()
    export_tasks(
        store,
        find_survey("nps-test", empty_project.path("surveys"), empty_project.root),
        "jsonl",
        jsonl,
        at(MONDAY),
    )
    records = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert {
        "id",
        "survey",
        "contact_key",
        "rule",
        "assignee",
        "due",
        "priority",
        "status",
        "outcome",
    } <= set(records[0])
    assert records[0]["contact_key"] == "=HYPERLINK(1)"  # JSON keeps the data as it is


def test_measures_from_the_store(empty_project, store):
    write_survey(empty_project.root)
    add_response(store, "c1", {"score": 2}, when=at("2026-08-03T09:00:00+00:00"), wave="2026-08")
    run_rules(empty_project, store, "2026-08-03T09:00:00+00:00")
    add_response(store, "c1", {"score": 9}, when=at(MONDAY))
    add_response(
        store, "c2", {"score": 5}, when=at(MONDAY), contact={"csm_email": "bob@acme.example"}
    )
    run_rules(empty_project, store, MONDAY)
    with store.session() as session:
        first = q.list_tasks(session, now=at(MONDAY), status="all")
    august = next(v.task for v in first if v.task.wave_id == "2026-08")
    close_task(store, august.id, "resolved", None, at("2026-08-04T09:00:00+00:00"))
    settings = settings_at(empty_project, "2026-11-27T09:00:00+00:00")
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    result = loop_measures(store, surveys, settings.clock())
    overall = result["overall"]
    assert overall["tasks"] == 3 and overall["done"] == 1 and overall["overdue"] == 1
    assert overall["rescue_rate"] == {"value": 100.0, "n": 1}
    assert overall["contacted_within_sla"] == {"value": 50.0, "n": 2}
    assert result["by_assignee"]["bob@acme.example"]["overdue"] == 1
    assert FALLBACK not in result["by_assignee"]
