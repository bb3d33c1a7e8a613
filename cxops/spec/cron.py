"""Five-field cron expressions, and what is wrong with one in words.

croniter says only whether an expression is valid; a user needs the field that is
wrong and what it accepts.
"""

from __future__ import annotations

#: (name, what it accepts) of each field, in order.
CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 (0 and 7 are Sunday) or SUN-SAT"),
)
_SYNTAX = "values, ranges 1-5, lists 1,3, steps */3 or *"


def cron_problem(expression: str) -> str | None:
    """None when `expression` is a valid five-field cron, else what is wrong, in words."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        names = " ".join(name.replace(" ", "-") for name, _ in CRON_FIELDS)
        return (
            f"expected a five-field cron expression ({names}), found {len(fields)} "
            f"field{'s' if len(fields) != 1 else ''} in {expression!r}"
        )
    if croniter.is_valid(expression):
        return None
    for position, (name, accepts) in enumerate(CRON_FIELDS):
        alone = ["*"] * len(CRON_FIELDS)
        alone[position] = fields[position]
        if not croniter.is_valid(" ".join(alone)):
            return (
                f"expected field {position + 1}, the {name}, to be {accepts} ({_SYNTAX}), "
                f"found {fields[position]!r}"
            )
    return f"expected a cron expression whose fields fit together, found {expression!r}"
