"""`POST /api/v1/events`: events (a ticket solved, a deal won) posted by other systems.

The body is one event or a list of at most `MAX_EVENTS`:
`{"id": "evt_1", "type": "ticket.solved", "occurred_at": "2026-12-07T10:05:00Z", "data": {…}}`
(`occurred_at` optional: the time received). A request is authenticated by
`Authorization: Bearer KEY` (a live key of `cxops keys create`) or by a Standard Webhooks
signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) under
`CXOPS_EVENTS_WEBHOOK_SECRET`, whose timestamp must be within five minutes of the clock.

A key limited to one survey (`cxops keys create NAME --survey ID`) posts only that
survey's event type: an item of another type is rejected (path `type`), and every item
of a survey the project no longer has (or which has no `trigger:`); the events it
posts are stored with the survey, and no other survey plans from them.

Replies: `202 {"accepted", "duplicates", "rejected": [{"index", "path", "error"}]}` once
the accepted events are committed (an id seen before is a duplicate and changes
nothing); `401` without valid credentials; `413` over the body limit or `MAX_EVENTS`;
`422` when every item is malformed; `400` when the body is not JSON.
"""

from __future__ import annotations

import binascii
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

from cxops.errors import ConfigError
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.inbound import KeyHolder, NewEvent, key_holder, store_events

log = logging.getLogger("cxops.collect")

PATH = "/api/v1/events"
MAX_EVENTS = 1000
MAX_TEXT = 255

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A malformed item of a batch: where (`path` in the item) and what was expected."""

    index: int
    path: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "path": self.path, "error": self.error}


def events_verifier(settings: Settings) -> Webhook | None:
    """The Standard Webhooks verifier for `CXOPS_EVENTS_WEBHOOK_SECRET` (None: unset)."""
    secret = settings.events_webhook_secret
    if secret is None:
        return None
    try:
        return Webhook(secret.get_secret_value())
    except (ValueError, binascii.Error, EmptyWebhookSecretError) as exc:
        raise ConfigError(
            "setting events_webhook_secret: expected a Standard Webhooks secret "
            f"(whsec_ and base64), {type(exc).__name__}"
        ) from None


@dataclass(frozen=True, slots=True)
class KeyScope:
    """A key limited to one survey, and the event type that survey answers to (None: the
    project has no such triggered survey)."""

    key: str
    survey_id: str
    event_type: str | None

    @classmethod
    def of(cls, holder: KeyHolder, survey: Survey | None) -> KeyScope | None:
        if holder.survey_id is None:
            return None
        trigger = survey.trigger if survey is not None else None
        return cls(holder.name, holder.survey_id, trigger.event if trigger else None)

    def problem(self, event_type: str) -> str | None:
        """Why an event of `event_type` may not be posted with this key (None: it may)."""
        if self.event_type is None:
            return (
                f"key {self.key!r} is limited to survey {self.survey_id!r}, which the project "
                "does not have or which has no trigger:"
            )
        if event_type != self.event_type:
            return (
                f"expected {self.event_type!r} (key {self.key!r} is limited to survey "
                f"{self.survey_id!r}), found {event_type!r}"
            )
        return None


def parse_batch(
    payload: Any, now: datetime, scope: KeyScope | None = None
) -> tuple[list[NewEvent], list[Rejected]] | None:
    """The valid events and the malformed items of a decoded body (an event a `scope`d key
    may not post counts as malformed); None when the body is a list longer than
    `MAX_EVENTS`."""
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > MAX_EVENTS:
        return None
    events: list[NewEvent] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        problem = _problem(item)
        if problem is None and scope is not None:
            refused = scope.problem(item["type"])
            problem = None if refused is None else ("type", refused)
        if problem is not None:
            rejected.append(Rejected(index, *problem))
            continue
        occurred = _when(item.get("occurred_at"))
        events.append(
            NewEvent(
                event_id=item["id"],
                type=item["type"],
                occurred_at=occurred if occurred is not None else now,
                data=item["data"],
            )
        )
    return events, rejected


def _problem(item: Any) -> tuple[str, str] | None:
    """(path, what was expected) for a malformed item, None for a valid one."""
    if not isinstance(item, dict):
        return "", f"expected an event object, found {_kind(item)}"
    for name in ("id", "type"):
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            return name, f"expected a non-empty string, found {_kind(value)}"
        if len(value) > MAX_TEXT:
            return name, f"expected at most {MAX_TEXT} characters, found {len(value)}"
    when = item.get("occurred_at")
    if when is not None and _when(when) is None:
        return "occurred_at", "expected an ISO 8601 time with a zone (2026-12-07T10:05:00Z)"
    if not isinstance(item.get("data"), dict):
        return "data", f"expected an object, found {_kind(item.get('data'))}"
    return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _unauthorized(reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": reason},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
    )


@router.post(PATH)
async def post_events(request: Request) -> JSONResponse:
    """Store a batch of events; see the module's docstring for the replies."""
    state = request.app.state.collector
    payload = await request.body()
    now = state.now()
    authorization = request.headers.get("authorization")
    scope: KeyScope | None = None
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _unauthorized("expected Authorization: Bearer KEY")
        holder = await state.run_db(key_holder, state.store(), key.strip(), state.signing_key)
        if holder is None:
            return _unauthorized("unknown or revoked key")
        credential = f"key:{holder.name}"
        if holder.survey_id is not None:
            survey = await state.run_db(state.survey, holder.survey_id)
            scope = KeyScope.of(holder, survey)
    elif request.headers.get("webhook-signature") is not None:
        verifier: Webhook | None = state.events_verifier
        if verifier is None:
            return _unauthorized("signed events are refused: CXOPS_EVENTS_WEBHOOK_SECRET is unset")
        try:
            verifier.verify(payload, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, ValueError, binascii.Error):
            return _unauthorized("bad or stale signature")
        credential = "webhook"
    else:
        return _unauthorized("expected Authorization: Bearer KEY or a webhook signature")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    parsed = parse_batch(body, now, scope)
    if parsed is None:
        return JSONResponse(
            {"error": f"expected at most {MAX_EVENTS} events"},
            status_code=413,
            headers={"Connection": "close"},
        )
    events, rejected = parsed
    reply: dict[str, Any] = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [item.as_dict() for item in rejected],
    }
    if rejected and not events:
        return JSONResponse(reply, status_code=422)
    if events:
        stored = await state.run_db(
            store_events,
            state.store(),
            events,
            credential,
            now,
            scope.survey_id if scope is not None else None,
        )
        reply["accepted"], reply["duplicates"] = stored.accepted, stored.duplicates
    if rejected:
        log.warning("events: %d malformed item(s) rejected (%s)", len(rejected), credential)
    return JSONResponse(reply, status_code=202)
