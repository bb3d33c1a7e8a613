"""Durations as surveys write them, and business days with holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cxops.durations import (
    Duration,
    DurationSyntaxError,
    add_business_days,
    business_days_between,
    is_business_day,
    parse_duration,
    validate_holiday_country,
)


@pytest.mark.parametrize(
    ("text", "expected", "shown"),
    [
        ("90d", Duration(90, "d"), "90d"),
        (" 36H ", Duration(36, "h"), "36h"),
        ("30m", Duration(30, "m"), "30m"),
        ("45s", Duration(45, "s"), "45s"),
        ("2w", Duration(2, "w"), "2w"),
        ("2 business days", Duration(2, "business_days"), "2 business days"),
        ("1 Business Day", Duration(1, "business_days"), "1 business day"),
    ],
)
def test_parse_duration(text: str, expected: Duration, shown: str) -> None:
    assert parse_duration(text) == expected
    assert str(parse_duration(text)) == shown


@pytest.mark.parametrize(
    "text", ["", "d", "1.5d", "-1d", "90 days", "2 business", "3y", "1234567d"]
)
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(DurationSyntaxError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"expected a duration like '90d', '36h', '30m' or '2 business days', found {text!r}"
    )


def test_lengths_and_calendar_arithmetic() -> None:
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert parse_duration("36h").approx_timedelta() == timedelta(hours=36)
    assert parse_duration("2w").after(start) == start + timedelta(days=14)
    assert parse_duration("3 business days").before(start) == start - timedelta(days=3)


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
    assert add_business_days(friday, 1) == datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    assert parse_duration("2 business days").after(friday) == datetime(
        2026, 11, 24, 16, 30, tzinfo=UTC
    )
    assert business_days_between(friday, datetime(2026, 11, 24, 8, tzinfo=UTC)) == 2
    assert business_days_between(datetime(2026, 11, 24, tzinfo=UTC), friday) == -2


def test_a_weekend_start_counts_from_the_next_business_day() -> None:
    saturday = datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert add_business_days(saturday, 1) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert add_business_days(saturday, 0) == saturday
    with pytest.raises(ValueError, match=">= 0"):
        add_business_days(saturday, -1)


def test_german_holidays_are_not_business_days() -> None:
    # 2026-12-24 (Thursday) is a working day in Germany; the 25th and 26th are holidays.
    assert is_business_day(date(2026, 12, 24), "DE")
    assert not is_business_day(date(2026, 12, 25), "DE")
    assert not is_business_day(date(2026, 12, 26), "de")
    assert is_business_day(date(2026, 12, 25), None)
    wednesday = datetime(2026, 12, 23, 9, tzinfo=UTC)
    assert add_business_days(wednesday, 2, "DE") == datetime(2026, 12, 28, 9, tzinfo=UTC)
    assert add_business_days(wednesday, 2) == datetime(2026, 12, 25, 9, tzinfo=UTC)
    assert business_days_between(wednesday, datetime(2026, 12, 29, 9, tzinfo=UTC), "DE") == 3
    christmas = datetime(2026, 12, 25, 9, tzinfo=UTC)
    assert parse_duration("1 business day").after(christmas, "DE") == datetime(
        2026, 12, 29, 9, tzinfo=UTC
    )


def test_business_days_keep_the_wall_clock_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    friday = datetime(2026, 10, 23, 9, tzinfo=berlin)  # DST ends on Sunday the 25th
    monday = add_business_days(friday, 1)
    assert monday == datetime(2026, 10, 26, 9, tzinfo=berlin)
    assert monday.utcoffset() == timedelta(hours=1)


def test_unknown_holiday_country_is_a_clear_error() -> None:
    with pytest.raises(DurationSyntaxError, match="unknown holiday country code 'XX'"):
        validate_holiday_country("XX")
