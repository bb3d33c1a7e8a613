"""Signed, expiring link tokens: HMAC-SHA256 over (purpose, send id, expiry).

A token reveals no database id: it carries the random `send_id` of a ledger row
(or a task's key) and its expiry; the signature binds them to one purpose, so an
unsubscribe token cannot open a task page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import UTC, datetime
from functools import lru_cache

from cxops.errors import TokenError

PURPOSES = frozenset({"answer", "unsubscribe", "honeypot", "task"})
_SIGNATURE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    # Keying HMAC costs as much as hashing a short token: key once, copy per token.
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(key: bytes, purpose: str, payload: bytes) -> bytes:
    mac = _keyed(key).copy()
    mac.update(purpose.encode() + b"\0" + payload)
    return mac.digest()[:_SIGNATURE_BYTES]


def make_token(key: bytes, purpose: str, subject: str, expires_at: datetime) -> str:
    """A URL-safe token for `subject` (a send id or task key), valid until `expires_at`."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    subject_bytes = subject.encode()
    if not 0 < len(subject_bytes) <= 255:
        raise ValueError("token subject must be 1-255 bytes")
    payload = struct.pack(">IB", int(expires_at.timestamp()), len(subject_bytes)) + subject_bytes
    return _b64(payload + _signature(key, purpose, payload))


def read_token(key: bytes, purpose: str, token: str, now: datetime | None = None) -> str:
    """The subject of a valid token; TokenError (expired=True when only the time is up)."""
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        raise TokenError("malformed token") from None
    if len(raw) < 5 + _SIGNATURE_BYTES or _b64(raw) != token:
        # Only the canonical spelling is accepted: no two links open the same token.
        raise TokenError("malformed token")
    payload, signature = raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _signature(key, purpose, payload)):
        raise TokenError("bad signature")
    expires, length = struct.unpack(">IB", payload[:5])
    subject = payload[5:]
    if len(subject) != length:
        raise TokenError("malformed token")
    if (now or datetime.now(UTC)).timestamp() > expires:
        raise TokenError("expired", expired=True)
    return subject.decode()
