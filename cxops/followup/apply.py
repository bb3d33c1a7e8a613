"""Rules to tasks against the store: new and edited answers in, tasks made to agree.

The decisions are `cxops.followup.rules.decide` (pure); this module reads responses
in batches after the survey's cursor, applies the decisions, and queues the `notify:`
webhook of every new or reopened task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cxops.expr import Evaluator
from cxops.followup.rules import (
    Create,
    Decision,
    Failed,
    Reopen,
    Reversion,
    TaskDraft,
    Withdraw,
    decide,
    survey_rules,
)
from cxops.settings import Settings
from cxops.spec.models import FollowupRule, Survey
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.store.db import Store
from cxops.store.facts import ResponseFacts

log = logging.getLogger(__name__)

#: Responses read per transaction.
BATCH = 500
COUNT_NAMES = ("created", "reopened", "withdrawn", "reversioned", "failed")


@dataclass
class RuleCounts:
    created: int = 0
    reopened: int = 0
    withdrawn: int = 0
    reversioned: int = 0
    failed: int = 0


@dataclass
class SurveyRun:
    survey: str
    evaluated: int = 0
    by_rule: dict[str, RuleCounts] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def counts(self, rule_id: str) -> RuleCounts:
        return self.by_rule.setdefault(rule_id, RuleCounts())

    def total(self, name: str) -> int:
        return sum(int(getattr(counts, name)) for counts in self.by_rule.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "survey": self.survey,
            "evaluated": self.evaluated,
            **{name: self.total(name) for name in COUNT_NAMES},
            "by_rule": {rule: vars(c).copy() for rule, c in sorted(self.by_rule.items())},
            "failures": self.failures[:50],
        }


def apply_rules(
    settings: Settings,
    store: Store,
    survey: Survey,
    *,
    replay: bool = False,
    now: datetime | None = None,
) -> SurveyRun:
    """Make the survey's tasks agree with its rules for new and edited answers (all with `replay`)."""
    now = now or settings.clock()
    evaluator = Evaluator(now, settings.holidays)
    rules = survey_rules(survey)
    run = SurveyRun(survey.id)
    with store.session(write=replay) as session:
        since = None if replay else n.read_cursor(session, survey.id)
        mark = q.latest_update(session, survey.id)
        if replay:
            # Tasks of rules no longer in the survey, also for answers that never changed.
            for task in q.open_tasks_of_removed_rules(session, survey.id, rules):
                if q.withdraw_task(session, task.id, "the rule was removed from the survey", now):
                    run.counts(task.rule_id).withdrawn += 1
    after_id = 0
    while True:
        with store.session(write=True) as session:
            batch = q.response_batch(session, survey.id, since, after_id, BATCH)
            if not batch:
                break
            after_id = batch[-1].id
            existing = q.tasks_of_responses(session, [r.id for r in batch])
            creates: list[tuple[ResponseFacts, TaskDraft]] = []
            for response in batch:
                run.evaluated += 1
                decisions = decide(
                    survey,
                    response,
                    existing[response.id],
                    evaluator=evaluator,
                    now=now,
                    rules=rules,
                )
                creates += _apply(session, rules, response, decisions, run, now)
            # One INSERT for the batch's new tasks: a savepoint and flush per task cost
            # most of a run (benchmarks/followups.py).
            made = q.insert_tasks(session, creates, now)
            for response, draft in creates:
                task_id = made.get((response.id, draft.rule_id))
                if task_id is not None:
                    run.counts(draft.rule_id).created += 1
                    _queue_webhook(session, rules[draft.rule_id][0], task_id, now)
    # Everything updated before now has been looked at (a later clock in the store wins).
    with store.session(write=True) as session:
        n.write_cursor(session, survey.id, max(mark, now) if mark else now, now)
    return run


def _apply(
    session: Session,
    rules: dict[str, tuple[FollowupRule, str]],
    response: ResponseFacts,
    decisions: Sequence[Decision],
    run: SurveyRun,
    now: datetime,
) -> list[tuple[ResponseFacts, TaskDraft]]:
    """Apply all but the creations, which are returned to be inserted with the batch's."""
    creates: list[tuple[ResponseFacts, TaskDraft]] = []
    for decision in decisions:
        if isinstance(decision, Create):
            creates.append((response, decision.draft))
        elif isinstance(decision, Reopen):
            if q.reopen_task(session, decision.task_id, decision.draft, now):
                run.counts(decision.draft.rule_id).reopened += 1
                _queue_webhook(session, rules[decision.draft.rule_id][0], decision.task_id, now)
        elif isinstance(decision, Withdraw):
            if q.withdraw_task(session, decision.task_id, decision.reason, now):
                run.counts(decision.rule_id).withdrawn += 1
        elif isinstance(decision, Reversion):
            if q.set_rule_version(session, decision.task_id, decision.rule_version):
                run.counts(decision.rule_id).reversioned += 1
        elif isinstance(decision, Failed):
            run.counts(decision.rule_id).failed += 1
            run.failures.append(
                {"response": response.id, "rule": decision.rule_id, "error": decision.message}
            )
            log.warning(
                "follow-up rule %s skipped for response %s: %s",
                decision.rule_id,
                response.id,
                decision.message,
            )
    return creates


def _queue_webhook(session: Session, rule: FollowupRule, task_id: int, now: datetime) -> None:
    if rule.notify is not None:
        n.queue_notification(session, webhook_key(task_id), "webhook", rule.notify.target, now)


def webhook_key(task_id: int) -> str:
    """The notification key of a task's `notify:` webhook."""
    return f"notify:{task_id}"
