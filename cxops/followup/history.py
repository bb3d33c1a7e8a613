"""The customer's history on the task page: their answers to every survey (score, date,
comment) and their tasks with outcomes, so "9 last quarter, 3 now" is seen before the call.

A person is their email address across surveys (contact keys are per source).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxops.followup.category import response_category
from cxops.followup.digest import format_local
from cxops.followup.wording import survey_label
from cxops.spec.models import Survey
from cxops.store import people
from cxops.store import tasks as q
from cxops.store.db import Store


@dataclass(frozen=True, slots=True)
class PastAnswer:
    survey: str
    answered: str
    #: The score with its category in English (`9 (promoter)`); `value` and `category`
    #: apart, for pages in other languages.
    score: str
    comment: str
    current: bool
    value: str = ""
    category: str | None = None


@dataclass(frozen=True, slots=True)
class PastTask:
    title: str
    created: str
    status: str
    outcome: str
    current: bool


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    answers: tuple[PastAnswer, ...]
    tasks: tuple[PastTask, ...]


def score_and_comment(survey: Survey | None, answers: Mapping[str, Any]) -> tuple[str, str]:
    """The main score with its category (`3 (detractor)`) and the first text answer."""
    if survey is None:
        return "", ""
    main = survey.main_question
    value = answers.get(main.id) if main is not None else None
    category = response_category(survey.kind, main.id if main else None, answers)
    score = "" if value is None else (f"{value} ({category})" if category else str(value))
    comment = ""
    for question in survey.questions:
        text = answers.get(question.id)
        if question.type == "text" and isinstance(text, str) and text.strip():
            comment = text.strip()
            break
    return score, comment


def customer_history(
    store: Store, surveys: Mapping[str, Survey], view: q.TaskView, timezone: str, locale: str = "en"
) -> CustomerHistory:
    """Every answer and task of the person `view` is about, newest first; each survey by
    its title in `locale` (else its name)."""
    with store.session() as session:
        answered = people.person_answers(session, view.email)
        tasks = people.person_tasks(session, view.email)
    answers = []
    for survey_id, send_id, moment, values in answered:
        survey = surveys.get(survey_id)
        score, comment = score_and_comment(survey, values)
        main = survey.main_question if survey else None
        answers.append(
            PastAnswer(
                survey=survey_label(survey, locale, survey_id),
                answered=_day(moment, timezone),
                score=score,
                comment=comment,
                current=send_id == view.send_id,
                value="" if main is None or values.get(main.id) is None else str(values[main.id]),
                category=(
                    response_category(survey.kind, main.id, values) if survey and main else None
                ),
            )
        )
    past_tasks = [
        PastTask(
            title=task.title,
            created=_day(task.created_at, timezone),
            status=task.status,
            outcome=task.outcome or "",
            current=task.id == view.task.id,
        )
        for task in tasks
    ]
    return CustomerHistory(tuple(answers), tuple(past_tasks))


def _day(moment: datetime, timezone: str) -> str:
    return format_local(moment, timezone)[:10]
