"""What a CSM's digest and an escalation say. Pure: task views in, plain items out.

A digest lists one assignee's open tasks, overdue first, then by due time and
priority; each with the customer's answer, the context fields its rule names,
and a signed link to the task page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxops.followup.category import response_category
from cxops.spec.models import Survey
from cxops.timezones import time_zone
from cxops.wave.minimise import NAME_COLUMNS

if TYPE_CHECKING:
    from cxops.store.tasks import TaskView

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    #: As emails show it: a main score with its category in English (`3 (detractor)`).
    value: str
    #: The main score's category (`value` without it is `plain`), for pages in other
    #: languages; None for every other line.
    category: str | None = None
    plain: str = ""


@dataclass(frozen=True, slots=True)
class TaskItem:
    task_id: int
    title: str
    survey_id: str
    survey_name: str
    priority: str
    status: str
    assignee: str
    #: Due time in the survey's time zone, e.g. `2026-11-25 09:00 CET`.
    due: str
    overdue: bool
    customer: str
    customer_email: str
    contact_key: str
    segment: str
    category: str | None
    answers: tuple[Line, ...]
    context: tuple[Line, ...]
    link: str


@dataclass(frozen=True, slots=True)
class Digest:
    assignee: str
    day: str
    items: tuple[TaskItem, ...]
    #: The signed link to the assignee's task list page ("" when not known).
    list_link: str = ""

    @property
    def overdue_count(self) -> int:
        return sum(1 for item in self.items if item.overdue)


def local_day(now: datetime, timezone: str = "UTC") -> str:
    """The calendar day of `now` in `timezone`, as YYYY-MM-DD."""
    return now.astimezone(time_zone(timezone)).date().isoformat()


def format_local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(time_zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def answer_lines(survey: Survey | None, answers: Mapping[str, Any]) -> tuple[Line, ...]:
    """The customer's answers in question order; the main score with its category."""
    if survey is None:
        return tuple(
            Line(key, _text(value)) for key, value in answers.items() if value not in (None, "", [])
        )
    main = survey.main_question
    category = response_category(survey.kind, main.id if main else None, answers)
    ids = [q.id for q in survey.questions]
    if survey.kind == "interview":
        ids = ["accepted", "consent", *ids]
    lines = []
    for qid in ids:
        value = answers.get(qid)
        if value in (None, "", []):
            continue
        text = _text(value)
        if main is not None and qid == main.id and category:
            lines.append(Line(qid, f"{text} ({category})", category, text))
            continue
        lines.append(Line(qid, text))
    return tuple(lines)


def customer_name(contact: Mapping[str, Any], fallback: str) -> str:
    for name in NAME_COLUMNS:
        value = contact.get(name)
        if value not in (None, ""):
            return str(value)
    return fallback


def task_item(view: TaskView, survey: Survey | None, now: datetime, link: str) -> TaskItem:
    task = view.task
    timezone = survey.timezone if survey else "UTC"
    main = survey.main_question if survey else None
    return TaskItem(
        task_id=task.id,
        title=task.title,
        survey_id=task.survey_id,
        survey_name=survey.name if survey else task.survey_id,
        priority=task.priority,
        status=task.status,
        assignee=task.assignee,
        due=format_local(task.due_at, timezone),
        overdue=task.status == "open" and now > task.due_at,
        customer=customer_name(view.contact, task.contact_key),
        customer_email=view.email,
        contact_key=task.contact_key,
        segment=task.segment,
        category=response_category(survey.kind, main.id if main else None, view.answers)
        if survey
        else None,
        answers=answer_lines(survey, view.answers),
        context=tuple(Line(key, _text(value)) for key, value in (task.context or {}).items()),
        link=link,
    )


def order_key(item: TaskItem, due_at: datetime) -> tuple[bool, datetime, int, int]:
    return (not item.overdue, due_at, PRIORITY_RANK.get(item.priority, 9), item.task_id)


def build_digests(
    views: Sequence[TaskView],
    surveys: Mapping[str, Survey],
    now: datetime,
    day: str,
    link_for: Callable[[TaskView], str],
) -> list[Digest]:
    """One digest per assignee with open tasks, sorted by assignee."""
    by_assignee: dict[str, list[tuple[TaskItem, datetime]]] = defaultdict(list)
    for view in views:
        if view.task.status != "open":
            continue
        item = task_item(view, surveys.get(view.task.survey_id), now, link_for(view))
        by_assignee[view.task.assignee].append((item, view.task.due_at))
    digests = []
    for assignee in sorted(by_assignee):
        pairs = sorted(by_assignee[assignee], key=lambda pair: order_key(*pair))
        digests.append(Digest(assignee, day, tuple(item for item, _ in pairs)))
    return digests
