"""SendGrid's Event Webhook: signature and freshness, suppressions, ledger updates, idempotency."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from cxops.collect import create_app
from cxops.collect.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from cxops.store.db import open_store
from cxops.store.models import Send, Suppression, WebhookEvent
from cxops.testing.collect import add_send, client_for


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
    def __init__(self, project, store_url, public_key=None):
        self.settings = project.settings(
            database_url=store_url, sendgrid_webhook_public_key=public_key
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
        ("dropped", {"reason": "Bounced Address"}, "bounced"),
        ("spamreport", {}, "spam"),
        ("unsubscribe", {}, "unsubscribed"),
        ("group_unsubscribe", {"asm_group_id": 7}, "unsubscribed"),
    ],
)
def test_suppressing_events(hook, event, extra, reason):
    reply = hook.client.post("/webhooks/sendgrid", json=[hook.event(event, "x1", **extra)])
    assert reply.json()["suppressed"] == 1
    assert hook.suppressions() == {"jane@example.com": (reason, "sendgrid")}


def test_a_blocked_bounce_is_recorded_but_suppresses_nobody(hook):
    reply = hook.client.post(
        "/webhooks/sendgrid", json=[hook.event("bounce", "b1", type="blocked")]
    )
    assert reply.json()["ignored"] == 1
    assert hook.suppressions() == {}


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
    for body in (b"not json", b'{"event": "open"}', b'[{"no": "event"}]'):
        reply = hook.client.post(
            "/webhooks/sendgrid", content=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 400
    assert hook.send().opened_at is None


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
