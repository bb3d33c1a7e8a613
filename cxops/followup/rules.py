"""Follow-up rules to task decisions. Pure: a survey, one response and its tasks in,
the changes to make out. `cxops.followup.apply` applies them to the store.

One task per (response, rule), whatever happens:
- a matching answer without a task creates one; a withdrawn task that matches again reopens;
- an open task whose answer no longer matches (after an edit, a changed rule, or a
  rule removed from the survey) is withdrawn; a done task is history and never changes;
- an open task that still matches under a changed rule is moved to the new version.

Which responses count: complete ones, and partial ones that hold the answer to the
survey's main question (a detractor who only clicked a score in the email still
needs a call). Answers marked suspect (a link scanner) and answers of a person erased
by `cxops forget` never make tasks, and withdraw the open tasks they made.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from cxops.errors import ExpressionError
from cxops.expr import Evaluator
from cxops.followup.assign import Assignment, choose_assignee
from cxops.followup.category import response_category
from cxops.followup.sla import due_at
from cxops.spec.models import FollowupRule, Survey
from cxops.store.erasures import ERASED_NOTE, is_pseudonym
from cxops.store.facts import ExistingTask, ResponseFacts


@dataclass(frozen=True, slots=True)
class TaskDraft:
    rule_id: str
    rule_version: str
    title: str
    assignment: Assignment
    priority: str
    due_at: datetime
    context: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)

    @property
    def assignee(self) -> str:
        return self.assignment.email


@dataclass(frozen=True, slots=True)
class Create:
    draft: TaskDraft


@dataclass(frozen=True, slots=True)
class Reopen:
    task_id: int
    draft: TaskDraft


@dataclass(frozen=True, slots=True)
class Withdraw:
    task_id: int
    rule_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Reversion:
    task_id: int
    rule_id: str
    rule_version: str


@dataclass(frozen=True, slots=True)
class Failed:
    """A rule could not be evaluated for this response; nothing changed for it."""

    rule_id: str
    message: str


Decision = Create | Reopen | Withdraw | Reversion | Failed


def rule_version(rule: FollowupRule) -> str:
    """A short hash of everything the rule says: any edit gives a new version."""
    text = json.dumps(rule.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def survey_rules(survey: Survey) -> dict[str, tuple[FollowupRule, str]]:
    """Rule id -> (rule, version), in file order."""
    return {survey.rule_id(i): (rule, rule_version(rule)) for i, rule in enumerate(survey.followup)}


def counts_for_rules(survey: Survey, response: ResponseFacts) -> bool:
    """Whether this response is evaluated at all (see the module docstring)."""
    if response.status == "complete":
        return True
    main = survey.main_question
    return (
        response.status == "partial"
        and main is not None
        and response.answers.get(main.id) is not None
    )


def expression_context(survey: Survey, response: ResponseFacts) -> dict[str, Any]:
    """`contact`, `segment`, `answers` (every question id, None when unanswered), `category`, `survey`."""
    answers: dict[str, Any] = {question.id: None for question in survey.questions}
    if survey.kind == "interview":
        answers.update({"accepted": None, "consent": None})
    answers.update(response.answers)
    if survey.kind == "interview" and answers.get("screened_out") is True:
        # Turned away by the screener: not accepted into the study, whatever else was saved.
        answers["accepted"] = False
    main = survey.main_question
    return {
        "contact": dict(response.contact),
        "segment": response.segment,
        "answers": answers,
        "category": response_category(survey.kind, main.id if main else None, answers),
        "survey": {
            "id": survey.id,
            "name": survey.name,
            "kind": survey.kind,
            "owner": survey.owner,
            "wave": response.wave_id,
        },
    }


def _text_context(context: dict[str, Any]) -> dict[str, Any]:
    """For task texts an unanswered question reads as empty, not as 'None'."""
    answers = {key: ("" if value is None else value) for key, value in context["answers"].items()}
    return {**context, "answers": answers}


def decide(
    survey: Survey,
    response: ResponseFacts,
    existing: Mapping[str, ExistingTask],
    *,
    evaluator: Evaluator,
    now: datetime,
    rules: Mapping[str, tuple[FollowupRule, str]] | None = None,
) -> list[Decision]:
    """The changes that make this response's tasks agree with the survey's current rules.

    `rules`: `survey_rules(survey)`, given by callers deciding many responses (hashing
    every rule per response cost a tenth of a follow-up run).
    """
    rules = survey_rules(survey) if rules is None else rules
    decisions: list[Decision] = []
    for rule_id, task in existing.items():
        if rule_id not in rules and task.status == "open":
            decisions.append(Withdraw(task.id, rule_id, "the rule was removed from the survey"))
    if response.suspect or is_pseudonym(response.contact_key):
        reason = "the answer is marked suspect" if response.suspect else ERASED_NOTE
        decisions.extend(
            Withdraw(task.id, rule_id, reason)
            for rule_id, task in existing.items()
            if rule_id in rules and task.status == "open"
        )
        return decisions
    if not counts_for_rules(survey, response):
        return decisions
    context = expression_context(survey, response)
    where = f"{survey.id} response {response.id}"
    for rule_id, (rule, version) in rules.items():
        found = existing.get(rule_id)
        try:
            matches = evaluator.test(rule.when, context, where=f"{where} rule {rule_id}")
        except ExpressionError as exc:
            decisions.append(Failed(rule_id, str(exc)))
            continue
        if not matches:
            if found is not None and found.status == "open":
                decisions.append(Withdraw(found.id, rule_id, "the answer no longer matches"))
            continue
        if found is None or found.status == "withdrawn":
            try:
                draft = draft_task(
                    survey, rule, rule_id, version, response, context, evaluator, now
                )
            except ExpressionError as exc:
                decisions.append(Failed(rule_id, str(exc)))
                continue
            decisions.append(Create(draft) if found is None else Reopen(found.id, draft))
        elif found.status == "open" and found.rule_version != version:
            decisions.append(Reversion(found.id, rule_id, version))
    return decisions


def draft_task(
    survey: Survey,
    rule: FollowupRule,
    rule_id: str,
    version: str,
    response: ResponseFacts,
    context: dict[str, Any],
    evaluator: Evaluator,
    now: datetime,
) -> TaskDraft:
    """The task a matching rule makes: title, assignee, due date, priority, context fields."""
    text_context = _text_context(context)
    where = f"{survey.id} response {response.id} rule {rule_id}"
    title = " ".join(evaluator.render(rule.task, text_context, where=where).split())
    rendered: str | None = None
    render_error: str | None = None
    if rule.assign_to is not None:
        try:
            rendered = evaluator.render(rule.assign_to, text_context, where=where)
        except ExpressionError as exc:
            render_error = str(exc)
    assignment = choose_assignee(
        rendered,
        render_error=render_error,
        fallback=rule.fallback,
        owner=survey.owner,
        sender=_address(survey.invitation.from_),
    )
    return TaskDraft(
        rule_id=rule_id,
        rule_version=version,
        title=title or f"Follow up on {response.contact_key}",
        assignment=assignment,
        priority=rule.priority,
        due_at=due_at(now, rule.due, survey.timezone, evaluator.holidays),
        context={name: response.contact.get(name) for name in rule.context},
        steps=list(rule.steps),
    )


@functools.lru_cache(maxsize=64)
def _address(sender: str) -> str:
    """The address of a `Name <address>` sender (one survey's, parsed once per run)."""
    return parseaddr(sender)[1]
