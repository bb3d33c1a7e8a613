"""SendGrid's Event Webhook: signature and freshness, suppressions, ledger updates, idempotency."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update

from cxops.collect import create_app
from cxops.collect.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from cxops.store.db import open_store
from cxops.store.models import Response, Send, Suppression, WebhookEvent
from cxops.testing.collect import add_send, client_for, invite

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def private_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_key_text(private_key) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def signed(private_key, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers as SendGrid sends them: ECDSA P-256/SHA-256 over timestamp + body, base64 DER."""
    signature = private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: str(timestamp),
        "Content-Type": "application/json",
    }


class Hook:
    def __init__(self, project, store_url, public_key=None, *, insecure=True):
        self.settings = project.settings(
            database_url=store_url,
            sendgrid_webhook_public_key=public_key,
            sendgrid_webhook_insecure=insecure if public_key is None else None,
        )
        self.store = open_store(store_url)
        self.client = client_for(create_app(self.settings, store=self.store))
        self.now = self.settings.clock()
        self.send_id = add_send(
            self.store,
            survey_id="nps-quarterly",
            contact_key="c1",
            email="jane@example.com",
            sent_at=self.now - timedelta(hours=1),
        )

    def event(self, name, event_id, **fields):
        return {
            "event": name,
            "email": "jane@example.com",
            "timestamp": int(self.now.timestamp()) - 60,
            "sg_event_id": event_id,
            "send_id": self.send_id,
            "survey": "nps-quarterly",
            **fields,
        }

    def send(self) -> Send:
        with self.store.session() as session:
            return session.scalar(select(Send).where(Send.send_id == self.send_id))

    def suppressions(self):
        with self.store.session() as session:
            return {s.email: (s.reason, s.source) for s in session.scalars(select(Suppression))}


@pytest.fixture
def hook(project, store_url):
    made = Hook(project, store_url)
    yield made
    made.store.dispose()


@pytest.fixture
def signed_hook(project, store_url, private_key):
    made = Hook(project, store_url, public_key_text(private_key))
    yield made
    made.store.dispose()


def test_delivered_open_click_update_the_ledger_once(hook):
    first = int(hook.now.timestamp()) - 300
    events = [
        hook.event("delivered", "e1", timestamp=first),
        hook.event("open", "e2", timestamp=first + 10),
        hook.event("click", "e3", timestamp=first + 20, url="https://x.example"),
        hook.event("open", "e4", timestamp=first + 99),
    ]
    reply = hook.client.post("/webhooks/sendgrid", json=events)
    assert reply.status_code == 200
    assert reply.json()["sends_updated"] == 3
    send = hook.send()
    assert int(send.delivered_at.timestamp()) == first
    assert int(send.opened_at.timestamp()) == first + 10
    assert int(send.clicked_at.timestamp()) == first + 20


@pytest.mark.parametrize(
    ("event", "extra", "reason"),
    [
        ("bounce", {"type": "bounce"}, "bounced"),
        ("spamreport", {}, "spam"),
        ("unsubscribe", {}, "unsubscribed"),
        ("group_unsubscribe", {"asm_group_id": 7}, "unsubscribed"),
        # SendGrid's documented drop reasons (Event Webhook reference, "dropped")
        ("dropped", {"reason": "Bounced Address"}, "bounced"),
        ("dropped", {"reason": "Unsubscribed Address"}, "unsubscribed"),
        ("dropped", {"reason": "Spam Reporting Address"}, "spam"),
        ("dropped", {"reason": "Invalid"}, "bounced"),
        ("dropped", {"reason": "Invalid SMTPAPI header"}, None),
        ("dropped", {"reason": "Spam Content"}, None),
        ("dropped", {"reason": "Recipient List over Package Quota"}, None),
        ("dropped", {"reason": "Something new"}, None),
    ],
)
def test_suppressing_events(hook, event, extra, reason):
    reply = hook.client.post("/webhooks/sendgrid", json=[hook.event(event, "x1", **extra)])
    assert reply.status_code == 200
    if reason is None:
        assert (reply.json()["suppressed"], reply.json()["recorded"]) == (0, 1)
        assert hook.suppressions() == {}
    else:
        assert reply.json()["suppressed"] == 1
        assert hook.suppressions() == {"jane@example.com": (reason, "sendgrid")}
    with hook.store.session() as session:
        [row] = session.scalars(select(WebhookEvent))
    assert (row.event, row.send_id) == (event, hook.send_id)
    if event == "dropped":
        assert row.detail == extra["reason"]


def test_a_blocked_bounce_is_recorded_but_suppresses_nobody(hook):
    reply = hook.client.post(
        "/webhooks/sendgrid", json=[hook.event("bounce", "b1", type="blocked")]
    )
    assert reply.json()["recorded"] == 1
    assert hook.suppressions() == {}
    with hook.store.session() as session:
        [row] = session.scalars(select(WebhookEvent))
    assert row.detail.startswith("blocked: a temporary block")


def test_events_are_applied_once_by_sg_event_id(hook):
    events = [hook.event("delivered", "d1"), hook.event("spamreport", "s1")]
    assert hook.client.post("/webhooks/sendgrid", json=events).json()["duplicates"] == 0
    delivered = hook.send().delivered_at
    later = hook.event("delivered", "d1", timestamp=int(hook.now.timestamp()))
    again = hook.client.post("/webhooks/sendgrid", json=[later, events[1]]).json()
    assert again["duplicates"] == 2
    assert hook.send().delivered_at == delivered
    with hook.store.session() as session:
        assert sorted(session.scalars(select(WebhookEvent.event_id))) == ["d1", "s1"]


def test_custom_args_nested_and_unknown_sends_are_tolerated(hook):
    nested = hook.event("open", "n1")
    nested["custom_args"] = {"send_id": nested.pop("send_id")}
    stranger = hook.event("open", "n2", send_id="nosuchsend")
    reply = hook.client.post("/webhooks/sendgrid", json=[nested, stranger]).json()
    assert (reply["sends_updated"], reply["ignored"]) == (1, 1)


def test_malformed_bodies_are_400_and_change_nothing(hook):
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (b"not json", b'{"event": "open"}', deep, b"[" * 100_000):
        reply = hook.client.post(
            "/webhooks/sendgrid", content=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 400, body[:20]
    assert hook.send().opened_at is None


def test_a_malformed_item_is_kept_aside_and_the_valid_ones_are_applied(hook):
    from cxops.store.models import WebhookReject

    events = [
        {"no": "event"},
        hook.event("open", "o1"),
        "not an object",
        hook.event("delivered", "d1", email=["a", "list"]),
        hook.event("spamreport", "s1"),
    ]
    reply = hook.client.post("/webhooks/sendgrid", json=events)
    assert reply.status_code == 200  # SendGrid must not retry the valid events
    body = reply.json()
    assert (body["received"], body["rejected"], body["suppressed"]) == (5, 3, 1)
    assert hook.send().opened_at is not None and hook.send().delivered_at is None
    with hook.store.session() as session:
        rejects = session.scalars(select(WebhookReject).order_by(WebhookReject.id)).all()
    assert [r.reason for r in rejects] == [
        "item 0: expected an 'event' name",
        "item 2: expected an object, found str",
        "item 3: expected 'email' to be an address",
    ]
    assert json.loads(rejects[0].item) == {"no": "event"}


def test_unsigned_events_are_refused_unless_the_operator_opted_in(project, store_url):
    strict = Hook(project, store_url, insecure=False)
    try:
        reply = strict.client.post("/webhooks/sendgrid", json=[strict.event("spamreport", "s")])
        assert reply.status_code == 403
        assert "CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY" in reply.json()["error"]
        assert strict.suppressions() == {}
    finally:
        strict.store.dispose()


def test_the_serve_command_says_which_mode_it_is_in(project):
    from cxops.collect.webhooks import webhook_mode

    assert webhook_mode(project.settings()).startswith("SendGrid events: refused")
    insecure = webhook_mode(project.settings(sendgrid_webhook_insecure=True))
    assert "INSECURE" in insecure
    signed_mode = webhook_mode(project.settings(sendgrid_webhook_public_key="x"))
    assert signed_mode.startswith("SendGrid events: signed events only")


def test_events_for_addresses_never_mailed_are_ignored_and_keep_no_address(hook):
    stranger = hook.event("bounce", "x1", type="bounce", email="victim@else.example")
    stranger.pop("send_id")
    forged = hook.event("spamreport", "x2", email="victim@else.example")  # our send id
    reply = hook.client.post("/webhooks/sendgrid", json=[stranger, forged]).json()
    assert (reply["ignored"], reply["suppressed"]) == (2, 0)
    assert hook.suppressions() == {}
    with hook.store.session() as session:
        rows = session.scalars(select(WebhookEvent)).all()
    assert [(r.email, r.send_id) for r in rows] == [(None, None), (None, None)]


def test_recorded_sendgrid_payloads_reach_the_ledger_by_message_id_whatever_the_case(hook):
    """The event shapes of SendGrid's Event Webhook reference (tests/data), carrying only
    `sg_message_id` (no custom args), with the address in other letter case."""
    with hook.store.session() as session:
        session.execute(
            update(Send)
            .where(Send.send_id == hook.send_id)
            .values(provider_id="14c5d75ce93.dfd.64b469")
        )
    recorded = json.loads((DATA / "sendgrid_events.json").read_text())
    for item in recorded:
        item["email"] = "JANE@Example.com"
    by_event = {item["event"]: item for item in recorded}
    first = [by_event[name] for name in ("processed", "deferred", "delivered", "open", "click")]
    reply = hook.client.post("/webhooks/sendgrid", json=first).json()
    assert reply["sends_updated"] == 3
    assert hook.send().delivered_at is not None and hook.send().clicked_at is not None
    reply = hook.client.post("/webhooks/sendgrid", json=[by_event["group_unsubscribe"]]).json()
    assert hook.suppressions() == {"jane@example.com": ("unsubscribed", "sendgrid")}
    reply = hook.client.post("/webhooks/sendgrid", json=[by_event["group_resubscribe"]]).json()
    assert reply["resubscribed"] == 1 and hook.suppressions() == {}
    blocked = next(i for i in recorded if i["event"] == "bounce" and i["type"] == "blocked")
    assert hook.client.post("/webhooks/sendgrid", json=[blocked]).json()["recorded"] == 1
    assert hook.suppressions() == {}
    dropped = hook.client.post("/webhooks/sendgrid", json=[by_event["dropped"]]).json()
    assert dropped["suppressed"] == 1
    assert hook.suppressions() == {"jane@example.com": ("bounced", "sendgrid")}


def test_signed_and_fresh_requests_are_accepted(signed_hook, private_key):
    body = json.dumps([signed_hook.event("spamreport", "s1")]).encode()
    headers = signed(private_key, body, int(signed_hook.now.timestamp()) - 30)
    reply = signed_hook.client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert reply.status_code == 200
    assert signed_hook.suppressions() == {"jane@example.com": ("spam", "sendgrid")}


def test_unsigned_badly_signed_stale_or_altered_requests_are_refused(signed_hook, private_key):
    body = json.dumps([signed_hook.event("spamreport", "s1")]).encode()
    fresh = int(signed_hook.now.timestamp())
    other_key = ec.generate_private_key(ec.SECP256R1())
    attempts = [
        {"Content-Type": "application/json"},
        signed(other_key, body, fresh),
        signed(private_key, body, fresh - 6 * 60),
        signed(private_key, body, fresh + 6 * 60),
        {**signed(private_key, body, fresh), SIGNATURE_HEADER: "not base64!"},
        {**signed(private_key, body, fresh), TIMESTAMP_HEADER: "soon"},
    ]
    for headers in attempts:
        reply = signed_hook.client.post("/webhooks/sendgrid", content=body, headers=headers)
        assert reply.status_code == 403, headers
    altered = body.replace(b"spamreport", b"unsubscribe")
    reply = signed_hook.client.post(
        "/webhooks/sendgrid", content=altered, headers=signed(private_key, body, fresh)
    )
    assert reply.status_code == 403
    assert signed_hook.suppressions() == {}
    with signed_hook.store.session() as session:
        assert session.scalars(select(WebhookEvent)).all() == []


def test_a_timestamp_header_of_other_than_ascii_digits_is_refused(signed_hook, private_key):
    """SendGrid writes Unix seconds; '1_7…' (which int() reads), a year past 9999 and a
    number too long for int() are refused with 403, though the signature over them holds."""
    body = json.dumps([signed_hook.event("spamreport", "s1")]).encode()
    fresh = int(signed_hook.now.timestamp())
    grouped = f"{fresh:_}"
    for stamp in (grouped, "253402300800", "9" * 5000):
        signature = private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        headers = {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }
        reply = signed_hook.client.post("/webhooks/sendgrid", content=body, headers=headers)
        assert reply.status_code == 403, stamp[:20]
    assert signed_hook.suppressions() == {}


@pytest.mark.slow
def test_an_answer_posted_during_a_large_batch_is_stored_on_sqlite(project, monkeypatch):
    """Invariant: a batch of thousands of events is applied in short transactions, so an answer
    posted meanwhile gets SQLite's write lock (200, stored) instead of waiting out the
    busy timeout (503) behind one transaction holding it for the whole batch."""
    from cxops.store import db
    from cxops.store import events as store_events

    # How long an answer waits for the lock: SQLite's busy handler polls, so on a loaded
    # machine it may miss a few gaps between the batch's transactions. One transaction
    # for the whole batch still fails the test: the answer would be stored after it.
    monkeypatch.setattr(db, "SQLITE_BUSY_MS", 10_000)
    settings = project.settings()
    hook = Hook(project, settings.store_url)
    person = invite(
        hook.store,
        settings.signing_key(),
        survey_id="nps-quarterly",
        contact_key="k2",
        email="ann@example.com",
        sent_at=hook.now - timedelta(hours=1),
    )
    started = threading.Event()
    claim = store_events._claim

    def claim_and_tell(*args):
        started.set()
        return claim(*args)

    monkeypatch.setattr(store_events, "_claim", claim_and_tell)
    batch = [hook.event("open", f"e{index}") for index in range(4_000)]
    replies = {}
    try:
        with hook.client as client:

            def post_batch():
                replies["batch"] = client.post("/webhooks/sendgrid", json=batch)

            applying = threading.Thread(target=post_batch)
            applying.start()
            assert started.wait(120), "the batch was never applied"
            answer = client.post(
                person.answer_path, data={"score": "9"}, headers={"Accept": "application/json"}
            )
            batch_still_running = applying.is_alive()
            applying.join(600)
        assert answer.status_code == 200, answer.text
        assert batch_still_running  # the answer was stored between two of its transactions
        assert replies["batch"].status_code == 200
        assert replies["batch"].json()["received"] == 4_000
        with hook.store.session() as session:
            assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 4_000
            assert session.scalars(select(Response.answers)).all() == [{"score": 9}]
    finally:
        hook.store.dispose()
