"""Signed, expiring link tokens: HMAC-SHA256 over (purpose, send id, expiry).

A token reveals no database id: it carries the random `send_id` of a ledger row
(or a task's key) and its expiry; the signature binds them to one purpose, so an
unsubscribe token cannot open a task page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import UTC, datetime
from functools import lru_cache

from cxops.errors import TokenError

PURPOSES = frozenset({"answer", "unsubscribe", "honeypot", "task", "tasks"})
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
    return TokenSigner(key, purpose, expires_at).sign(subject)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


class TokenSigner:
    """`make_token` for one key, purpose and expiry, any number of subjects.

    What the tokens of a batch share is prepared once: a batch signs thousands.
    """

    __slots__ = ("_expiry", "_keyed", "_purpose")

    def __init__(self, key: bytes, purpose: str, expires_at: datetime):
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        self._keyed = _keyed(key)
        self._purpose = purpose.encode() + b"\0"
        self._expiry = struct.pack(">I", int(expires_at.timestamp()))

    def sign(self, subject: str) -> str:
        subject_bytes = subject.encode()
        length = len(subject_bytes)
        if not 0 < length <= 255:
            raise ValueError("token subject must be 1-255 bytes")
        payload = self._expiry + bytes((length,)) + subject_bytes
        mac = self._keyed.copy()
        mac.update(self._purpose + payload)
        raw = payload + mac.digest()[:_SIGNATURE_BYTES]
        # base64.urlsafe_b64encode without its layers of calls (a batch signs thousands).
        return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


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
