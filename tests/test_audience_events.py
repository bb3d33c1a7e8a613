"""One event as a triggered survey's contact, dedupe value and due time; `plan --event`."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cxops.audience.events import EventError, event_contact, plan_event, read_event
from cxops.expr import Evaluator
from cxops.spec.loader import load_survey
from cxops.spec.models import Survey
from cxops.testing import Project
from cxops.testing.project import run_cxops

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def survey() -> Survey:
    return load_survey(DATA / "csat-ticket-solved.yaml", DATA)


@pytest.fixture
def payload() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "event-ticket-solved.json").read_text())
    return loaded


def contact_of(survey: Survey, raw: Any) -> Any:
    return event_contact(survey, read_event(raw, NOW), Evaluator(NOW))


def test_the_example_event_gives_the_contact_dedupe_and_due_time(
    survey: Survey, payload: dict[str, Any]
) -> None:
    triggered = contact_of(survey, payload)
    assert triggered.event_id == "zd-evt-000123"
    assert triggered.contact.key == "C000042"
    assert triggered.contact.email == "ana.42@customer42.example"
    assert triggered.contact.locale == "de"
    assert triggered.contact.fields["ticket_id"] == "48213"
    assert triggered.contact.fields["agent_email"] == "agent7@acme.example"
    assert triggered.dedupe == "48213"
    # Monday 10:05 UTC + 1 business day.
    assert triggered.due_at == datetime(2026, 12, 8, 10, 5, tzinfo=UTC)


def test_a_business_day_delay_skips_the_weekend(survey: Survey, payload: dict[str, Any]) -> None:
    payload["occurred_at"] = "2026-12-11T16:00:00+01:00"  # a Friday
    assert contact_of(survey, payload).due_at == datetime(2026, 12, 14, 15, 0, tzinfo=UTC)


def test_occurred_at_defaults_to_the_time_received(survey: Survey, payload: dict[str, Any]) -> None:
    del payload["occurred_at"]
    assert contact_of(survey, payload).occurred_at == NOW


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("data", "requester", "email"),
            "not an address",
            "data.requester.email: expected an email",
        ),
        (("data", "requester", "email"), None, "data.requester.email: expected an email"),
        (("data", "requester", "id"), {"x": 1}, "data.requester.id: expected a text"),
        (("data", "ticket", "id"), None, "data.ticket.id:"),
        (("occurred_at",), "yesterday", "occurred_at: expected an ISO 8601 time"),
        (("occurred_at",), "2026-12-07T10:05:00", "occurred_at: expected an ISO 8601 time"),
        (("id",), "", "id: expected text"),
        (("data",), [1], "data: expected a JSON object"),
    ],
)
def test_bad_values_name_their_json_path(
    survey: Survey, payload: dict[str, Any], path: tuple[str, ...], value: Any, message: str
) -> None:
    target = payload
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(EventError) as caught:
        contact_of(survey, payload)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_missing_value_names_its_path(survey: Survey, payload: dict[str, Any]) -> None:
    del payload["data"]["requester"]["email"]
    with pytest.raises(EventError, match=r"^data\.requester\.email: expected a value"):
        contact_of(survey, payload)


def test_columns_type_the_values(survey: Survey, payload: dict[str, Any]) -> None:
    typed = survey.model_copy(deep=True)
    source = typed.audience.source.model_copy(update={"columns": {"ticket_id": "int"}})
    typed = typed.model_copy(
        update={"audience": typed.audience.model_copy(update={"source": source})}
    )
    assert contact_of(typed, payload).contact.fields["ticket_id"] == 48213
    bad = copy.deepcopy(payload)
    bad["data"]["ticket"]["id"] = "T-1"
    with pytest.raises(EventError, match=r"^data\.ticket\.id: expected a whole number"):
        contact_of(typed, bad)


def test_plan_event_gives_segment_or_the_reason(survey: Survey, payload: dict[str, Any]) -> None:
    planned = plan_event(survey, payload, NOW)
    assert (planned.invited, planned.segment, planned.dedupe) == (True, "priority", "48213")
    payload["data"]["ticket"]["priority"] = "low"
    assert plan_event(survey, payload, NOW).segment == "standard"
    payload["type"] = "ticket.created"
    other = plan_event(survey, payload, NOW)
    assert not other.invited and not other.error
    assert other.reason == "event type 'ticket.created' is not the trigger's 'ticket.solved'"


def test_plan_event_says_when_the_filter_says_no(survey: Survey, payload: dict[str, Any]) -> None:
    filtered = survey.model_copy(
        update={"audience": survey.audience.model_copy(update={"filter": "contact.locale == 'en'"})}
    )
    planned = plan_event(filtered, payload, NOW)
    assert (planned.invited, planned.filter, planned.error) == (False, False, False)
    assert planned.reason is not None and "audience.filter" in planned.reason


def test_cli_plan_event_shows_what_the_example_event_would_do(empty_project: Project) -> None:
    empty_project.path("surveys").mkdir()
    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.path("surveys/csat.yaml"))
    event = DATA / "event-ticket-solved.json"
    result = run_cxops(
        ["plan", "csat-ticket-solved", "--event", str(event), "--json"], cwd=empty_project.root
    )
    planned = json.loads(result.stdout)
    assert planned["invited"] is True
    assert planned["contact"]["email"] == "ana.42@customer42.example"
    assert (planned["segment"], planned["dedupe"]) == ("priority", "48213")
    assert planned["due_at"] == "2026-12-08T10:05:00+00:00"
    text = run_cxops(["plan", "csat-ticket-solved", "--event", str(event)], cwd=empty_project.root)
    assert "would invite ana.42@customer42.example at 2026-12-08T10:05:00+00:00" in text.stdout
    assert not any(empty_project.root.glob("*.db")), "plan --event stores nothing"


def test_cli_plan_event_with_a_bad_value_fails_naming_the_path(empty_project: Project) -> None:
    empty_project.path("surveys").mkdir()
    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.path("surveys/csat.yaml"))
    payload = json.loads((DATA / "event-ticket-solved.json").read_text())
    payload["data"]["requester"]["email"] = "nobody"
    bad = empty_project.root / "bad.json"
    bad.write_text(json.dumps(payload))
    result = run_cxops(
        ["plan", "csat-ticket-solved", "--event", str(bad)],
        cwd=empty_project.root,
        expect_pass=False,
    )
    assert "data.requester.email: expected an email address" in result.stdout
    assert "Traceback" not in result.stderr
