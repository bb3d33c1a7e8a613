"""Why a contact may not be invited although the filter picked them.

The store implements `History` from the ledger and the suppression list
(`cxops.store.history`); with no store yet, `NoHistory` excludes nobody.
"""

from __future__ import annotations

from typing import Protocol

#: Strongest first: a person held back for several reasons counts under the first.
EXCLUSION_REASONS = (
    "unsubscribed",
    "spam",
    "bounced",
    "surveyed_within",
    "contact_cap",
    "duplicate_email",
)


class History(Protocol):
    @property
    def available(self) -> bool:
        """False when there is no store yet (plan says so)."""
        ...

    def exclusion(self, email: str) -> str | None:
        """The strongest history reason (one of EXCLUSION_REASONS[:5]) to skip `email`, or None."""
        ...


class NoHistory:
    available = False

    def exclusion(self, email: str) -> str | None:
        return None
