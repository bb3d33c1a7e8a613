"""`--period`: ISO weeks, months and quarters in the survey's time zone, or a wave id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxops.analysis.answer_period import Period, PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        # Berlin: CET (UTC+1) in winter, CEST (UTC+2) in summer.
        ("2026-W49", "week", datetime(2026, 11, 29, 23, tzinfo=UTC), datetime(2026, 12, 6, 23, tzinfo=UTC)),
        ("2026-11", "month", datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)),
        ("2026-12", "month", datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC)),
        ("2026-Q4", "quarter", datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC)),
        ("2026-Q1", "quarter", datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC)),
        ("2020-W53", "week", datetime(2020, 12, 27, 23, tzinfo=UTC), datetime(2021, 1, 3, 23, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_calendar_periods_in_the_survey_zone(
    text: str, kind: str, start: datetime, end: datetime
) -> None:
    assert parse_period(text, "Europe/Berlin") == Period(text, kind, start, end)  # type: ignore[arg-type]


def test_anything_else_is_a_wave_id() -> None:
    assert parse_period("2026-12-01T0900", "UTC") == Period("2026-12-01T0900", "wave")
    assert parse_period(" w2 ", "UTC") == Period("w2", "wave")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-W53", "2025 has no ISO week 53"),
        ("2026-W00", "has no ISO week 0"),
        ("2026-13", "expected a month 01 … 12, found 13"),
        ("2026-Q5", "expected a quarter Q1 … Q4, found Q5"),
        ("  ", "expected a wave id"),
    ],
)
def test_a_period_that_is_none_says_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text, "UTC")
