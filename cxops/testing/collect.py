"""Ledger rows and links for tests, benchmarks and demos of the collector.

The wave engine writes real sends; these helpers write the same rows directly so the
collector can be exercised without running a wave.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cxops.messages.tokens import make_token
from cxops.store.db import Store
from cxops.store.models import Send


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """A sent invitation's id and the paths of its links (relative to the public URL)."""

    send_id: str
    email: str
    answer_path: str
    unsubscribe_path: str
    honeypot_path: str


def add_send(
    store: Store,
    *,
    survey_id: str,
    contact_key: str,
    email: str,
    sent_at: datetime,
    locale: str = "en",
    segment: str = "other",
    wave_id: str = "w1",
    step: int = 0,
    contact: dict[str, Any] | None = None,
) -> str:
    """Insert a `sent` ledger row and return its random send id."""
    send_id = secrets.token_hex(12)
    with store.session(write=True) as session:
        session.add(
            Send(
                send_id=send_id,
                survey_id=survey_id,
                wave_id=wave_id,
                step=step,
                contact_key=contact_key,
                email=email,
                segment=segment,
                locale=locale,
                contact={"key": contact_key, "email": email, "locale": locale, **(contact or {})},
                status="sent",
                created_at=sent_at,
                sent_at=sent_at,
                channel="outbox",
            )
        )
    return send_id


def links(key: bytes, send_id: str, email: str, expires_at: datetime) -> SentInvitation:
    """The answer, unsubscribe and honeypot paths of a send, signed with `key`."""
    return SentInvitation(
        send_id=send_id,
        email=email,
        answer_path="/a/" + make_token(key, "answer", send_id, expires_at),
        unsubscribe_path="/u/" + make_token(key, "unsubscribe", send_id, expires_at),
        honeypot_path="/h/" + make_token(key, "honeypot", send_id, expires_at),
    )


def invite(
    store: Store,
    key: bytes,
    *,
    survey_id: str,
    contact_key: str,
    email: str,
    sent_at: datetime,
    valid_for: timedelta = timedelta(days=14),
    **fields: Any,
) -> SentInvitation:
    """`add_send` and its links in one step."""
    send_id = add_send(
        store, survey_id=survey_id, contact_key=contact_key, email=email, sent_at=sent_at, **fields
    )
    return links(key, send_id, email, sent_at + valid_for)


def invite_many(store: Store, settings: Any, count: int, domain: str) -> list[SentInvitation]:
    """`count` sent invitations of the example project's NPS survey (contacts `k0`…,
    addresses `p0@DOMAIN`…), sent an hour before the settings' clock."""
    sent_at = settings.clock() - timedelta(hours=1)
    return [
        invite(
            store,
            settings.signing_key(),
            survey_id="nps-quarterly",
            contact_key=f"k{index}",
            email=f"p{index}@{domain}",
            sent_at=sent_at,
        )
        for index in range(count)
    ]


def invited_person(settings: Any) -> SentInvitation:
    """One sent invitation of the example project's NPS survey (`person@example.com`,
    sent an hour before the settings' clock), written into the settings' store."""
    from cxops.store.db import open_store

    store = open_store(settings.store_url)
    try:
        return invite(
            store,
            settings.signing_key(),
            survey_id="nps-quarterly",
            contact_key="k1",
            email="person@example.com",
            sent_at=settings.clock() - timedelta(hours=1),
        )
    finally:
        store.dispose()


@dataclass(frozen=True, slots=True)
class ServeProcess:
    """A `cxops serve` process: its base URL and the file its output goes to."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_process(
    root: Path,
    env: Mapping[str, str] | None = None,
    *,
    wrapper: Sequence[str] = (),
    max_open_files: int | None = None,
) -> Iterator[ServeProcess]:
    """`cxops serve` in its own process in the project `root`, on a free loopback port,
    yielded once it answers HTTP (whatever `/healthz` says); SIGTERM at the end.
    `wrapper`: a command to run it under (e.g. `setpriv …`); `max_open_files`: its
    descriptor limit (`ulimit -n`)."""
    import httpx

    def limit_open_files() -> None:
        import resource

        if max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

    from cxops.schedule.processes import free_port

    port = free_port()
    log = root / f"serve-{port}.out"
    argv = [*wrapper, sys.executable, "-m", "cxops", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*argv, "--port", str(port)],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=limit_open_files if max_open_files is not None else None,
    )
    served = ServeProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, served.output()
            try:
                httpx.get(f"{served.base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (
                    "cxops serve did not come up: " + served.output()
                )
                time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


@contextmanager
def serving(app: Any, **config: Any) -> Iterator[int]:
    """uvicorn serving `app` in a thread of this process (`config`: more of uvicorn's
    options); yields its loopback port once it is started."""
    import threading

    import uvicorn

    from cxops.schedule.processes import free_port

    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "log_level": "warning", **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the collector did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client_for(app: Any, **options: Any) -> Any:
    """A `fastapi.testclient.TestClient` for `app` (its httpx deprecation notice muted)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

        return TestClient(app, **options)


#: An interview study with a screener (admins only), consent, incentive and a booking link;
#: its file is `surveys/talk.yaml` in a test project.
INTERVIEW_STUDY = """\
id: talk
name: Talk to us
kind: interview
audience:
  source: {csv: data/customers.csv, key: id}
questions:
  - {id: role, type: single, text: "Your role?", options: [Admin, Viewer]}
interview:
  goal: 2
  batch: 5
  duration: 45m
  incentive: "A $40 voucher"
  booking_url: "https://book.example/slots"
  consent: "We record the call and delete it after 90 days."
  screen: "answers.role == 'Admin'"
invitation:
  template: interview_invite
  from: "Research <research@acme.example>"
  locales: [en, de]
followup:
  - when: "answers.accepted"
    task: "Confirm the slot with {{ contact.email }}"
    assign_to: research-ops@acme.example
    due: 1 business day
"""


async def post_answers(base: str, posts: Sequence[tuple[str, int]]) -> list[int]:
    """POST each (answer path, score) at once to the collector at `base`; the statuses."""
    import asyncio

    import httpx

    limits = httpx.Limits(max_connections=len(posts), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one(path: str, score: int) -> int:
            reply = await client.post(
                path, data={"score": str(score)}, headers={"Accept": "application/json"}
            )
            return reply.status_code

        return list(await asyncio.gather(*(one(path, score) for path, score in posts)))
