"""A local SendGrid-compatible Mail Send server, for tests, benchmarks and the demo.

`running_sendgrid_server(api_key=..., faults=[...])` serves `POST /v3/mail/send` on
127.0.0.1 (an ephemeral port) in a background thread. It checks the bearer key and
validates bodies like the real API (400 with `{"errors": [{"message", "field"}]}`),
answers 202 with an `X-Message-Id`, and keeps what it received: `.requests` (every
body), `.accepted` (202 answers) and `.messages()` (each recipient's final message,
substitutions applied). Faults (`Fault.throttle`, `Fault.server_error`, `Fault.slow`,
`Fault.bad_request`) answer the next requests, in order, before validation.

Run it by hand with `python -m cxops.testing.sendgrid_server --api-key KEY [--port N]`.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cxops.channels.sendgrid import MAX_PERSONALIZATIONS, MAX_SUBSTITUTION_BYTES
from cxops.testing.loopback import serving

MAIL_SEND_PATH = "/v3/mail/send"
UNAUTHORIZED = "The provided authorization grant is invalid, expired, or revoked"


@dataclass
class Fault:
    """How the server answers the next `times` requests instead of (or before) accepting."""

    status: int | None = None
    times: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    message: str = ""
    field: str | None = None

    @classmethod
    def throttle(cls, retry_after: int = 1, times: int = 1) -> Fault:
        """429 Too Many Requests with `Retry-After: retry_after`."""
        return cls(429, times, retry_after=retry_after, message="Too many requests")

    @classmethod
    def server_error(cls, times: int = 1, status: int = 500) -> Fault:
        return cls(status, times, message="Internal server error")

    @classmethod
    def slow(cls, seconds: float, times: int = 1) -> Fault:
        """Wait `seconds`, then handle the request normally (it may well be accepted)."""
        return cls(None, times, delay=seconds)

    @classmethod
    def bad_request(cls, message: str, field: str | None = None, times: int = 1) -> Fault:
        return cls(400, times, message=message, field=field)


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One recipient's message as SendGrid would deliver it."""

    message_id: str
    to_email: str
    to_name: str | None
    from_email: str
    from_name: str | None
    reply_to: str | None
    subject: str
    text: str | None
    html: str | None
    headers: dict[str, str]
    custom_args: dict[str, str]


@dataclass(frozen=True, slots=True)
class AcceptedRequest:
    message_id: str
    body: dict[str, Any]


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """Replace every marker in one pass, longest marker first; values are not rescanned."""
    if not substitutions or not text:
        return text
    pattern = "|".join(re.escape(k) for k in sorted(substitutions, key=len, reverse=True))
    return re.sub(pattern, lambda match: substitutions[match.group(0)], text)


def validate(body: Any) -> list[dict[str, str | None]]:
    """SendGrid-shaped errors for a Mail Send body; empty when it is acceptable."""
    if not isinstance(body, dict):
        return [_err("Bad Request", None)]
    errors = _check_personalizations(body.get("personalizations"))
    sender = body.get("from")
    if not isinstance(sender, dict) or not _is_email(sender.get("email")):
        errors.append(
            _err(
                "The from object must be provided for every email send. It is an object "
                "that requires an email parameter, but may also contain a name parameter.",
                "from.email",
            )
        )
    personalizations = body.get("personalizations") or []
    every_has_subject = isinstance(personalizations, list) and all(
        isinstance(p, dict) and _non_empty(p.get("subject")) for p in personalizations
    )
    if not _non_empty(body.get("subject")) and not (personalizations and every_has_subject):
        errors.append(
            _err(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
            )
        )
    errors += _check_content(body.get("content"))
    return errors


def _check_personalizations(items: Any) -> list[dict[str, str | None]]:
    if not isinstance(items, list) or not items:
        return [
            _err(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
            )
        ]
    if len(items) > MAX_PERSONALIZATIONS:
        return [
            _err(
                f"The personalizations field may not contain more than "
                f"{MAX_PERSONALIZATIONS} personalizations.",
                "personalizations",
            )
        ]
    errors = []
    for index, item in enumerate(items):
        where = f"personalizations.{index}"
        to = item.get("to") if isinstance(item, dict) else None
        if (
            not isinstance(to, list)
            or not to
            or not all(isinstance(t, dict) and _is_email(t.get("email")) for t in to)
        ):
            errors.append(
                _err(
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    f"{where}.to",
                )
            )
            continue
        for key in ("substitutions", "headers", "custom_args"):
            values = item.get(key, {})
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                errors.append(_err(f"{key} values must be strings.", f"{where}.{key}"))
        substitutions = item.get("substitutions") or {}
        if isinstance(substitutions, dict):
            text = "".join(map(str, substitutions)) + "".join(map(str, substitutions.values()))
            size = len(text) if text.isascii() else len(text.encode())
            if size > MAX_SUBSTITUTION_BYTES:
                errors.append(
                    _err(
                        f"The total size of your substitutions may not exceed "
                        f"{MAX_SUBSTITUTION_BYTES} bytes per personalization object.",
                        f"{where}.substitutions",
                    )
                )
    return errors


def _check_content(content: Any) -> list[dict[str, str | None]]:
    if not isinstance(content, list) or not content:
        return [
            _err(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
            )
        ]
    errors = []
    types = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not _non_empty(block.get("type")):
            errors.append(_err("The content type is required.", f"content.{index}.type"))
            continue
        types.append(block["type"])
        if not _non_empty(block.get("value")):
            errors.append(
                _err(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                )
            )
    expected = [t for t in ("text/plain", "text/html") if t in types]
    if types[: len(expected)] != expected:
        errors.append(
            _err(
                "If present, text/plain and text/html may only be provided once, and "
                "text/plain must come first, followed by text/html.",
                "content",
            )
        )
    return errors


def _err(message: str, field_name: str | None) -> dict[str, str | None]:
    return {"message": message, "field": field_name, "help": None}


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


@dataclass
class SendGridServer:
    """State and control of one running server; see `running_sendgrid_server`."""

    api_key: str
    faults: list[Fault] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    accepted: list[AcceptedRequest] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def add_faults(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def next_fault(self) -> Fault | None:
        with self._lock:
            while self.faults and self.faults[0].times <= 0:
                self.faults.pop(0)
            if not self.faults:
                return None
            self.faults[0].times -= 1
            return self.faults[0]

    def record(self, body: Any) -> None:
        with self._lock:
            self.requests.append(body)

    def accept(self, body: dict[str, Any]) -> str:
        message_id = secrets.token_urlsafe(16)
        with self._lock:
            self.accepted.append(AcceptedRequest(message_id, body))
        return message_id

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def messages(self) -> list[ReceivedMessage]:
        """Every recipient's final message, from every accepted request, in order."""
        with self._lock:
            accepted = list(self.accepted)
        return [m for request in accepted for m in _expand(request)]


def _expand(request: AcceptedRequest) -> Iterator[ReceivedMessage]:
    body = request.body
    content = {block["type"]: block["value"] for block in body["content"]}
    reply_to = body.get("reply_to", {}).get("email")
    for item in body["personalizations"]:
        substitutions = item.get("substitutions") or {}
        subject = item.get("subject") or body["subject"]
        text, html = content.get("text/plain"), content.get("text/html")
        for to in item["to"]:
            yield ReceivedMessage(
                message_id=request.message_id,
                to_email=to["email"],
                to_name=to.get("name"),
                from_email=body["from"]["email"],
                from_name=body["from"].get("name"),
                reply_to=reply_to,
                subject=substitute(subject, substitutions),
                text=None if text is None else substitute(text, substitutions),
                html=None if html is None else substitute(html, substitutions),
                headers={**body.get("headers", {}), **item.get("headers", {})},
                custom_args={**body.get("custom_args", {}), **item.get("custom_args", {})},
            )


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmarks send thousands of requests."""

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != MAIL_SEND_PATH:
            self._answer(404, {"errors": [_err("Not Found", None)]})
            return
        if self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._answer(401, {"errors": [_err(UNAUTHORIZED, None)]})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        state.record(body)
        fault = state.next_fault()
        if fault is not None:
            state.wait(fault.delay)
            if fault.status is not None:
                extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                self._answer(fault.status, {"errors": [_err(fault.message, fault.field)]}, extra)
                return
        errors = validate(body)
        if errors:
            self._answer(400, {"errors": errors})
            return
        message_id = state.accept(body)
        self._answer(202, None, {"X-Message-Id": message_id})

    def _answer(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to tell it


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    state: SendGridServer


@contextmanager
def running_sendgrid_server(
    api_key: str = "SG.test-key", faults: Iterable[Fault] = (), port: int = 0
) -> Iterator[SendGridServer]:
    """A server on 127.0.0.1 (ephemeral port unless given) for the `with` block."""
    state = SendGridServer(api_key=api_key, faults=list(faults))
    httpd = _HTTPServer(("127.0.0.1", port), _Handler)
    httpd.state = state
    with serving(httpd, "sendgrid-server") as url:
        state.url = url
        try:
            yield state
        finally:
            state._stopping.set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local SendGrid-compatible Mail Send API.")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with running_sendgrid_server(api_key=args.api_key, port=args.port) as server:
        print(f"SendGrid-compatible server at {server.url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print(f"received {len(server.accepted)} accepted requests")


if __name__ == "__main__":
    main()
