"""One webhooks run: queue what happened since each endpoint's cursor, post what is due.

Per endpoint, in order: the scan and the queueing commit together with the cursor's
move (a crash between them queues nothing and moves nothing). Then due deliveries are
claimed in batches and posted one by one; each result is committed before the next
post. A failed attempt (see `cxops.webhooks.post`) ends the endpoint's turn in this
run (the rest of its batch is released untried), so a receiver that is down or slow
costs one attempt per run, not one per queued event; its deliveries wait, none is lost.
A 410 Gone makes that delivery dead and disables the endpoint. An endpoint whose URL
or secret variable is missing or malformed is skipped with its error recorded: its
deliveries keep waiting, their attempts untouched.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from cxops.settings import Settings
from cxops.settings.groups import WebhookEndpoint
from cxops.store import webhook_deliveries as outbox
from cxops.store.db import Store
from cxops.webhooks.post import post
from cxops.webhooks.retries import next_attempt
from cxops.webhooks.scan import events_since
from cxops.webhooks.signing import check_secret

#: Deliveries claimed at a time per endpoint.
BATCH = 100
#: How often the loop runs: the retry schedule's shortest waits round up to it.
WEBHOOKS_INTERVAL_SECONDS = 60


@dataclass(slots=True)
class EndpointRun:
    endpoint: str
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    disabled: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "queued": self.queued,
            "delivered": self.delivered,
            "failed": self.failed,
            "dead": self.dead,
            "disabled": self.disabled,
            "error": self.error,
        }


@dataclass(slots=True)
class WebhookRun:
    now: datetime
    endpoints: list[EndpointRun] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(run, name)) for run in self.endpoints)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            **{name: self.total(name) for name in ("queued", "delivered", "failed", "dead")},
            "endpoints": [run.as_dict() for run in self.endpoints],
        }


def send_webhooks(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    wall_clock: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> WebhookRun:
    """Queue and post for every configured endpoint. `now` (default the settings' clock)
    decides what is due; `wall_clock` (default the real time) stamps signatures, which
    receivers check against their own clock."""
    now = now or settings.clock()
    wall = wall_clock or (lambda: datetime.now(UTC))
    run = WebhookRun(now)
    endpoints = settings.webhooks
    if not endpoints:
        return run
    with store.session(write=True) as session:
        outbox.ensure_endpoints(session, [e.name for e in endpoints], now)
    for endpoint in endpoints:
        result = EndpointRun(endpoint.name)
        run.endpoints.append(result)
        with store.session(write=True) as session:
            state = outbox.endpoint_states(session)[endpoint.name]
            if state.disabled_at is not None:
                result.disabled = True
                result.error = state.disabled_reason
                continue
            events = events_since(
                session,
                endpoint,
                first=state.created_at,
                since=state.scanned_until,
                until=now,
                personal=settings.sync.personal_data,
                key=settings.signing_key(),
            )
            result.queued = outbox.enqueue(session, events)
            outbox.advance_cursor(session, endpoint.name, now)
        _deliver(settings, store, endpoint, now, wall, transport, result)
    return run


def target_of(endpoint: WebhookEndpoint, environ: dict[str, str]) -> tuple[str, Webhook]:
    """The URL and signer of `endpoint` from the environment, or a ValueError in one line."""
    url = endpoint.url
    if endpoint.url_env is not None:
        url = environ.get(endpoint.url_env) or None
        if url is None:
            raise ValueError(f"environment variable {endpoint.url_env} (its URL) is not set")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"environment variable {endpoint.url_env}: expected an http(s):// URL")
    secret = environ.get(endpoint.secret_env)
    if not secret:
        raise ValueError(f"environment variable {endpoint.secret_env} (its secret) is not set")
    assert url is not None  # the settings hold exactly one of url and url_env
    return url, check_secret(secret, endpoint.secret_env)


def _deliver(
    settings: Settings,
    store: Store,
    endpoint: WebhookEndpoint,
    now: datetime,
    wall: Callable[[], datetime],
    transport: httpx.BaseTransport | None,
    result: EndpointRun,
) -> None:
    try:
        url, signer = target_of(endpoint, dict(os.environ))
    except ValueError as exc:
        result.error = str(exc)
    with store.session(write=True) as session:
        outbox.set_endpoint_error(session, endpoint.name, result.error)
    if result.error is not None:
        return
    timeout = settings.webhook_timeout
    lease = timedelta(seconds=BATCH * timeout + 60)
    with store.session(write=True) as session:
        batch = outbox.claim_due(session, endpoint.name, now, limit=BATCH, lease=lease)
    if not batch:
        return
    with httpx.Client(
        timeout=timeout, transport=transport, follow_redirects=False, verify=_tls_context()
    ) as client:
        while batch:
            for index, claimed in enumerate(batch):
                attempt = post(client, url, signer, claimed.delivery_id, claimed.payload, wall())
                with store.session(write=True) as session:
                    if attempt.outcome == "delivered":
                        outbox.record_delivered(session, claimed.id, now, claimed.type)
                        result.delivered += 1
                        continue
                    later = (
                        None
                        if attempt.outcome == "gone"
                        else next_attempt(claimed.attempts + 1, now)
                    )
                    outbox.record_failed(session, claimed.id, attempt.error or "failed", later)
                    outbox.release(session, [c.id for c in batch[index + 1 :]], now)
                    result.failed += 1
                    result.dead += later is None
                    result.error = attempt.error
                    if attempt.outcome == "gone":
                        outbox.disable_endpoint(
                            session, endpoint.name, now, f"{attempt.error} at {now.isoformat()}"
                        )
                        result.disabled = True
                return
            with store.session(write=True) as session:
                batch = outbox.claim_due(session, endpoint.name, now, limit=BATCH, lease=lease)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CA certificates, loaded once per process (a quarter second each)."""
    return ssl.create_default_context()


def webhooks_deployment(entrypoints: str, work_pool: str) -> dict[str, Any]:
    """The every-minute loop as a `prefect.yaml` deployment (the shape `cxops deploy`
    writes); `entrypoints` is the module exporting `webhooks_flow`."""
    return {
        "name": "webhooks",
        "description": "Signed events to the project's webhook endpoints (docs/webhooks.md).",
        "entrypoint": f"{entrypoints}:webhooks_flow",
        "tags": ["cxops", "webhooks"],
        "schedules": [{"interval": WEBHOOKS_INTERVAL_SECONDS}],
        "work_pool": {"name": work_pool},
    }
