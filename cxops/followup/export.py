"""`cxops export tasks SURVEY --format csv|jsonl`: a survey's tasks, safe for spreadsheets.

Every task carries `id`, `survey`, `contact_key`, `rule`, `assignee`, `due`, `priority`,
`status`, `outcome` (then `wave`, `segment`, `title`, `note`, `created_at`, `closed_at`,
`overdue`). In CSV, a cell that begins with `=`, `+`, `-`, `@` (or a tab or carriage
return) is prefixed with `'` so no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from cxops.store import tasks as q
from cxops.store.db import Store

Format = Literal["csv", "jsonl"]
FIELDS: tuple[str, ...] = (
    "id",
    "survey",
    "contact_key",
    "rule",
    "assignee",
    "due",
    "priority",
    "status",
    "outcome",
    "wave",
    "segment",
    "title",
    "note",
    "created_at",
    "closed_at",
    "overdue",
)

try:  # the responses exporter's rule, shared once it exists
    from cxops.export import neutralize_cell
except ImportError:

    def neutralize_cell(value: Any) -> Any:
        """A text cell that a spreadsheet would run as a formula, made inert."""
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
        return value


def task_record(task: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "survey": task.survey_id,
        "contact_key": task.contact_key,
        "rule": task.rule_id,
        "assignee": task.assignee,
        "due": task.due_at.isoformat(),
        "priority": task.priority,
        "status": task.status,
        "outcome": task.outcome,
        "wave": task.wave_id,
        "segment": task.segment,
        "title": task.title,
        "note": task.note,
        "created_at": task.created_at.isoformat(),
        "closed_at": task.closed_at.isoformat() if task.closed_at else None,
        "overdue": task.status == "open" and now > task.due_at,
    }


def export_tasks(
    store: Store, survey_id: str, fmt: Format, out: TextIO, now: datetime | None = None
) -> int:
    """Write the survey's tasks to `out`; the number written (`overdue` as of `now`)."""
    now = now or datetime.now(UTC)
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"format must be csv or jsonl, found {fmt!r}")
    with store.session() as session:
        records = [task_record(view.task, now) for view in q.all_tasks(session, survey_id)]
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return len(records)
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _csv_cell(value) for key, value in record.items()})
    return len(records)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralize_cell(value)
