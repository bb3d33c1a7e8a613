"""The survey's outcome column (`report.outcome.column`) of some customers, from the source
as it is now.

For a CSV source only the key and the outcome column are read (the other columns are
not parsed, which keeps a 300,000-row source to a second); other sources go through
`cxops.audience.sources.read_source`. Unreadable rows are skipped: their customers
count as unknown, never as churned.
"""

from __future__ import annotations

import csv
from collections.abc import Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxops.spec.models import Survey


def outcome_values(survey: Survey, project_dir: Path, keys: Set[str]) -> dict[str, Any] | None:
    """contact key -> the outcome column now, for the `keys` asked for (None when the
    survey names no outcome column)."""
    outcome = survey.report.outcome
    if outcome is None:
        return None
    if not keys:
        return {}
    from cxops.spec.models import CsvSource

    source = survey.audience.source
    if isinstance(source, CsvSource):
        return _from_csv(source, project_dir, outcome.column, keys)
    from cxops.audience.contacts import Contact
    from cxops.audience.sources import read_source

    found: dict[str, Any] = {}
    for item in read_source(source, project_dir):
        if isinstance(item, Contact) and item.key in keys:
            found[item.key] = item.fields.get(outcome.column)
    return found


def _from_csv(source: Any, project_dir: Path, column: str, keys: Set[str]) -> dict[str, Any]:
    from cxops.audience.contacts import coerce
    from cxops.audience.sources import SNIFF_BYTES, sniff_dialect
    from cxops.errors import SourceError

    path = Path(source.csv)
    path = path if path.is_absolute() else project_dir / path
    if not path.is_file():
        raise SourceError(str(path), f"expected a CSV file (audience.source.csv {source.csv!r})")
    kind = source.columns.get(column)
    found: dict[str, Any] = {}
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        dialect = sniff_dialect(handle.read(SNIFF_BYTES))
        handle.seek(0)
        reader = csv.reader(handle, dialect)
        header = [name.strip() for name in next(reader, [])]
        if source.key not in header or column not in header:
            missing = source.key if source.key not in header else column
            raise SourceError(str(path), f"expected a column {missing!r} in the header")
        at_key, at_value = header.index(source.key), header.index(column)
        width = len(header)
        for values in reader:
            if len(values) != width:
                continue
            key = values[at_key].strip()
            if key not in keys:
                continue
            raw = values[at_value]
            try:
                found[key] = coerce(raw, kind) if kind else (raw.strip() or None)
            except ValueError:
                continue
    return found
