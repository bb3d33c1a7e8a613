"""The signed links of one invitation: answer page, one-click unsubscribe, honeypot.

The collector serves `{public_url}/a/{token}`, `/u/{token}` and `/h/{token}`; every
token's subject is the send id. Answer and honeypot links expire with the invitation,
unsubscribe links after a year (people unsubscribe from old mail too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cxops.messages.tokens import TokenSigner
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
    return LinkMaker(settings, expires_at, key=key, now=now).links(send_id)


class LinkMaker:
    """`links_for` for the sends of one batch (one key, expiry and clock)."""

    __slots__ = ("_answer", "_base", "_honeypot", "_unsubscribe", "expires_at")

    def __init__(
        self,
        settings: Settings,
        expires_at: datetime,
        *,
        key: bytes | None = None,
        now: datetime | None = None,
    ):
        signing_key = settings.signing_key() if key is None else key
        unsubscribe_until = (now or settings.clock()) + UNSUBSCRIBE_VALID_FOR
        self.expires_at = expires_at
        self._base = settings.public_url.rstrip("/")
        self._answer = TokenSigner(signing_key, "answer", expires_at)
        self._unsubscribe = TokenSigner(signing_key, "unsubscribe", unsubscribe_until)
        self._honeypot = TokenSigner(signing_key, "honeypot", expires_at)

    def links(self, send_id: str) -> Links:
        base = self._base
        return Links(
            answer=f"{base}/a/{self._answer.sign(send_id)}",
            unsubscribe=f"{base}/u/{self._unsubscribe.sign(send_id)}",
            honeypot=f"{base}/h/{self._honeypot.sign(send_id)}",
        )


def unsubscribe_headers(links: Links, mailto: str | None = None) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for a message carrying `links`.

    `List-Unsubscribe` is an RFC 2369 list of `<URI>`s: the https one (the one RFC 8058's
    POST goes to) first, then, with `mailto` (CXOPS_UNSUBSCRIBE_MAILTO), a mailto: whose
    subject carries the same signed token, so a mailbox rule or a person can act on it.
    """
    uris = [f"<{links.unsubscribe}>"]
    if mailto:
        token = links.unsubscribe.rsplit("/", 1)[-1]
        uris.append(f"<mailto:{mailto}?subject=unsubscribe%20{token}>")
    return {
        "List-Unsubscribe": ", ".join(uris),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
