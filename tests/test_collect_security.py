"""Hardening: headers and CSP, body limits, kind error pages without stack traces,
an access log without tokens or emails, /healthz, and concurrent saves that lose nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.store.db import open_store
from cxops.store.models import Response
from cxops.store.responses import save_answers
from cxops.testing.collect import client_for, invite


@pytest.fixture
def app_and_invite(project, store_url):
    settings = project.settings(database_url=store_url)
    store = open_store(store_url)
    app = create_app(settings, store=store)
    inv = invite(
        store,
        app.state.collector.signing_key,
        survey_id="nps-quarterly",
        contact_key="k-42",
        email="secret.person@example.com",
        sent_at=settings.clock() - timedelta(hours=1),
    )
    yield app, inv, store
    store.dispose()


def test_pages_carry_a_strict_csp_and_security_headers(app_and_invite):
    app, inv, _ = app_and_invite
    client = client_for(app)
    for reply in (
        client.get(inv.answer_path),
        client.get("/a/garbage"),
        client.get("/no/such/page"),
        client.get(inv.unsubscribe_path),
    ):
        headers = reply.headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self'" in csp and "form-action 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        style = re.search(r"<style>(.*?)</style>", reply.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
        assert "http://" not in reply.text.replace(str(app.state.collector.settings.public_url), "")
        assert "<script>" not in reply.text and " style=" not in reply.text


def test_the_page_script_is_served_from_our_origin(app_and_invite):
    app, inv, _ = app_and_invite
    client = client_for(app)
    page = client.get(inv.answer_path).text
    src = re.search(r'<script src="([^"]+)" defer></script>', page).group(1)
    assert src == "../assets/answer.js"
    script = client.get("/assets/answer.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "_partial" in script.text


def test_oversized_bodies_are_refused_with_413_and_store_nothing(app_and_invite):
    app, inv, store = app_and_invite
    client = client_for(app)
    reply = client.post(inv.answer_path, data={"score": "5", "reason": "x" * 70_000})
    assert reply.status_code == 413

    def chunks():
        for _ in range(80):
            yield b"reason=" + b"y" * 1000 + b"&"

    streamed = client.post(
        inv.answer_path,
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    with store.session() as session:
        assert session.scalars(select(Response)).all() == []


def test_unexpected_errors_show_a_kind_page_and_no_trace(app_and_invite, monkeypatch):
    app, inv, _ = app_and_invite

    def explode(*_args, **_kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr("cxops.collect.routes.form_questions", explode)
    reply = client_for(app).get(inv.answer_path)
    assert reply.status_code == 500
    assert "Something went wrong" in reply.text
    assert "internal detail" not in reply.text and "Traceback" not in reply.text
    assert reply.headers["content-security-policy"].startswith("default-src 'none'")


def test_access_log_has_route_templates_not_tokens_or_emails(app_and_invite, caplog):
    app, inv, _ = app_and_invite
    client = client_for(app)
    with caplog.at_level(logging.INFO, logger="cxops.collect.access"):
        client.get(inv.answer_path + "?score=3")
        client.post(inv.answer_path, data={"score": "3", "reason": "secret.person@example.com"})
        client.get(inv.unsubscribe_path)
        client.get("/a/bad-token")
    lines = [r.getMessage() for r in caplog.records if r.name == "cxops.collect.access"]
    entries = [json.loads(line) for line in lines]
    assert [(e["method"], e["route"], e["status"]) for e in entries] == [
        ("GET", "/a/{token}", 200),
        ("POST", "/a/{token}", 200),
        ("GET", "/u/{token}", 200),
        ("GET", "/a/{token}", 404),
    ]
    text = "\n".join(lines)
    for secret in (inv.answer_path, inv.unsubscribe_path, "secret.person", "k-42", "score=3"):
        assert secret.split("/")[-1] not in text


def test_healthz_checks_the_database(app_and_invite, project):
    app, _, _ = app_and_invite
    assert client_for(app).get("/healthz").json() == {"status": "ok", "database": "ok"}
    down = project.settings(database_url="postgresql+psycopg://postgres@127.0.0.1:9/none")
    broken = client_for(create_app(down))
    reply = broken.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["database"] == "error"


def test_store_down_gives_503_pages_for_answers(app_and_invite, project):
    _, inv, _ = app_and_invite
    down = project.settings(database_url="postgresql+psycopg://postgres@127.0.0.1:9/none")
    broken = client_for(create_app(down))
    reply = broken.post(inv.answer_path, data={"score": "9"})
    assert reply.status_code == 503
    assert "Thank you" not in reply.text


def test_racing_saves_for_one_invitation_make_one_response_and_lose_no_edit(app_and_invite):
    app, inv, store = app_and_invite
    now = app.state.collector.now()
    keys = [f"q{i}" for i in range(12)]
    barrier = threading.Barrier(len(keys))
    failures: list[BaseException] = []

    def save(key: str) -> None:
        barrier.wait()
        try:
            save_answers(store, inv.send_id, {key: key}, complete=False, now=now)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=save, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with store.session() as session:
        [response] = session.scalars(select(Response)).all()
    assert response.answers == {key: key for key in keys}
    assert response.revision == len(keys)
