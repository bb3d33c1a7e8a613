"""The collector app: `create_app(settings)` wires routes, error pages and hardening.

Error replies are kind pages (JSON with `Accept: application/json`), never stack
traces: a tampered token is 404, an expired one 410, a store that cannot write is
a retryable 503 — never a thank-you for an answer that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from cxops.collect import calendly, events, routes, webhooks
from cxops.collect.i18n import message, page_locale
from cxops.collect.pages import Pages
from cxops.collect.security import (
    AccessLog,
    ASGIApp,
    BodyLimit,
    BodyTooLarge,
    Message,
    Receive,
    Scope,
    SecurityHeaders,
    Send,
    content_security_policy,
    send_response,
)
from cxops.collect.state import CollectorState
from cxops.errors import NotFoundError, StoreError, TokenError
from cxops.settings import Settings
from cxops.store.db import Store

log = logging.getLogger("cxops.collect")

#: Seconds a client has to send a whole request body: a stalled POST is dropped after it.
BODY_READ_TIMEOUT = 15.0
#: What a client that went away mid-request raises: not an error of ours, not a traceback.
_DISCONNECTS = (ClientDisconnect, ConnectionResetError, BrokenPipeError)

_PAGE_KINDS = {
    400: "bad_request",
    404: "not_found",
    405: "not_found",
    408: "bad_request",
    410: "expired",
    413: "too_large",
    500: "server_error",
    503: "unavailable",
}


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    body_timeout: float = BODY_READ_TIMEOUT,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The collector for `settings`; `store` overrides the one at `settings.store_url`.

    `routers` are pages of the layers above (the follow-up's task pages, see
    `cxops.followup.collector`), served under the same state, error pages and hardening.
    """
    app = FastAPI(
        title="cxops collector",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    state = CollectorState(settings, store)
    pages = Pages(settings.project_dir)
    app.state.collector = state
    app.state.pages = pages
    app.state.answer_script = pages.source("pages/answer.js")
    app.include_router(routes.router)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(calendly.router)
    for router in routers:
        app.include_router(router)
    _error_handlers(app)
    app.add_middleware(CatchAll, render=lambda: error_body(app, None, 500))
    app.add_middleware(BodyLimit)
    app.add_middleware(BodyTimeout, seconds=body_timeout, render=lambda: error_body(app, None, 408))
    app.add_middleware(SecurityHeaders, csp=content_security_policy([pages.style_hash]))
    app.add_middleware(AccessLog)
    app.router.on_shutdown.append(state.close)
    return app


def _locale(request: Request) -> str:
    known = getattr(request.state, "locale", None)
    if known:
        return page_locale(known)
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip()
    return page_locale(first or None)


def error_body(app: FastAPI, locale: str | None, status: int) -> str:
    """The kind page for an HTTP error status, in `locale`."""
    kind = _PAGE_KINDS.get(status, "server_error")
    lang = page_locale(locale)
    pages: Pages = app.state.pages
    return pages.render(
        "pages/error.html.j2",
        lang,
        title=message(lang, f"{kind}_title"),
        body=message(lang, f"{kind}_body"),
    )


def error_response(
    request: Request, status: int, *, headers: dict[str, str] | None = None
) -> Response:
    """An error reply: the kind page, or `{"error": ...}` for JSON clients."""
    every = {"Cache-Control": "no-store", **(headers or {})}
    kind = _PAGE_KINDS.get(status, "server_error")
    if routes.wants_json(request):
        return JSONResponse({"error": kind}, status_code=status, headers=every)
    body = error_body(request.app, _locale(request), status)
    return HTMLResponse(body, status_code=status, headers=every)


def _error_handlers(app: FastAPI) -> None:
    async def token_error(request: Request, exc: Exception) -> Response:
        expired = isinstance(exc, TokenError) and exc.expired
        return error_response(request, 410 if expired else 404)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(request, 404)

    async def too_large(request: Request, exc: Exception) -> Response:
        return error_response(request, 413, headers={"Connection": "close"})

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.error("store unavailable on %s: %s", routes_template(request), type(exc).__name__)
        return error_response(request, 503, headers={"Retry-After": "5"})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        return error_response(request, status)

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error_response(request, 400)

    async def webhook_refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=403)

    async def webhook_bad(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    app.add_exception_handler(TokenError, token_error)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(SQLAlchemyError, unavailable)
    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(webhooks.WebhookRefused, webhook_refused)
    app.add_exception_handler(webhooks.WebhookPayloadError, webhook_bad)


def routes_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


class CatchAll:
    """Turns an unexpected exception into the 500 page; the traceback goes to the log only."""

    def __init__(self, app: ASGIApp, render: Callable[[], str]):
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except BodyTimedOut:
            raise  # BodyTimeout (outside) answers 408
        except _DISCONNECTS:
            log.info("client went away on %s", getattr(scope.get("route"), "path", "unmatched"))
            return
        except Exception:
            log.exception(
                "unexpected error on %s", getattr(scope.get("route"), "path", "unmatched")
            )
            if started:
                raise
            await send_response(
                send,
                500,
                self.render().encode(),
                b"text/html; charset=utf-8",
                ((b"cache-control", b"no-store"),),
            )


class BodyTimedOut(Exception):
    """The client did not send its request body in time."""


class BodyTimeout:
    """Drops a request whose body does not arrive within `seconds` of the first read (408).

    Without it a client that sends headers and then stalls holds a connection and a
    worker for as long as it likes.
    """

    def __init__(self, app: ASGIApp, seconds: float, render: Callable[[], str]):
        self.app = app
        self.seconds = seconds
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watch)
        except BodyTimedOut:
            log.info("request body not received within %g s: dropped", self.seconds)
            if not started:
                await send_response(
                    send,
                    408,
                    self.render().encode(),
                    b"text/html; charset=utf-8",
                    ((b"connection", b"close"), (b"cache-control", b"no-store")),
                )
