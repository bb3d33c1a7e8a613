"""SendGrid's Event Webhook: signature check, event parsing, the route.

With `CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY` set, a request must carry SendGrid's
ECDSA signature over timestamp + body, and a timestamp within five minutes of the
clock; anything else is refused with 403 and changes nothing.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cxops.audience.contacts import normalize_email
from cxops.errors import ConfigError, CxopsError
from cxops.store.events import ProviderEvent, apply_events

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = timedelta(minutes=5)
MAX_EVENTS = 10_000

router = APIRouter()


class WebhookRefused(CxopsError):
    """A webhook request is unsigned, badly signed or stale (answered with 403)."""


class WebhookPayloadError(CxopsError):
    """A webhook body is not a JSON list of events (answered with 400)."""


class SignatureVerifier:
    """Checks SendGrid's signature and timestamp headers with the account's public key."""

    def __init__(self, public_key: str):
        from sendgrid.helpers.eventwebhook import EventWebhook

        body = "".join(
            line.strip() for line in public_key.strip().splitlines() if "-----" not in line
        )
        try:
            self._helper = EventWebhook(body)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise ConfigError(
                f"setting sendgrid_webhook_public_key: not a base64 EC public key ({exc})"
            ) from None

    def verify(
        self, payload: bytes, signature: str | None, timestamp: str | None, now: datetime
    ) -> None:
        """Return when `payload` is signed and fresh; WebhookRefused otherwise."""
        if not signature or not timestamp:
            raise WebhookRefused("unsigned request")
        try:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            raise WebhookRefused("bad timestamp") from None
        if abs(now - sent) > MAX_AGE:
            raise WebhookRefused("stale timestamp")
        try:
            valid = self._helper.verify_signature(payload.decode("utf-8"), signature, timestamp)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            valid = False
        if not valid:
            raise WebhookRefused("bad signature")


def parse_events(payload: bytes) -> list[ProviderEvent]:
    """The events of a webhook body (a JSON list of objects); WebhookPayloadError if not."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("body is not JSON") from None
    if not isinstance(data, list) or len(data) > MAX_EVENTS:
        raise WebhookPayloadError(f"expected a JSON list of at most {MAX_EVENTS} events")
    events = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            raise WebhookPayloadError("every event must be an object with an 'event' name")
        events.append(_event(item))
    return events


def _event(item: dict[str, Any]) -> ProviderEvent:
    send_id = item.get("send_id")
    custom = item.get("custom_args")
    if send_id is None and isinstance(custom, dict):
        send_id = custom.get("send_id")
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        event_id = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    detail = item.get("type") if item["event"] == "bounce" else item.get("reason")
    return ProviderEvent(
        event_id=event_id[:255],
        event=item["event"],
        email=normalize_email(item.get("email")),
        send_id=str(send_id)[:32] if isinstance(send_id, str | int) else None,
        occurred_at=_timestamp(item.get("timestamp")),
        detail=str(detail)[:400] if detail is not None else None,
    )


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _summary(events: Sequence[ProviderEvent], applied: Any) -> dict[str, int]:
    return {
        "received": len(events),
        "duplicates": applied.duplicates,
        "suppressed": applied.suppressed,
        "sends_updated": applied.sends_updated,
        "ignored": applied.ignored,
    }


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """Apply a batch of SendGrid events; 403 when signing is on and the request is not signed."""
    state = request.app.state.collector
    payload = await request.body()
    now = state.now()
    if state.webhook_verifier is not None:
        state.webhook_verifier.verify(
            payload,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            now,
        )
    events = parse_events(payload)
    applied = await state.run_db(apply_events, state.store(), events, now)
    return JSONResponse(_summary(events, applied))
