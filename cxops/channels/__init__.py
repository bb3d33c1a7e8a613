"""How invitations leave: `outbox` (mbox files), `sendgrid`, `smtp` — one protocol.

`make_channel(settings)` builds the configured channel; each channel module is
imported only when chosen, so `cxops validate` never pays for the SendGrid client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxops.channels.base import BatchContext, Channel, Delivery, DeliveryStatus
from cxops.errors import ChannelError

if TYPE_CHECKING:
    from cxops.settings import Settings

__all__ = ["BatchContext", "Channel", "Delivery", "DeliveryStatus", "make_channel"]


def make_channel(settings: Settings) -> Channel:
    """The channel named by `settings.channel` (CXOPS_CHANNEL), configured from settings."""
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
