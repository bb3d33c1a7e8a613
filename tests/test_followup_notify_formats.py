"""A rule's `notify:` in each format reaches a webhook that answers like the real one:
Slack (`text` + blocks), Teams (an Adaptive Card), JSON (the signed payload); a chat
webhook URL comes from the environment (`url_env`), never from the survey file."""

from __future__ import annotations

import pytest

from cxops.followup.apply import apply_rules
from cxops.followup.webhooks import deliver_webhooks
from cxops.spec.lookup import project_surveys
from cxops.store.notifications import notifications
from cxops.testing.chat_webhooks import running_chat_webhook
from cxops.testing.followup import add_response, at, write_survey

MONDAY = "2026-11-23T09:00:00+00:00"


def deliver(project, store):
    settings = project.settings(now=at(MONDAY))
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    apply_rules(settings, store, surveys["nps-test"])
    return deliver_webhooks(settings, store, surveys, backoff=0.01)


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_a_chat_notification_lands(empty_project, store, monkeypatch, kind):
    write_survey(empty_project.root, notify=f"{{url_env: CXOPS_TEST_CHAT_URL, format: {kind}}}")
    add_response(
        store,
        "c1",
        {"score": 3, "reason": "<b>slow</b> support"},
        when=at(MONDAY),
        contact={"name": "Anna <Admin>"},
    )
    with running_chat_webhook(kind) as hook:
        monkeypatch.setenv("CXOPS_TEST_CHAT_URL", hook.url)
        result = deliver(empty_project, store)
    assert (result.sent, result.failed, result.retry) == (1, 0, 0), result.errors
    assert hook.refused == []
    [message] = hook.received
    if kind == "slack":
        assert "Anna &lt;Admin&gt;" in message["text"]
        fields = [f["text"] for f in message["blocks"][1]["fields"]]
        assert "*Score*\n3 (detractor)" in fields
        assert message["blocks"][2]["text"]["text"] == ">&lt;b&gt;slow&lt;/b&gt; support"
        url = message["blocks"][-1]["elements"][0]["url"]
    else:
        content = message["attachments"][0]["content"]
        facts = {f["title"]: f["value"] for f in content["body"][1]["facts"]}
        assert facts["Score"] == "3 (detractor)"
        url = content["actions"][0]["url"]
    assert url.startswith("http://127.0.0.1:8000/t/")
    with store.session() as session:
        [row] = notifications(session, "notify:")
        assert row.recipient == "$CXOPS_TEST_CHAT_URL"  # the secret URL is never stored


def test_a_chat_url_not_in_the_environment_is_retried_not_lost(empty_project, store, monkeypatch):
    write_survey(empty_project.root, notify="{url_env: CXOPS_TEST_CHAT_URL, format: slack}")
    add_response(store, "c1", {"score": 2}, when=at(MONDAY))
    monkeypatch.delenv("CXOPS_TEST_CHAT_URL", raising=False)
    waiting = deliver(empty_project, store)
    assert waiting.retry == 1
    assert waiting.errors[0]["error"] == "environment variable CXOPS_TEST_CHAT_URL is not set"
    with running_chat_webhook("slack") as hook:
        monkeypatch.setenv("CXOPS_TEST_CHAT_URL", hook.url)
        assert deliver(empty_project, store).sent == 1
    assert len(hook.received) == 1


def test_the_json_payload_is_refused_by_slack_as_today(empty_project, store, monkeypatch):
    """The bug this fixes: a Slack incoming webhook refuses the JSON payload (no_text)."""
    with running_chat_webhook("slack") as hook:
        write_survey(empty_project.root, notify=f"{{url: '{hook.url}'}}")
        add_response(store, "c1", {"score": 2}, when=at(MONDAY))
        result = deliver(empty_project, store)
    assert result.failed == 1 and hook.refused == ["no_text"]
    assert result.errors[0]["error"] == "HTTP 400: no_text"


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ("{url: 'https://hooks.slack.example/T1/B2', format: slack}", "is a secret"),
        ("{url_env: HOOK, url: 'https://x.example'}", "exactly one of url or url_env"),
        ("{format: teams}", "exactly one of url or url_env"),
        ("{url_env: HOOK, format: email}", "format"),
    ],
)
def test_validate_refuses_a_bad_notify_at_its_line(empty_project, notify, message):
    write_survey(empty_project.root, notify=notify)
    result = empty_project.run(["validate"], expect_pass=False)
    assert message in result.output
    assert "nps-test.yaml:" in result.output and "followup" in result.output
