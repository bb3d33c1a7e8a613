"""`--period P`: which answers a command reads, as `cxops report --by` names periods.

A period is an ISO week (`2026-W49`), a month (`2026-11`), a quarter (`2026-Q4`), each
in the survey's time zone and holding the answers of the waves `cxops report --by`
puts in it (a wave is in the period of its first invitation), or a wave id (anything
else). Pure: the store's reader applies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from cxops.errors import CxopsError
from cxops.timezones import time_zone

PeriodKind = Literal["wave", "week", "month", "quarter"]

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q(\d)")


class PeriodError(CxopsError):
    """A `--period` that names no period (or no wave of the survey)."""


@dataclass(frozen=True, slots=True)
class Period:
    """One period: a wave id, or the aware UTC times [start, end) of a calendar period."""

    text: str
    kind: PeriodKind
    start: datetime | None = None
    end: datetime | None = None


def parse_period(text: str, timezone: str) -> Period:
    """`2026-W49`, `2026-11`, `2026-Q4` (in `timezone`) or a wave id."""
    value = text.strip()
    if week := _WEEK.fullmatch(value):
        year, number = int(week[1]), int(week[2])
        try:
            monday = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise PeriodError(
                f"--period {text!r}: {year} has no ISO week {number} (expected 2026-W01 … W52/53)"
            ) from None
        return _calendar(value, "week", monday, monday + timedelta(days=7), timezone)
    if month := _MONTH.fullmatch(value):
        year, number = int(month[1]), int(month[2])
        if not 1 <= number <= 12:
            raise PeriodError(f"--period {text!r}: expected a month 01 … 12, found {number:02d}")
        return _calendar(value, "month", date(year, number, 1), _next_month(year, number), timezone)
    if quarter := _QUARTER.fullmatch(value):
        year, number = int(quarter[1]), int(quarter[2])
        if not 1 <= number <= 4:
            raise PeriodError(f"--period {text!r}: expected a quarter Q1 … Q4, found Q{number}")
        first = 3 * (number - 1) + 1
        return _calendar(
            value, "quarter", date(year, first, 1), _next_month(year, first + 2), timezone
        )
    if not value:
        raise PeriodError("--period: expected a wave id, 2026-W49, 2026-11 or 2026-Q4, found ''")
    return Period(value, "wave")


def _next_month(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def _calendar(text: str, kind: PeriodKind, first: date, after: date, timezone: str) -> Period:
    zone = time_zone(timezone)

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    return Period(text, kind, midnight(first), midnight(after))
