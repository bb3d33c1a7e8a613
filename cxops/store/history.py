"""The store's answer to "may we invite this person?" (`audience.eligibility.History`).

Everything needed is read once, one streamed query per kind of reason, into sets
and a dict: `exclusion()` is a constant-time lookup for a million contacts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, not_, select
from sqlalchemy.engine import Connection

from cxops.durations import Duration, Limit
from cxops.store.db import Store
from cxops.store.erasures import ERASED, ErasedAddresses, erased_addresses
from cxops.store.ledger import MAYBE_SENT
from cxops.store.models import Send, Suppression
from cxops.store.suppressions import REASONS

_STREAM = 10_000


@dataclass(frozen=True)
class StoreHistory:
    """History read from the store: erasures, suppressions, recent invitations, the cap."""

    #: People erased by `cxops forget` (by keyed hash): never invited again.
    erased: ErasedAddresses | None = None
    #: email -> the strongest suppression reason.
    suppressed: dict[str, str] = field(default_factory=dict)
    #: Invited to this survey (another wave) within `surveyed_within`.
    surveyed: frozenset[str] = frozenset()
    #: At or over the contact cap across all surveys.
    capped: frozenset[str] = frozenset()
    available: bool = True

    def exclusion(self, email: str) -> str | None:
        """The strongest reason to skip `email`, or None."""
        if self.erased and email in self.erased:
            return ERASED
        reason = self.suppressed.get(email)
        if reason is not None:
            return reason
        if email in self.surveyed:
            return "surveyed_within"
        if email in self.capped:
            return "contact_cap"
        return None


def load_history(
    store: Store,
    *,
    survey_id: str,
    wave_id: str,
    now: datetime,
    surveyed_within: Duration | None,
    cap: Limit | None,
    erasure_key: Callable[[], bytes] | None = None,
) -> StoreHistory:
    """Read the history that decides exclusions for a wave of `survey_id` at `now`.

    An invitation counts when its step-0 row is `sent`, `sending` or `in_doubt`,
    at `coalesce(sent_at, claimed_at, created_at)`. Rows of the wave being planned
    never count: a re-run resumes the wave, it does not exclude its own people.
    Erased people are recognised when `erasure_key` gives the project's secret key.
    """
    with store.engine.connect() as conn:
        erased = erased_addresses(conn, erasure_key) if erasure_key is not None else None
        suppressed = _suppressed(conn)
        surveyed: frozenset[str] = frozenset()
        if surveyed_within is not None:
            query = _invitations(survey_id, wave_id, surveyed_within.before(now)).where(
                Send.survey_id == survey_id
            )
            surveyed = frozenset(_column(conn, query.distinct()))
        capped: frozenset[str] = frozenset()
        if cap is not None and cap.within is not None:
            query = (
                _invitations(survey_id, wave_id, cap.within.before(now))
                .group_by(Send.email)
                .having(func.count() >= cap.count)
            )
            capped = frozenset(_column(conn, query))
    return StoreHistory(erased=erased, suppressed=suppressed, surveyed=surveyed, capped=capped)


def _suppressed(conn: Connection) -> dict[str, str]:
    rank = {reason: index for index, reason in enumerate(REASONS)}
    found: dict[str, str] = {}
    rows = conn.execution_options(yield_per=_STREAM).execute(
        select(Suppression.email, Suppression.reason)
    )
    for email, reason in rows:
        known = found.get(email)
        if known is None or rank.get(reason, len(rank)) < rank.get(known, len(rank)):
            found[email] = reason
    return found


def _invitations(survey_id: str, wave_id: str, since: datetime) -> Select[Any]:
    """Emails of step-0 invitations that may have reached the person since `since`,
    outside the wave being planned."""
    at = func.coalesce(Send.sent_at, Send.claimed_at, Send.created_at)
    return select(Send.email).where(
        Send.step == 0,
        Send.status.in_(MAYBE_SENT),
        at >= since,
        not_(and_(Send.survey_id == survey_id, Send.wave_id == wave_id)),
    )


def _column(conn: Connection, query: Select[Any]) -> Iterator[str]:
    for row in conn.execution_options(yield_per=_STREAM).execute(query):
        yield row[0]
