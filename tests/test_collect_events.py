"""`POST /api/v1/events`: keys and signatures, replay, duplicates, malformed items, limits."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from cxops.collect import create_app
from cxops.store.db import open_store
from cxops.store.inbound import create_key, revoke_key, stored_events
from cxops.testing.collect import client_for, serve_process
from cxops.testing.followup import serving

DATA = Path(__file__).parent / "data"
SECRET = "whsec_" + base64.b64encode(b"events-test-secret-" + b"x" * 13).decode()
PATH = "/api/v1/events"


def event(event_id: str, **extra):
    return {"id": event_id, "type": "ticket.solved", "data": {"ticket": {"id": 7}}, **extra}


class Api:
    def __init__(self, project, store_url):
        self.settings = project.settings(database_url=store_url, events_webhook_secret=SECRET)
        self.store = open_store(store_url)
        self.client = client_for(create_app(self.settings, store=self.store))
        self.now = self.settings.clock()
        self.key = create_key(self.store, "zendesk", self.settings.signing_key(), self.now)

    def post(self, body, *, key=None, headers=None):
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        return self.client.post(PATH, content=content, headers=sent)


@pytest.fixture
def api(project, store_url):
    made = Api(project, store_url)
    yield made
    made.client.close()
    made.store.dispose()


def signed(body: bytes, msg_id: str, at: float) -> dict[str, str]:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(int(at), UTC)
    signature = Webhook(SECRET).sign(msg_id, when, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at)), "webhook-signature": signature}


def test_a_key_stores_an_event_once_and_a_redelivery_is_a_duplicate(api):
    first = api.post(event("evt_1", occurred_at="2026-12-07T10:05:00Z"), key=api.key)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    again = api.post([event("evt_1"), event("evt_1")], key=api.key)
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    (stored,) = stored_events(api.store)
    assert (stored.event_id, stored.type, stored.credential) == (
        "evt_1",
        "ticket.solved",
        "key:zendesk",
    )
    assert stored.occurred_at.isoformat() == "2026-12-07T10:05:00+00:00"
    assert stored.data == {"ticket": {"id": 7}}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer cx_not-a-key"}, {"Authorization": "Basic abc"}],
    ids=["none", "unknown", "not-bearer"],
)
def test_no_or_a_bad_key_is_401_and_stores_nothing(api, headers):
    reply = api.post([event("evt_x")], headers=headers)
    assert reply.status_code == 401
    assert stored_events(api.store) == []


def test_a_revoked_key_is_401(api):
    assert api.post(event("evt_a"), key=api.key).status_code == 202
    assert revoke_key(api.store, "zendesk", api.now)
    assert api.post(event("evt_b"), key=api.key).status_code == 401
    assert [e.event_id for e in stored_events(api.store)] == ["evt_a"]


def test_a_signed_request_is_accepted_and_a_forged_or_stale_one_is_not(api):
    body = json.dumps([event("evt_s")]).encode()
    good = api.post(body, headers=signed(body, "msg_1", time.time()))
    assert good.status_code == 202, good.text
    assert stored_events(api.store)[0].credential == "webhook"
    other = json.dumps([event("evt_forged")]).encode()
    forged = api.post(other, headers=signed(body, "msg_2", time.time()))
    assert forged.status_code == 401
    stale_body = json.dumps([event("evt_stale")]).encode()
    stale = api.post(stale_body, headers=signed(stale_body, "msg_3", time.time() - 6 * 60))
    assert stale.status_code == 401
    future = api.post(stale_body, headers=signed(stale_body, "msg_4", time.time() + 6 * 60))
    assert future.status_code == 401
    garbled = api.post(
        stale_body, headers={**signed(stale_body, "m", time.time()), "webhook-signature": "v1"}
    )
    assert garbled.status_code == 401
    assert [e.event_id for e in stored_events(api.store)] == ["evt_s"]


def test_malformed_items_are_rejected_with_their_path_and_the_others_kept(api):
    batch = [
        event("ok_1"),
        "nope",
        {"type": "t", "data": {}},
        event("ok_2", occurred_at="yesterday"),
        event("ok_3", occurred_at="2026-12-07T10:05:00"),
        {"id": "x", "type": "t", "data": [1]},
        event("ok_4"),
    ]
    reply = api.post(batch, key=api.key)
    assert reply.status_code == 202
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(r["index"], r["path"]) for r in body["rejected"]] == [
        (1, ""),
        (2, "id"),
        (3, "occurred_at"),
        (4, "occurred_at"),
        (5, "data"),
    ]
    assert all(r["error"].startswith("expected") for r in body["rejected"])
    assert [e.event_id for e in stored_events(api.store)] == ["ok_1", "ok_4"]


def test_a_batch_of_only_malformed_items_is_422(api):
    reply = api.post([{"id": 1}, []], key=api.key)
    assert reply.status_code == 422
    assert [r["path"] for r in reply.json()["rejected"]] == ["id", ""]
    assert api.post(b"{not json", key=api.key).status_code == 400


def test_limits_are_413(api):
    assert api.post([event(f"e{i}") for i in range(1001)], key=api.key).status_code == 413
    big = {"id": "big", "type": "t", "data": {"x": "a" * (6 * 1024 * 1024)}}
    assert api.post(big, key=api.key).status_code == 413
    assert api.post([event(f"e{i}") for i in range(1000)], key=api.key).json()["accepted"] == 1000
    assert stored_events(api.store)[-1].event_id == "e999"


def test_concurrent_deliveries_of_one_event_store_it_once(api):
    """Eight deliveries of one event at once, over real HTTP (a test client shared by
    threads can deadlock on its portal): one stored, seven duplicates."""
    body = json.dumps([event("evt_race")]).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api.key}"}

    async def deliver_all(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await asyncio.gather(
                *(client.post(PATH, content=body, headers=headers) for _ in range(8))
            )

    with serving(create_app(api.settings, store=api.store)) as base:
        replies = [reply.json() for reply in asyncio.run(deliver_all(base))]
    assert sum(r["accepted"] for r in replies) == 1
    assert sum(r["duplicates"] for r in replies) == 7
    assert len(stored_events(api.store)) == 1


def test_keys_commands_and_real_http_against_cxops_serve(project, store_url):
    """A key limited to a survey, over real HTTP: only that survey's event type is stored,
    with the survey; another type is rejected (path `type`); an open key stores any."""
    shutil.copy(DATA / "csat-ticket-solved.yaml", project.path("surveys/csat.yaml"))
    env = {"CXOPS_DATABASE_URL": store_url, "CXOPS_SECRET_KEY": "events-serve-" + "k" * 32}
    created = project.run(["keys", "create", "zendesk", "--survey", "csat-ticket-solved"], env=env)
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("cx_")
    anything = project.run(["keys", "create", "relay"], env=env).stdout.strip().splitlines()[0]
    listed = project.run(["keys", "list", "--json"], env=env)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert (rows["zendesk"]["survey"], rows["zendesk"]["revoked_at"]) == (
        "csat-ticket-solved",
        None,
    )
    assert rows["relay"]["survey"] is None
    assert key not in listed.stdout
    scheduled = project.run(
        ["keys", "create", "crm", "--survey", "nps-quarterly"], env=env, expect_pass=False
    )
    assert "--survey nps-quarterly: expected a survey with trigger:" in scheduled.output
    with serve_process(project.root, env) as served:
        url = served.base + PATH
        bearer = {"Authorization": f"Bearer {key}"}
        won = {"id": "evt_w1", "type": "deal.won", "data": {}}
        reply = httpx.post(url, json=[event("evt_h1"), {"id": "bad"}, won], headers=bearer)
        assert reply.status_code == 202, reply.text
        assert reply.json()["accepted"] == 1
        assert [(r["index"], r["path"]) for r in reply.json()["rejected"]] == [
            (1, "type"),
            (2, "type"),
        ]
        assert (
            "expected 'ticket.solved' (key 'zendesk' is limited to survey"
            in (reply.json()["rejected"][1]["error"])
        )
        only_other = httpx.post(url, json=won, headers=bearer)
        assert only_other.status_code == 422
        open_key = httpx.post(url, json=won, headers={"Authorization": f"Bearer {anything}"})
        assert open_key.json()["accepted"] == 1
        again = httpx.post(url, json=event("evt_h1"), headers=bearer)
        assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
        project.run(["keys", "revoke", "zendesk"], env=env)
        revoked = httpx.post(url, json=event("evt_h2"), headers=bearer)
        assert revoked.status_code == 401
    store = open_store(store_url)
    try:
        stored = {e.event_id: (e.credential, e.survey_id) for e in stored_events(store)}
    finally:
        store.dispose()
    assert stored == {
        "evt_h1": ("key:zendesk", "csat-ticket-solved"),
        "evt_w1": ("key:relay", None),
    }
    missing = project.run(["keys", "revoke", "nobody"], env=env, expect_pass=False)
    assert "no API key named 'nobody'" in missing.output


def test_a_key_of_a_survey_the_project_lost_stores_nothing(api):
    """The survey a key is limited to was removed (or lost its trigger): 422, nothing stored."""
    limited = create_key(api.store, "gone", api.settings.signing_key(), api.now, "no-such")
    reply = api.post([event("evt_g1"), event("evt_g2")], key=limited)
    assert reply.status_code == 422
    assert {r["path"] for r in reply.json()["rejected"]} == {"type"}
    assert "limited to survey 'no-such'" in reply.json()["rejected"][0]["error"]
    assert stored_events(api.store) == []
