"""One event as a triggered survey's contact, dedupe value and due time. Pure.

An event is a JSON object: `id`, `type`, `occurred_at` (optional ISO 8601; the time it was
received when absent) and `data`. The survey's `trigger.contact` expressions read it as
`event`; each value is typed by `audience.source.columns` (the others are text), so the
filter, segments, templates and follow-up rules see a contact like a source row's. A
value that cannot be read is an `EventError` naming the JSON path (`data.requester.email`)
and what was expected. The due time is `occurred_at + trigger.delay`; the send window,
if any, applies after it as a gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cxops.audience.contacts import Contact, coerce, normalize_email
from cxops.errors import CxopsError, ExpressionError
from cxops.expr import Evaluator
from cxops.spec.models import Survey

#: `event.a.b['c']` read as the JSON path `a.b.c`; other expressions name the field.
_PATH = re.compile(r"^\s*event((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\s*'[^']*'\s*\])+)\s*$")
_MAX_KEY = 255


class EventError(CxopsError):
    """An event this survey cannot use: `path` (JSON) and what was expected."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True, slots=True)
class TriggeredContact:
    """What one event gives a triggered survey."""

    event_id: str
    contact: Contact
    dedupe: str
    occurred_at: datetime
    #: occurred_at + delay; the send window, if any, applies after it.
    due_at: datetime


def read_event(raw: Any, received_at: datetime) -> dict[str, Any]:
    """The event checked for its shape: id, type, occurred_at (aware, UTC) and data."""
    if not isinstance(raw, Mapping):
        raise EventError("", f"expected a JSON object, found {_found(raw)}")
    unknown = sorted(set(raw) - {"id", "type", "occurred_at", "data"})
    if unknown:
        raise EventError(unknown[0], "unknown field; expected id, type, occurred_at, data")
    for name in ("id", "type"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_KEY:
            raise EventError(
                name, f"expected text of 1 to {_MAX_KEY} characters, found {_found(value)}"
            )
    data = raw.get("data", {})
    if not isinstance(data, Mapping):
        raise EventError("data", f"expected a JSON object, found {_found(data)}")
    occurred = raw.get("occurred_at")
    occurred_at = received_at if occurred is None else _timestamp(occurred)
    return {"id": raw["id"], "type": raw["type"], "occurred_at": occurred_at, "data": dict(data)}


def _timestamp(value: Any) -> datetime:
    expected = "an ISO 8601 time with a zone, e.g. 2026-12-07T10:05:00Z"
    if not isinstance(value, str):
        raise EventError("occurred_at", f"expected {expected}, found {_found(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EventError("occurred_at", f"expected {expected}, found {_found(value)}") from None
    if parsed.tzinfo is None:
        raise EventError("occurred_at", f"expected {expected}, found {_found(value)} (no zone)")
    return parsed.astimezone(UTC)


def event_contact(
    survey: Survey, event: Mapping[str, Any], evaluator: Evaluator
) -> TriggeredContact:
    """The contact, dedupe value and due time `event` (from `read_event`) gives `survey`.

    Raises EventError naming the JSON path of a value that is missing or not of its type.
    """
    trigger = survey.trigger
    if trigger is None:
        raise EventError("", f"survey {survey.id!r} has no trigger")
    columns = survey.audience.source.columns
    scope = evaluator.scope({"event": dict(event)})
    fields: dict[str, Any] = {}
    for name, source in trigger.contact.items():
        value = _evaluate(scope, source, name)
        kind = "str" if name in ("key", "email") else columns.get(name, "str")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise EventError(
                _where(source, name), f"expected a {_KINDS[kind]}, found {_found(value)}"
            )
        try:
            fields[name] = coerce(value, kind)
        except ValueError:
            raise EventError(
                _where(source, name), f"expected a {_KINDS[kind]}, found {_found(value)}"
            ) from None
    key = fields.get("key")
    if not key or len(key) > _MAX_KEY:
        raise EventError(
            _where(trigger.contact["key"], "key"),
            f"expected the contact's key as text of 1 to {_MAX_KEY} characters, "
            f"found {_found(key)}",
        )
    email = normalize_email(fields.get("email"))
    if email is None:
        raise EventError(
            _where(trigger.contact["email"], "email"),
            f"expected an email address, found {_found(fields.get('email'))}",
        )
    fields["email"] = email
    dedupe = _evaluate(scope, trigger.dedupe, "dedupe")
    if dedupe is None or (isinstance(dedupe, str) and not dedupe.strip()):
        raise EventError(
            _where(trigger.dedupe, "dedupe"),
            f"expected a value to dedupe on, found {_found(dedupe)}",
        )
    occurred_at: datetime = event["occurred_at"]
    due_at = trigger.delay_duration.after(occurred_at, evaluator.holidays)
    return TriggeredContact(
        event_id=str(event["id"]),
        contact=Contact(key=key, email=email, row=1, fields=fields),
        dedupe=str(dedupe).strip(),
        occurred_at=occurred_at,
        due_at=due_at,
    )


_KINDS = {
    "int": "whole number",
    "float": "number",
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time (ISO 8601)",
    "bool": "true or false",
    "str": "text",
}


def _evaluate(scope: Any, source: str, name: str) -> Any:
    try:
        return scope.evaluate(source)
    except ExpressionError as exc:
        detail = str(exc).removeprefix(f"{source!r}: ")
        if "undefined value" in detail and _PATH.match(source):
            raise EventError(_where(source, name), "expected a value, found nothing") from None
        raise EventError(_where(source, name), f"{source!r} failed: {detail}") from None


def _where(source: str, name: str) -> str:
    """The JSON path `source` reads (`data.ticket.id`), else `trigger.contact.NAME`."""
    match = _PATH.match(source)
    if match is None:
        return "trigger.dedupe" if name == "dedupe" else f"trigger.contact.{name}"
    parts = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]", match[1])
    return ".".join(attribute or item for attribute, item in parts)


def _found(value: Any) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What one event would do for a triggered survey, nothing stored (`plan --event`)."""

    event_id: str | None
    invited: bool
    #: Why not, when not invited; an unusable event's reason names the JSON path.
    reason: str | None = None
    #: Whether the event could not be read at all (a bad value, not a rule saying no).
    error: bool = False
    contact: dict[str, Any] | None = None
    filter: bool | None = None
    segment: str | None = None
    dedupe: str | None = None
    occurred_at: datetime | None = None
    due_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "invited": self.invited,
            "reason": self.reason,
            "error": self.error,
            "contact": None
            if self.contact is None
            else {
                name: value.isoformat() if isinstance(value, datetime | date) else value
                for name, value in self.contact.items()
            },
            "filter": self.filter,
            "segment": self.segment,
            "dedupe": self.dedupe,
            "occurred_at": None if self.occurred_at is None else self.occurred_at.isoformat(),
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
        }


def plan_event(survey: Survey, raw: Any, now: datetime, holidays: str | None = None) -> EventPlan:
    """What `raw` (one event as parsed JSON) would do for `survey`, without storing it:
    the contact, the filter's and segments' verdict, the dedupe value and the due time,
    or why it would not be invited. Gates that need the store (suppressions, cooldown,
    dedupe seen before, caps) are not asked."""
    from cxops.audience.select import segment_of, survey_context

    event_id = raw.get("id") if isinstance(raw, Mapping) else None
    event_id = event_id if isinstance(event_id, str) else None
    if survey.trigger is None:
        return EventPlan(event_id, False, f"survey {survey.id!r} has no trigger:", error=True)
    evaluator = Evaluator(now, holidays)
    try:
        event = read_event(raw, now)
    except EventError as exc:
        return EventPlan(event_id, False, str(exc), error=True)
    if event["type"] != survey.trigger.event:
        return EventPlan(
            event_id,
            False,
            f"event type {event['type']!r} is not the trigger's {survey.trigger.event!r}",
        )
    try:
        triggered = event_contact(survey, event, evaluator)
    except EventError as exc:
        return EventPlan(event_id, False, str(exc), error=True)
    contact = triggered.contact
    shown = {
        "contact": contact.fields,
        "dedupe": triggered.dedupe,
        "occurred_at": triggered.occurred_at,
        "due_at": triggered.due_at,
    }
    audience = survey.audience
    try:
        if audience.filter is not None:
            scope = evaluator.scope({"contact": contact.fields, "survey": survey_context(survey)})
            if not scope.test(audience.filter):
                return EventPlan(
                    event_id,
                    False,
                    f"audience.filter {audience.filter!r} is false for this contact",
                    filter=False,
                    **shown,  # type: ignore[arg-type]
                )
        segment = segment_of(survey, contact, evaluator)
    except ExpressionError as exc:
        return EventPlan(event_id, False, str(exc), error=True, **shown)  # type: ignore[arg-type]
    return EventPlan(
        event_id,
        True,
        filter=None if audience.filter is None else True,
        segment=segment,
        **shown,  # type: ignore[arg-type]
    )
