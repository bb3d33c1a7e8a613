"""The local HubSpot-compatible server refuses what HubSpot's OpenAPI document refuses,
and its own answers follow the document's response schemas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cxops.testing.hubspot_server import running_hubspot_server, spec_check

TOKEN = "pat-na1-stand-in"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
READ = "/crm/v3/objects/contacts/batch/read"
UPDATE = "/crm/v3/objects/contacts/batch/update"


def read_body(*emails: str) -> dict[str, Any]:
    return {
        "idProperty": "email",
        "inputs": [{"id": e} for e in emails],
        "properties": ["email"],
        "propertiesWithHistory": [],
    }


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "problem"),
    [
        (
            READ,
            {"inputs": [{"id": "a@x.example"}], "properties": []},
            AUTH,
            400,
            "'propertiesWithHistory' is a required property",
        ),
        (
            UPDATE,
            {"inputs": [{"id": "1001", "properties": {"cx_nps_score": 9}}]},
            AUTH,
            400,
            "9 is not of type 'string'",
        ),
        (UPDATE, {"inputs": [{"properties": {}}]}, AUTH, 400, "'id' is a required property"),
        (
            UPDATE,
            {"inputs": [{"id": str(n), "properties": {}} for n in range(101)]},
            AUTH,
            400,
            "exceeds the limit of 100",
        ),
        (UPDATE + "?archived=true", {"inputs": []}, AUTH, 400, "query parameter 'archived'"),
        (
            UPDATE,
            {"inputs": []},
            {"Authorization": "Bearer pat-na1-other"},
            401,
            "no valid bearer token",
        ),
        (UPDATE, {"inputs": []}, {}, 401, "no valid bearer token"),
        ("/crm/v3/objects/contact/batch/update", {"inputs": []}, AUTH, 404, "no such operation"),
    ],
)
def test_a_malformed_request_is_refused_and_recorded(path, body, headers, status, problem):
    with running_hubspot_server(token=TOKEN, contacts=["a@x.example"]) as server:
        answer = httpx.post(server.url + path, json=body, headers=headers)
        assert answer.status_code == status
        (rejected,) = server.rejected
        assert any(problem in p for p in rejected.problems), rejected.problems
        assert "Authorization" not in rejected.headers
        assert server.contact("a@x.example") == {"email": "a@x.example"}


def test_a_body_that_is_not_json_or_not_declared_json_is_refused():
    with running_hubspot_server(token=TOKEN) as server:
        plain = {**AUTH, "Content-Type": "text/plain"}
        assert httpx.post(server.url + UPDATE, content=b"{}", headers=plain).status_code == 400
        json_type = {**AUTH, "Content-Type": "application/json"}
        assert httpx.post(server.url + UPDATE, content=b"{", headers=json_type).status_code == 400
        assert [r.problems for r in server.rejected] == [
            ("Content-Type 'text/plain': expected application/json",),
            ("the request body is not JSON",),
        ]


def test_answers_follow_the_documents_response_schemas():
    check = spec_check()
    with running_hubspot_server(token=TOKEN, contacts=["a@x.example"]) as server:
        found = httpx.post(
            server.url + READ, json=read_body("a@x.example", "b@x.example"), headers=AUTH
        )
        assert found.status_code == 207
        (result,) = found.json()["results"]
        assert result["properties"]["email"] == "a@x.example"
        assert found.json()["errors"][0]["context"] == {"ids": ["b@x.example"]}
        update = {"inputs": [{"id": result["id"], "properties": {"cx_nps_score": "9"}}]}
        written = httpx.post(server.url + UPDATE, json=update, headers=AUTH)
        assert written.status_code == 200
        unknown = {"inputs": [{"id": result["id"], "properties": {"cx_nps_scor": "9"}}]}
        refused = httpx.post(server.url + UPDATE, json=unknown, headers=AUTH)
        assert refused.status_code == 400 and "PROPERTY_DOESNT_EXIST" in refused.json()["message"]
        assert server.contact("a@x.example") == {"email": "a@x.example", "cx_nps_score": "9"}
    read_op, _ = check.find("POST", READ)
    update_op, _ = check.find("POST", UPDATE)
    assert read_op is not None and update_op is not None
    assert check.response_problems(read_op, 207, found.json()) == []
    assert check.response_problems(update_op, 200, written.json()) == []
    assert check.response_problems(update_op, 400, refused.json()) == []
    assert check.response_problems(update_op, 200, {"results": []}) != []
