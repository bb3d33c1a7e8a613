"""Durations as survey files write them (`90d`, `36h`, `30m`, `2 business days`).

Business days skip Saturdays, Sundays and the public holidays of the country
named by `CXOPS_HOLIDAYS` (via the `holidays` package), counted in the time
zone of the datetime they are added to.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

Unit = Literal["s", "m", "h", "d", "w", "business_days"]

_PATTERN = re.compile(
    r"^\s*(?P<n>\d{1,6})\s*(?:(?P<unit>[smhdw])|\s*(?P<biz>business\s+days?))\s*$",
    re.IGNORECASE,
)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationSyntaxError(ValueError):
    """Raised for text that is not a duration; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: Unit

    @property
    def is_business(self) -> bool:
        return self.unit == "business_days"

    def approx_timedelta(self) -> timedelta:
        """The length as a timedelta; a business day counts as one calendar day."""
        if self.is_business:
            return timedelta(days=self.amount)
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def after(self, start: datetime, holidays: str | None = None) -> datetime:
        """The moment this long after `start` (business days skip weekends and holidays)."""
        if not self.is_business:
            return start + self.approx_timedelta()
        return add_business_days(start, self.amount, holidays)

    def before(self, end: datetime) -> datetime:
        """The moment this long before `end` (business days count as calendar days)."""
        return end - self.approx_timedelta()

    def __str__(self) -> str:
        if self.is_business:
            return f"{self.amount} business day{'s' if self.amount != 1 else ''}"
        return f"{self.amount}{self.unit}"


def parse_duration(text: str | int | float) -> Duration:
    """Parse `90d`, `36h`, `30m`, `45s`, `2w` or `2 business days`."""
    match = _PATTERN.match(str(text))
    if not match:
        raise DurationSyntaxError(
            f"expected a duration like '90d', '36h', '30m' or '2 business days', found {text!r}"
        )
    amount = int(match["n"])
    if match["biz"]:
        return Duration(amount, "business_days")
    return Duration(amount, match["unit"].lower())  # type: ignore[arg-type]


@lru_cache(maxsize=32)
def _holiday_calendar(country: str | None) -> Container[date] | None:
    """The holidays of `country` (a `holidays` calendar, which answers `day in it`)."""
    if not country:
        return None
    import holidays as holidays_lib

    try:
        return holidays_lib.country_holidays(country.upper())
    except NotImplementedError as exc:
        raise DurationSyntaxError(f"unknown holiday country code {country!r}") from exc


def validate_holiday_country(country: str) -> None:
    """Raise DurationSyntaxError when `country` is not a code the holidays package knows."""
    _holiday_calendar(country)


def is_business_day(day: date, holidays: str | None = None) -> bool:
    if day.weekday() >= 5:
        return False
    calendar = _holiday_calendar(holidays)
    return calendar is None or day not in calendar


def add_business_days(start: datetime, days: int, holidays: str | None = None) -> datetime:
    """`start` moved forward by `days` business days, keeping the time of day.

    A start on a weekend or holiday counts from the next business day's same time,
    so `days` whole business days always lie between the start and the result
    (Saturday 10:00 + 1 business day is Tuesday 10:00, not Monday 10:00).
    """
    if days < 0:
        raise ValueError(f"expected a number of business days >= 0, found {days}")
    current = start
    remaining = days
    if remaining > 0:
        while not is_business_day(current.date(), holidays):
            current += timedelta(days=1)
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current.date(), holidays):
            remaining -= 1
    return current


def business_days_between(start: datetime, end: datetime, holidays: str | None = None) -> int:
    """Whole business days from `start` to `end` (negative when `end` is earlier)."""
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    count = 0
    day = start.date()
    while day < end.date():
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            count += 1
    return sign * count


_LIMIT = re.compile(r"^\s*(\d{1,6})\s+per\s+(.+?)\s*$")


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` contacts within `within`; `never` is count 0 and no window.

    The one "N per DURATION" of cxops: a `policy.yaml` rule's limit and the
    `CXOPS_CONTACT_CAP` setting.
    """

    count: int
    within: Duration | None

    @property
    def never(self) -> bool:
        return self.within is None

    def __str__(self) -> str:
        return "never" if self.within is None else f"{self.count} per {self.within}"


NEVER = Limit(0, None)


def parse_limit(value: object) -> Limit:
    """`1 per 60d` or `never`; a ValueError that says what was expected otherwise."""
    if isinstance(value, Limit):
        return value
    expected = "expected a limit like '1 per 60d' or 'never'"
    if not isinstance(value, str):
        raise ValueError(f"{expected}, found {value!r}")
    if value.strip().lower() == "never":
        return NEVER
    match = _LIMIT.match(value)
    if not match:
        raise ValueError(f"{expected}, found {value!r}")
    count = int(match[1])
    if count < 1:
        raise ValueError(f"expected at least 1 per window (or 'never'), found {value!r}")
    try:
        within = parse_duration(match[2])
    except DurationSyntaxError as exc:
        raise ValueError(f"{expected}: {exc}") from None
    if within.is_business:
        raise ValueError(f"expected a window in s/m/h/d/w, found {match[2]!r}")
    return Limit(count, within)
