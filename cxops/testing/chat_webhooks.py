"""Local stand-ins for a Slack incoming webhook and a Teams workflow webhook.

`running_chat_webhook("slack" | "teams")` serves POSTs on 127.0.0.1 in a thread and
answers as the real endpoints do: Slack `200 ok`, or `400 no_text` (no `text`),
`400 invalid_blocks` (a block that Slack's own SDK models refuse), `400 invalid_payload`
(not a JSON object); Teams `202` for a message with an Adaptive Card that validates
against `adaptive_card.schema.json`, else `400`. `.received` keeps what was accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from cxops.testing.loopback import serving

Kind = Literal["slack", "teams"]
SCHEMA = Path(__file__).with_name("adaptive_card.schema.json")


def slack_problem(body: Any) -> str | None:
    """Why Slack would refuse this incoming-webhook body, or None."""
    from slack_sdk.models.blocks import Block

    if not isinstance(body, dict):
        return "invalid_payload"
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        return "no_text"
    for raw in body.get("blocks", []):
        block = Block.parse(raw)
        if block is None:
            return "invalid_blocks"
        try:
            block.validate_json()
        except Exception:  # slack_sdk raises SlackObjectFormationError (and others)
            return "invalid_blocks"
        if block.to_dict() != raw:  # a field the SDK does not know was dropped
            return "invalid_blocks"
    return None


def teams_problem(body: Any) -> str | None:
    """Why a Teams workflow would not post this card, or None."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        return f"{'/'.join(str(p) for p in first.absolute_path)}: {first.message}"
    return None


@dataclass
class ChatWebhook:
    kind: Kind
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the access log
        return

    def do_POST(self) -> None:
        state = self.server.state
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        problem = slack_problem(body) if state.kind == "slack" else teams_problem(body)
        if problem is not None:
            state.refused.append(problem)
            self._answer(400, problem)
        else:
            state.received.append(body)
            self._answer(
                200 if state.kind == "slack" else 202, "ok" if state.kind == "slack" else ""
            )

    def _answer(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ChatWebhook


@contextmanager
def running_chat_webhook(kind: Kind) -> Iterator[ChatWebhook]:
    """A Slack- or Teams-like webhook on 127.0.0.1 for the `with` block."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = ChatWebhook(kind, url=f"http://127.0.0.1:{httpd.server_address[1]}/hook")
    with serving(httpd, "chat-webhook"):
        yield httpd.state
