"""The SMTP channel against a local aiosmtpd server: plain, AUTH, STARTTLS, SMTPS, faults."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cxops.channels import make_channel
from cxops.channels.base import BatchContext
from cxops.channels.smtp import SMTPChannel, parse_smtp_url
from cxops.errors import ChannelError
from cxops.messages.types import MessageGroup, Recipient
from cxops.testing.tls import self_signed_certificate, server_context

CONTEXT = BatchContext("csat", "2026-11-23", 4)
USER, PASSWORD = "mailer", "p@ss word/:"
URL_PASSWORD = "p%40ss%20word%2F%3A"


@dataclass
class Handler:
    """Accepts everything except addresses that ask for a refusal or a dropped line."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused"):
            return f"550 5.1.1 <{address}>: no such user"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if any(a.startswith("vanish") for a in envelope.rcpt_tos):
            server.transport.close()  # the message arrived, the answer never leaves
            return "250 OK"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False)  # handled=False: the server answers 535


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem)."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _recipient(index: int, address: str, name: str | None = "Zoë Ünal") -> Recipient:
    return Recipient(
        send_id=f"send-{index}",
        email=address,
        name=name,
        substitutions={"-name-": name or "there"},
        headers={
            "List-Unsubscribe": f"<https://cx.example/u/{index}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        custom_args={},
    )


def _group(*addresses: str) -> MessageGroup:
    return MessageGroup(
        from_header="Acme Research <research@acme.example>",
        reply_to=None,
        subject="Wie zufrieden sind Sie, -name-?",
        html="<p>Hallo -name-</p>\n.\n",
        text="Hallo -name-\n.\nFrom us\n",
        recipients=[_recipient(i, a) for i, a in enumerate(addresses)],
    )


def _status(deliveries: list[Any]) -> dict[str, str]:
    return {d.send_id: d.status for d in deliveries}


def test_delivers_each_message_intact(smtp_server: tuple[Handler, int]) -> None:
    handler, port = smtp_server
    group = _group("a@example.com", "b@example.com")
    deliveries = SMTPChannel(f"smtp://127.0.0.1:{port}").send([group], CONTEXT)
    assert _status(deliveries) == {"send-0": "sent", "send-1": "sent"}
    assert [rcpts for _, rcpts, _ in handler.received] == [["a@example.com"], ["b@example.com"]]
    for (mail_from, _, content), want in zip(handler.received, group.expand(), strict=True):
        assert mail_from == "research@acme.example"
        parsed = email.message_from_bytes(content, policy=policy.default)
        assert parsed["Subject"] == want.subject
        assert parsed["To"].addresses[0].display_name == want.to_name
        assert parsed["X-Cxops-Send-Id"] == want.send_id
        assert parsed["List-Unsubscribe"] == want.headers["List-Unsubscribe"]
        plain = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert plain == want.text
    assert deliveries[0].provider_id == "<cxops.send-0@acme.example>"


def test_refused_recipients_fail_or_retry_with_the_reply(smtp_server: tuple[Handler, int]) -> None:
    handler, port = smtp_server
    group = _group("refused@example.com", "later@example.com", "ok@example.com")
    deliveries = SMTPChannel(f"smtp://127.0.0.1:{port}").send([group], CONTEXT)
    by_id = {d.send_id: d for d in deliveries}
    assert by_id["send-0"].status == "failed"
    assert "550 5.1.1" in (by_id["send-0"].error or "")
    assert by_id["send-1"].status == "retry"
    assert "451" in (by_id["send-1"].error or "")
    assert by_id["send-2"].status == "sent"
    assert len(handler.received) == 1


def test_a_line_dropped_after_data_is_in_doubt_and_the_rest_retry(
    smtp_server: tuple[Handler, int],
) -> None:
    _, port = smtp_server
    group = _group("ok@example.com", "vanish@example.com", "next@example.com")
    deliveries = SMTPChannel(f"smtp://127.0.0.1:{port}?timeout=5").send([group], CONTEXT)
    assert _status(deliveries) == {"send-0": "sent", "send-1": "in_doubt", "send-2": "retry"}


def test_no_server_means_retry_for_everyone() -> None:
    url = f"smtp://127.0.0.1:{_free_port()}"
    deliveries = SMTPChannel(url).send([_group("a@example.com", "b@example.com")], CONTEXT)
    assert _status(deliveries) == {"send-0": "retry", "send-1": "retry"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_auth_with_credentials_from_the_url() -> None:
    handler = Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        base = f"127.0.0.1:{controller.port}"
        good = SMTPChannel(f"smtp://{USER}:{URL_PASSWORD}@{base}").send(
            [_group("a@example.com")], CONTEXT
        )
        bad = SMTPChannel(f"smtp://{USER}:wrong@{base}").send([_group("a@example.com")], CONTEXT)
        anonymous = SMTPChannel(f"smtp://{base}").send([_group("a@example.com")], CONTEXT)
    finally:
        controller.stop()
    assert _status(good) == {"send-0": "sent"}
    assert _status(bad) == {"send-0": "retry"} and "535" in (bad[0].error or "")
    assert "wrong" not in (bad[0].error or "")
    assert _status(anonymous) == {"send-0": "retry"}
    assert "530" in (anonymous[0].error or "")
    assert len(handler.received) == 1


def test_starttls_is_required_and_verified(certificate: tuple[Path, Path]) -> None:
    handler = Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        base = f"{USER}:{URL_PASSWORD}@127.0.0.1:{controller.port}"
        trusted = SMTPChannel(f"smtp+starttls://{base}?cafile={certificate[0]}")
        opportunistic = SMTPChannel(f"smtp://{base}?cafile={certificate[0]}")
        untrusted = SMTPChannel(f"smtp+starttls://{base}")
        results = [
            channel.send([_group("a@example.com")], CONTEXT)
            for channel in (trusted, opportunistic, untrusted)
        ]
    finally:
        controller.stop()
    assert [_status(r)["send-0"] for r in results] == ["sent", "sent", "retry"]
    assert "CERTIFICATE_VERIFY_FAILED" in (results[2][0].error or "")
    assert len(handler.received) == 2


def test_starttls_required_but_not_offered_is_retry(smtp_server: tuple[Handler, int]) -> None:
    _, port = smtp_server
    deliveries = SMTPChannel(f"smtp+starttls://127.0.0.1:{port}").send(
        [_group("a@example.com")], CONTEXT
    )
    assert _status(deliveries) == {"send-0": "retry"}
    assert "STARTTLS" in (deliveries[0].error or "")


def test_smtps_with_an_ssl_context(certificate: tuple[Path, Path]) -> None:
    handler = Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        ssl_context=server_context(certificate),
    )
    controller.start()
    try:
        client = ssl.create_default_context(cafile=str(certificate[0]))
        channel = SMTPChannel(f"smtps://127.0.0.1:{controller.port}", ssl_context=client)
        deliveries = channel.send([_group("a@example.com")], CONTEXT)
    finally:
        controller.stop()
    assert _status(deliveries) == {"send-0": "sent"}
    assert len(handler.received) == 1


def test_url_parsing_and_errors_never_show_the_password() -> None:
    target = parse_smtp_url(f"smtps://{USER}:{URL_PASSWORD}@mail.example?timeout=3")
    assert (target.mode, target.host, target.port, target.timeout) == (
        "ssl",
        "mail.example",
        465,
        3.0,
    )
    assert (target.username, target.password) == (USER, PASSWORD)
    assert PASSWORD not in repr(SMTPChannel(f"smtp://{USER}:{URL_PASSWORD}@mail.example"))
    assert parse_smtp_url("smtp+starttls://mail.example").port == 587
    with pytest.raises(ChannelError, match="unknown scheme") as error:
        parse_smtp_url(f"http://{USER}:{URL_PASSWORD}@mail.example")
    assert URL_PASSWORD not in str(error.value)


def test_make_channel_builds_smtp(empty_project: Any) -> None:
    channel = make_channel(
        empty_project.settings(channel="smtp", smtp_url="smtp://mail.example:2525")
    )
    assert isinstance(channel, SMTPChannel) and channel.target.port == 2525
    with pytest.raises(ChannelError, match="CXOPS_SMTP_URL"):
        make_channel(empty_project.settings(channel="smtp"))
