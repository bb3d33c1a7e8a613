"""Standard Webhooks signatures: the secret's form, the headers of one delivery."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def check_secret(value: str, variable: str) -> Webhook:
    """The signer for `value` (the content of `variable`), or a ValueError in one line."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(
            f"environment variable {variable}: expected a Standard Webhooks secret "
            "(whsec_ followed by base64 of 24 to 64 random bytes)"
        )
    try:
        raw = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not 24 <= len(raw) <= 64:
        raise ValueError(
            f"environment variable {variable}: expected whsec_ followed by base64 of 24 to 64 "
            f"random bytes, found {len(raw)} bytes"
        )
    return Webhook(raw)


def signed_headers(
    signer: Webhook, delivery_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (Unix seconds of `sent_at`, the real time the
    receiver checks against its clock) and `webhook-signature` (`v1,<base64>`)."""
    return {
        "content-type": "application/json",
        "user-agent": "cxops-webhooks",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.sign(delivery_id, sent_at, body),
    }
