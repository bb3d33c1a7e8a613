"""The signed links of one invitation: answer page, one-click unsubscribe, honeypot.

The collector serves `{public_url}/a/{token}`, `/u/{token}` and `/h/{token}`; every
token's subject is the send id. Answer and honeypot links expire with the invitation,
unsubscribe links after a year (people unsubscribe from old mail too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cxops.messages.tokens import make_token
from cxops.settings import Settings

UNSUBSCRIBE_VALID_FOR = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Links:
    answer: str
    unsubscribe: str
    honeypot: str

    def as_dict(self) -> dict[str, str]:
        return {"answer": self.answer, "unsubscribe": self.unsubscribe, "honeypot": self.honeypot}


def links_for(
    settings: Settings,
    send_id: str,
    expires_at: datetime,
    *,
    key: bytes | None = None,
    now: datetime | None = None,
) -> Links:
    """The three links of send `send_id`.

    `key` and `now` default to the settings' signing key and clock; a renderer passes
    them once per batch so that every message of a batch is signed alike.
    """
    signing_key = settings.signing_key() if key is None else key
    base = settings.public_url.rstrip("/")
    unsubscribe_until = (now or settings.clock()) + UNSUBSCRIBE_VALID_FOR
    return Links(
        answer=f"{base}/a/{make_token(signing_key, 'answer', send_id, expires_at)}",
        unsubscribe=f"{base}/u/{make_token(signing_key, 'unsubscribe', send_id, unsubscribe_until)}",
        honeypot=f"{base}/h/{make_token(signing_key, 'honeypot', send_id, expires_at)}",
    )


def unsubscribe_headers(links: Links) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for a message carrying `links`."""
    return {
        "List-Unsubscribe": f"<{links.unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
