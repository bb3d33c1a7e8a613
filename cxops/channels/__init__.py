"""How invitations leave: `outbox` (mbox files), `sendgrid`, `smtp` — one protocol.

`make_channel(settings)` builds the configured channel; each channel module is
imported only when chosen, so `cxops validate` never pays for the SendGrid client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cxops.channels.base import BatchContext, Channel, Delivery, DeliveryStatus
from cxops.errors import ChannelError

if TYPE_CHECKING:
    from cxops.settings import Settings

__all__ = [
    "BatchContext",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "check_public_url",
    "make_channel",
]


#: Public URLs on these hosts reach no one else: a local test set-up, never refused.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def check_public_url(settings: Settings) -> None:
    """Refuse a real channel (sendgrid, smtp) with a non-https `CXOPS_PUBLIC_URL`.

    RFC 8058 one-click unsubscribe needs an https URI, and Gmail and Yahoo require it
    of bulk senders; answer links over http leak tokens. The outbox and a loopback URL
    are fine; `--allow-insecure-links` (CXOPS_ALLOW_INSECURE_LINKS) lifts the rule.
    """
    if settings.channel == "outbox" or settings.allow_insecure_links:
        return
    url = urlsplit(settings.public_url)
    if url.scheme == "https" or (url.hostname or "") in LOOPBACK_HOSTS:
        return
    raise ChannelError(
        f"CXOPS_PUBLIC_URL {settings.public_url} is not https: the {settings.channel} "
        "channel sends real mail, whose one-click unsubscribe (RFC 8058, Gmail, Yahoo) "
        "needs https links; set an https:// public URL, or pass --allow-insecure-links"
    )


def make_channel(settings: Settings) -> Channel:
    """The channel named by `settings.channel` (CXOPS_CHANNEL), configured from settings.

    ChannelError for a real channel with a non-https public URL (`check_public_url`).
    """
    check_public_url(settings)
    if settings.channel == "outbox":
        from cxops.channels.outbox import OutboxChannel

        return OutboxChannel(settings.outbox_path, clock=settings.clock)
    if settings.channel == "sendgrid":
        from cxops.channels.sendgrid import SendGridChannel

        return SendGridChannel(settings.sendgrid_api_key, settings.sendgrid_api_url)
    if settings.channel == "smtp":
        from cxops.channels.smtp import SMTPChannel

        if settings.smtp_url is None:
            raise ChannelError("the smtp channel needs a server: set CXOPS_SMTP_URL")
        return SMTPChannel(settings.smtp_url)
    raise ChannelError(f"unknown channel {settings.channel!r}: expected outbox, sendgrid or smtp")
