"""The invitation's optional `send_window:` — when, in each contact's own time, mail may leave.

```yaml
invitation:
  send_window: {from: "09:00", to: "11:00", days: weekdays, timezone: contact.timezone}
```

`from`/`to` are local wall-clock times ("HH:MM", `from` before `to`, the same day);
`days` is `weekdays`, `all` or a list of `mon` … `sun`; `timezone` is an IANA zone written
as is (`Europe/Berlin`, `UTC`) or an expression over `contact` (default: the survey's
`schedule.timezone`, else UTC). The gate that applies it is `cxops.gates.window`.
"""

from __future__ import annotations

import difflib
import re
from datetime import time
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
#: What a time zone written as is looks like (`Europe/Berlin`, `Etc/GMT+5`, `UTC`): no
#: dots, quotes, spaces or brackets, so it can never be an expression over `contact`.
_ZONE_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
#: Bare names that are expressions, not zones.
_VARIABLES = frozenset({"contact", "survey"})


def _clock_time(value: Any) -> time:
    """A local wall-clock time "HH:MM"."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 10:30 as the base-60 number 630.
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f'expected a time like "09:00" in quotes, found {value} (YAML reads '
            f'{hours}:{minutes:02d} without quotes as a number: write "{hours:02d}:{minutes:02d}")'
        )
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a time "HH:MM" from "00:00" to "23:59", found {value!r}')
    return time(int(match[1]), int(match[2]))


ClockTime = Annotated[
    time,
    PlainValidator(_clock_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _TIME_RE.pattern,
            "description": 'A local wall-clock time, "HH:MM".',
        }
    ),
]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


#: Files of a system's zone database that are not IANA zones: `localtime` is the
#: machine's own zone, which would make a survey mean something else on each machine.
_SYSTEM_FILES = frozenset({"localtime", "posixrules"})


@cache
def _zone_names() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) - _SYSTEM_FILES


def is_zone_name(name: str) -> bool:
    """Whether `name` is an IANA time zone (`Europe/Berlin`, `UTC`), not a system file."""
    return name in _zone_names()


def zone_literal(timezone: str) -> str | None:
    """The zone `timezone` names when it is written as one (`Europe/Berlin`, or the
    expression `'Europe/Berlin'`), else None (an expression over `contact`)."""
    text = timezone.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner if _ZONE_LIKE.match(inner) else None
    if _ZONE_LIKE.match(text) and text not in _VARIABLES:
        return text
    return None


def _zone_problem(name: str) -> str | None:
    if is_zone_name(name):
        return None
    close = difflib.get_close_matches(name, sorted(_zone_names()), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"expected an IANA time zone like 'Europe/Berlin' or an expression over contact, found {name!r}{hint}"


@cache
def weekday_numbers(days: str | tuple[str, ...]) -> frozenset[int]:
    """`days` (`all`, `weekdays` or day names) as `date.weekday()` numbers (Monday 0)."""
    if days == "all":
        return frozenset(range(7))
    if days == "weekdays":
        return frozenset(range(5))
    return frozenset(DAY_NAMES.index(day) for day in days)


class SendWindow(BaseModel):
    """The local hours and days a contact's invitation and reminders may leave."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: ClockTime = Field(alias="from", description='Opens, local time: "09:00".')
    to: ClockTime = Field(description='Closes (exclusive), local time, after `from`: "11:00".')
    days: Literal["weekdays", "all"] | list[Day] = Field(
        default="all", description="weekdays, all, or a list of mon … sun."
    )
    timezone: str | None = Field(
        default=None,
        description="An IANA zone, or an expression over contact (contact.timezone); "
        "default the survey's schedule.timezone, else UTC.",
    )

    @field_validator("to")
    @classmethod
    def _after_from(cls, value: time, info: ValidationInfo) -> time:
        opens = info.data.get("from_")
        if isinstance(opens, time) and value <= opens:
            raise ValueError(
                f'expected a time after from ({opens:%H:%M}) on the same day, found "{value:%H:%M}"'
            )
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("weekdays", "all"):
            raise ValueError(f"expected weekdays, all or a list of mon … sun, found {value!r}")
        if isinstance(value, list):
            if not value:
                raise ValueError("expected at least one day, found an empty list")
            for day in value:
                if day not in DAY_NAMES:
                    close = difflib.get_close_matches(str(day).lower()[:3], DAY_NAMES, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"expected days mon … sun, found {day!r}{hint}")
            if len(set(value)) != len(value):
                again = next(day for day in value if value.count(day) > 1)
                raise ValueError(f"expected each day once, found {again!r} again")
        return value

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                "expected an IANA time zone like 'Europe/Berlin' or an expression over "
                f"contact like contact.timezone, found {value!r}"
            )
        zone = zone_literal(value)
        if zone is not None:
            problem = _zone_problem(zone)
            if problem:
                raise ValueError(problem)
            return value
        from cxops.expr import check_expression_syntax

        check_expression_syntax(value)
        return value

    @property
    def weekdays(self) -> frozenset[int]:
        """The allowed days as `date.weekday()` numbers (Monday 0)."""
        return weekday_numbers(self.days if isinstance(self.days, str) else tuple(self.days))

    @property
    def zone(self) -> str | None:
        """The one zone of every contact when `timezone` names one, else None."""
        return None if self.timezone is None else zone_literal(self.timezone)

    @property
    def expression(self) -> str | None:
        """`timezone` when it is an expression over `contact`."""
        return None if self.timezone is None or self.zone is not None else self.timezone
