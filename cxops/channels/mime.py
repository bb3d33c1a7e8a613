"""RFC 5322 messages built as text, for the outbox (mbox) and SMTP channels.

`email.message.EmailMessage` costs about a millisecond per message; a wave builds
millions, so the MIME text is written directly (see `benchmarks/` and the tests,
which read every message back with the stdlib parser):

- headers: printable ASCII is folded at spaces; anything else (non-ASCII, control
  characters, `=?`) becomes RFC 2047 `=?utf-8?b?…?=` words of at most 75 characters,
  split on character boundaries, so a header can never be injected;
- bodies: `multipart/alternative`, text/plain then text/html, UTF-8, quoted-printable
  (base64 when the text holds a carriage return, which quoted-printable would lose);
  a line starting with `From ` is written `=46rom `, so mbox never has to mangle it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr
from functools import lru_cache

from cxops.channels.base import BatchContext, clean_display_name
from cxops.messages.types import OutgoingMessage

MAX_LINE = 78
_EW_BYTES = 45  # 45 bytes -> 60 base64 characters -> 72-character encoded word
_SAFE_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_ATEXT_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_QUOTABLE = re.compile(r"[\x20-\x7e]*")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_MSGID_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)
#: Headers this module writes itself; a recipient may not set them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "x-cxops-survey",
        "x-cxops-wave",
        "x-cxops-send-id",
    }
)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    message_id: str
    envelope_from: str
    data: bytes


def encoded_words(text: str, linesep: str = "\n") -> str:
    """`text` as RFC 2047 base64 encoded words, folded one word per line."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8", "surrogatepass"))
        if size + width > _EW_BYTES and chunk:
            words.append(_word("".join(chunk)))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk or not words:
        words.append(_word("".join(chunk)))
    return (linesep + " ").join(words)


def _word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def fold(name: str, value: str, linesep: str = "\n") -> str:
    """Fold printable ASCII `value` at spaces so lines stay within 78 characters."""
    if len(name) + 2 + len(value) <= MAX_LINE:
        return value
    lines: list[str] = []
    current = ""
    width = len(name) + 2
    for word in value.split(" "):
        if current and width + len(current) + 1 + len(word) > MAX_LINE:
            lines.append(current)
            current, width = word, 1
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return (linesep + " ").join(lines)


def header_value(name: str, value: str, linesep: str = "\n") -> str:
    """An unstructured header value, raw when printable ASCII, else encoded words."""
    if _SAFE_TEXT.fullmatch(value) and "=?" not in value:
        return fold(name, value, linesep)
    return encoded_words(value, linesep)


@lru_cache(maxsize=4096)
def format_address(email: str, name: str | None, linesep: str = "\n") -> str:
    """`Name <email>`: the name as atoms, a quoted string or encoded words."""
    if "<" in email or ">" in email or any(ch in email for ch in "\r\n\t ,"):
        raise ValueError(f"invalid email address {email!r}")
    name = clean_display_name(name)  # CR, LF, NUL … would break parsers reading it back
    if not name:
        return email
    if _ATEXT_PHRASE.fullmatch(name) and "=?" not in name:
        phrase = name
    elif _QUOTABLE.fullmatch(name) and "=?" not in name:
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = encoded_words(name, linesep)
    return f"{phrase} <{email}>"


@lru_cache(maxsize=1024)
def _parsed_address(header: str) -> tuple[str, str]:
    name, email = parseaddr(header)
    if not email or "@" not in email:
        raise ValueError(f"invalid address header {header!r}")
    return name, email


def message_id(send_id: str, from_header: str) -> str:
    """A stable Message-ID for one send: `<cxops.SEND_ID@sender-domain>`."""
    _, email = _parsed_address(from_header)
    domain = email.rpartition("@")[2].strip() or "cxops.invalid"
    token = send_id if _MSGID_TOKEN.fullmatch(send_id) else _digest(send_id)
    return f"<cxops.{token}@{domain}>"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def cxops_headers(context: BatchContext, send_id: str) -> dict[str, str]:
    """The X-Cxops-* headers that tie a message to its survey, wave and ledger row."""
    return {
        "X-Cxops-Survey": context.survey_id,
        "X-Cxops-Wave": context.wave_id,
        "X-Cxops-Send-Id": send_id,
    }


def encode_body(text: str, linesep: str = "\n") -> tuple[str, str]:
    """(Content-Transfer-Encoding, encoded body) for UTF-8 `text`."""
    data = text.encode("utf-8", "surrogatepass")
    if "\r" in text:
        encoded = base64.encodebytes(data).decode("ascii")
        encoding = "base64"
    else:
        encoded = binascii.b2a_qp(data, quotetabs=False, istext=True).decode("ascii")
        if "From " in encoded:
            encoded = _FROM_LINE.sub("=46rom ", encoded)
        encoding = "quoted-printable"
    if linesep != "\n":
        encoded = encoded.replace("\n", linesep)
    return encoding, encoded


def render(
    message: OutgoingMessage,
    *,
    date: datetime,
    extra_headers: Mapping[str, str] | None = None,
    linesep: str = "\n",
    boundary: str | None = None,
) -> RenderedMessage:
    """One complete RFC 5322 message as bytes, lines ending in `linesep`."""
    from_name, from_email = _parsed_address(message.from_header)
    msg_id = message_id(message.send_id, message.from_header)
    lines = [
        "From: " + format_address(from_email, from_name or None, linesep),
        "To: " + format_address(message.to_email, message.to_name, linesep),
    ]
    if message.reply_to:
        reply_name, reply_email = _parsed_address(message.reply_to)
        lines.append("Reply-To: " + format_address(reply_email, reply_name or None, linesep))
    lines += [
        "Subject: " + header_value("Subject", message.subject, linesep),
        "Date: " + format_datetime(date),
        "Message-ID: " + msg_id,
        "MIME-Version: 1.0",
    ]
    for name, value in message.headers.items():
        _check_header_name(name, ours=False)
        lines.append(f"{name}: {header_value(name, value, linesep)}")
    for name, value in (extra_headers or {}).items():
        _check_header_name(name, ours=True)
        lines.append(f"{name}: {header_value(name, value, linesep)}")
    mark = boundary or "=_cxops_" + secrets.token_hex(12)
    lines.append(f'Content-Type: multipart/alternative; boundary="{mark}"')
    lines.append("")
    for subtype, body in (("plain", message.text), ("html", message.html)):
        encoding, encoded = encode_body(body, linesep)
        lines += [
            f"--{mark}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            f"Content-Transfer-Encoding: {encoding}",
            "",
            encoded,
        ]
    lines += [f"--{mark}--", ""]
    return RenderedMessage(msg_id, from_email, linesep.join(lines).encode("utf-8"))


def _check_header_name(name: str, ours: bool) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if not ours and name.lower() in RESERVED_HEADERS:
        raise ValueError(f"header {name!r} is set by cxops and cannot be overridden")
