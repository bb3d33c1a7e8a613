"""The bodies receivers get: `{"type", "timestamp", "data"}` (Standard Webhooks), pure.

People are keyed by `contact_key`; an address or a name is added only when the project
lets personal data leave the store (`sync.personal_data`), and a task's title (which a
rule may write a name into) likewise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def body(type_: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope of one event."""
    return {"type": type_, "timestamp": iso(occurred_at), "data": data}


def iso(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 with a `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def response_data(
    response: Any, email: str, contact: dict[str, Any], *, personal: bool
) -> dict[str, Any]:
    """`response.completed`: the answers of one submitted response."""
    data: dict[str, Any] = {
        "response_id": response.id,
        "survey": response.survey_id,
        "wave": response.wave_id,
        "contact_key": response.contact_key,
        "segment": response.segment,
        "locale": response.locale,
        "answers": dict(response.answers),
        "suspect": bool(response.suspect),
        "completed_at": iso(response.submitted_at or response.updated_at),
    }
    if personal:
        data["email"] = email
        data["name"] = contact.get("name")
    return data


def task_data(task: Any, *, personal: bool) -> dict[str, Any]:
    """`task.created` and `task.closed`: one follow-up task as it is now."""
    data: dict[str, Any] = {
        "task_id": task.id,
        "response_id": task.response_id,
        "survey": task.survey_id,
        "wave": task.wave_id,
        "rule": task.rule_id,
        "contact_key": task.contact_key,
        "segment": task.segment,
        "assignee": task.assignee,
        "priority": task.priority,
        "status": task.status,
        "outcome": task.outcome,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "closed_at": iso(task.closed_at),
    }
    if personal:
        data["title"] = task.title
    return data


def person_data(
    contact_keys: list[str], at_name: str, at: datetime, *, email: str | None = None
) -> dict[str, Any]:
    """`person.unsubscribed` and `person.erased`: the person by their contact keys (the
    latest first; one address may have had several keys across surveys)."""
    data: dict[str, Any] = {
        "contact_key": contact_keys[0],
        "contact_keys": contact_keys,
        at_name: iso(at),
    }
    if email is not None:
        data["email"] = email
    return data
