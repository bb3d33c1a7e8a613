"""Signed links to a task's page (in digests, escalations, webhooks and chat messages)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cxops.messages.tokens import make_token
from cxops.settings import Settings

#: How long a task link in a digest or escalation stays valid.
TASK_LINK_TTL = timedelta(days=30)


def task_link(settings: Settings, key: str, now: datetime) -> str:
    """The signed URL of a task's page."""
    token = make_token(settings.signing_key(), "task", key, now + TASK_LINK_TTL)
    return f"{settings.public_url}/t/{token}"
