"""The example sources of docs/events/ (Zendesk, HubSpot, Stripe, Segment): each survey
validates with the project's templates, and its sample payload plans one invitation to
the right person, due when the survey says (what `cxops plan SURVEY --event FILE` shows)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cxops.audience.events import plan_event
from cxops.spec.loader import load_survey

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "docs" / "events"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

CASES = [
    (
        "zendesk-csat-ticket-solved",
        "zendesk-ticket-solved",
        "ana@customer42.example",
        "2026-12-08T10:05:00+00:00",
    ),
    (
        "hubspot-ces-onboarding",
        "hubspot-deal-won",
        "hank@globex.example",
        "2026-12-15T16:20:00+00:00",
    ),
    ("stripe-ces-signup", "stripe-invoice-paid", "jo@initech.example", "2026-12-05T09:12:44+00:00"),
    (
        "segment-csat-order",
        "segment-order-completed",
        "lee@umbrella.example",
        "2026-12-05T18:40:02+00:00",
    ),
]


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(("survey_file", "event_file", "email", "due"), CASES)
def test_each_sample_payload_plans_one_invitation(
    survey_file: str, event_file: str, email: str, due: str
) -> None:
    survey = load_survey(EXAMPLES / f"{survey_file}.yaml", ROOT)
    event = payload(event_file)
    assert survey.trigger is not None and survey.trigger.event == event["type"]
    plan = plan_event(survey, event, NOW, None).as_dict()
    assert (plan["invited"], plan["reason"]) == (True, None), plan
    assert (plan["contact"]["email"], plan["due_at"]) == (email, due)


def test_a_stripe_renewal_is_not_a_sign_up() -> None:
    survey = load_survey(EXAMPLES / "stripe-ces-signup.yaml", ROOT)
    renewal = copy.deepcopy(payload("stripe-invoice-paid"))
    renewal["data"]["object"]["billing_reason"] = "subscription_cycle"
    plan = plan_event(survey, renewal, NOW, None).as_dict()
    assert plan["invited"] is False and "filter" in plan["reason"]


def test_every_example_is_tested() -> None:
    named = {name for case in CASES for name in case[:2]}
    assert {path.stem for path in EXAMPLES.iterdir()} == named
