"""`policy.yaml` as frozen pydantic models: rules that hold people back across surveys.

```yaml
rules:
  - name: enterprise-accounts
    when: "contact.plan == 'enterprise'"
    per: "contact.account_id"
    limit: 1 per 60d
```

A rule applies to a contact when `when` is true; `limit` is `N per DURATION`
(at most N invitations or reminders within the duration, counted for the person,
or with `per` for everyone sharing the key) or `never`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from cxops.durations import Duration, DurationSyntaxError, parse_duration
from cxops.spec.models import SLUG, Expression, Strict

_LIMIT = re.compile(r"^\s*(\d{1,6})\s+per\s+(.+?)\s*$")


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` contacts within `within`; `never` is count 0 and no window."""

    count: int
    within: Duration | None

    @property
    def never(self) -> bool:
        return self.within is None

    def __str__(self) -> str:
        return "never" if self.within is None else f"{self.count} per {self.within}"


NEVER = Limit(0, None)


def parse_limit(value: Any) -> Limit:
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


LimitField = Annotated[
    Limit,
    PlainValidator(parse_limit),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*(never|\d+\s+per\s+\d+\s*[smhdw])\s*$",
            "description": "'N per DURATION' (e.g. '1 per 60d') or 'never'.",
        }
    ),
]


class PolicyRule(Strict):
    """One rule of the contact policy."""

    name: str = Field(pattern=SLUG, max_length=64, description="Rule name: a-z, 0-9 and -.")
    when: Expression = Field(description="Over `contact`: the people this rule is about.")
    per: Expression | None = Field(
        default=None,
        description="A key such as contact.account_id: the limit counts everyone sharing it.",
    )
    limit: LimitField

    @model_validator(mode="after")
    def _per_needs_a_count(self) -> PolicyRule:
        if self.per is not None and self.limit.never:
            raise ValueError("expected 'per' only with a limit like '1 per 60d', not 'never'")
        return self


class PolicyFile(Strict):
    """The whole `policy.yaml`."""

    rules: list[PolicyRule] = Field(default_factory=list)
