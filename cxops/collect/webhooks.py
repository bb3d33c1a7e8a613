"""SendGrid's Event Webhook: signature check, event parsing, the route.

With `CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY` set, a request must carry SendGrid's
ECDSA signature over timestamp + body, and a timestamp within five minutes of the
clock; anything else is refused with 403 and changes nothing. Without a key every
request is refused, unless the operator opted in to unsigned events with
`CXOPS_SENDGRID_WEBHOOK_INSECURE=true` (logged loudly at start and per request).

A body that is not a JSON list (or is nested too deep to read) is a 400. In a list,
each malformed item is kept aside with its reason and the valid ones are applied:
the batch is answered 2xx, so SendGrid does not retry the valid events for 24 h.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cxops.audience.contacts import normalize_email
from cxops.errors import ConfigError, CxopsError
from cxops.settings import Settings
from cxops.store.events import ProviderEvent, RejectedItem, apply_events

log = logging.getLogger("cxops.collect")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = timedelta(minutes=5)
MAX_EVENTS = 10_000
_SECONDS = re.compile(r"[0-9]{1,20}")

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
        if not _SECONDS.fullmatch(timestamp):  # int() also takes '1_0' and other scripts
            raise WebhookRefused("bad timestamp")
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


def webhook_mode(settings: Settings) -> str:
    """How the collector treats SendGrid events, in one line (`cxops serve` prints it)."""
    if settings.sendgrid_webhook_public_key:
        return "SendGrid events: signed events only (CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY)"
    if settings.sendgrid_webhook_insecure:
        return (
            "SendGrid events: INSECURE, unsigned events accepted "
            "(CXOPS_SENDGRID_WEBHOOK_INSECURE=true): anyone reaching /webhooks/sendgrid "
            "can suppress addresses; set CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY"
        )
    return (
        "SendGrid events: refused (no CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY; "
        "CXOPS_SENDGRID_WEBHOOK_INSECURE=true accepts unsigned ones)"
    )


def parse_events(payload: bytes) -> tuple[list[ProviderEvent], list[RejectedItem]]:
    """The events of a webhook body and its malformed items with their reasons.

    WebhookPayloadError when the body is not a JSON list (or is nested too deep).
    """
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("body is not JSON") from None
    except RecursionError:
        raise WebhookPayloadError("body is nested too deep to be a list of events") from None
    if not isinstance(data, list) or len(data) > MAX_EVENTS:
        raise WebhookPayloadError(f"expected a JSON list of at most {MAX_EVENTS} events")
    events: list[ProviderEvent] = []
    rejects: list[RejectedItem] = []
    for index, item in enumerate(data):
        problem = _problem(item)
        if problem is not None:
            rejects.append(RejectedItem(f"item {index}: {problem}", item))
        else:
            events.append(_event(item))
    return events, rejects


def _problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"expected an object, found {type(item).__name__}"
    if not isinstance(item.get("event"), str) or not item["event"]:
        return "expected an 'event' name"
    email = item.get("email")
    if email is not None and (not isinstance(email, str) or normalize_email(email) is None):
        return "expected 'email' to be an address"
    return None


def _message_id(value: Any) -> str | None:
    """`sg_message_id` is the Mail Send reply's X-Message-Id, then `.filter…` (SendGrid's
    Event Webhook reference): the X-Message-Id the ledger keeps as `provider_id`."""
    if not isinstance(value, str) or not value:
        return None
    return value.split(".filter", 1)[0][:255] or None


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
        message_id=_message_id(item.get("sg_message_id")),
    )


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _summary(events: Sequence[ProviderEvent], applied: Any) -> dict[str, int]:
    return {
        "received": applied.received,
        "duplicates": applied.duplicates,
        "suppressed": applied.suppressed,
        "sends_updated": applied.sends_updated,
        "ignored": applied.ignored,
        "recorded": applied.recorded,
        "resubscribed": applied.resubscribed,
        "rejected": applied.rejected,
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
    elif not state.settings.sendgrid_webhook_insecure:
        raise WebhookRefused(
            "unsigned events are refused: set CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY "
            "(or CXOPS_SENDGRID_WEBHOOK_INSECURE=true to accept them)"
        )
    else:
        log.warning("accepting UNSIGNED SendGrid events (CXOPS_SENDGRID_WEBHOOK_INSECURE=true)")
    events, rejects = parse_events(payload)
    for reject in rejects:
        log.warning("SendGrid event kept aside: %s", reject.reason)
    applied = await state.run_db(apply_events, state.store(), events, now, rejects)
    return JSONResponse(_summary(events, applied))
