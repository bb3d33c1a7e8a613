"""Reassigning and snoozing tasks: the reason kept, the new assignee told once, the old
link dead for closing, snoozed tasks out of digests and escalations, snoozed time apart
in the measures. On SQLite and PostgreSQL, with the clock moved."""

from __future__ import annotations

import pytest

from cxops.channels.outbox import OutboxChannel
from cxops.errors import CxopsError
from cxops.followup.digest_mail import send_digests
from cxops.followup.escalation import escalate_overdue
from cxops.followup.measures import loop_measures
from cxops.followup.tasks import assign_task, close_task, parse_until, snooze_task
from cxops.messages.tokens import read_token
from cxops.spec.lookup import project_surveys
from cxops.store import tasks as q
from cxops.store.tasks import TaskClosedError
from cxops.testing.followup import OWNER, at, body, read_mbox, tasks_for

MONDAY = "2026-11-23T09:00:00+00:00"
BOB = "bob@acme.example"
ANNA = "csm.anna@acme.example"


@pytest.fixture
def one_task(empty_project, store):
    _, [view] = tasks_for(empty_project, store, {"c1": {"score": 2, "reason": "slow"}}, MONDAY)
    return view.task.id, view.key


def settings_at(project, when):
    return project.settings(now=at(when))


def channel_for(settings):
    return OutboxChannel(settings.outbox_path, clock=settings.clock)


def assign(project, store, task_id, email, note=None, when=MONDAY):
    settings = settings_at(project, when)
    return assign_task(settings, store, channel_for(settings), task_id, email, note, at(when))


class _TimesOut:
    """A channel whose request times out: the email may or may not have left."""

    name = "test"

    def send(self, groups, context):
        raise TimeoutError("read timed out")

    def close(self) -> None:
        return None


def test_an_assignment_email_in_doubt_is_said_so_and_not_sent_again(empty_project, store, one_task):
    task_id, _ = one_task
    settings = settings_at(empty_project, MONDAY)
    with pytest.raises(TimeoutError):
        assign_task(settings, store, _TimesOut(), task_id, BOB, None, at(MONDAY))
    again = assign(empty_project, store, task_id, BOB)
    assert again.told == "in_doubt"  # not "already sent", and not sent a second time
    assert read_mbox(empty_project.root / "outbox") == []


def test_a_reassigned_task_moves_and_its_new_assignee_is_told_once(empty_project, store, one_task):
    task_id, old_key = one_task
    result = assign(empty_project, store, task_id, " Bob@ACME.example ", "Anna is on leave")
    assert (result.assignee, result.previous, result.told) == (BOB, ANNA, "sent")
    again = assign(empty_project, store, task_id, BOB, "Anna is on leave")
    assert again.told == "already_sent"  # a retried command sends nothing twice
    [message] = read_mbox(empty_project.root / "outbox")
    assert message["To"] == BOB and message["Reply-To"] == ANNA
    assert "Follow-up task for you: Call Customer c1" in message["Subject"]
    text = body(message)
    assert "csm.anna@acme.example gave you a follow-up task: Anna is on leave" in text
    with store.session() as session:
        view = q.get_task(session, task_id)
        assert view.task.assignee == BOB and view.task.assignment == 1
        assert "reassigned from csm.anna@acme.example to bob@acme.example: Anna is on leave" in (
            view.task.note
        )
        assert q.find_task_by_key(session, old_key) is None  # the old link is dead
        assert q.find_task_by_key(session, view.key).task.id == task_id
    token = text.split("/t/")[1].split()[0]
    signing_key = settings_at(empty_project, MONDAY).signing_key()
    assert read_token(signing_key, "task", token, at(MONDAY)) == view.key  # the new link
    settings = settings_at(empty_project, "2026-11-24T07:00:00+00:00")
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    digest = send_digests(settings, store, surveys, channel_for(settings)).as_dict()
    assert [entry["assignee"] for entry in digest["sent"]] == [BOB]


def test_reassigning_refuses_closed_tasks_and_bad_addresses(empty_project, store, one_task):
    task_id, _ = one_task
    with pytest.raises(CxopsError, match="not an email address"):
        assign(empty_project, store, task_id, "bob at acme")
    close_task(store, task_id, "resolved", None, at(MONDAY))
    with pytest.raises(TaskClosedError, match="already done"):
        assign(empty_project, store, task_id, BOB)
    assert read_mbox(empty_project.root / "outbox") == []


def test_a_snoozed_task_leaves_the_digest_and_does_not_escalate(empty_project, store, one_task):
    task_id, _ = one_task
    snoozed = snooze_task(
        settings_at(empty_project, MONDAY),
        store,
        task_id,
        "2026-12-01",
        "customer on holiday",
        at(MONDAY),
    )
    # The survey's time zone is Europe/Berlin: the day starts at 23:00 UTC the day before.
    assert snoozed["snoozed_until"] == "2026-11-30T23:00:00+00:00"

    def run(when):
        settings = settings_at(empty_project, when)
        surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
        escalated = escalate_overdue(settings, store, surveys, channel_for(settings)).as_dict()
        digest = send_digests(settings, store, surveys, channel_for(settings)).as_dict()
        return escalated, digest

    escalated, digest = run("2026-11-27T09:00:00+00:00")  # overdue, but snoozed
    assert escalated["sent"] == 0 and digest["sent"] == []
    with store.session() as session:
        assert q.list_tasks(session, now=at("2026-11-27T09:00:00+00:00"), status="overdue") == []
        [view] = q.list_tasks(session, now=at("2026-11-27T09:00:00+00:00"), status="snoozed")
        assert "snoozed until 2026-11-30 23:00: customer on holiday" in view.task.note
    escalated, digest = run("2026-12-01T09:00:00+00:00")  # awake again
    assert escalated["sent"] == 1 and escalated["escalations"][0]["to"] == OWNER
    assert [entry["assignee"] for entry in digest["sent"]] == [ANNA]


def test_measures_report_snoozed_time_apart(empty_project, store, one_task):
    task_id, _ = one_task
    settings = settings_at(empty_project, MONDAY)
    snooze_task(settings, store, task_id, "2026-11-24T09:00:00+00:00", None, at(MONDAY))
    # Snoozed again before waking: the first 12 hours count, then the new snooze.
    snooze_task(
        settings, store, task_id, "2026-11-25T09:00:00+00:00", None, at("2026-11-23T21:00:00+00:00")
    )
    during = loop_measures(store, {}, at("2026-11-24T09:00:00+00:00"))["overall"]
    assert during["snoozed"] == 1 and during["hours_snoozed"] == 24.0
    close_task(store, task_id, "contacted", None, at("2026-11-26T09:00:00+00:00"))
    after = loop_measures(store, {}, at("2026-11-30T09:00:00+00:00"))["overall"]
    assert after["snoozed"] == 0 and after["hours_snoozed"] == 48.0
    assert after["median_hours_to_close"] == {"value": 72.0, "n": 1}
    assert after["median_active_hours_to_close"] == {"value": 24.0, "n": 1}


def test_a_snooze_must_end_in_the_future(empty_project, store, one_task):
    task_id, _ = one_task
    settings = settings_at(empty_project, MONDAY)
    with pytest.raises(CxopsError, match="snooze until a time after now"):
        snooze_task(settings, store, task_id, "2026-11-20", None, at(MONDAY))
    with pytest.raises(CxopsError, match="expected a date"):
        parse_until("next week", "UTC")


def test_assign_and_snooze_from_the_terminal(empty_project, store_url, one_task):
    task_id, _ = one_task
    env = {"CXOPS_DATABASE_URL": store_url, "CXOPS_NOW": MONDAY}
    assigned = empty_project.run(
        ["tasks", "assign", str(task_id), BOB, "--note", "on leave", "--json"], env=env
    ).json
    assert assigned == {"id": task_id, "assignee": BOB, "previous": ANNA, "told": "sent"}
    assert (
        "already told" in empty_project.run(["tasks", "assign", str(task_id), BOB], env=env).stdout
    )
    snoozed = empty_project.run(
        ["tasks", "snooze", str(task_id), "--until", "2026-12-01", "--json"], env=env
    ).json
    assert snoozed["snoozed_until"] == "2026-11-30T23:00:00+00:00"
    listed = empty_project.run(["tasks", "--status", "snoozed", "--json"], env=env).json
    assert [(r["id"], r["assignee"]) for r in listed] == [(task_id, BOB)]
    # The listing shows the day typed, in the survey's zone (the store has 23:00 UTC before).
    listing = empty_project.run(["tasks"], env=env).stdout
    assert "snoozed until 2026-12-01" in listing and "due (Europe/Berlin)" in listing
    bad = empty_project.run(
        ["tasks", "snooze", str(task_id), "--until", "soon"], env=env, expect_pass=False
    )
    assert bad.exit_code == 1 and bad.stderr.strip().startswith("error: --until: expected a date")
    assert len(read_mbox(empty_project.root / "outbox")) == 1
