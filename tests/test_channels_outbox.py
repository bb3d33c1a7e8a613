"""The outbox channel and the MIME builder, read back with `mailbox` and `email`."""

from __future__ import annotations

import email
import mailbox
import os
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from cxops.channels import make_channel, mime
from cxops.channels.base import BatchContext
from cxops.channels.outbox import OutboxChannel
from cxops.messages.types import MessageGroup, OutgoingMessage, Recipient

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONTEXT = BatchContext("nps-q4", "2026-11-23", 12)
LONG_LINE = "word " * 60 + "end"
TEXT = (
    "Hello -name-,\n"
    "From the team: how likely are you to recommend us?\n"
    f"{LONG_LINE}\n"
    "trailing spaces   \n"
    "\ttab first\n"
    ".\n"
    "..two dots\n"
    "a = b =?utf-8?q?x?= =3D\n"
    "Unsubscribe: -unsub-"
)
HTML = (
    "<p>Hello -name-</p>\n<script>alert('x')</script>\n"
    "From here on, <b>Grüße</b> ☃\n"
    f"<p>{'x' * 300}</p>\n<a href='-unsub-'>unsubscribe</a>\n"
)


def _recipient(index: int, name: str | None, email_address: str) -> Recipient:
    unsubscribe = f"https://cx.example/u/{index}?t=tok{index}"
    return Recipient(
        send_id=f"send-{index}",
        email=email_address,
        name=name,
        substitutions={"-name-": name or "there", "-unsub-": unsubscribe},
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        custom_args={"survey": "nps-q4", "wave": "2026-11-23", "send_id": f"send-{index}"},
    )


NAMES = [
    "Zoë Ünal",
    'Dr. "Ace" O\'Brien, Jr.',
    None,
    "Plain Name",
    "李小龍",
    "=?utf-8?q?not-encoded?=",
    "A" * 120,
]


def _group(names: list[str | None] = NAMES, subject: str = "Ihre Meinung, -name-?") -> MessageGroup:
    recipients = [_recipient(i, n, f"person{i}@example.com") for i, n in enumerate(names)]
    return MessageGroup(
        from_header="Acme Research <research@acme.example>",
        reply_to="Acme Support <support@acme.example>",
        subject=subject,
        html=HTML,
        text=TEXT,
        recipients=recipients,
    )


def _read_mbox(path: Path) -> list[EmailMessage]:
    box = mailbox.mbox(
        path, factory=lambda f: email.message_from_binary_file(f, policy=policy.default)
    )
    try:
        return list(box)
    finally:
        box.close()


def _assert_message(parsed: EmailMessage, expected: OutgoingMessage) -> None:
    (to,) = parsed["To"].addresses
    assert to.addr_spec == expected.to_email
    assert to.display_name == (expected.to_name or "")
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Research", "research@acme.example")
    assert parsed["Reply-To"].addresses[0].addr_spec == "support@acme.example"
    assert parsed["Subject"] == expected.subject
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"] == f"<cxops.{expected.send_id}@acme.example>"
    assert parsed["MIME-Version"] == "1.0"
    for name, value in expected.headers.items():
        assert parsed[name] == value
    assert parsed["X-Cxops-Survey"] == CONTEXT.survey_id
    assert parsed["X-Cxops-Wave"] == CONTEXT.wave_id
    assert parsed["X-Cxops-Send-Id"] == expected.send_id
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == expected.text
    assert html.get_content_type() == "text/html"
    assert html.get_content() == expected.html
    assert not parsed.defects and not plain.defects and not html.defects


def test_every_header_and_both_bodies_round_trip(tmp_path: Path) -> None:
    group = _group()
    channel = OutboxChannel(tmp_path, clock=lambda: NOW)
    deliveries = channel.send([group], CONTEXT)

    path = tmp_path / "nps-q4" / "2026-11-23" / "batch-000012.mbox"
    assert channel.batch_path(CONTEXT) == path
    parsed = _read_mbox(path)
    expected = list(group.expand())
    assert len(parsed) == len(expected) == len(NAMES)
    for message, want in zip(parsed, expected, strict=True):
        _assert_message(message, want)
    assert {d.send_id: d.status for d in deliveries} == {m.send_id: "sent" for m in expected}
    assert {d.provider_id for d in deliveries} == {m["Message-ID"] for m in parsed}


def test_mbox_lines_never_start_with_from_and_stay_short(tmp_path: Path) -> None:
    OutboxChannel(tmp_path, clock=lambda: NOW).send([_group()], CONTEXT)
    lines = (tmp_path / "nps-q4" / "2026-11-23" / "batch-000012.mbox").read_bytes().splitlines()
    envelope = [line for line in lines if line.startswith(b"From ")]
    assert len(envelope) == len(NAMES)  # only the mbox separators
    assert all(b"@" in line for line in envelope)
    assert max(len(line) for line in lines) <= 998
    assert all(line.isascii() for line in lines)


@pytest.mark.parametrize(
    "subject",
    [
        "Plain ASCII subject",
        "Ünïcode subject " * 8,
        "x" * 200,
        "  leading and  double  spaces ",
        "injected\r\nBcc: victim@example.com",
        "emoji 🎉 at the end",
        "",
    ],
)
def test_subjects_round_trip_and_cannot_inject_headers(subject: str) -> None:
    message = next(_group(["Zoë"], subject=subject).expand())
    rendered = mime.render(message, date=NOW)
    parsed = email.message_from_bytes(rendered.data, policy=policy.default)
    assert parsed["Subject"] == subject
    assert parsed["Bcc"] is None
    assert all(len(line) <= 998 for line in rendered.data.splitlines())


@pytest.mark.parametrize(
    "text",
    ["", "no newline at end", "ends with newline\n", "crlf\r\nlines\r\n", "lone\rcr", "\n\n\n"],
)
def test_bodies_round_trip_exactly(text: str) -> None:
    message = OutgoingMessage(
        "s", "a@example.com", None, "r@acme.example", None, "s", text, text, {}, {}
    )
    parsed = email.message_from_bytes(mime.render(message, date=NOW).data, policy=policy.default)
    plain, html = parsed.iter_parts()
    assert plain.get_content() == text
    assert html.get_content() == text


def test_crlf_rendering_for_smtp_parses_the_same() -> None:
    message = next(_group().expand())
    rendered = mime.render(message, date=NOW, linesep="\r\n")
    assert b"\n" not in rendered.data.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(rendered.data, policy=policy.default)
    assert parsed["Subject"] == message.subject
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == message.text


def test_reminders_get_their_own_file_name(tmp_path: Path) -> None:
    channel = OutboxChannel(tmp_path, clock=lambda: NOW)
    context = BatchContext("nps-q4", "2026-11-23", 3, step=1)
    channel.send([_group()], context)
    assert (tmp_path / "nps-q4" / "2026-11-23" / "reminder1-batch-000003.mbox").is_file()


def test_path_parts_cannot_escape_the_outbox(tmp_path: Path) -> None:
    channel = OutboxChannel(tmp_path / "outbox", clock=lambda: NOW)
    path = channel.batch_path(BatchContext("../../etc", "a/b", 1))
    assert path.resolve().is_relative_to((tmp_path / "outbox").resolve())


def test_sending_a_batch_again_replaces_the_file(tmp_path: Path) -> None:
    channel = OutboxChannel(tmp_path, clock=lambda: NOW)
    channel.send([_group()], CONTEXT)
    channel.send([_group(["Only One"])], CONTEXT)
    folder = tmp_path / "nps-q4" / "2026-11-23"
    parsed = _read_mbox(folder / "batch-000012.mbox")
    assert [m["To"].addresses[0].display_name for m in parsed] == ["Only One"]
    assert sorted(p.name for p in folder.iterdir()) == ["batch-000012.mbox"]


def test_a_crash_while_writing_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = OutboxChannel(tmp_path, clock=lambda: NOW)
    channel.send([_group(["First"])], CONTEXT)
    folder = tmp_path / "nps-q4" / "2026-11-23"
    before = (folder / "batch-000012.mbox").read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    deliveries = channel.send([_group()], CONTEXT)

    assert {d.status for d in deliveries} == {"retry"}
    assert len(deliveries) == len(NAMES)
    assert "Input/output error" in (deliveries[0].error or "")
    assert (folder / "batch-000012.mbox").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["batch-000012.mbox"]


def test_an_unwritable_outbox_means_retry(tmp_path: Path) -> None:
    (tmp_path / "nps-q4").write_text("a file where the folder should be")
    deliveries = OutboxChannel(tmp_path, clock=lambda: NOW).send([_group()], CONTEXT)
    assert {d.status for d in deliveries} == {"retry"}


def test_a_bad_recipient_header_fails_only_that_recipient(tmp_path: Path) -> None:
    group = _group(["Good", "Bad"])
    bad = group.recipients[1]
    group.recipients[1] = Recipient(
        bad.send_id, bad.email, bad.name, bad.substitutions, {"Subject": "x"}, {}
    )
    deliveries = OutboxChannel(tmp_path, clock=lambda: NOW).send([group], CONTEXT)
    status = {d.send_id: (d.status, d.error) for d in deliveries}
    assert status["send-0"] == ("sent", None)
    assert status["send-1"][0] == "failed"
    assert "Subject" in (status["send-1"][1] or "")
    assert len(_read_mbox(OutboxChannel(tmp_path).batch_path(CONTEXT))) == 1


def test_make_channel_defaults_to_the_outbox(empty_project) -> None:
    settings = empty_project.settings()
    channel = make_channel(settings)
    assert isinstance(channel, OutboxChannel)
    assert channel.root == settings.outbox_path
