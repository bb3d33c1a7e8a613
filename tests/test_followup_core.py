"""The pure core: categories, assignment, due dates and escalation steps, rule decisions, measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from cxops.durations import parse_duration
from cxops.expr import Evaluator
from cxops.followup.assign import choose_assignee, escalation_recipient
from cxops.followup.category import score_category
from cxops.followup.measures import AnswerRecord, TaskRecord, compute_measures, measures_markdown
from cxops.followup.rules import (
    Create,
    ExistingTask,
    Failed,
    Reopen,
    ResponseFacts,
    Reversion,
    Withdraw,
    decide,
    rule_version,
)
from cxops.followup.sla import due_at, escalation_step
from cxops.spec.models import Survey
from cxops.testing.followup import FALLBACK, OWNER, survey_yaml

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def survey(**kwargs) -> Survey:
    return Survey.model_validate(yaml.safe_load(survey_yaml(**kwargs)))


def facts(answers, *, status="complete", suspect=False, contact=None, rid=1) -> ResponseFacts:
    return ResponseFacts(
        id=rid,
        send_id="s" * 32,
        survey_id="nps-test",
        wave_id="w",
        contact_key="c1",
        segment="smb",
        status=status,
        answers=answers,
        contact=contact
        if contact is not None
        else {"name": "Ada", "csm_email": "anna@acme.example", "plan": "team", "mrr": 10},
        answered_at=NOW,
        suspect=suspect,
    )


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        ("nps", 0, "detractor"),
        ("nps", 6, "detractor"),
        ("nps", 7, "passive"),
        ("nps", 8, "passive"),
        ("nps", 9, "promoter"),
        ("nps", 10, "promoter"),
        ("nps", 11, None),
        ("nps", "6", "detractor"),
        ("csat", 1, "dissatisfied"),
        ("csat", 2, "dissatisfied"),
        ("csat", 3, "neutral"),
        ("csat", 4, "satisfied"),
        ("csat", 0, None),
        ("ces", 3, "dissatisfied"),
        ("ces", 4, "neutral"),
        ("ces", 5, "satisfied"),
        ("ces", 7, "satisfied"),
        ("custom", 3, None),
        ("nps", None, None),
        ("nps", True, None),
    ],
)
def test_score_categories(kind, score, expected):
    assert score_category(kind, score) == expected


def test_assignee_chain_never_leaves_a_task_unassigned():
    assert (
        choose_assignee(
            " Anna@ACME.example ", fallback=FALLBACK, owner=OWNER, sender="x@y.example"
        ).email
        == "anna@acme.example"
    )
    empty = choose_assignee("", fallback=FALLBACK, owner=OWNER, sender="x@y.example")
    assert (empty.email, empty.via) == (FALLBACK, "fallback") and "empty" in empty.reason
    invalid = choose_assignee("not an address", fallback=None, owner=OWNER, sender="x@y.example")
    assert (invalid.email, invalid.via) == (OWNER, "owner")
    failed = choose_assignee(
        None, render_error="undefined", fallback=None, owner=None, sender="r@acme.example"
    )
    assert (failed.email, failed.via) == (
        "r@acme.example",
        "sender",
    ) and "undefined" in failed.reason


def test_escalation_goes_to_escalate_to_then_owner_then_fallback():
    assert (
        escalation_recipient(
            escalate_to="boss@a.example", owner=OWNER, fallback=FALLBACK, assignee="a@a.example"
        )
        == "boss@a.example"
    )
    assert (
        escalation_recipient(
            escalate_to=None, owner=OWNER, fallback=FALLBACK, assignee="a@a.example"
        )
        == OWNER
    )
    assert (
        escalation_recipient(escalate_to=None, owner=None, fallback=None, assignee="a@a.example")
        == "a@a.example"
    )


def test_business_day_due_dates_skip_the_weekend_in_the_survey_time_zone():
    two = parse_duration("2 business days")
    # Friday 17:00 Berlin -> Tuesday 17:00 Berlin
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert due_at(friday, two, "Europe/Berlin") == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    # Sunday 20:00 UTC is already Monday 05:00 in Tokyo: one business day later differs.
    sunday = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    one = parse_duration("1 business day")
    assert due_at(sunday, one, "UTC") == datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    assert due_at(sunday, one, "Asia/Tokyo") == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def test_german_christmas_is_not_a_business_day():
    one = parse_duration("1 business day")
    christmas_eve = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)  # Thursday
    assert due_at(christmas_eve, one, "Europe/Berlin") == datetime(2026, 12, 25, 8, 0, tzinfo=UTC)
    assert due_at(christmas_eve, one, "Europe/Berlin", "DE") == datetime(
        2026, 12, 28, 8, 0, tzinfo=UTC
    )


def test_escalation_steps_follow_the_due_period():
    due = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday
    period = parse_duration("2 business days")
    assert escalation_step(due, due, period, "UTC") == 0
    assert escalation_step(due, due + timedelta(minutes=1), period, "UTC") == 1
    assert escalation_step(due, datetime(2026, 11, 27, 9, 1, tzinfo=UTC), period, "UTC") == 2
    assert escalation_step(due, datetime(2026, 12, 31, tzinfo=UTC), period, "UTC") == 3
    assert escalation_step(due, datetime(2026, 12, 31, tzinfo=UTC), None, "UTC") == 1


def test_a_matching_answer_creates_one_task_per_rule():
    spec = survey()
    decisions = decide(spec, facts({"score": 3}), {}, evaluator=Evaluator(NOW), now=NOW)
    assert len(decisions) == 1 and isinstance(decisions[0], Create)
    draft = decisions[0].draft
    assert draft.rule_id == "detractor"
    assert draft.title == "Call Ada about their score of 3"
    assert draft.assignment.email == "anna@acme.example"
    assert draft.priority == "high"
    assert draft.context == {"plan": "team", "mrr": 10}
    assert draft.due_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert draft.rule_version == rule_version(spec.followup[0])


def test_an_existing_task_is_never_made_twice():
    spec = survey()
    version = rule_version(spec.followup[0])
    existing = {"detractor": ExistingTask(7, "detractor", version, "open")}
    assert decide(spec, facts({"score": 3}), existing, evaluator=Evaluator(NOW), now=NOW) == []
    done = {"detractor": ExistingTask(7, "detractor", version, "done")}
    assert decide(spec, facts({"score": 3}), done, evaluator=Evaluator(NOW), now=NOW) == []


def test_edits_withdraw_and_reopen():
    spec = survey()
    version = rule_version(spec.followup[0])
    open_task = {"detractor": ExistingTask(7, "detractor", version, "open")}
    withdrawn = decide(spec, facts({"score": 8}), open_task, evaluator=Evaluator(NOW), now=NOW)
    assert withdrawn == [Withdraw(7, "detractor", "the answer no longer matches")]
    closed = {"detractor": ExistingTask(7, "detractor", version, "done")}
    assert decide(spec, facts({"score": 8}), closed, evaluator=Evaluator(NOW), now=NOW) == []
    gone = {"detractor": ExistingTask(7, "detractor", version, "withdrawn")}
    [reopen] = decide(spec, facts({"score": 2}), gone, evaluator=Evaluator(NOW), now=NOW)
    assert isinstance(reopen, Reopen) and reopen.task_id == 7


def test_a_changed_rule_moves_matching_tasks_to_its_version():
    old = survey()
    new = survey(detractor_when="answers.score <= 5")
    assert rule_version(old.followup[0]) != rule_version(new.followup[0])
    existing = {"detractor": ExistingTask(7, "detractor", rule_version(old.followup[0]), "open")}
    [moved] = decide(new, facts({"score": 4}), existing, evaluator=Evaluator(NOW), now=NOW)
    assert moved == Reversion(7, "detractor", rule_version(new.followup[0]))
    [dropped] = decide(new, facts({"score": 6}), existing, evaluator=Evaluator(NOW), now=NOW)
    assert isinstance(dropped, Withdraw)


def test_removed_rules_and_suspect_answers_withdraw_open_tasks():
    spec = survey()
    version = rule_version(spec.followup[0])
    existing = {
        "old_rule": ExistingTask(1, "old_rule", "v", "open"),
        "detractor": ExistingTask(2, "detractor", version, "open"),
    }
    decisions = decide(
        spec, facts({"score": 3}, suspect=True), existing, evaluator=Evaluator(NOW), now=NOW
    )
    assert {(d.task_id, d.reason) for d in decisions} == {
        (1, "the rule was removed from the survey"),
        (2, "the answer is marked suspect"),
    }


def test_partial_answers_count_only_with_the_main_score():
    spec = survey()
    [create] = decide(
        spec, facts({"score": 1}, status="partial"), {}, evaluator=Evaluator(NOW), now=NOW
    )
    assert isinstance(create, Create)
    assert (
        decide(
            spec, facts({"reason": "meh"}, status="partial"), {}, evaluator=Evaluator(NOW), now=NOW
        )
        == []
    )


def test_a_failing_rule_is_reported_and_a_bad_assignee_falls_back():
    spec = survey(detractor_when="answers.score <= contact.threshold")
    [failed, *_] = decide(spec, facts({"score": 1}), {}, evaluator=Evaluator(NOW), now=NOW)
    assert isinstance(failed, Failed) and failed.rule_id == "detractor"
    ok = survey()
    [create] = decide(
        ok,
        facts({"score": 1}, contact={"name": "Bo", "csm_email": "nobody", "plan": "x", "mrr": 1}),
        {},
        evaluator=Evaluator(NOW),
        now=NOW,
    )
    assert create.draft.assignment.email == FALLBACK
    [promoter] = decide(
        ok, facts({"score": 10}, contact={"name": "Cy"}), {}, evaluator=Evaluator(NOW), now=NOW
    )
    assert (promoter.draft.assignment.email, promoter.draft.assignment.via) == (OWNER, "owner")


def test_loop_measures():
    def record(
        i,
        *,
        status="open",
        category="detractor",
        created=NOW,
        action=None,
        closed=None,
        assignee="a@x.example",
    ):
        return TaskRecord(
            id=i,
            survey_id="s",
            segment="smb",
            assignee=assignee,
            contact_key=f"c{i}",
            status=status,
            created_at=created,
            due_at=created + timedelta(days=2),
            first_action_at=action,
            closed_at=closed,
            answered_at=created,
            category=category,
        )

    later = NOW + timedelta(days=5)
    tasks = [
        record(
            1, status="done", action=NOW + timedelta(hours=10), closed=NOW + timedelta(hours=20)
        ),
        record(
            2,
            status="done",
            action=NOW + timedelta(hours=50),
            closed=NOW + timedelta(hours=60),
            assignee="b@x.example",
        ),
        record(3),  # open, never touched, overdue at `later`
        record(4, status="withdrawn"),
        record(5, status="open", created=later - timedelta(hours=1)),  # too young to judge
    ]
    answers = [
        AnswerRecord("s", "c1", NOW, "detractor"),
        AnswerRecord("s", "c1", NOW + timedelta(days=90), "promoter"),
        AnswerRecord("s", "c2", NOW, "detractor"),
        AnswerRecord("s", "c2", NOW + timedelta(days=90), "detractor"),
    ]
    result = compute_measures(tasks, answers, later)
    overall = result["overall"]
    assert (overall["tasks"], overall["open"], overall["done"], overall["withdrawn"]) == (
        4,
        2,
        2,
        1,
    )
    assert overall["overdue"] == 1
    assert overall["loop_closure"] == {"value": 50.0, "n": 4}
    assert overall["contacted_within_sla"] == {"value": pytest.approx(33.3), "n": 3}
    assert overall["median_hours_to_first_action"] == {"value": 30.0, "n": 2}
    assert overall["median_hours_to_close"] == {"value": 40.0, "n": 2}
    assert overall["rescue_rate"] == {"value": 50.0, "n": 2}
    assert result["by_assignee"]["b@x.example"]["rescue_rate"] == {"value": 0.0, "n": 1}
    assert set(result["by_segment"]) == {"s/smb"}
    markdown = measures_markdown(result)
    assert "| b@x.example |" in markdown and "50 (n=4)" in markdown
