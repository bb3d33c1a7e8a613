"""Outbound webhooks against real HTTP receivers on loopback ports, on SQLite and PostgreSQL.

Every receiver verifies the Standard Webhooks signature itself (`Webhook(secret).verify`);
time moves by passing `now` (the store's clock), signatures carry the real time (the
receiver checks it against its own clock). The outbox's counts are checked after each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from cxops.settings import Settings, get_settings
from cxops.store import webhook_deliveries as outbox
from cxops.store.db import Store
from cxops.store.models import Task, WebhookDelivery
from cxops.store.suppressions import suppress
from cxops.testing.followup import add_response
from cxops.testing.webhooks import (
    SECRET,
    T0,
    WebhookReceiver,
    add_task,
    counts,
    settings_for,
)
from cxops.webhooks.retries import MAX_ATTEMPTS, RETRY_DELAYS
from cxops.webhooks.run import send_webhooks
from cxops.webhooks.scan import events_since


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    started = WebhookReceiver(SECRET).start()
    yield started
    started.stop()


def close_task(store: Store, task_id: int, when: datetime) -> None:
    with store.session(write=True) as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.status, task.outcome, task.closed_at = "done", "resolved", when


def start(settings: Settings, store: Store) -> None:
    """The endpoint's first run: it is configured from T0 on (nothing before is sent)."""
    assert send_webhooks(settings, store, now=T0).total("queued") == 0


def test_a_completed_response_is_posted_signed_and_keyed_by_contact_key(
    store: Store, receiver: WebhookReceiver
) -> None:
    settings = settings_for(store, receiver.url)
    add_response(store, "before", {"score": 9}, when=T0 - timedelta(minutes=1))
    start(settings, store)
    add_response(store, "c1", {"score": 3, "comment": "slow"}, when=T0 + timedelta(minutes=1))
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    assert (run.total("queued"), run.total("delivered")) == (1, 1)
    assert counts(store, receiver.url) == {"delivered": 1}
    (got,) = receiver.received
    assert got.verified
    assert got.webhook_id.startswith("msg_")
    assert got.body["type"] == "response.completed"
    assert got.body["timestamp"] == "2026-12-01T09:01:00Z"
    data = got.body["data"]
    assert data["contact_key"] == "c1" and data["answers"] == {"score": 3, "comment": "slow"}
    assert "email" not in data and "name" not in data
    # A second run with nothing new posts nothing; the same fact seen again is not queued.
    again = send_webhooks(settings, store, now=T0 + timedelta(minutes=3))
    assert (again.total("queued"), again.total("delivered")) == (0, 0)
    assert len(receiver.received) == 1


def test_personal_data_only_when_the_project_says_so(
    store: Store, receiver: WebhookReceiver
) -> None:
    settings = settings_for(
        store,
        receiver.url,
        ["response.completed", "person.unsubscribed"],
        sync={"personal_data": True},
    )
    start(settings, store)
    add_response(store, "c1", {"score": 10}, when=T0 + timedelta(minutes=1))
    with store.session(write=True) as session:
        for email in ("c1@customer.example", "never.invited@customer.example"):
            suppress(session, email, "unsubscribed", source="link", now=T0 + timedelta(minutes=1))
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    assert run.total("delivered") == 2  # no contact key for someone never invited: no event
    completed, unsubscribed = sorted(receiver.received, key=lambda r: r.body["type"])[::-1]
    assert completed.body["data"]["email"] == "c1@customer.example"
    assert completed.body["data"]["name"] == "Customer c1"
    assert unsubscribed.body["data"]["email"] == "c1@customer.example"
    with store.session() as session:
        keys = list(session.scalars(select(WebhookDelivery.event_key)))
    assert not any("customer.example" in key for key in keys)  # the outbox's keys hold none


def test_a_receiver_down_for_an_hour_misses_nothing(
    store: Store, receiver: WebhookReceiver
) -> None:
    settings = settings_for(store, receiver.url)
    start(settings, store)
    receiver.stop()  # connection refused from now on
    response_id = add_response(store, "c1", {"score": 2}, when=T0 + timedelta(minutes=1))
    task_id = add_task(store, response_id, "c1", T0 + timedelta(minutes=1))
    close_task(store, task_id, T0 + timedelta(minutes=20))
    with store.session(write=True) as session:
        suppress(
            session,
            "c1@customer.example",
            "unsubscribed",
            source="link",
            now=T0 + timedelta(minutes=30),
        )
    expected = {1: 2, 21: 3, 31: 4}  # minute -> events queued so far
    queued = 0
    for minute in range(1, 61, 10):
        run = send_webhooks(settings, store, now=T0 + timedelta(minutes=minute))
        queued += run.total("queued")
        assert queued == max(n for m, n in expected.items() if m <= minute)
        assert run.total("delivered") == 0 and run.total("failed") == 1  # one probe a run
        assert counts(store, receiver.url)["pending"] == queued
        assert "connection" in (run.endpoints[0].error or "").lower() or "Connect" in (
            run.endpoints[0].error or ""
        )
    receiver.start()
    back = send_webhooks(settings, store, now=T0 + timedelta(minutes=62))
    # Everything due went out; the ones tried during the outage wait for their backoff.
    delivered_now = back.total("delivered")
    state = counts(store, receiver.url)
    assert state["delivered"] == delivered_now and delivered_now >= 1
    assert state["pending"] == 4 - delivered_now and state["failing"] == state["pending"]
    later = send_webhooks(settings, store, now=T0 + timedelta(hours=4))
    assert later.total("delivered") == 4 - delivered_now
    assert counts(store, receiver.url) == {"delivered": 4}
    types = sorted(r.body["type"] for r in receiver.received)
    assert types == ["person.unsubscribed", "response.completed", "task.closed", "task.created"]
    assert all(r.verified for r in receiver.received)
    unsubscribed = next(r for r in receiver.received if r.body["type"] == "person.unsubscribed")
    assert unsubscribed.body["data"]["contact_key"] == "c1"
    assert "email" not in unsubscribed.body["data"]
    assert len(set(receiver.ids())) == 4  # one id per event


def test_a_500_is_retried_with_the_same_delivery_id(
    store: Store, receiver: WebhookReceiver
) -> None:
    settings = settings_for(store, receiver.url, ["task.created"])
    start(settings, store)
    response_id = add_response(store, "c1", {"score": 1}, when=T0)
    add_task(store, response_id, "c1", T0 + timedelta(seconds=30))
    receiver.answer = 500
    first = send_webhooks(settings, store, now=T0 + timedelta(minutes=1))
    assert first.total("failed") == 1 and first.endpoints[0].error == "HTTP 500"
    assert counts(store, receiver.url) == {"pending": 1, "failing": 1}
    # Not due before its 5 s backoff ended.
    early = send_webhooks(settings, store, now=T0 + timedelta(minutes=1, seconds=4))
    assert early.total("failed") == 0 and len(receiver.received) == 1
    receiver.answer = "ok"
    second = send_webhooks(settings, store, now=T0 + timedelta(minutes=1, seconds=5))
    assert second.total("delivered") == 1
    assert counts(store, receiver.url) == {"delivered": 1}
    assert [r.answered for r in receiver.received] == [500, "ok"]
    assert receiver.ids(500) == receiver.ids("ok")  # at least once, one id
    assert all(r.verified for r in receiver.received)
    with store.session() as session:
        row = session.scalars(select(WebhookDelivery)).one()
    assert (row.attempts, row.delivery_id) == (2, receiver.ids()[0])


def test_a_slow_receiver_times_out_and_gets_it_later(
    store: Store, receiver: WebhookReceiver
) -> None:
    settings = settings_for(store, receiver.url, ["response.completed"], webhook_timeout=0.3)
    start(settings, store)
    add_response(store, "c1", {"score": 8}, when=T0 + timedelta(seconds=10))
    receiver.answer = "slow"
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=1))
    assert run.total("failed") == 1 and run.endpoints[0].error == "no answer within 0.3 s"
    assert counts(store, receiver.url) == {"pending": 1, "failing": 1}
    receiver.answer = "ok"
    retry = send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    assert retry.total("delivered") == 1 and counts(store, receiver.url) == {"delivered": 1}
    assert receiver.ids("slow") == receiver.ids("ok")


def test_the_last_failed_attempt_makes_a_dead_letter_that_retry_sends_again(
    store: Store, receiver: WebhookReceiver
) -> None:
    from cxops.webhooks.admin import dead_letter_count, retry_dead_letters, webhook_status

    settings = settings_for(store, receiver.url, ["response.completed"])
    start(settings, store)
    add_response(store, "c1", {"score": 8}, when=T0 + timedelta(seconds=1))
    receiver.answer = 503
    moment = T0 + timedelta(seconds=1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        run = send_webhooks(settings, store, now=moment)
        assert run.total("failed") == 1, attempt
        if attempt < MAX_ATTEMPTS:
            assert counts(store, receiver.url) == {"pending": 1, "failing": 1}
            # Nothing goes out a second before the schedule says.
            moment += RETRY_DELAYS[attempt - 1]
            assert (
                send_webhooks(settings, store, now=moment - timedelta(seconds=1)).total("failed")
                == 0
            )
    assert run.total("dead") == 1
    assert counts(store, receiver.url) == {"dead": 1}
    assert len(receiver.received) == MAX_ATTEMPTS and len(set(receiver.ids())) == 1
    assert dead_letter_count(store) == {receiver.url: 1}
    (status,) = webhook_status(settings, store)
    assert status["dead"] == 1 and status["error"] == "HTTP 503"
    receiver.answer = "ok"
    assert retry_dead_letters(settings, store, endpoint=receiver.url, now=moment) == 1
    assert counts(store, receiver.url) == {"pending": 1}
    assert send_webhooks(settings, store, now=moment).total("delivered") == 1
    assert counts(store, receiver.url) == {"delivered": 1} and dead_letter_count(store) == {}


def test_410_gone_disables_the_endpoint_until_retry(
    store: Store, receiver: WebhookReceiver
) -> None:
    from cxops.webhooks.admin import retry_dead_letters, webhook_status

    settings = settings_for(store, receiver.url, ["response.completed"])
    start(settings, store)
    add_response(store, "c1", {"score": 8}, when=T0 + timedelta(seconds=1))
    add_response(store, "c2", {"score": 7}, when=T0 + timedelta(seconds=2))
    receiver.answer = 410
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=1))
    assert run.endpoints[0].disabled and run.total("dead") == 1
    assert counts(store, receiver.url) == {"dead": 1, "pending": 1}
    add_response(store, "c3", {"score": 6}, when=T0 + timedelta(minutes=5))
    # Disabled: nothing is posted, nothing more is queued (its cursor waits).
    quiet = send_webhooks(settings, store, now=T0 + timedelta(minutes=10))
    assert quiet.endpoints[0].disabled and quiet.total("queued") == 0
    assert len(receiver.received) == 1
    (status,) = webhook_status(settings, store)
    assert status["disabled"]["reason"].startswith("HTTP 410")
    receiver.answer = "ok"
    assert retry_dead_letters(settings, store, endpoint=None, now=T0 + timedelta(minutes=11)) == 1
    back = send_webhooks(settings, store, now=T0 + timedelta(minutes=11))
    assert (back.total("queued"), back.total("delivered")) == (1, 3)
    assert counts(store, receiver.url) == {"delivered": 3}
    keys = sorted(r.body["data"]["contact_key"] for r in receiver.received if r.answered == "ok")
    assert keys == ["c1", "c2", "c3"]


def test_a_missing_variable_or_a_bad_secret_waits_without_spending_attempts(
    store: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxops.webhooks.admin import webhook_status

    settings = settings_for(store, receiver.url, ["response.completed"])
    start(settings, store)
    add_response(store, "c1", {"score": 8}, when=T0 + timedelta(seconds=1))
    monkeypatch.delenv("HOOK_SECRET")
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=1))
    assert run.endpoints[0].error == "environment variable HOOK_SECRET (its secret) is not set"
    monkeypatch.setenv("HOOK_SECRET", "not-a-secret")
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    assert run.endpoints[0].error.startswith("environment variable HOOK_SECRET: expected")
    assert webhook_status(settings, store)[0]["error"] == run.endpoints[0].error
    assert counts(store, receiver.url) == {"pending": 1}  # not failing: never tried
    assert receiver.received == []
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert send_webhooks(settings, store, now=T0 + timedelta(minutes=3)).total("delivered") == 1
    assert webhook_status(settings, store)[0]["error"] is None


def test_url_env_is_read_at_delivery(
    store: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings(
        database_url=store.url,
        webhooks=[{"url_env": "HOOK_URL", "events": ["task.created"], "secret_env": "HOOK_SECRET"}],
    )
    start(settings, store)
    response_id = add_response(store, "c1", {"score": 1}, when=T0)
    add_task(store, response_id, "c1", T0 + timedelta(seconds=5))
    run = send_webhooks(settings, store, now=T0 + timedelta(minutes=1))
    assert run.endpoints[0].error == "environment variable HOOK_URL (its URL) is not set"
    assert counts(store, "env:HOOK_URL") == {"pending": 1}
    monkeypatch.setenv("HOOK_URL", receiver.url)
    assert send_webhooks(settings, store, now=T0 + timedelta(minutes=2)).total("delivered") == 1
    (got,) = receiver.received
    assert got.verified and got.body["data"]["rule"] == "detractor"
    assert "title" not in got.body["data"]  # a rule may write a name into it


def test_a_run_that_died_holding_a_claim_is_sent_again_after_its_lease(
    store: Store, receiver: WebhookReceiver
) -> None:
    from cxops.webhooks.run import BATCH

    settings = settings_for(store, receiver.url, ["response.completed"])
    start(settings, store)
    add_response(store, "c1", {"score": 5}, when=T0 + timedelta(seconds=1))
    with store.session(write=True) as session:
        (event,) = events_since(
            session,
            settings.webhooks[0],
            first=T0,
            since=T0,
            until=T0 + timedelta(minutes=1),
            personal=False,
            key=settings.signing_key(),
        )
        outbox.enqueue(session, [event])
        outbox.advance_cursor(session, receiver.url, T0 + timedelta(minutes=1))
    lease = timedelta(seconds=BATCH * settings.webhook_timeout + 60)
    with store.session(write=True) as session:  # a run claims it, then dies before posting
        (claimed,) = outbox.claim_due(
            session, receiver.url, T0 + timedelta(minutes=1), limit=BATCH, lease=lease
        )
    held = send_webhooks(settings, store, now=T0 + timedelta(minutes=2))
    assert held.total("delivered") == 0 and counts(store, receiver.url) == {"pending": 1}
    after = send_webhooks(settings, store, now=T0 + timedelta(minutes=1) + lease)
    assert after.total("delivered") == 1 and counts(store, receiver.url) == {"delivered": 1}
    assert receiver.ids() == [claimed.delivery_id]
