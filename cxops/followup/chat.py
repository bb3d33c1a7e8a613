"""Chat messages for a new task: a Slack incoming-webhook message and a Teams workflow card.

A rule's `notify: {format: slack|teams}` posts these instead of the signed JSON payload.
Both show the customer, the score, the comment, the due date and a button to the task
page; every customer value is data, never markup (Slack mrkdwn `& < >` are escaped,
Adaptive Card markdown characters are backslash-escaped), and long values are cut to
the sizes the formats allow.

- Slack (Block Kit, incoming webhooks): `text` (the notification and fallback text,
  required: a message without it is refused with `no_text`) plus `blocks`: a header, a
  section of fields, the comment, and an actions block with a link button.
- Teams (Workflows "When a Teams webhook request is received"): a `message` whose one
  attachment is an Adaptive Card 1.4 (`application/vnd.microsoft.card.adaptive`) with a
  title, a FactSet, the comment and an `Action.OpenUrl`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Block Kit limits: header text, a section's text, a field, a button's text.
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_BUTTON_MAX = 75
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_TYPE = "application/vnd.microsoft.card.adaptive"
BUTTON = "Open the task"


@dataclass(frozen=True, slots=True)
class TaskCard:
    """What a chat message says about a new task (plain text, not yet escaped)."""

    title: str
    survey: str
    customer: str
    email: str
    score: str
    comment: str
    due: str
    assignee: str
    priority: str
    url: str

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Customer", f"{self.customer} ({self.email})" if self.email else self.customer),
            ("Score", self.score or "–"),
            ("Due", self.due),
            ("Assignee", self.assignee),
            ("Priority", self.priority),
            ("Survey", self.survey),
        ]
        return facts

    def summary(self) -> str:
        """One line: the notification text (Slack's `text`, Teams' fallback)."""
        score = f", score {self.score}" if self.score else ""
        return f"New follow-up task: {self.title} ({self.customer}{score}, due {self.due})"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Text shown as is in Slack mrkdwn and plain_text (`&`, `<`, `>` are control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(card: TaskCard) -> dict[str, Any]:
    """An incoming-webhook message: `text` plus Block Kit `blocks`."""
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{name}*\n{slack_escape(value)}", SLACK_FIELD_MAX)}
        for name, value in card.facts()
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(card.title, SLACK_HEADER_MAX)},
        },
        {"type": "section", "fields": fields},
    ]
    if card.comment:
        quoted = "\n".join(f">{line}" for line in slack_escape(card.comment).splitlines())
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(quoted, SLACK_TEXT_MAX)}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open_task",
                    "text": {"type": "plain_text", "text": BUTTON},
                    "url": card.url,
                    "style": "primary",
                }
            ],
        }
    )
    return {"text": _cut(slack_escape(card.summary()), SLACK_TEXT_MAX), "blocks": blocks}


#: Markdown that acts anywhere in a line, and what acts only at its start (headings,
#: quotes, list items).
_INLINE = re.compile(r"([\\*_\[\]`~])")
_LINE_START = re.compile(r"^(\s*)([#>+-])", re.M)
_LIST_NUMBER = re.compile(r"^(\s*\d+)([.)])", re.M)


def card_escape(text: str) -> str:
    """Text shown as is in an Adaptive Card TextBlock or fact (its markdown escaped)."""
    inline = _INLINE.sub(r"\\\1", text)
    marked = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), inline)
    return _LIST_NUMBER.sub(lambda m: m.group(1) + "\\" + m.group(2), marked)


def teams_message(card: TaskCard) -> dict[str, Any]:
    """A Workflows webhook message holding one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": card_escape(card.title),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": card_escape(value)} for name, value in card.facts()],
        },
    ]
    if card.comment:
        body.append(
            {"type": "TextBlock", "text": card_escape(card.comment), "wrap": True, "isSubtle": True}
        )
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": card.summary(),
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": BUTTON, "url": card.url}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_TYPE, "contentUrl": None, "content": content}
        ],
    }
