"""Signed links to a task's page (in digests, escalations, webhooks and chat messages)."""

from __future__ import annotations

import base64
import hmac
from datetime import datetime, timedelta

from cxops.messages.tokens import make_token
from cxops.settings import Settings

#: How long a task link in a digest or escalation stays valid.
TASK_LINK_TTL = timedelta(days=30)


def task_link(settings: Settings, key: str, now: datetime) -> str:
    """The signed URL of a task's page."""
    token = make_token(settings.signing_key(), "task", key, now + TASK_LINK_TTL)
    return f"{settings.public_url}/t/{token}"


def my_tasks_link(settings: Settings, assignee: str, now: datetime) -> str:
    """The signed URL of one assignee's task list (it shows their tasks and no one else's).

    The token carries `assignee_ref`, not the address: URLs end up in logs and histories.
    """
    token = make_token(
        settings.signing_key(), "tasks", assignee_ref(settings, assignee), now + TASK_LINK_TTL
    )
    return f"{settings.public_url}/m/{token}"


def assignee_ref(settings: Settings, assignee: str) -> str:
    """An opaque, stable name for an assignee: a keyed hash of the address."""
    digest = hmac.new(settings.signing_key(), b"assignee\0" + assignee.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()[:12]).decode()
