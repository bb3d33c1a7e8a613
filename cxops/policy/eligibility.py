"""The contact policy as a wave's `History`: the store's reasons first, then the policy's.

`PolicyHistory` wraps the store's history (suppressions, `surveyed_within`) and
adds what needs the contact's fields: the contact cap, the `policy.yaml` rules
and survey priority. The audience selection calls `contact_exclusion(contact)`
for each contact that passed the filter (`cxops.audience.eligibility.ContactHistory`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.audience.contacts import Contact
from cxops.audience.eligibility import History
from cxops.errors import ExpressionError
from cxops.expr import Evaluator
from cxops.policy.evaluate import (
    Contacted,
    ContactPolicy,
    Hold,
    PolicyFields,
    Reservation,
    days_until_helper,
    per_key,
)
from cxops.store.contact_log import LoggedContact

#: How many held-back people a plan lists (the counts are always complete).
HELD_KEPT = 1000


@dataclass
class ContactLog:
    """Past contacts by person, and by `per` group of each rule that has one."""

    by_email: dict[str, list[Contacted]] = field(default_factory=dict)
    #: rule name -> group key -> contacts of everyone in the group.
    by_group: dict[str, dict[str, list[Contacted]]] = field(default_factory=dict)

    def own(self, email: str) -> Sequence[Contacted]:
        return self.by_email.get(email, ())

    def group(self, rule: str, key: str) -> Sequence[Contacted]:
        return self.by_group.get(rule, {}).get(key, ())


def build_log(entries: Iterable[LoggedContact], policy: ContactPolicy, now: datetime) -> ContactLog:
    """Index logged contacts by person and by the `per` key of each rule (over stored fields)."""
    log = ContactLog()
    per_rules = policy.per_rules
    evaluator = Evaluator(now, policy.holidays)
    days_until = days_until_helper(now)
    for entry in entries:
        contacted = Contacted(entry.at, entry.survey_id, entry.wave_id, entry.step, entry.status)
        log.by_email.setdefault(entry.email, []).append(contacted)
        if not per_rules or entry.fields is None:
            continue
        scope = evaluator.scope({"contact": PolicyFields(entry.fields), "days_until": days_until})
        for rule in per_rules:
            assert rule.per is not None
            try:
                key = per_key(scope, entry.fields, rule.per)
            except ExpressionError:
                continue
            if key is not None:
                log.by_group.setdefault(rule.name, {}).setdefault(key, []).append(contacted)
    return log


@dataclass(frozen=True, slots=True)
class HeldBack:
    key: str
    email: str
    hold: Hold

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "email": self.email,
            "rule": self.hold.rule,
            "reason": self.hold.reason,
            "until": self.hold.until.isoformat() if self.hold.until else None,
            "detail": self.hold.detail,
        }


class PolicyHistory:
    """`History` for one wave: the store's history, then the contact policy."""

    def __init__(
        self,
        base: History,
        policy: ContactPolicy,
        log: ContactLog,
        now: datetime,
        *,
        reservations: Mapping[str, Sequence[Reservation]] | None = None,
        priority: int = 0,
        survey: Mapping[str, Any] | None = None,
        notes: Sequence[str] = (),
    ):
        self.base = base
        self.available = base.available
        self.policy = policy
        self.log = log
        self.now = now
        self.reservations = reservations or {}
        self.priority = priority
        #: The facts of the survey being planned (`cxops.policy.survey.survey_facts`).
        self.survey = survey
        self.held: list[HeldBack] = []
        self.held_count = 0
        self.failed: dict[str, int] = {}
        #: Higher-priority surveys that kept people of this wave.
        self.kept_for: dict[str, int] = {}
        self._notes = list(notes)

    def exclusion(self, email: str) -> str | None:
        return self.base.exclusion(email)

    def contact_exclusion(self, contact: Contact) -> str | None:
        """The store's reason, else the first policy hold's reason, else None."""
        reason = self.base.exclusion(contact.email)
        if reason is not None:
            return reason
        own = self.log.own(contact.email)
        if not own and not self.policy.rules and contact.email not in self.reservations:
            return None  # the cap alone, and nobody contacted them: the common case, fast
        keys: list[tuple[str, str]] = []
        holds = self.policy.holds(
            contact.fields,
            own,
            self.now,
            group=self.log.group,
            reservations=self.reservations.get(contact.email, ()),
            priority=self.priority,
            survey=self.survey,
            first_only=True,
            keys=keys,
        )
        if not holds:
            self._count_planned(keys)
            return None
        hold = holds[0]
        if hold.detail.startswith(f"rule {hold.rule!r} failed"):
            self.failed[hold.rule] = self.failed.get(hold.rule, 0) + 1
        self.held_count += 1
        if hold.rule == "priority":
            survey_id = hold.reason.split(":", 1)[1]
            self.kept_for[survey_id] = self.kept_for.get(survey_id, 0) + 1
        if len(self.held) < HELD_KEPT:
            self.held.append(HeldBack(contact.key, contact.email, hold))
        return hold.reason

    def _count_planned(self, keys: Sequence[tuple[str, str]]) -> None:
        """A person who passes counts for their `per` groups at once: within one wave the
        first of an account (in source order) takes the account's place."""
        planned = Contacted(self.now, "", "", 0, "planned")
        for rule, key in keys:
            self.log.by_group.setdefault(rule, {}).setdefault(key, []).append(planned)

    def notes(self) -> list[str]:
        """What the plan should say about the policy beyond the counts."""
        notes = list(self._notes)
        for rule, count in self.failed.items():
            notes.append(
                f"policy rule {rule!r} could not be evaluated for {count} people: "
                "they are held back (see `cxops why EMAIL`)"
            )
        for survey_id, count in sorted(self.kept_for.items()):
            notes.append(
                f"{count} held back for higher-priority survey {survey_id!r}: "
                "its next wave wants them and the limits leave room for one survey only"
            )
        return notes

    def held_rows(self) -> list[dict[str, Any]]:
        return [held.as_dict() for held in self.held]
