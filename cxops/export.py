"""Exports that are safe for spreadsheets: CSV with neutralised cells, and JSON lines.

`neutralize_cell` keeps a cell from being read as a formula by Excel, LibreOffice or
Google Sheets; `write_csv` applies it to every cell, `write_jsonl` writes data as
data (JSON is never evaluated). Both are shared by every export (responses, tasks).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, TextIO

from cxops.spec.models import Survey
from cxops.store.db import Store

ExportFormat = Literal["csv", "jsonl"]

#: A cell starting with one of these is a formula (or DDE) to some spreadsheet program.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
#: Fixed columns of the responses export, before one column per question.
#: `confirmed`: a person confirmed the answer (false: a provisional one-click score,
#: counted nowhere until someone interacts or submits).
RESPONSE_COLUMNS = (
    "survey", "wave", "contact_key", "segment", "status", "suspect", "confirmed", "submitted_at",
)  # fmt: skip


def neutralize_cell(value: Any) -> str:
    """`value` as CSV cell text that no spreadsheet evaluates.

    Text starting with `= + - @`, a tab or a line break (also their full-width
    forms) gets a leading apostrophe, which spreadsheets show as text. Numbers stay
    numbers, so `-3` is still -3; lists become `a; b`; None an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        text = "; ".join("" if item is None else str(item) for item in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> int:
    """Write `rows` (only `columns`, in order) as CSV with a header; the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralize_cell(column) for column in columns])
    count = 0
    for row in rows:
        writer.writerow([neutralize_cell(row.get(column)) for column in columns])
        count += 1
    return count


def write_jsonl(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write one JSON object per line (datetimes as ISO text); the number of rows."""
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
        count += 1
    return count


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def response_records(store: Store, survey: Survey) -> Iterator[dict[str, Any]]:
    """Every response of `survey` in the shape of docs/behaviour.md (plus `suspect` and `confirmed`),
    oldest first."""
    from cxops.store.responses import iter_responses

    with store.session() as session:
        for response in iter_responses(session, survey.id):
            yield {
                "survey": response.survey_id,
                "wave": response.wave_id,
                "contact_key": response.contact_key,
                "segment": response.segment,
                "status": response.status,
                "answers": dict(response.answers or {}),
                "submitted_at": response.submitted_at,
                "suspect": response.suspect,
                "suspect_reason": response.suspect_reason,
                "confirmed": response.confirmed_at is not None,
                "first_answered_at": response.first_answered_at,
                "updated_at": response.updated_at,
                "revision": response.revision,
            }


def answer_columns(survey: Survey) -> list[str]:
    """One column per answer: interview `accepted`, `consent`, then the questions."""
    ids = ["accepted", "consent"] if survey.kind == "interview" else []
    return ids + [question.id for question in survey.questions]


def export_responses(store: Store, survey: Survey, fmt: ExportFormat, out: TextIO) -> int:
    """Write every response of `survey` to `out` as CSV or JSON lines; the count written."""
    records = response_records(store, survey)
    if fmt == "jsonl":
        return write_jsonl(records, out)
    answer_ids = answer_columns(survey)
    headers = {key: f"answer_{key}" if key in RESPONSE_COLUMNS else key for key in answer_ids}
    columns = [*RESPONSE_COLUMNS, *headers.values()]
    flat = (
        {**record, **{headers[key]: record["answers"].get(key) for key in answer_ids}}
        for record in records
    )
    return write_csv(flat, columns, out)
