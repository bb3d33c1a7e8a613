"""`cxops export tasks SURVEY --format csv|jsonl`: a survey's tasks, safe for spreadsheets.

Every task carries `id`, `survey`, `contact_key`, `rule`, `assignee`, `due`, `priority`,
`status`, `outcome` (then `wave`, `segment`, `title`, `note`, `created_at`, `closed_at`,
`overdue`): the columns of the one task row (`cxops.followup.rows`), written by the
shared spreadsheet-safe writers of `cxops.export`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from cxops.export import ExportFormat, write_csv, write_jsonl
from cxops.followup.rows import task_row
from cxops.spec.models import Survey
from cxops.store import tasks as q
from cxops.store.db import Store

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


def export_tasks(
    store: Store, survey: Survey, fmt: ExportFormat, out: TextIO, now: datetime
) -> int:
    """Write the survey's tasks to `out`; the number written (`overdue` as of `now`)."""
    with store.session() as session:
        views = q.all_tasks(session, survey.id)
        records = [{name: task_row(v, survey, now)[name] for name in FIELDS} for v in views]
    if fmt == "jsonl":
        return write_jsonl(records, out)
    return write_csv(records, FIELDS, out)
