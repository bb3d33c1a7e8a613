"""One attempt to deliver: a signed POST and what its answer means.

2xx: delivered. 410 Gone: the receiver asks never to be called again (the endpoint is
disabled, as Standard Webhooks recommends). Anything else — another status, a
redirect (not followed), a refused connection, no answer within the timeout — is a
failed attempt, tried again later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
from standardwebhooks import Webhook

from cxops.webhooks.signing import signed_headers


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Literal["delivered", "gone", "failed"]
    error: str | None = None


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def post(
    client: httpx.Client,
    url: str,
    signer: Webhook,
    delivery_id: str,
    payload: dict[str, Any],
    sent_at: datetime,
) -> Attempt:
    body = encode(payload)
    headers = signed_headers(signer, delivery_id, sent_at, body)
    try:
        answer = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Attempt("failed", f"no answer within {client.timeout.read} s")
    except httpx.HTTPError as exc:
        return Attempt("failed", f"{type(exc).__name__}: {exc}"[:300])
    if 200 <= answer.status_code < 300:
        return Attempt("delivered")
    said = " ".join(answer.text[:200].split())
    error = f"HTTP {answer.status_code}" + (f": {said}" if said else "")
    if answer.status_code == 410:
        return Attempt("gone", error)
    return Attempt("failed", error)
