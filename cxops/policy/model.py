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

from typing import Annotated

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from cxops.durations import Limit, parse_limit
from cxops.spec.models import SLUG, Expression, Strict

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
