"""The webhooks commands end to end, in a project whose pyproject.toml names a receiver:
`webhooks send` as a real process, the others in this one (typer's runner)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from cxops.cli import app
from cxops.errors import ConfigError
from cxops.store.db import open_store
from cxops.testing.followup import add_response
from cxops.testing.project import Project
from cxops.testing.webhooks import SECRET, T0, WebhookReceiver


def _invoke(project: Project, args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, [*args, "--project-dir", str(project.root)], env=env)


def test_send_status_and_retry_from_the_command_line(empty_project: Project) -> None:
    receiver = WebhookReceiver(SECRET, answer=410).start()
    try:
        empty_project.write(
            {
                "pyproject.toml": "[tool.cxops]\n[[tool.cxops.webhooks]]\n"
                f'url = "{receiver.url}"\nevents = ["response.completed"]\n'
                'secret_env = "HOOK_SECRET"\n'
            }
        )
        env = {"HOOK_SECRET": SECRET, "CXOPS_NOW": T0.isoformat()}
        settings = empty_project.settings()
        store = open_store(settings.store_url)
        try:
            # The endpoint is configured from T0 on; the response comes a minute later.
            first = _invoke(empty_project, ["webhooks", "send", "--json"], env)
            assert json.loads(first.stdout)["queued"] == 0
            add_response(store, "c1", {"score": 9}, when=T0.replace(minute=1))
        finally:
            store.dispose()
        env["CXOPS_NOW"] = T0.replace(minute=2).isoformat()
        sent = empty_project.run(["webhooks", "send", "--json"], env=env).json
        assert (sent["queued"], sent["dead"]) == (1, 1) and sent["endpoints"][0]["disabled"]
        assert receiver.received[0].verified
        status = json.loads(_invoke(empty_project, ["status", "--json"], env).stdout)
        assert status["webhook_dead_letters"] == {receiver.url: 1}
        listed = _invoke(empty_project, ["webhooks", "status"], env).stdout
        assert f"{receiver.url}: delivered 0, pending 0 (failing 0), dead 1" in listed
        assert "disabled: HTTP 410" in listed
        retried = _invoke(empty_project, ["webhooks", "retry", "--all", "--json"], env)
        assert json.loads(retried.stdout) == {"endpoint": None, "retried": 1}
        refused = _invoke(empty_project, ["webhooks", "retry"], env)
        assert isinstance(refused.exception, ConfigError)
        assert str(refused.exception) == "expected either --endpoint URL or --all"
    finally:
        receiver.stop()


def test_the_loop_flow_sends_and_is_deployed_every_minute(empty_project: Project) -> None:
    from cxops.schedule.deploy import ENTRYPOINTS
    from cxops.webhooks.flow import webhooks_flow
    from cxops.webhooks.run import webhooks_deployment

    assert webhooks_flow.fn(project_dir=str(empty_project.root)) == {"endpoints": []}
    receiver = WebhookReceiver(SECRET).start()
    try:
        empty_project.write(
            {
                "pyproject.toml": "[tool.cxops]\n[[tool.cxops.webhooks]]\n"
                f'url = "{receiver.url}"\nevents = ["task.closed"]\nsecret_env = "S"\n'
            }
        )
        done = webhooks_flow.fn(project_dir=str(empty_project.root))  # the body, no Prefect run
        (endpoint,) = done["endpoints"]
        assert endpoint["endpoint"] == receiver.url
        assert endpoint["error"] == "environment variable S (its secret) is not set"
    finally:
        receiver.stop()
    deployment = webhooks_deployment(ENTRYPOINTS, "cxops")
    assert deployment["entrypoint"] == f"{ENTRYPOINTS}:webhooks_flow"
    assert deployment["schedules"] == [{"interval": 60}]
