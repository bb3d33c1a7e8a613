"""The contact policy, evaluated: given a contact, their history and now, who holds them back.

Pure: no store, no files. The caller passes the person's past contacts (every
invitation and reminder that may have reached them, of every survey), the
contacts of each `per:` group, and the higher-priority surveys that want the
person soon. The answer is a list of `Hold`s, strongest first; empty means the
policy lets the person be contacted now.

Rules:
- `CXOPS_CONTACT_CAP` (`N per D`) holds a person back when they were contacted
  (invitation or reminder, any survey) N times or more within D before now,
  until the N-th most recent of those contacts is D old. The surveys that
  `CXOPS_CONTACT_CAP_EXEMPT` names are outside the cap: it never holds them back,
  and their contacts do not count towards it (`uncounted`).
- A `policy.yaml` rule applies when its `when` is true for the contact and the
  survey being planned (`survey`, see `cxops.policy.survey`; a field the
  contact's source does not have reads as none). `never` holds them back
  as long as `when` holds; `N per D` counts the person's contacts, or with `per`
  the contacts of everyone whose key (the `per` expression over the contact
  fields stored with each past send) equals theirs. A rule that fails to
  evaluate holds the person back (the policy fails closed) and says why.
- Priority: a survey with a higher `priority` that will run within a limit's
  window (see `cxops.policy.priority`) and wants the person reserves them when
  the limit leaves no room for both: count in window + 2 > N.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cxops.durations import Limit
from cxops.errors import ExpressionError
from cxops.expr import Evaluator, Scope
from cxops.policy.model import PolicyFile, PolicyRule
from cxops.policy.survey import exempt_from_cap

CAP_RULE = "contact_cap"
CAP_LABEL = "the contact cap"
#: How far `why` looks ahead for the day a `never` rule stops applying.
LOOKAHEAD_DAYS = 400


@dataclass(frozen=True, slots=True)
class Contacted:
    """One invitation (step 0) or reminder (step k) that may have reached a person."""

    at: datetime
    survey_id: str
    wave_id: str
    step: int = 0
    status: str = "sent"


@dataclass(frozen=True, slots=True)
class Reservation:
    """A higher-priority survey whose next wave at `at` wants this person."""

    survey_id: str
    priority: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Hold:
    """One reason the policy holds a person back."""

    #: `contact_cap`, a policy rule's name, or `priority`.
    rule: str
    #: The key counted in the wave summary: `contact_cap`, `policy:NAME`, `priority:SURVEY`.
    reason: str
    #: When the person may be contacted again as far as this rule goes; None: while it applies.
    until: datetime | None
    #: Plain words for `cxops why`.
    detail: str


class PolicyFields(dict[str, Any]):
    """Contact fields where a column the source lacks reads as none."""

    def __missing__(self, key: str) -> None:
        return None


@dataclass(frozen=True)
class ContactPolicy:
    """The project's contact policy: the cap from the settings and the `policy.yaml` rules."""

    rules: tuple[PolicyRule, ...] = ()
    cap: Limit | None = None
    holidays: str | None = None
    #: `CXOPS_CONTACT_CAP_EXEMPT`: an expression over `survey`, true for surveys outside the cap.
    cap_exempt: str | None = None
    #: The project's surveys outside the cap (ids): their contacts do not count towards it.
    uncounted: frozenset[str] = frozenset()
    _helpers: dict[datetime, tuple[Evaluator, Callable[[Any], int]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _exempt: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        policy: PolicyFile | None,
        cap: Limit | None,
        holidays: str | None = None,
        cap_exempt: str | None = None,
    ) -> ContactPolicy:
        return cls(tuple(policy.rules) if policy else (), cap, holidays, cap_exempt)

    def exempt(self, survey: Mapping[str, Any], now: datetime) -> bool:
        """Whether the contact cap leaves the survey with these facts alone."""
        if self.cap_exempt is None:
            return False
        found = self._exempt.get(survey["id"])
        if found is None:
            found = self._exempt[survey["id"]] = exempt_from_cap(self.cap_exempt, survey, now)
        return found

    def counting_only(self, surveys: Iterable[Mapping[str, Any]], now: datetime) -> ContactPolicy:
        """This policy, knowing which of the project's `surveys` (facts) are outside the cap."""
        if self.cap is None or self.cap_exempt is None:
            return self
        uncounted = frozenset(survey["id"] for survey in surveys if self.exempt(survey, now))
        return replace(self, uncounted=uncounted)

    @property
    def empty(self) -> bool:
        return not self.rules and self.cap is None

    @property
    def per_rules(self) -> tuple[PolicyRule, ...]:
        return tuple(rule for rule in self.rules if rule.per is not None)

    def longest_window(self) -> timedelta | None:
        """How far back history matters (None: no counting limit at all)."""
        windows = [limit.within.approx_timedelta() for limit in self._limits() if limit.within]
        return max(windows) if windows else None

    def _limits(self) -> list[Limit]:
        return [rule.limit for rule in self.rules] + ([self.cap] if self.cap else [])

    def holds(
        self,
        fields: Mapping[str, Any],
        own: Sequence[Contacted],
        now: datetime,
        *,
        group: Callable[[str, str], Sequence[Contacted]] | None = None,
        reservations: Sequence[Reservation] = (),
        priority: int = 0,
        survey: Mapping[str, Any] | None = None,
        first_only: bool = False,
        explain: bool = False,
        keys: list[tuple[str, str]] | None = None,
    ) -> list[Hold]:
        """Every hold on the contact with `fields` at `now`, cap first, then rules in order.

        `own`: the person's past contacts; `group(rule, key)`: the contacts of the
        `per` group `key` of `rule`; `survey`: the facts of the survey being planned
        (`cxops.policy.survey.survey_facts`). `explain` also works out until when a
        `never` rule applies (it re-evaluates `when` day by day). `keys`, when
        given, receives (rule, key) of every `per` rule that applies.
        """
        found: list[Hold] = []
        #: (limit, contacts it counts, label) of every counting limit that applies.
        counting: list[tuple[Limit, Sequence[Contacted], str]] = []
        if self.cap is not None and not (survey is not None and self.exempt(survey, now)):
            counted = self._cap_counts(own)
            counting.append((self.cap, counted, CAP_LABEL))
            hold = _count_hold(CAP_RULE, CAP_RULE, self.cap, counted, now, CAP_LABEL)
            if hold is not None:
                found.append(hold)
                if first_only:
                    return found
        scope = self._scope(fields, now, survey) if self.rules else None
        for rule in self.rules:
            assert scope is not None
            reason = f"policy:{rule.name}"
            try:
                applies = scope.test(rule.when, f"policy rule {rule.name!r}")
                key = None
                if applies and rule.per is not None:
                    key = per_key(scope, fields, rule.per, f"policy rule {rule.name!r} per")
                    if keys is not None and key is not None:
                        keys.append((rule.name, key))
            except ExpressionError as exc:
                found.append(Hold(rule.name, reason, None, f"rule {rule.name!r} failed: {exc}"))
                if first_only:
                    return found
                continue
            if not applies:
                continue
            hold = self._rule_hold(rule, reason, key, own, group, fields, survey, now, explain)
            if rule.limit.within is not None:
                counted = own if rule.per is None else _group(group, rule.name, key)
                counting.append((rule.limit, counted, f"rule {rule.name!r}"))
            if hold is not None:
                found.append(hold)
                if first_only:
                    return found
        if not found:
            hold = _priority_hold(counting, reservations, priority, now, self.uncounted)
            if hold is not None:
                found.append(hold)
        return found

    def _cap_counts(self, own: Sequence[Contacted]) -> Sequence[Contacted]:
        """The contacts the cap counts: not those of surveys outside it."""
        if not self.uncounted:
            return own
        return [contact for contact in own if contact.survey_id not in self.uncounted]

    def _scope(
        self, fields: Mapping[str, Any], now: datetime, survey: Mapping[str, Any] | None
    ) -> Scope:
        """A scope over the contact; the helpers are built once per clock (a wave has one)."""
        cached = self._helpers.get(now)
        if cached is None:
            if len(self._helpers) > 8:
                self._helpers.clear()
            cached = (Evaluator(now, self.holidays), days_until_helper(now))
            self._helpers[now] = cached
        evaluator, days_until = cached
        return evaluator.scope(
            {"contact": PolicyFields(fields), "days_until": days_until, "survey": _survey(survey)}
        )

    def _rule_hold(
        self,
        rule: PolicyRule,
        reason: str,
        key: str | None,
        own: Sequence[Contacted],
        group: Callable[[str, str], Sequence[Contacted]] | None,
        fields: Mapping[str, Any],
        survey: Mapping[str, Any] | None,
        now: datetime,
        explain: bool,
    ) -> Hold | None:
        if rule.limit.within is None:
            until = self._never_until(rule, fields, survey, now) if explain else None
            if until is None:
                detail = f"rule {rule.name!r} ({rule.when}) says never"
            else:
                detail = f"rule {rule.name!r} ({rule.when}) says never while it holds"
            return Hold(rule.name, reason, until, detail)
        if rule.per is None:
            return _count_hold(rule.name, reason, rule.limit, own, now, f"rule {rule.name!r}")
        contacts = _group(group, rule.name, key)
        label = f"rule {rule.name!r} (per {rule.per} = {key})"
        return _count_hold(rule.name, reason, rule.limit, contacts, now, label)

    def _never_until(
        self,
        rule: PolicyRule,
        fields: Mapping[str, Any],
        survey: Mapping[str, Any] | None,
        now: datetime,
    ) -> datetime | None:
        """The first day ahead on which `when` no longer holds (None: not within a year)."""
        for days in range(1, LOOKAHEAD_DAYS + 1):
            later = now + timedelta(days=days)
            scope = _scope(Evaluator(later, self.holidays), fields, later, survey)
            try:
                if not scope.test(rule.when):
                    return later.replace(hour=0, minute=0, second=0, microsecond=0)
            except ExpressionError:
                return None
        return None


_FIELD = re.compile(r"^\s*contact\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*'([^']+)'\s*\])\s*$")


def per_key(scope: Scope, fields: Mapping[str, Any], source: str, where: str = "") -> str | None:
    """The group key of `per` expression `source`; `contact.X` is read directly (fast)."""
    match = _FIELD.match(source)
    if match:
        return group_key(fields.get(match[1] or match[2]))
    return group_key(scope.evaluate(source, where))


def group_key(value: Any) -> str | None:
    """A `per` value as the text it is grouped by (None: no group, the rule counts nobody)."""
    if value is None or value == "":
        return None
    return str(value)


def days_until_helper(now: datetime) -> Callable[[Any], int]:
    from cxops.expr import helpers

    days_since = helpers(now)["days_since"]

    def days_until(value: Any) -> int:
        if value is None:
            raise TypeError("days_until() of an empty value")
        return -int(days_since(value))

    return days_until


def _scope(
    evaluator: Evaluator,
    fields: Mapping[str, Any],
    now: datetime,
    survey: Mapping[str, Any] | None = None,
) -> Scope:
    return evaluator.scope(
        {
            "contact": PolicyFields(fields),
            "days_until": days_until_helper(now),
            "survey": _survey(survey),
        }
    )


def _survey(survey: Mapping[str, Any] | None) -> PolicyFields:
    """`survey` in a rule: its facts; without a survey (a `why` of no survey) all none."""
    return PolicyFields(survey or {})


def _group(
    group: Callable[[str, str], Sequence[Contacted]] | None, rule: str, key: str | None
) -> Sequence[Contacted]:
    if group is None or key is None:
        return ()
    return group(rule, key)


def recent(contacts: Sequence[Contacted], limit: Limit, now: datetime) -> list[datetime]:
    """The times of `contacts` within the limit's window before now, newest first."""
    if limit.within is None:
        return []
    since = now - limit.within.approx_timedelta()
    return sorted((contact.at for contact in contacts if contact.at >= since), reverse=True)


def _count_hold(
    rule: str,
    reason: str,
    limit: Limit,
    contacts: Sequence[Contacted],
    now: datetime,
    label: str,
) -> Hold | None:
    assert limit.within is not None
    if len(contacts) < limit.count:
        return None
    times = recent(contacts, limit, now)
    if len(times) < limit.count:
        return None
    until = times[limit.count - 1] + limit.within.approx_timedelta()
    detail = f"{label} allows {limit}: {len(times)} in the window"
    return Hold(rule, reason, until, detail)


def _priority_hold(
    counting: Sequence[tuple[Limit, Sequence[Contacted], str]],
    reservations: Sequence[Reservation],
    priority: int,
    now: datetime,
    uncounted: frozenset[str] = frozenset(),
) -> Hold | None:
    """The first higher-priority survey that would find no room left if we contacted now.
    A survey outside the cap takes no room under it, so it reserves nobody through it."""
    for reservation in sorted(reservations, key=lambda r: (-r.priority, r.at, r.survey_id)):
        if reservation.priority <= priority:
            continue
        for limit, contacts, label in counting:
            assert limit.within is not None
            if label == CAP_LABEL and reservation.survey_id in uncounted:
                continue
            if reservation.at - now > limit.within.approx_timedelta():
                continue
            if len(recent(contacts, limit, now)) + 2 > limit.count:
                detail = (
                    f"kept for survey {reservation.survey_id!r} (priority "
                    f"{reservation.priority} over {priority}), whose next wave at "
                    f"{reservation.at:%Y-%m-%d %H:%M} UTC wants them too, and {label} "
                    f"allows {limit}"
                )
                return Hold("priority", f"priority:{reservation.survey_id}", reservation.at, detail)
    return None
