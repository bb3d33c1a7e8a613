"""Outbound webhooks' test support: a Standard Webhooks receiver on a loopback port, the
settings of one endpoint, the outbox's counts, follow-up tasks as facts.

It verifies every request with `standardwebhooks.Webhook(secret).verify(...)` the way a
real receiver would, records it, and answers as told: `ok` (204), a status code (500,
410, …), or `slow` (holds the request until the test ends, so the sender times out).
`stop()` closes the port (connection refused) and `start()` opens the same port again:
a receiver that is down, then back.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from cxops.schedule.processes import free_port
from cxops.settings import Settings, get_settings
from cxops.store import webhook_deliveries as outbox
from cxops.store.db import Store
from cxops.store.models import Task
from cxops.testing.followup import at

#: A Standard Webhooks secret (base64 of 32 bytes) the tests put in HOOK_SECRET.
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
#: When the tests' endpoint is first configured.
T0 = at("2026-12-01T09:00:00+00:00")
ALL_EVENTS = ["response.completed", "task.created", "task.closed", "person.unsubscribed"]


@dataclass(frozen=True, slots=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool
    answered: int | str


@dataclass
class WebhookReceiver:
    secret: str
    answer: int | str = "ok"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/cx"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(raw, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                answer = receiver.answer
                receiver.received.append(
                    Received(
                        headers.get("webhook-id", ""), headers, json.loads(raw), verified, answer
                    )
                )
                if answer == "slow":
                    receiver._release.wait(30)
                    answer = 204
                code = 204 if answer == "ok" else int(answer)
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._release = threading.Event()

    def ids(self, answered: int | str | None = None) -> list[str]:
        return [r.webhook_id for r in self.received if answered in (None, r.answered)]


def settings_for(store: Store, url: str, events: list[str] | None = None, **more: Any) -> Settings:
    """Settings with one endpoint at `url` signing with HOOK_SECRET."""
    return get_settings(
        database_url=store.url,
        webhooks=[{"url": url, "events": events or ALL_EVENTS, "secret_env": "HOOK_SECRET"}],
        **more,
    )


def counts(store: Store, endpoint: str) -> dict[str, int]:
    """The endpoint's deliveries by status (and `failing`), zeros left out."""
    with store.session() as session:
        found = outbox.counts(session).get(endpoint, {})
    return {name: count for name, count in found.items() if count}


def add_task(store: Store, response_id: int, key: str, created: datetime) -> int:
    """An open follow-up task about `key`'s response; its id."""
    with store.session(write=True) as session:
        task = Task(
            response_id=response_id,
            survey_id="nps",
            wave_id="2026-11",
            contact_key=key,
            segment="smb",
            rule_id="detractor",
            rule_version="v1",
            title=f"Call Customer {key}",
            assignee="csm.anna@acme.example",
            priority="high",
            status="open",
            context={},
            created_at=created,
            due_at=created + timedelta(days=2),
        )
        session.add(task)
        session.flush()
        return task.id
