"""The per-rule `notify:` webhook: a JSON POST per new task, signed, retried.

Headers: `X-Cxops-Event: task.created`, `X-Cxops-Delivery` (the same id on every retry,
so receivers can drop duplicates), `X-Cxops-Timestamp` (Unix seconds) and, when the
rule names `secret_env`, `X-Cxops-Signature: sha256=<hex>`, the HMAC-SHA256 with that
secret of `<timestamp>.<body>`. Receivers recompute it and compare in constant time.

A POST is tried `attempts` times (connection errors, 408, 429 and 5xx are retried
with back-off); other 4xx answers are final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

SIGNATURE_HEADER = "X-Cxops-Signature"
TIMESTAMP_HEADER = "X-Cxops-Timestamp"
RETRYABLE = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class WebhookResult:
    #: sent: a 2xx answer. retry: never accepted, try again later. failed: refused for good.
    status: Literal["sent", "retry", "failed"]
    attempts: int
    error: str | None = None


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over `<timestamp>.<body>`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of this body and timestamp."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode()


def headers_for(
    delivery_id: str, body: bytes, secret: bytes | None, now_unix: int
) -> dict[str, str]:
    timestamp = str(now_unix)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cxops-followups",
        "X-Cxops-Event": "task.created",
        "X-Cxops-Delivery": delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return headers


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    attempts: int = 3,
    backoff: float = 0.5,
    timeout: float = 10.0,
    client: httpx.Client | None = None,
) -> WebhookResult:
    """POST `body`, retrying what may succeed later."""
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    error = ""
    try:
        for attempt in range(1, attempts + 1):
            try:
                answer = http.post(url, content=body, headers=dict(headers))
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= answer.status_code < 300:
                    return WebhookResult("sent", attempt)
                reason = " ".join(answer.text.split())[:200]
                error = f"HTTP {answer.status_code}" + (f": {reason}" if reason else "")
                if answer.status_code < 500 and answer.status_code not in RETRYABLE:
                    return WebhookResult("failed", attempt, error)
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
        return WebhookResult("retry", attempts, error)
    finally:
        if own:
            http.close()
