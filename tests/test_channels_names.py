"""Display names that break mail: commas and semicolons (SendGrid's Mail Send limitations
forbid them in `personalizations[].to[].name`), CR/LF/NUL and other control characters
(Python's email parser must read the To header back), formulas, RTL and emoji — for
every channel: the outbox, SMTP, SendGrid through its real client."""

from __future__ import annotations

import email
import mailbox
from email import policy
from pathlib import Path

import pytest

from cxops.channels.base import BatchContext, clean_display_name, sendgrid_display_name
from cxops.channels.outbox import OutboxChannel
from cxops.channels.sendgrid import SendGridChannel
from cxops.channels.smtp import SMTPChannel
from cxops.messages.types import MessageGroup, Recipient
from cxops.testing.sendgrid_server import running_sendgrid_server
from tests.test_channels_smtp import Handler, smtp_server  # noqa: F401 (the fixture)

CONTEXT = BatchContext("nps-q4", "2026-11-23", 3)
NAMES = [
    "Garcia, Quinn",
    "Dr. Ace; MD",
    '=HYPERLINK("http://x.example","a,b")',
    "Line\r\nBcc: evil@attacker.example",
    "Nul\x00Byte",
    "Tab\tand\x7fDEL\x85C1",
    "Zoë, Ünal; 😀",
    "עברית, مرحبا",
    '"Quoted, Name"',
    "\u2028\r\n",
    "+cmd @SUM(A1)",
]


def _group() -> MessageGroup:
    recipients = [
        Recipient(
            send_id=f"send-{index}",
            email=f"person{index}@example.com",
            name=name,
            substitutions={},
            headers={
                "List-Unsubscribe": f"<https://cx.example/u/{index}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            custom_args={},
        )
        for index, name in enumerate(NAMES)
    ]
    return MessageGroup(
        from_header='"Acme, Research; Team" <research@acme.example>',
        reply_to=None,
        subject="How did we do?",
        html="<p>Hello</p>",
        text="Hello",
        recipients=recipients,
    )


def test_cleaning_keeps_what_can_be_kept() -> None:
    assert clean_display_name("Line\r\nBcc: x") == "Line Bcc: x"
    assert clean_display_name("Nul\x00Byte") == "Nul Byte"
    assert clean_display_name("\u2028\r\n") is None
    assert clean_display_name("Garcia, Quinn") == "Garcia, Quinn"
    assert sendgrid_display_name("Garcia, Quinn; Jr.") == "Garcia Quinn Jr."
    assert sendgrid_display_name(" ; , ") is None
    assert sendgrid_display_name("עברית, مرحبا") == "עברית مرحبا"


def _assert_headers_read_back(raw: bytes, index: int) -> None:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    [to] = parsed["To"].addresses  # one address: nothing injected, nothing split
    assert to.addr_spec == f"person{index}@example.com"
    assert to.display_name == (clean_display_name(NAMES[index]) or "")
    assert parsed["Bcc"] is None
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Acme, Research; Team",
        "research@acme.example",
    )


def test_outbox_names_are_quoted_or_encoded_and_read_back(tmp_path: Path) -> None:
    deliveries = OutboxChannel(tmp_path).send([_group()], CONTEXT)
    assert {d.status for d in deliveries} == {"sent"}
    (path,) = (tmp_path / "nps-q4" / "2026-11-23").glob("*.mbox")
    messages = list(mailbox.mbox(path))
    assert len(messages) == len(NAMES)
    for message in messages:
        index = int(message["X-Cxops-Send-Id"].split("-")[1])
        _assert_headers_read_back(message.as_bytes(), index)


def test_smtp_names_are_quoted_or_encoded_and_read_back(smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    deliveries = SMTPChannel(f"smtp://127.0.0.1:{port}").send([_group()], CONTEXT)
    assert {d.status for d in deliveries} == {"sent"}
    assert len(handler.received) == len(NAMES)
    for _, [rcpt], content in handler.received:
        _assert_headers_read_back(content, int(rcpt.removeprefix("person").split("@")[0]))


def test_sendgrid_names_carry_no_comma_semicolon_or_control_character() -> None:
    key = "SG.secret-key-0123456789"
    with running_sendgrid_server(api_key=key) as server:
        channel = SendGridChannel(key, server.url, sleep=lambda _s: None, max_attempts=1)
        deliveries = channel.send([_group()], CONTEXT)
        [request] = server.accepted
    assert {d.status for d in deliveries} == {"sent"}
    body = request.body
    names = {}
    for item in body["personalizations"]:
        [to] = item["to"]
        names[to["email"]] = to.get("name")
    for index, name in enumerate(NAMES):
        got = names[f"person{index}@example.com"]
        assert got == sendgrid_display_name(name)
        if got is not None:
            assert not set(got) & set(",;\r\n\x00\t\x7f\x85\u2028")
    assert body["from"] == {"email": "research@acme.example", "name": "Acme Research Team"}


@pytest.mark.parametrize("name", NAMES)
def test_the_mime_address_alone_parses_back(name: str) -> None:
    from cxops.channels.mime import format_address

    header = "To: " + format_address("x@example.com", name) + "\n\n"
    parsed = email.message_from_string(header, policy=policy.default)
    [to] = parsed["To"].addresses
    assert to.addr_spec == "x@example.com"
    assert to.display_name == (clean_display_name(name) or "")
