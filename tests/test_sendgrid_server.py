"""The local SendGrid-compatible server: auth, validation, faults, substitutions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cxops.testing.sendgrid_server import Fault, running_sendgrid_server, substitute

KEY = "SG.server-key"


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [
            {
                "to": [{"email": "a@example.com", "name": "A"}],
                "substitutions": {"-n-": "Ann"},
                "custom_args": {"send_id": "1"},
            }
        ],
        "from": {"email": "r@acme.example"},
        "subject": "Hi -n-",
        "content": [
            {"type": "text/plain", "value": "Hi -n-"},
            {"type": "text/html", "value": "<p>-n-</p>"},
        ],
    }
    body.update(changes)
    return body


def _post(url: str, body: Any, key: str = KEY) -> httpx.Response:
    return httpx.post(f"{url}/v3/mail/send", json=body, headers={"Authorization": f"Bearer {key}"})


def test_accepts_a_valid_body_and_applies_substitutions() -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        response = _post(server.url, _body())
        (message,) = server.messages()
    assert response.status_code == 202
    assert response.headers["X-Message-Id"] == message.message_id
    assert (message.subject, message.text, message.html) == ("Hi Ann", "Hi Ann", "<p>Ann</p>")
    assert message.custom_args == {"send_id": "1"}


def test_refuses_a_wrong_key_like_sendgrid() -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        response = _post(server.url, _body(), key="SG.wrong")
        assert not server.accepted
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith("The provided authorization")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"personalizations": []}, "personalizations"),
        ({"personalizations": [{"to": [{"email": "a@x.io"}]}] * 1001}, "personalizations"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to"),
        ({"from": None}, "from.email"),
        ({"subject": ""}, "subject"),
        ({"content": []}, "content"),
        ({"content": [{"type": "text/plain", "value": ""}]}, "content.0.value"),
        (
            {
                "content": [
                    {"type": "text/html", "value": "h"},
                    {"type": "text/plain", "value": "t"},
                ]
            },
            "content",
        ),
        (
            {
                "personalizations": [
                    {"to": [{"email": "a@x.io"}], "substitutions": {"k": "v" * 10_000}}
                ]
            },
            "personalizations.0.substitutions",
        ),
    ],
)
def test_validates_bodies_like_sendgrid(changes: dict[str, Any], field: str) -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        response = _post(server.url, _body(**changes))
        assert not server.accepted
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors]
    assert all(e["message"] for e in errors)


def test_a_subject_in_every_personalization_is_enough() -> None:
    body = _body(subject=None)
    body["personalizations"][0]["subject"] = "Own -n-"
    with running_sendgrid_server(api_key=KEY) as server:
        assert _post(server.url, body).status_code == 202
        assert server.messages()[0].subject == "Own Ann"


def test_faults_answer_the_next_requests_in_order() -> None:
    faults = [
        Fault.throttle(retry_after=3),
        Fault.server_error(status=503),
        Fault.bad_request("bad thing", "from"),
    ]
    with running_sendgrid_server(api_key=KEY, faults=faults) as server:
        answers = [_post(server.url, _body()) for _ in range(4)]
        assert len(server.requests) == 4 and len(server.accepted) == 1
    assert [a.status_code for a in answers] == [429, 503, 400, 202]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[2].json()["errors"][0] == {"message": "bad thing", "field": "from", "help": None}


def test_substitution_is_one_pass_and_prefers_the_longest_marker() -> None:
    assert substitute("-a- -ab-", {"-a-": "-ab-", "-ab-": "X"}) == "-ab- X"
