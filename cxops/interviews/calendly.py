"""Calendly's webhook format: the `Calendly-Webhook-Signature` check and the invitee events.

The header is `t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 with the
subscription's signing key over `<t>.<raw body>`; a timestamp more than three
minutes from the clock is refused (a replay). The body (API v2):

    {"event": "invitee.created" | "invitee.canceled", "created_at": "...",
     "payload": {"uri": ".../scheduled_events/E/invitees/I", "email": "...",
                 "status": "active" | "canceled", "rescheduled": false,
                 "tracking": {"utm_source": "cxops", "utm_content": "<ref>", ...},
                 "scheduled_event": {"start_time": "...", ...}, ...}}

The invitation's reference comes back in `tracking.utm_content` (the booking link
carries it, `recruit.booking_link`); without it the invitee's email is matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cxops.errors import CxopsError

SIGNATURE_HEADER = "Calendly-Webhook-Signature"
TOLERANCE = timedelta(minutes=3)
EVENTS = ("invitee.created", "invitee.canceled")
MAX_BODY = 256 * 1024
_SECONDS = re.compile(r"[0-9]{1,20}")


class CalendlyRefused(CxopsError):
    """Unsigned, badly signed or stale (answered with 403; nothing changes)."""


class CalendlyPayloadError(CxopsError):
    """A signed body that is not an invitee event (answered with 400)."""


@dataclass(frozen=True, slots=True)
class CalendlyEvent:
    kind: str
    email: str | None
    ref: str | None
    invitee_uri: str | None
    starts_at: datetime | None
    rescheduled: bool


def sign(signing_key: str, body: bytes, timestamp: int) -> str:
    """The header value Calendly would send for `body` at `timestamp` (tests use it too)."""
    digest = hmac.new(
        signing_key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(signing_key: str, header: str | None, body: bytes, now: datetime) -> None:
    """Return when `header` signs `body` with `signing_key` and is fresh; CalendlyRefused else."""
    if not header:
        raise CalendlyRefused(f"missing {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    stamps, signatures = parts.get("t", []), parts.get("v1", [])
    # str.isdigit() and int() also take '²', '1_0' and other scripts' digits
    if len(stamps) != 1 or not _SECONDS.fullmatch(stamps[0]) or not signatures:
        raise CalendlyRefused(f"expected {SIGNATURE_HEADER}: t=<seconds>,v1=<hex>")
    seconds = int(stamps[0])
    try:
        sent = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        raise CalendlyRefused(f"signature timestamp t={seconds} is not a time") from None
    if abs(now - sent) > TOLERANCE:
        raise CalendlyRefused(f"signature timestamp {sent.isoformat()} is too far from now")
    expected = sign(signing_key, body, seconds).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise CalendlyRefused("the signature does not match the body")


def parse(body: bytes) -> CalendlyEvent | None:
    """The invitee event in `body`; None for an event type cxops does not use."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalendlyPayloadError(f"expected a JSON object, found invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise CalendlyPayloadError("expected a JSON object with 'event' and 'payload'")
    kind = data.get("event")
    if kind not in EVENTS:
        return None
    payload: dict[str, Any] = data["payload"]
    tracking = payload.get("tracking") if isinstance(payload.get("tracking"), dict) else {}
    assert isinstance(tracking, dict)
    scheduled = payload.get("scheduled_event")
    start = scheduled.get("start_time") if isinstance(scheduled, dict) else None
    return CalendlyEvent(
        kind=str(kind),
        email=_text(payload.get("email")),
        ref=_text(tracking.get("utm_content")),
        invitee_uri=_text(payload.get("uri")),
        starts_at=_time(start),
        rescheduled=payload.get("rescheduled") is True,
    )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
