"""`cxops crm push` against the local HubSpot-compatible server, which checks every
request against HubSpot's published OpenAPI document: batches of at most 100, only
changed values, 429 with `Retry-After` honoured (an injected clock, no real waiting),
people without a contact counted, the token never shown, `forget` clearing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from cxops.crm.project import crm_sent, erase_in_crm, push_project
from cxops.crm.push import PushResult
from cxops.errors import ConfigError
from cxops.followup.apply import apply_rules
from cxops.privacy.erase import forget_person
from cxops.privacy.subject import Subject
from cxops.project import open_project
from cxops.store.db import Store, open_store
from cxops.store.models import CrmContact, Response, Send
from cxops.testing.fake_time import FakeTime
from cxops.testing.followup import add_response, at, edit_response, write_survey
from cxops.testing.hubspot_server import Fault, HubSpotServer, running_hubspot_server

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
TOKEN_ENV = "HUBSPOT_TEST_TOKEN"
WHEN = at("2026-11-23T08:00:00+00:00")
LATER = at("2026-11-30T15:45:00+00:00")


def configure(project: Any, url: str, **hubspot: Any) -> None:
    extra = "".join(f"{name} = {json.dumps(value)}\n" for name, value in hubspot.items())
    project.write(
        {
            "pyproject.toml": (
                f'[tool.cxops.crm.hubspot]\ntoken_env = "{TOKEN_ENV}"\napi_url = "{url}"\n' + extra
            )
        }
    )


@pytest.fixture
def store(project: Any) -> Iterator[Store]:
    write_survey(project.root)
    opened = open_store(project.settings().store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def server(project: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotServer]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with running_hubspot_server(token=TOKEN) as running:
        configure(project, running.url)
        yield running


def email(key: str) -> str:
    return f"{key}@customer.example"


def add_answers(store: Store, scores: dict[str, int]) -> None:
    """Many people's invitations and confirmed answers in one transaction."""
    ids = {key: f"bulk{n:020}" for n, key in enumerate(scores)}
    with store.session(write=True) as session:
        session.add_all(
            Send(
                send_id=ids[key],
                survey_id="nps-test",
                wave_id="2026-11",
                contact_key=key,
                email=email(key),
                segment="smb",
                contact={"key": key},
                status="sent",
                created_at=WHEN,
                sent_at=WHEN,
                channel="outbox",
            )
            for key in scores
        )
        session.flush()
        session.add_all(
            Response(
                send_id=ids[key],
                survey_id="nps-test",
                wave_id="2026-11",
                contact_key=key,
                segment="smb",
                status="complete",
                answers={"score": score},
                first_answered_at=WHEN,
                submitted_at=WHEN,
                updated_at=WHEN,
                confirmed_at=WHEN,
            )
            for key, score in scores.items()
        )


def push(project: Any, time: FakeTime | None = None, **kwargs: Any) -> PushResult:
    time = time or FakeTime()
    with open_project(project.settings()) as context:
        return push_project(context, sleep=time.sleep, clock=time.clock, **kwargs)


def test_latest_values_go_in_batches_of_100_and_people_without_contact_are_counted(
    project, store, server
):
    keys = [f"c{n:03}" for n in range(205)]
    add_answers(store, {key: 7 + n % 2 for n, key in enumerate(keys)})
    for key in keys[5:]:  # the first five have no HubSpot contact
        server.add_contact(email(key), firstname=key)
    add_response(store, "c010", {"score": 2}, when=LATER, wave="2026-12")  # newer: a detractor
    add_response(
        store, "c011", {"score": 10}, when=LATER, wave="2026-12", suspect=True
    )  # suspect: not counted
    with open_project(project.settings()) as context:
        apply_rules(project.settings(), store, context.surveys.find("nps-test"), now=LATER)

    result = push(project)

    assert server.rejected == []
    updates = server.calls("/batch/update")
    reads = server.calls("/batch/read")
    assert [len(r.body["inputs"]) for r in reads] == [100, 100, 5]
    assert [len(r.body["inputs"]) for r in updates] == [95, 100, 5]
    assert result.requests == len(server.received) == 6
    assert (result.people, result.updated, result.missing, result.unchanged) == (205, 200, 5, 0)
    assert server.contact(email("c010")) == {
        "email": email("c010"),
        "firstname": "c010",
        "cx_nps_score": "2",
        "cx_nps_category": "detractor",
        "cx_nps_date": "2026-11-30",
        "cx_open_task": "true",
    }
    assert server.contact(email("c011"))["cx_nps_score"] == "8"
    assert server.contact(email("c012"))["cx_nps_category"] == "passive"
    assert server.contact(email("c012"))["cx_open_task"] == "false"
    assert server.contact(email("c000")) is None, "a missing contact is never created"
    with store.session() as session:
        rows = session.scalars(select(CrmContact)).all()
    assert len(rows) == 205
    assert not any("@" in row.person for row in rows), "the table holds no address"


def test_a_second_push_sends_nothing_and_a_change_sends_only_what_changed(project, store, server):
    for key in ("a", "b", "c"):
        add_response(store, key, {"score": 8}, when=WHEN)
        server.add_contact(email(key))
    response = add_response(store, "d", {"score": 9}, when=WHEN)
    server.add_contact(email("d"))
    add_response(store, "nobody", {"score": 9}, when=WHEN)  # no contact
    assert push(project).updated == 4

    again = push(project)
    assert (again.requests, again.updated, again.unchanged, again.missing) == (0, 0, 4, 1)
    assert len(server.received) == 2

    edit_response(store, response, {"score": 10}, WHEN)
    third = push(project)
    assert third.requests == 2 and third.updated == 1
    (update,) = server.calls("/batch/update")[1:]
    assert update.body["inputs"][0]["properties"] == {"cx_nps_score": "10"}
    assert server.rejected == []


def test_dry_run_sends_no_request(project, store, server):
    add_response(store, "a", {"score": 8}, when=WHEN)
    server.add_contact(email("a"))
    result = push(project, dry_run=True)
    assert result.dry_run and result.updated == 1 and result.requests == 0
    assert server.received == []


def test_429_waits_for_retry_after_and_5xx_backs_off(project, store, server):
    add_response(store, "a", {"score": 8}, when=WHEN)
    server.add_contact(email("a"))
    server.add_faults(Fault.throttle(retry_after=7), Fault.server_error(times=2))
    time = FakeTime()

    result = push(project, time)

    assert time.sleeps == [7.0, 1.0, 2.0]
    assert result.updated == 1 and result.stopped is None
    assert [r.status for r in server.received] == [429, 500, 500, 200, 200]
    assert server.contact(email("a"))["cx_nps_score"] == "8"


def test_the_daily_limit_stops_the_push_and_the_next_one_resumes(project, store, server):
    for key in ("a", "b"):
        add_response(store, key, {"score": 8}, when=WHEN)
        server.add_contact(email(key))
    server.add_faults(Fault.throttle(retry_after=None, policy="DAILY"))
    time = FakeTime()
    stopped = push(project, time)
    assert stopped.stopped is not None and "daily request limit" in stopped.stopped
    assert stopped.updated == 0 and time.sleeps == []
    assert push(project).updated == 2


def test_the_rolling_window_is_never_exceeded(project, store, server):
    configure(project, server.url, requests_per_10s=3)
    keys = [f"p{n}" for n in range(450)]  # 5 batches: 10 requests
    add_answers(store, dict.fromkeys(keys, 9))
    for key in keys:
        server.add_contact(email(key))
    time = FakeTime()
    result = push(project, time)
    assert result.requests == 10 and result.updated == 450
    # 10 requests, at most 3 in any 10 s: at 0, 0, 0, 10, 10, 10, 20, 20, 20, 30
    assert time.sleeps == [10.0, 10.0, 10.0]
    assert server.rejected == []


def test_a_missing_token_or_a_refused_one_is_said_without_the_token(
    project, store, server, monkeypatch, caplog
):
    add_response(store, "a", {"score": 8}, when=WHEN)
    server.add_contact(email("a"))
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(ConfigError, match=f"environment variable {TOKEN_ENV} is not set"):
        push(project)
    assert server.received == []

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(TOKEN_ENV, "pat-na1-wrong-" + TOKEN)
    refused = push(project)
    assert refused.stopped is not None and "(401)" in refused.stopped
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert push(project).updated == 1
    assert TOKEN not in caplog.text and TOKEN not in json.dumps(refused.as_dict())
    assert caplog.records, "the pushes logged their requests"


def forget(context: Any, subject: Subject) -> None:
    forget_person(context.store, subject, now=LATER, free_text={}, folders=[], wait_seconds=0)


def test_forget_clears_the_properties_at_once_or_at_the_next_push(project, store, server):
    for key in ("a", "b"):
        add_response(store, key, {"score": 8}, when=WHEN)
        server.add_contact(email(key), firstname=key)
    push(project)
    key = project.settings().signing_key()
    a, b = Subject.of(email("a"), key), Subject.of(email("b"), key)
    with open_project(project.settings()) as context:
        (listed,) = crm_sent(context, a.digest)
        assert listed["crm"] == "hubspot" and listed["properties"]["cx_nps_score"] == "8"

        forget(context, a)
        assert [e.status for e in erase_in_crm(context, a.digest)] == ["cleared"]
        assert crm_sent(context, a.digest) == []
    assert server.contact(email("a")) == {"email": email("a"), "firstname": "a"}
    assert server.contact(email("b"))["cx_nps_score"] == "8"

    server.add_faults(Fault.server_error(times=6))  # unreachable for the whole forget
    with open_project(project.settings()) as context:
        forget(context, b)
        (pending,) = erase_in_crm(context, b.digest, sleep=lambda seconds: None)
        assert pending.status == "pending"
        (listed,) = crm_sent(context, b.digest)
        assert listed["erasure_pending"] and set(listed["properties"].values()) == {""}
    assert server.contact(email("b"))["cx_nps_score"] == "8"

    result = push(project)
    assert result.cleared == 1 and result.erasures_pending == 0
    assert server.contact(email("b")) == {"email": email("b"), "firstname": "b"}
    with store.session() as session:
        assert session.scalars(select(CrmContact)).all() == []
    assert server.rejected == []


def test_the_hourly_flow_pushes_when_a_crm_is_configured_and_says_so_when_not(
    project, store, server
):
    from cxops.crm.flow import crm_push_flow

    add_response(store, "a", {"score": 9}, when=WHEN)
    server.add_contact(email("a"))
    done = crm_push_flow.fn(project_dir=str(project.root))  # the flow's body, no Prefect run
    assert (done["updated"], done["requests"], done["stopped"]) == (1, 2, None)
    (project.root / "pyproject.toml").unlink()
    assert crm_push_flow.fn(project_dir=str(project.root)) == {"crm": None, "configured": False}
