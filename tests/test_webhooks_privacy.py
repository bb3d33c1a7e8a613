"""`forget` and `export person` reach the outbound webhooks: queued events about the
person never go out, a `person.erased` event does (contact keys, no address), and the
export lists the endpoints that received their data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cxops.privacy.access import person_record
from cxops.privacy.erase import forget_person
from cxops.privacy.subject import Subject
from cxops.store.db import Store
from cxops.store.models import WebhookDelivery
from cxops.testing.followup import add_response
from cxops.testing.webhooks import SECRET, T0, WebhookReceiver, counts, settings_for
from cxops.webhooks.run import send_webhooks

KEY = b"k" * 32


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    started = WebhookReceiver(SECRET).start()
    yield started
    started.stop()


def _rows(store: Store) -> list[WebhookDelivery]:
    with store.session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_forget_erases_queued_events_and_sends_person_erased(
    store: Store, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    settings = settings_for(store, receiver.url, ["response.completed", "person.erased"])
    assert send_webhooks(settings, store, now=T0).total("queued") == 0
    add_response(store, "c1", {"score": 9, "comment": "I am Ann"}, when=T0 + timedelta(minutes=1))
    add_response(store, "c2", {"score": 4}, when=T0 + timedelta(minutes=1))
    send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    receiver.answer = 500
    add_response(store, "c1", {"score": 3}, when=T0 + timedelta(minutes=3), wave="2026-12")
    send_webhooks(settings, store, now=T0 + timedelta(minutes=4))
    assert counts(store, receiver.url) == {"delivered": 2, "pending": 1, "failing": 1}

    subject = Subject.of("C1@customer.example", KEY)
    record = person_record(store, subject, folders=[])
    (sent,) = record["webhook_endpoints"]
    assert sent["endpoint"] == receiver.url and sent["events"] == {"response.completed": 1}

    report = forget_person(
        store,
        subject,
        now=T0 + timedelta(minutes=5),
        free_text={},
        folders=[tmp_path],
        webhooks=settings.webhooks,
        wait_seconds=5,
    )
    # Their delivered event keeps no payload, their queued one is erased, one is queued.
    assert report.counts["webhook_deliveries"] == 3
    assert counts(store, receiver.url) == {"delivered": 2, "erased": 1, "pending": 1}
    about_them = [row for row in _rows(store) if row.contact_key == subject.pseudonym]
    assert sorted((row.type, row.status) for row in about_them) == [
        ("person.erased", "pending"),
        ("response.completed", "delivered"),
        ("response.completed", "erased"),
    ]
    assert all(row.payload is None for row in about_them if row.type != "person.erased")
    assert not any("c1" in str(row.payload) for row in _rows(store) if row.type != "person.erased")
    assert person_record(store, subject, folders=[])["webhook_endpoints"] == []

    receiver.answer = "ok"
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=6))
    assert (run.total("queued"), run.total("delivered")) == (0, 1)  # nothing of theirs again
    erased = receiver.received[-1]
    assert erased.verified and erased.body["type"] == "person.erased"
    assert erased.body["data"] == {
        "contact_key": "c1",
        "contact_keys": ["c1"],
        "erased_at": "2026-12-01T09:05:00Z",
    }
    assert "customer.example" not in str(erased.body)
    assert counts(store, receiver.url) == {"delivered": 3, "erased": 1}
    # Delivered, the erasure event keeps no contact key either.
    assert all(row.payload is None for row in _rows(store) if row.contact_key == subject.pseudonym)
    # A repeated forget finds nothing to tell.
    again = forget_person(
        store,
        subject,
        now=T0 + timedelta(minutes=7),
        free_text={},
        folders=[tmp_path],
        webhooks=settings.webhooks,
        wait_seconds=5,
    )
    assert again.counts["webhook_deliveries"] == 0
    assert counts(store, receiver.url) == {"delivered": 3, "erased": 1}
