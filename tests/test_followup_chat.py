"""Slack and Teams messages for a new task, checked against the formats' real shapes:
Slack's own Block Kit models (slack_sdk) and an Adaptive Card 1.4 schema, with the
formats' documented example bodies as controls."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cxops.followup.chat import (
    SLACK_FIELD_MAX,
    SLACK_HEADER_MAX,
    TaskCard,
    card_escape,
    slack_escape,
    slack_message,
    teams_message,
)
from cxops.testing.chat_webhooks import running_chat_webhook, slack_problem, teams_problem

RECORDED = Path(__file__).parent / "data" / "chat"


def card(**changes: str) -> TaskCard:
    values = {
        "title": "Call Anna about their score of 3",
        "survey": "NPS quarterly",
        "customer": "Anna Müller",
        "email": "anna@customer.example",
        "score": "3 (detractor)",
        "comment": "Support took a week.\nTwice.",
        "due": "2026-11-25 09:00 CET",
        "assignee": "csm.anna@acme.example",
        "priority": "high",
        "url": "https://cx.acme.example/t/abc.def",
    }
    values.update(changes)
    return TaskCard(**values)


def test_the_recorded_examples_pass_the_stand_ins() -> None:
    assert slack_problem(json.loads((RECORDED / "slack_incoming_webhook.json").read_text())) is None
    assert teams_problem(json.loads((RECORDED / "teams_workflow_webhook.json").read_text())) is None


def test_the_stand_ins_refuse_what_the_real_endpoints_refuse() -> None:
    recorded = json.loads((RECORDED / "slack_incoming_webhook.json").read_text())
    assert slack_problem({"blocks": recorded["blocks"]}) == "no_text"  # today's JSON payload
    assert slack_problem([1]) == "invalid_payload"
    too_long = {
        **recorded,
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
    }
    assert slack_problem(too_long) == "invalid_blocks"
    teams = json.loads((RECORDED / "teams_workflow_webhook.json").read_text())
    teams["attachments"][0]["content"]["body"].append({"type": "Marquee", "text": "x"})
    assert teams_problem(teams) is not None
    assert teams_problem({"event": "task.created"}) is not None


def test_a_slack_message_has_text_and_valid_blocks() -> None:
    message = slack_message(card())
    assert slack_problem(message) is None
    assert message["text"].startswith("New follow-up task: Call Anna")
    kinds = [block["type"] for block in message["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert "*Customer*\nAnna Müller (anna@customer.example)" in fields
    assert "*Score*\n3 (detractor)" in fields and "*Due*\n2026-11-25 09:00 CET" in fields
    assert message["blocks"][2]["text"]["text"] == ">Support took a week.\n>Twice."
    [button] = message["blocks"][3]["elements"]
    assert button["url"] == "https://cx.acme.example/t/abc.def"


def test_customer_text_is_data_in_slack() -> None:
    hostile = card(customer="<!channel> <https://evil.example|click> & co", comment="<@U123>")
    message = slack_message(hostile)
    assert slack_problem(message) is None
    text = json.dumps(message)
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U123>" not in text
    assert slack_escape("<a> & b") == "&lt;a&gt; &amp; b"


def test_long_values_are_cut_to_the_slack_limits() -> None:
    message = slack_message(card(title="t" * 500, comment="c" * 10_000, customer="n" * 5000))
    assert slack_problem(message) is None
    assert len(message["blocks"][0]["text"]["text"]) == SLACK_HEADER_MAX
    assert all(len(f["text"]) <= SLACK_FIELD_MAX for f in message["blocks"][1]["fields"])


def test_a_teams_message_is_a_valid_adaptive_card() -> None:
    message = teams_message(card(customer="[click](https://evil.example) *me*"))
    assert teams_problem(message) is None
    content = message["attachments"][0]["content"]
    assert content["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in content["body"][1]["facts"]}
    assert facts["Customer"].startswith(r"\[click\](https://evil.example) \*me\*")
    assert content["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the task",
            "url": "https://cx.acme.example/t/abc.def",
        }
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a_b*c", r"a\_b\*c"), ("- item", r"\- item"), ("1. one", r"1\. one"), ("c-1 2.5", "c-1 2.5")],
)
def test_card_markdown_is_escaped(text: str, shown: str) -> None:
    assert card_escape(text) == shown


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_the_stand_ins_answer_like_the_real_endpoints(kind) -> None:
    message = slack_message(card()) if kind == "slack" else teams_message(card())
    with running_chat_webhook(kind) as hook:
        accepted = httpx.post(hook.url, json=message)
        refused = httpx.post(hook.url, json={"event": "task.created"})
    assert accepted.status_code == (200 if kind == "slack" else 202)
    assert refused.status_code == 400 and hook.received == [message]
    if kind == "slack":
        assert accepted.text == "ok" and refused.text == "no_text"
