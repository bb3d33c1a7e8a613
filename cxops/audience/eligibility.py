"""Why a contact may not be invited although the filter picked them.

The store implements `History` from the ledger and the suppression list
(`cxops.store.history`); with no store yet, `NoHistory` excludes nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cxops.audience.contacts import Contact

#: Strongest first: a person held back for several reasons counts under the first.
EXCLUSION_REASONS = (
    "erased",
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
        """The strongest history reason (one of EXCLUSION_REASONS[:6]) to skip `email`, or None."""
        ...


@runtime_checkable
class ContactHistory(History, Protocol):
    """A History that also judges by the contact's fields (the contact policy, `cxops.policy`)."""

    def contact_exclusion(self, contact: Contact) -> str | None:
        """The strongest reason to skip `contact` (its email's reason first), or None."""
        ...

    def notes(self) -> list[str]:
        """What the wave summary should say beyond the counts."""
        ...

    def held_rows(self) -> list[dict[str, Any]]:
        """The people held back by the policy (the first ones), for `cxops plan`."""
        ...


class NoHistory:
    available = False

    def exclusion(self, email: str) -> str | None:
        return None
