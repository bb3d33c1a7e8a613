"""What the collector can tell about the client behind a request, kept as a keyed hash.

A link scanner that fetches an invitation's hidden link is recognised by what it shows
of itself: its address, User-Agent and Accept-Language. The collector keeps an HMAC of
them under the signing key (the values themselves are never stored), so a fetch of the
hidden link and an answer can be told to come from the same client or not. TLS
fingerprints are not visible here: TLS ends before the collector (uvicorn or a proxy).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request


def client_hash(request: Request, key: bytes) -> str:
    """The keyed hash of the client of `request` (32 hex digits)."""
    address = request.client.host if request.client is not None else ""
    parts = (
        address,
        request.headers.get("user-agent", ""),
        request.headers.get("accept-language", ""),
    )
    text = "\x00".join(("client", *parts)).encode("utf-8", "replace")
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:32]
