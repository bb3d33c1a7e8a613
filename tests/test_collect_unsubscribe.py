"""Unsubscribe: one click (RFC 8058) or the page's button, final for every survey; a GET changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.messages.tokens import make_token
from cxops.store.db import open_store
from cxops.store.history import load_history
from cxops.store.models import Suppression
from cxops.testing.collect import client_for, invite


@pytest.fixture
def setup(project, store_url):
    settings = project.settings(database_url=store_url)
    store = open_store(store_url)
    app = create_app(settings, store=store)
    key = app.state.collector.signing_key
    inv = invite(
        store,
        key,
        survey_id="ces-onboarding",  # declares en, de, fr
        contact_key="c1",
        email="jane.doe@example.com",
        sent_at=settings.clock() - timedelta(days=1),
        locale="de",
    )
    yield client_for(app), store, inv, key, settings.clock()
    store.dispose()


def suppressions(store):
    with store.session() as session:
        return [(s.email, s.reason, s.source) for s in session.scalars(select(Suppression))]


def test_get_shows_one_button_and_changes_nothing(setup):
    client, store, inv, _, _ = setup
    page = client.get(inv.unsubscribe_path)
    assert page.status_code == 200
    assert page.text.count("<button") == 1
    assert "j•••@example.com" in page.text
    assert "Jane.Doe" not in page.text
    assert '<html lang="de">' in page.text
    assert suppressions(store) == []


def test_one_click_post_unsubscribes_at_once(setup):
    client, store, inv, _, now = setup
    reply = client.post(inv.unsubscribe_path, data={"List-Unsubscribe": "One-Click"})
    assert reply.status_code == 200
    assert suppressions(store) == [("jane.doe@example.com", "unsubscribed", "collector")]
    history = load_history(
        store, survey_id="csat-support", wave_id="w2", now=now, surveyed_within=None, cap=None
    )
    assert history.exclusion("jane.doe@example.com") == "unsubscribed"


def test_the_pages_button_unsubscribes_and_it_stays_final(setup):
    client, store, inv, _, _ = setup
    page = client.post(inv.unsubscribe_path, data={"confirm": "yes"})
    assert "Sie sind abgemeldet" in page.text
    again = client.post(inv.unsubscribe_path, headers={"Accept": "application/json"})
    assert again.json() == {"unsubscribed": True}
    again_page = client.get(inv.unsubscribe_path).text
    assert again_page.count("<button") == 1 and "Wieder anmelden" in again_page
    assert 'name="resubscribe" value="yes"' in again_page
    assert suppressions(store) == [("jane.doe@example.com", "unsubscribed", "collector")]


def test_a_mistaken_click_can_be_undone_on_the_same_link(setup):
    client, store, inv, key, now = setup
    client.post(inv.unsubscribe_path, data={"List-Unsubscribe": "One-Click"})
    assert suppressions(store) == [("jane.doe@example.com", "unsubscribed", "collector")]
    assert client.get(inv.unsubscribe_path).status_code == 200  # a GET changes nothing
    assert len(suppressions(store)) == 1
    page = client.post(inv.unsubscribe_path, data={"resubscribe": "yes"})
    assert page.status_code == 200 and "Sie sind wieder angemeldet" in page.text
    assert suppressions(store) == []
    assert page.text.count("<button") == 1  # and unsubscribing again is one click away
    # a bounce or a spam report is not lifted by a resubscribe
    with store.session(write=True) as session:
        from cxops.store.suppressions import suppress

        suppress(session, "Jane.Doe@example.com", "spam", source="sendgrid", now=now)
    client.post(inv.unsubscribe_path, data={"resubscribe": "yes"})
    assert suppressions(store) == [("jane.doe@example.com", "spam", "sendgrid")]
    # after the link's life the same POST is refused and changes nothing
    expired = make_token(key, "unsubscribe", inv.send_id, now - timedelta(minutes=1))
    assert client.post("/u/" + expired, data={"resubscribe": "yes"}).status_code == 410


def test_bad_tokens_unsubscribe_nobody(setup):
    client, store, inv, key, now = setup
    token = inv.unsubscribe_path.removeprefix("/u/")
    assert client.post("/u/" + token[:-1] + ("A" if token[-1] != "A" else "B")).status_code == 404
    expired = make_token(key, "unsubscribe", inv.send_id, now - timedelta(minutes=1))
    assert client.post("/u/" + expired).status_code == 410
    assert client.post(inv.answer_path.replace("/a/", "/u/")).status_code == 404
    assert suppressions(store) == []
