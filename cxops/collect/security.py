"""Hardening as plain ASGI middleware: security headers, body limits, the access log.

The access log is one JSON object per request with the route *template*
(`/a/{token}`), never the path or query: links carry tokens, forms carry emails.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cxops.errors import CxopsError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Request bodies above this are refused with 413 (a whole survey fits many times over).
BODY_LIMIT = 64 * 1024
#: SendGrid posts batches of events, and so do senders of /api/v1/events; those may be bigger.
WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024

access_log = logging.getLogger("cxops.collect.access")


class BodyTooLarge(CxopsError):
    """A request body exceeds the limit of its route (answered with 413)."""


def content_security_policy(style_hashes: list[str]) -> str:
    """The CSP of every page: nothing but our own script, our inline style, same-origin posts."""
    styles = " ".join(f"'sha256-{digest}'" for digest in style_hashes)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Adds the security headers to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, csp: str):
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in self.headers if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses bodies over the limit: at once by Content-Length, else while reading."""

    def __init__(
        self, app: ASGIApp, limit: int = BODY_LIMIT, webhook_limit: int = WEBHOOK_BODY_LIMIT
    ):
        self.app = app
        self.limit = limit
        self.webhook_limit = webhook_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.webhook_limit if path.startswith(("/webhooks/", "/api/")) else self.limit
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await _too_large(send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"request body over {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """A whole response written straight to ASGI (for middleware that answers itself)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": [*headers, *extra_headers]}
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send) -> None:
    await send_response(
        send,
        413,
        b"Request body too large",
        b"text/plain; charset=utf-8",
        ((b"connection", b"close"),),
    )


class AccessLog:
    """One JSON line per request: method, route template, status, duration; nothing personal."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    json.dumps(
                        {
                            "ts": time.time(),
                            "method": scope.get("method"),
                            "route": route_template(scope),
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        },
                        separators=(",", ":"),
                    )
                )


def route_template(scope: Scope) -> str:
    """The matched route's path template, or `unmatched` (never the path itself)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
