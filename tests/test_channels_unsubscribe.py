"""Unsubscribe headers against RFC 2369 / RFC 8058, and the https rule for real channels:
sendgrid and smtp refuse a non-https CXOPS_PUBLIC_URL unless --allow-insecure-links;
the outbox and a loopback URL are fine."""

from __future__ import annotations

import mailbox
import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from cxops.channels import check_public_url, make_channel
from cxops.errors import ChannelError
from cxops.messages.render import InvitationRenderer, SendView
from cxops.messages.tokens import read_token
from cxops.spec import find_survey

#: RFC 2369 section 2: a comma-separated list of URIs, each in angle brackets.
RFC2369_LIST = re.compile(r"^<[^<>\s]+>(?:\s*,\s*<[^<>\s]+>)*$")


def _message(project, **settings_overrides):
    settings = project.settings(**settings_overrides)
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    renderer = InvitationRenderer(survey, settings)
    return settings, renderer.render_one(
        SendView(
            send_id="send-42",
            email="quinn@corp.example",
            contact_key="c42",
            segment="smb",
            locale="en",
            contact={"name": "Quinn"},
            step=0,
            expires_at=settings.clock() + timedelta(days=14),
        )
    )


def _uris(header: str) -> list[str]:
    assert RFC2369_LIST.match(header), header
    return re.findall(r"<([^<>]+)>", header)


def test_one_click_headers_follow_rfc_8058(project) -> None:
    settings, message = _message(project, public_url="https://cx.acme.example")
    [uri] = _uris(message.headers["List-Unsubscribe"])
    # RFC 8058 section 3.1: one HTTPS URI, and exactly this List-Unsubscribe-Post value
    assert uri.startswith("https://cx.acme.example/u/")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = uri.rsplit("/", 1)[-1]
    assert read_token(settings.signing_key(), "unsubscribe", token) == "send-42"


def test_a_mailto_alternative_when_a_setting_names_one(project) -> None:
    settings, message = _message(
        project,
        public_url="https://cx.acme.example",
        unsubscribe_mailto="unsubscribe@acme.example",
    )
    https, mailto = _uris(message.headers["List-Unsubscribe"])
    assert https.startswith("https://")  # the URI the one-click POST goes to comes first
    parts = urlsplit(mailto)
    assert (parts.scheme, parts.path) == ("mailto", "unsubscribe@acme.example")
    subject = unquote(parse_qs(parts.query)["subject"][0])
    word, token = subject.split(" ")
    assert word == "unsubscribe"
    assert read_token(settings.signing_key(), "unsubscribe", token) == "send-42"
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_outbox_message_carries_the_headers_readably(project) -> None:
    from cxops.channels.base import BatchContext

    settings = project.settings(
        public_url="https://cx.acme.example",
        unsubscribe_mailto="mailto:unsubscribe@acme.example",
    )
    renderer = InvitationRenderer(
        find_survey("nps-quarterly", project.root / "surveys", project.root), settings
    )
    [group] = renderer.render_groups(
        [
            SendView(
                send_id="send-42",
                email="quinn@corp.example",
                contact_key="c42",
                segment="smb",
                locale="en",
                contact={"name": "Quinn"},
                step=0,
                expires_at=settings.clock() + timedelta(days=14),
            )
        ]
    )
    channel = make_channel(settings)
    [delivery] = channel.send([group], BatchContext("nps-quarterly", "w1", 1))
    assert delivery.status == "sent"
    (path,) = (settings.outbox_path / "nps-quarterly" / "w1").glob("*.mbox")
    [parsed] = list(
        mailbox.mbox(path, factory=lambda f: BytesParser(policy=policy.default).parse(f))
    )
    header = str(parsed["List-Unsubscribe"])
    https, mailto = _uris(re.sub(r"\s+", " ", header))
    assert https.startswith("https://cx.acme.example/u/") and mailto.startswith("mailto:")
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("channel", ["sendgrid", "smtp"])
def test_real_channels_refuse_a_non_https_public_url(project, channel) -> None:
    options = {"sendgrid_api_key": "SG.x", "smtp_url": "smtp://mail.acme.example:25"}
    settings = project.settings(channel=channel, public_url="http://cx.acme.example", **options)
    with pytest.raises(ChannelError, match=r"is not https.*--allow-insecure-links"):
        make_channel(settings)
    allowed = project.settings(
        channel=channel,
        public_url="http://cx.acme.example",
        allow_insecure_links=True,
        **options,
    )
    check_public_url(allowed)
    for fine in ("https://cx.acme.example", "http://127.0.0.1:8000", "http://localhost:8000"):
        check_public_url(project.settings(channel=channel, public_url=fine, **options))
    check_public_url(project.settings(channel="outbox", public_url="http://cx.acme.example"))


def test_cxops_run_refuses_before_sending_and_the_flag_lifts_it(project) -> None:
    env = {
        "CXOPS_CHANNEL": "smtp",
        "CXOPS_SMTP_URL": "smtp://127.0.0.1:9",
        "CXOPS_PUBLIC_URL": "http://cx.acme.example",
    }
    refused = project.run(["run", "nps-quarterly"], env=env, expect_pass=False)
    assert refused.exit_code == 1
    assert "is not https" in refused.output and "--allow-insecure-links" in refused.output
    assert "Traceback" not in refused.output
    assert not (project.root / "outbox").exists()


def test_a_bad_mailto_setting_is_refused(project) -> None:
    from cxops.errors import ConfigError

    with pytest.raises(ConfigError, match=r"CXOPS_UNSUBSCRIBE_MAILTO.*expected an email address"):
        project.settings(unsubscribe_mailto="not an address")
