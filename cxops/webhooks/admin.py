"""`cxops webhooks status` and `cxops webhooks retry`: the outbox by endpoint, dead
letters back to pending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cxops.errors import NotFoundError
from cxops.settings import Settings
from cxops.store import webhook_deliveries as outbox
from cxops.store.db import Store
from cxops.webhooks.payloads import iso


def webhook_status(settings: Settings, store: Store) -> list[dict[str, Any]]:
    """Per endpoint (configured ones first, then ones the store still has deliveries
    of): deliveries by status, `failing` (pending after a failed attempt), whether a 410
    disabled it, the last error."""
    configured = [endpoint.name for endpoint in settings.webhooks]
    with store.session() as session:
        figures = outbox.counts(session)
        errors = outbox.last_errors(session)
        states = outbox.endpoint_states(session)
    listed = []
    for name in [*configured, *sorted(set(figures) - set(configured))]:
        state = states.get(name)
        counts = figures.get(name, {status: 0 for status in (*outbox.STATUSES, "failing")})
        listed.append(
            {
                "endpoint": name,
                "configured": name in configured,
                **counts,
                "disabled": None
                if state is None or state.disabled_at is None
                else {"at": iso(state.disabled_at), "reason": state.disabled_reason},
                "error": (state.error if state is not None else None) or errors.get(name),
                "scanned_until": iso(state.scanned_until) if state is not None else None,
            }
        )
    return listed


def dead_letter_count(store: Store) -> dict[str, int]:
    """Endpoint -> dead letters (only endpoints that have some): for `cxops status`."""
    with store.session() as session:
        return {name: c["dead"] for name, c in outbox.counts(session).items() if c["dead"]}


def retry_dead_letters(
    settings: Settings, store: Store, *, endpoint: str | None, now: datetime
) -> int:
    """Dead letters of `endpoint` (None: every endpoint) back to pending, due now; the
    endpoint enabled again if a 410 disabled it. How many."""
    if endpoint is not None:
        with store.session() as session:
            known = set(outbox.endpoint_states(session)) | set(outbox.counts(session))
        known |= {e.name for e in settings.webhooks}
        if endpoint not in known:
            names = ", ".join(sorted(known)) or "none"
            raise NotFoundError(f"no webhook endpoint {endpoint!r}; expected one of: {names}")
    with store.session(write=True) as session:
        return outbox.retry_dead(session, endpoint, now)
