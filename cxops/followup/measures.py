"""Whether loops were closed, computed in one place (CLI summary, Prefect artifact).

- `loop_closure`: done tasks as a share of tasks (withdrawn ones do not count), in percent.
- `contacted_within_sla`: tasks about a detractor (nps 0-6; csat/ces dissatisfied) whose
  first action came within 48 hours of the answer, in percent; a task still inside its
  48 hours with no action yet is not counted either way.
- `median_hours_to_first_action`, `median_hours_to_close`: from the task's creation.
- `overdue`: open tasks past due and not snoozed, a count; `snoozed`: open tasks snoozed now.
- `stalled_at`: open tasks with a playbook, counted by their first step not ticked.
- `hours_snoozed`: time tasks spent snoozed, apart from the working time;
  `median_active_hours_to_close` is the time to close without it.
- `rescue_rate`: detractors with a task whose next answer to the same survey is no longer
  negative (passive or promoter; neutral or satisfied), in percent of those who answered again.

Every rate is `{value, n}` (value None when n is 0). Pure functions over plain records,
but for `loop_measures`, which reads the records from the store.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from cxops.followup.category import NOT_NEGATIVE, is_negative, response_category
from cxops.followup.sla import SLA_HOURS

if TYPE_CHECKING:
    from cxops.spec.models import Survey
    from cxops.store.db import Store


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: int
    survey_id: str
    segment: str
    assignee: str
    contact_key: str
    status: str
    created_at: datetime
    due_at: datetime
    first_action_at: datetime | None
    closed_at: datetime | None
    answered_at: datetime
    #: Category of the answer the task is about (None for surveys without a scored question).
    category: str | None
    #: Time spent snoozed up to now (or the close), and the end of the latest snooze.
    snoozed_seconds: int = 0
    snoozed_until: datetime | None = None
    #: For an open task with a playbook: the first step not ticked (`rule: step`).
    stalled_step: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    survey_id: str
    contact_key: str
    answered_at: datetime
    category: str | None


def _rate(hits: int, n: int) -> dict[str, Any]:
    return {"value": round(100.0 * hits / n, 1) if n else None, "n": n}


def _median_hours(deltas: Sequence[timedelta]) -> dict[str, Any]:
    hours = [delta.total_seconds() / 3600 for delta in deltas]
    return {"value": round(median(hours), 1) if hours else None, "n": len(hours)}


def next_answers(answers: Iterable[AnswerRecord]) -> dict[tuple[str, str, datetime], AnswerRecord]:
    """(survey, contact, answered_at) -> the same contact's next answer to that survey."""
    by_person: dict[tuple[str, str], list[AnswerRecord]] = defaultdict(list)
    for answer in answers:
        by_person[(answer.survey_id, answer.contact_key)].append(answer)
    following: dict[tuple[str, str, datetime], AnswerRecord] = {}
    for (survey_id, contact_key), items in by_person.items():
        items.sort(key=lambda a: a.answered_at)
        for earlier, later in itertools.pairwise(items):
            following[(survey_id, contact_key, earlier.answered_at)] = later
    return following


def group_measures(
    tasks: Sequence[TaskRecord],
    following: dict[tuple[str, str, datetime], AnswerRecord],
    now: datetime,
) -> dict[str, Any]:
    """The measures of one group of tasks."""
    live = [t for t in tasks if t.status != "withdrawn"]
    done = [t for t in live if t.status == "done"]
    open_ = [t for t in live if t.status == "open"]
    snoozed = [t for t in open_ if t.snoozed_until is not None and now < t.snoozed_until]
    sla = timedelta(hours=SLA_HOURS)
    negative = [t for t in live if is_negative(t.category)]
    judged = [t for t in negative if t.first_action_at is not None or now - t.answered_at >= sla]
    in_time = [
        t
        for t in judged
        if t.first_action_at is not None and t.first_action_at - t.answered_at <= sla
    ]
    rescued_n = 0
    rescued = 0
    seen: set[tuple[str, str, datetime]] = set()
    for task in negative:
        key = (task.survey_id, task.contact_key, task.answered_at)
        if key in seen:
            continue
        seen.add(key)
        later = following.get(key)
        if later is None or later.category is None:
            continue
        rescued_n += 1
        rescued += later.category in NOT_NEGATIVE
    return {
        "tasks": len(live),
        "open": len(open_),
        "done": len(done),
        "withdrawn": len(tasks) - len(live),
        "overdue": sum(1 for t in open_ if now > t.due_at and t not in snoozed),
        "snoozed": len(snoozed),
        "hours_snoozed": round(sum(t.snoozed_seconds for t in live) / 3600, 1),
        "loop_closure": _rate(len(done), len(live)),
        "contacted_within_sla": _rate(len(in_time), len(judged)),
        "median_hours_to_first_action": _median_hours(
            [t.first_action_at - t.created_at for t in live if t.first_action_at is not None]
        ),
        "median_hours_to_close": _median_hours(
            [t.closed_at - t.created_at for t in done if t.closed_at is not None]
        ),
        "median_active_hours_to_close": _median_hours(
            [
                t.closed_at - t.created_at - timedelta(seconds=t.snoozed_seconds)
                for t in done
                if t.closed_at is not None
            ]
        ),
        "rescue_rate": _rate(rescued, rescued_n),
        "stalled_at": dict(
            sorted(Counter(t.stalled_step for t in open_ if t.stalled_step).items())
        ),
    }


def compute_measures(
    tasks: Sequence[TaskRecord], answers: Iterable[AnswerRecord], now: datetime
) -> dict[str, Any]:
    """`overall`, `by_survey`, `by_segment` (keyed `survey/segment`) and `by_assignee`."""
    following = next_answers(answers)

    def grouped(key: Callable[[TaskRecord], str]) -> dict[str, Any]:
        groups: dict[str, list[TaskRecord]] = defaultdict(list)
        for task in tasks:
            groups[key(task)].append(task)
        return {
            name: group_measures(items, following, now) for name, items in sorted(groups.items())
        }

    return {
        "sla_hours": SLA_HOURS,
        "overall": group_measures(tasks, following, now),
        "by_survey": grouped(lambda t: t.survey_id),
        "by_segment": grouped(lambda t: f"{t.survey_id}/{t.segment}"),
        "by_assignee": grouped(lambda t: t.assignee),
    }


COLUMNS: tuple[tuple[str, str], ...] = (
    ("tasks", "tasks"),
    ("open", "open"),
    ("overdue", "overdue"),
    ("loop_closure", "closed %"),
    ("contacted_within_sla", f"detractors contacted ≤{SLA_HOURS}h %"),
    ("median_hours_to_first_action", "median h to first action"),
    ("median_hours_to_close", "median h to close"),
    ("median_active_hours_to_close", "… not snoozed"),
    ("snoozed", "snoozed"),
    ("hours_snoozed", "h snoozed"),
    ("rescue_rate", "rescued %"),
)


def cell(value: Any) -> str:
    """One measure as table text: a count, or `value (n=N)`, or `–` when there is no data."""
    if isinstance(value, dict):
        if value["value"] is None:
            return "–"
        return f"{value['value']:g} (n={value['n']})"
    return str(value)


def measures_markdown(measures: dict[str, Any]) -> str:
    """The measures as Markdown tables (the follow-up flow's Prefect artifact)."""
    lines = ["# Follow-up loop measures", ""]
    sections = [("Overall", {"all tasks": measures["overall"]})]
    sections += [
        ("By survey", measures["by_survey"]),
        ("By segment", measures["by_segment"]),
        ("By assignee", measures["by_assignee"]),
    ]
    for title, groups in sections:
        lines += [f"## {title}", ""]
        lines.append("| group | " + " | ".join(label for _, label in COLUMNS) + " |")
        lines.append("|---" * (len(COLUMNS) + 1) + "|")
        for name, values in groups.items():
            cells = [cell(values[key]) for key, _ in COLUMNS]
            lines.append(f"| {_md(name)} | " + " | ".join(cells) + " |")
        lines.append("")
    stalled = measures["overall"].get("stalled_at") or {}
    if stalled:
        lines += ["## Where open tasks stall (first playbook step not done)", ""]
        lines += [f"- {_md(step)}: {count}" for step, count in stalled.items()] + [""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _stalled(task: Any) -> str | None:
    from cxops.store import tasks as q

    if task.status != "open":
        return None
    missing = q.open_steps(task)
    return f"{task.rule_id}: {missing[0]}" if missing else None


def loop_measures(store: Store, surveys: Mapping[str, Survey], now: datetime) -> dict[str, Any]:
    """The loop measures over every task in the store."""
    from cxops.store import tasks as q

    def category(survey_id: str, answers: dict[str, Any]) -> str | None:
        survey = surveys.get(survey_id)
        if survey is None or survey.main_question is None:
            return None
        return response_category(survey.kind, survey.main_question.id, answers)

    with store.session() as session:
        views = q.all_tasks(session)
        history = q.answer_history(session)
    records = [
        TaskRecord(
            id=v.task.id,
            survey_id=v.task.survey_id,
            segment=v.task.segment,
            assignee=v.task.assignee,
            contact_key=v.task.contact_key,
            status=v.task.status,
            created_at=v.task.created_at,
            due_at=v.task.due_at,
            first_action_at=v.task.first_action_at,
            closed_at=v.task.closed_at,
            answered_at=v.answered_at,
            category=category(v.task.survey_id, v.answers),
            snoozed_seconds=q.snoozed_seconds(v.task, now),
            snoozed_until=v.task.snoozed_until,
            stalled_step=_stalled(v.task),
        )
        for v in views
    ]
    answers = [AnswerRecord(s, c, at, category(s, a)) for s, c, at, a in history]
    return compute_measures(records, answers, now)
