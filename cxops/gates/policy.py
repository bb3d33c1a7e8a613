"""The contact cap, `policy.yaml` and survey priority as one gate (`cxops.policy`).

The gate wraps the wave's `PolicyHistory` (`cxops.policy.history.policy_history`):
- at PLAN and REMIND it answers as the policy always did: a person it holds back is
  skipped, counted by the policy's reason (`contact_cap`, `policy:NAME`,
  `priority:SURVEY`), and listed in the plan's `held_back` (`held_rows`);
- at CLAIM (a row planned earlier, e.g. one a send window made wait) it asks the policy
  again without counting anyone into a `per` group: when the cap now holds the person
  back, the row waits until the cap lets them through (`Hold`); a rule or a priority
  that holds them back skips the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cxops.audience.contacts import Contact
from cxops.gates.base import SEND, Candidate, Decision, Hold, Moment, Skip
from cxops.policy.eligibility import PolicyHistory
from cxops.policy.evaluate import CAP_RULE


class PolicyGate:
    """The contact policy of one wave and step."""

    name = "policy"

    def __init__(self, history: PolicyHistory):
        self.history = history

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        if moment is not Moment.CLAIM:
            contact = Contact(candidate.contact_key, candidate.email, 0, candidate.contact)
            reason = self.history.contact_exclusion(contact)
            return SEND if reason is None else Skip(reason)
        history = self.history
        own = history.log.own(candidate.email)
        reserved = history.reservations.get(candidate.email, ())
        if not own and not history.policy.rules and not reserved:
            return SEND  # the cap alone, and nobody contacted them: the common case, fast
        holds = history.policy.holds(
            candidate.contact,
            own,
            now,
            group=history.log.group,
            reservations=reserved,
            priority=history.priority,
            first_only=True,
        )
        if not holds:
            return SEND
        hold = holds[0]
        if hold.rule == CAP_RULE and hold.until is not None and hold.until > now:
            return Hold(hold.until, hold.reason)
        return Skip(hold.reason)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return SEND

    def notes(self) -> list[str]:
        return self.history.notes()

    def held_rows(self) -> list[dict[str, Any]]:
        return self.history.held_rows()
