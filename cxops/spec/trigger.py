"""The survey's optional `trigger:` block: events, not a schedule, start invitations.

`Trigger` is the block as a model (each value checked on its own); `EventSource` is the
source of a survey whose contacts come only from events (`audience.source` with only
`columns:`); `trigger_problems` checks what spans fields, located at file:line: the
`contact:` mapping gives `key`, `email` and every declared column, and its expressions
and `dedupe` read only `event` (id, type, occurred_at, data) and the helpers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cxops.durations import Duration, DurationSyntaxError, parse_duration
from cxops.errors import Problem
from cxops.expr import HELPER_NAMES, check_expression_syntax, references
from cxops.spec.yaml_marks import MarkedDocument

#: What an event has at the top level (`event.X` in a trigger's expressions).
EVENT_FIELDS = ("id", "type", "occurred_at", "data")
#: The only top-level name a trigger's expressions read, besides the helpers.
EVENT_NAME = "event"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EVENT_TYPE = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _event_expression(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an expression over `event` as text, found {value!r}")
    check_expression_syntax(value)
    return value


class Trigger(_Strict):
    """Which event starts an invitation, how long after, to whom, and once per what."""

    event: str = Field(
        pattern=_EVENT_TYPE, max_length=200, description="The event type, e.g. ticket.solved."
    )
    delay: str = Field(
        default="0s",
        description="How long after the event the invitation is due: 30m, 1d, "
        "'1 business day' (then the send_window, if any, applies).",
    )
    contact: dict[str, str] = Field(
        description="Contact field -> expression over `event`; needs `key` and `email`, "
        "and gives every column of audience.source.columns (typed by them)."
    )
    dedupe: str = Field(
        description="An expression over `event`: one invitation per distinct value, ever."
    )

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"expected a duration like '1d' or '1 business day', found {value!r}")
        try:
            return str(parse_duration(value))
        except DurationSyntaxError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("contact", mode="before")
    @classmethod
    def _contact(cls, value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a mapping of contact field to expression, found {value!r}")
        checked: dict[str, str] = {}
        for name, expression in value.items():
            if not isinstance(name, str) or not _IDENT.match(name):
                raise ValueError(
                    f"expected contact field names of letters, digits and _, found {name!r}"
                )
            checked[name] = _event_expression(expression)
        return checked

    @field_validator("dedupe", mode="before")
    @classmethod
    def _dedupe(cls, value: Any) -> str:
        return _event_expression(value)

    @property
    def delay_duration(self) -> Duration:
        return parse_duration(self.delay)


class EventSource(_Strict):
    """A triggered survey's source: no rows to read, only the types of its columns."""

    columns: dict[str, Literal["int", "float", "date", "datetime", "bool", "str"]] = Field(
        default_factory=dict, description="Typed columns the trigger's `contact:` gives."
    )

    @property
    def key(self) -> str:
        """The contact field holding the key: the mapping's `key`."""
        return "key"

    @property
    def email(self) -> str:
        """The contact field holding the address: the mapping's `email`."""
        return "email"


def trigger_problems(
    trigger: Trigger, columns: Mapping[str, str], document: MarkedDocument
) -> Iterator[Problem]:
    """What spans the trigger's fields and the source's columns, at file:line."""
    for required in ("key", "email"):
        if required not in trigger.contact:
            yield document.problem(
                ("trigger", "contact"),
                f"expected the contact mapping to give '{required}' "
                f'(e.g. {required}: "event.data.{required}")',
            )
    for name in columns:
        if name not in trigger.contact:
            path = ("audience", "source", "columns", name)
            yield document.problem(
                path if document.has(path) else ("audience", "source"),
                f"expected trigger.contact to give the column {name!r}; "
                f"it gives {', '.join(repr(n) for n in trigger.contact) or 'nothing'}",
            )
    fields: list[tuple[tuple[str | int, ...], str]] = [
        (("trigger", "contact", name), source) for name, source in trigger.contact.items()
    ]
    fields.append((("trigger", "dedupe"), trigger.dedupe))
    for key_path, source in fields:
        refs = references(source)
        for name in sorted(refs.names - HELPER_NAMES - {EVENT_NAME}):
            yield _at_word(
                document,
                key_path,
                name,
                f"unknown name '{name}'; expected `event` (its {', '.join(EVENT_FIELDS)}) "
                "or a helper",
            )
        for target, attribute in sorted(refs.fields):
            if target == EVENT_NAME and attribute not in EVENT_FIELDS:
                yield _at_word(
                    document,
                    key_path,
                    attribute,
                    f"unknown event field '{attribute}'; expected one of "
                    f"{', '.join(EVENT_FIELDS)} (the payload is under event.data)",
                )


def _at_word(
    document: MarkedDocument, key_path: tuple[str | int, ...], word: str, message: str
) -> Problem:
    """A problem at `word` on the value's line, else at the value."""
    problem = document.problem(key_path, message)
    line, column = problem.location.line, problem.location.column
    match = re.compile(rf"\b{re.escape(word)}\b").search(problem.source_line, max(column - 1, 0))
    if match is None:
        return problem
    return document.problem_at(line, match.start() + 1, problem.key_path, message)
