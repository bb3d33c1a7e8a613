"""The `sendgrid` channel: Mail Send v3 requests through the official client.

Each MessageGroup becomes requests of up to 1,000 personalizations; SendGrid applies
each recipient's `substitutions` to the shared subject and content. Outcomes per
request: 2xx -> sent; 429 (after `Retry-After`), 5xx and failures before the request
left (refused, timed out while connecting or sending) are retried with exponential
backoff, then `retry` (certainly not accepted). A request that left but got no answer
in time (read timeout, connection cut) is `in_doubt` at once and is NOT retried:
SendGrid has no idempotency key, so a retry could invite twice (`cxops run
--resend-in-doubt` is the explicit way back); 401/403 -> `retry` (a configuration
problem, nothing was accepted);
other 4xx -> `failed` with SendGrid's error text. The API key never appears in logs,
errors or results.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from pydantic import SecretStr

from cxops.channels.base import (
    BatchContext,
    Delivery,
    DeliveryStatus,
    same_outcome,
    sendgrid_display_name,
)
from cxops.errors import ChannelError
from cxops.messages.types import MessageGroup, Recipient

log = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000
#: SendGrid's limit on the substitutions of one personalization (keys and values, UTF-8).
MAX_SUBSTITUTION_BYTES = 10_000
_CLIENT_LOGGER = "python_http_client.client"
_BEARER = re.compile(r"Bearer\s+\S+")


def substitution_bytes(substitutions: Mapping[str, str]) -> int:
    """The size SendGrid counts against MAX_SUBSTITUTION_BYTES (keys and values, UTF-8)."""
    text = "".join(substitutions) + "".join(substitutions.values())
    return len(text) if text.isascii() else len(text.encode())


@dataclass(frozen=True, slots=True)
class MailRequest:
    """One Mail Send body and the send ids of its personalizations, in order."""

    send_ids: list[str]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None
    #: The key is refused: every other request of the batch would be refused alike.
    refused_key: bool = False


def _address(header: str) -> dict[str, str]:
    name, email = parseaddr(header)
    if not email:
        raise ChannelError(f"invalid sender address {header!r}")
    shown = sendgrid_display_name(name)
    return {"email": email, "name": shown} if shown else {"email": email}


def _personalization(recipient: Recipient, context: BatchContext) -> dict[str, Any]:
    name = sendgrid_display_name(recipient.name)
    to = {"email": recipient.email, "name": name} if name else {"email": recipient.email}
    custom_args = {
        "survey": context.survey_id,
        "wave": context.wave_id,
        "send_id": recipient.send_id,
    }
    for name, value in recipient.custom_args.items():
        custom_args[name] = value if type(value) is str else str(value)
    item: dict[str, Any] = {"to": [to], "custom_args": custom_args}
    # The body is serialized at once and never changed: the recipient's own mappings do.
    if recipient.substitutions:
        item["substitutions"] = recipient.substitutions
    if recipient.headers:
        item["headers"] = recipient.headers
    return item


def build_requests(
    group: MessageGroup, context: BatchContext
) -> tuple[list[MailRequest], list[Delivery]]:
    """Mail Send bodies for `group`, and the recipients refused before sending."""
    refused: list[Delivery] = []
    content = [
        {"type": kind, "value": value}
        for kind, value in (("text/plain", group.text), ("text/html", group.html))
        if value
    ]
    if not content:
        return [], same_outcome(
            (r.send_id for r in group.recipients), "failed", error="message has no content"
        )
    base: dict[str, Any] = {"from": _address(group.from_header), "subject": group.subject}
    if group.reply_to:
        base["reply_to"] = _address(group.reply_to)
    base["content"] = content
    accepted: list[Recipient] = []
    for recipient in group.recipients:
        size = substitution_bytes(recipient.substitutions)
        if size > MAX_SUBSTITUTION_BYTES:
            error = (
                f"substitutions are {size} bytes; SendGrid allows at most "
                f"{MAX_SUBSTITUTION_BYTES} per recipient"
            )
            refused.append(Delivery(recipient.send_id, "failed", error=error))
        else:
            accepted.append(recipient)
    requests = []
    for start in range(0, len(accepted), MAX_PERSONALIZATIONS):
        chunk = accepted[start : start + MAX_PERSONALIZATIONS]
        body = {"personalizations": [_personalization(r, context) for r in chunk], **base}
        requests.append(MailRequest([r.send_id for r in chunk], body))
    return requests, refused


class _Redact(logging.Filter):
    """Removes the API key (and any bearer token) from the client's debug logs."""

    def __init__(self, secret: str):
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._secret in text or "Bearer" in text:
            record.msg = _BEARER.sub("Bearer **********", text.replace(self._secret, "**********"))
            record.args = ()
        return True


class SendGridChannel:
    """Sends batches through SendGrid's Mail Send API with the official client."""

    name = "sendgrid"

    def __init__(
        self,
        api_key: SecretStr | str | None,
        api_url: str = "https://api.sendgrid.com",
        *,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not secret:
            raise ChannelError("the sendgrid channel needs an API key: set CXOPS_SENDGRID_API_KEY")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        import sendgrid

        self.api_url = api_url.rstrip("/")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._sleep = sleep
        self._secret = secret
        self._client = sendgrid.SendGridAPIClient(api_key=secret, host=self.api_url)
        self._filter = _Redact(secret)
        logging.getLogger(_CLIENT_LOGGER).addFilter(self._filter)

    def __repr__(self) -> str:
        return f"SendGridChannel(api_url={self.api_url!r}, api_key='**********')"

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        deliveries: list[Delivery] = []
        stop: _Outcome | None = None
        for request in self._requests(groups, context, deliveries):
            outcome = stop or self._post(request.body)
            if outcome.refused_key:
                stop = outcome
            deliveries += same_outcome(
                request.send_ids,
                outcome.status,
                provider_id=outcome.provider_id,
                error=outcome.error,
            )
        return deliveries

    def close(self) -> None:
        logging.getLogger(_CLIENT_LOGGER).removeFilter(self._filter)

    def _requests(
        self, groups: Sequence[MessageGroup], context: BatchContext, refused: list[Delivery]
    ) -> Iterator[MailRequest]:
        for group in groups:
            requests, not_sent = build_requests(group, context)
            refused += not_sent
            yield from requests

    def _post(self, body: dict[str, Any]) -> _Outcome:
        from python_http_client.exceptions import HTTPError

        error = ""
        for attempt in range(1, self.max_attempts + 1):
            delay = self._backoff(attempt)
            try:
                response = self._client.client.mail.send.post(
                    request_body=body, timeout=self.timeout
                )
            except HTTPError as exc:
                status = int(exc.status_code)
                error = self._redact(f"HTTP {status}: {_error_text(exc.body, exc.reason)}")
                if status in (401, 403):
                    return _Outcome("retry", error=error, refused_key=True)
                if status == 429:
                    delay = self._retry_after(exc.headers, delay)
                elif status < 500:
                    return _Outcome("failed", error=error)
            except urllib.error.URLError as exc:
                # Raised before the request was completely sent: it cannot have been accepted.
                error = self._redact(f"cannot reach SendGrid: {exc.reason}")
            except (TimeoutError, http.client.HTTPException, OSError) as exc:
                # The request left: SendGrid may have accepted it. Never twice beats never missed.
                error = self._redact(f"no answer from SendGrid: {type(exc).__name__} {exc}")
                log.warning("sendgrid: %s; the batch is in doubt, not retried", error)
                return _Outcome("in_doubt", error=error)
            else:
                provider_id = response.headers.get("X-Message-Id") if response.headers else None
                return _Outcome("sent", provider_id=provider_id)
            log.warning("sendgrid: attempt %d/%d: %s", attempt, self.max_attempts, error)
            if attempt < self.max_attempts:
                self._sleep(delay)
        return _Outcome("retry", error=error)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def _retry_after(self, headers: Any, default: float) -> float:
        value = headers.get("Retry-After") if headers is not None else None
        try:
            seconds = float(value)  # type: ignore[arg-type]  # None and junk are caught
        except (TypeError, ValueError):
            return default
        return min(self.max_delay, max(0.0, seconds))

    def _redact(self, text: str) -> str:
        return _BEARER.sub("Bearer **********", text.replace(self._secret, "**********"))


def _error_text(body: bytes | str | None, reason: str | None) -> str:
    """SendGrid's `errors[].message`, joined; the HTTP reason when the body has none."""
    try:
        payload = json.loads(body or b"")
        messages = [str(e["message"]) for e in payload["errors"] if e.get("message")]
    except (ValueError, KeyError, TypeError, AttributeError):
        messages = []
    return "; ".join(messages) or str(reason or "no error message")
