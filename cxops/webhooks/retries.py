"""When a failed delivery is tried again: the schedule Standard Webhooks recommends.

Attempt 1 goes out when the event is queued; after a failure the next attempt waits
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (attempts 2 to 8, about 27.6 hours in all);
after the eighth failure the delivery is dead (a dead letter, see `cxops webhooks retry`).
The loop runs every minute, so waits shorter than that are a minute in practice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
#: Attempts before a delivery is dead.
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_attempt(failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after `failed_attempts` failures in a row (None: dead)."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    return now + RETRY_DELAYS[failed_attempts - 1]
