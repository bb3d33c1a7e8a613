"""`cxops crm push`, `export person` and `forget` end to end, through the real CLI, against
the local HubSpot-compatible server: the token is never printed."""

from __future__ import annotations

import json

import pytest

from cxops.store.db import open_store
from cxops.testing.followup import add_response, at, write_survey
from cxops.testing.hubspot_server import running_hubspot_server

TOKEN = "pat-na1-99999999-8888-7777-6666-000000000000"
WHEN = at("2026-11-23T08:00:00+00:00")


@pytest.mark.slow  # three CLI runs
def test_push_export_and_forget_through_the_cli(project):
    write_survey(project.root)
    store = open_store(project.settings().store_url)
    try:
        add_response(store, "a", {"score": 3}, when=WHEN)
        add_response(store, "b", {"score": 9}, when=WHEN)
        add_response(store, "c", {"score": 8}, when=WHEN)  # no HubSpot contact
    finally:
        store.dispose()
    env = {"CRM_TOKEN": TOKEN}
    with running_hubspot_server(token=TOKEN) as server:
        for key in ("a", "b"):
            server.add_contact(f"{key}@customer.example", firstname=key)
        project.write(
            {
                "pyproject.toml": "[tool.cxops.crm.hubspot]\n"
                'token_env = "CRM_TOKEN"\n'
                f'api_url = "{server.url}"\n'
            }
        )
        pushed = project.run("crm push", env=env)
        assert "wrote 2 contacts of 3 people" in pushed.stdout
        assert "1 without a contact, not created" in pushed.stdout
        assert server.contact("a@customer.example")["cx_nps_category"] == "detractor"

        record = json.loads(project.run("export person a@customer.example", env=env).stdout)
        (crm,) = record["crm_destinations"]
        assert crm["crm"] == "hubspot" and crm["properties"]["cx_nps_score"] == "3"

        forgot = json.loads(project.run("forget a@customer.example --json", env=env).stdout)
        assert forgot["crm"] == [{"crm": "hubspot", "status": "cleared", "detail": ""}]
        assert server.contact("a@customer.example") == {
            "email": "a@customer.example",
            "firstname": "a",
        }

        assert server.rejected == []
    outputs = [pushed.output, record, forgot]
    assert not any(TOKEN in json.dumps(output) for output in outputs)
