"""What a CSM (through the CLI or a page) does with tasks: list them, close one.

The edges (`cxops.cli`, the collector) call these; they never query the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cxops.followup.rows import task_rows
from cxops.spec.models import Survey
from cxops.store import tasks as q
from cxops.store.db import Store
from cxops.store.tasks import StatusFilter


def list_task_rows(
    store: Store,
    surveys: Mapping[str, Survey],
    now: datetime,
    *,
    status: StatusFilter = "open",
    assignee: str | None = None,
    survey_id: str | None = None,
) -> list[dict[str, Any]]:
    """Tasks as rows (`cxops.followup.rows.task_row`), overdue first then by due time."""
    with store.session() as session:
        views = q.list_tasks(
            session, now=now, status=status, assignee=assignee, survey_id=survey_id
        )
        return task_rows(views, surveys, now)


def close_task(
    store: Store, task_id: int, outcome: str, note: str | None, now: datetime
) -> dict[str, Any]:
    """Close an open task with an outcome; its id, status, outcome and note."""
    with store.session() as session:
        task = q.close_task(session, task_id, outcome, note, now)
        return {"id": task.id, "status": task.status, "outcome": task.outcome, "note": task.note}
