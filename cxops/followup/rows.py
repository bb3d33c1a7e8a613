"""A task as one plain row: the `tasks --json` shape, the export's and the webhook's source.

`task_row` is the one task serializer; the exporter picks its columns from it and the
`notify:` payload regroups it (task, customer, answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cxops.followup.digest import task_item
from cxops.spec.models import Survey
from cxops.store.tasks import TaskView


def task_row(view: TaskView, survey: Survey | None, now: datetime) -> dict[str, Any]:
    """Every field of a task, its customer, category and answers (`overdue` as of `now`)."""
    task = view.task
    item = task_item(view, survey, now, "")
    return {
        "id": task.id,
        "survey": task.survey_id,
        "wave": task.wave_id,
        "contact_key": task.contact_key,
        "customer": item.customer,
        "email": view.email,
        "segment": task.segment,
        "rule": task.rule_id,
        "rule_version": task.rule_version,
        "title": task.title,
        "assignee": task.assignee,
        "priority": task.priority,
        "due": task.due_at.isoformat(),
        "status": task.status,
        "overdue": item.overdue,
        "outcome": task.outcome,
        "note": task.note,
        "escalation_step": task.escalation_step,
        "snoozed_until": (
            task.snoozed_until.isoformat()
            if task.snoozed_until and now < task.snoozed_until
            else None
        ),
        "created_at": task.created_at.isoformat(),
        "closed_at": task.closed_at.isoformat() if task.closed_at else None,
        "category": item.category,
        "context": dict(task.context or {}),
        "answers": view.answers,
    }


def task_rows(
    views: Sequence[TaskView], surveys: Mapping[str, Survey], now: datetime
) -> list[dict[str, Any]]:
    """Tasks as plain rows (see `task_row`)."""
    return [task_row(view, surveys.get(view.task.survey_id), now) for view in views]
