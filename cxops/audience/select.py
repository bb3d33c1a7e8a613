"""Who of a source's rows is invited: filter, segments, exclusions, sample.

`select_audience` is a generator over the source's rows. It counts everything in
a `Tally` (the numbers of the wave summary) as it goes. Without `sample`, invitees
come out as soon as they are found; with `sample`, at the end, in source order.

A `PlanGate` (the wave's gates, `cxops.gates`) is asked about each contact the store's
history lets through: it may skip them (counted under `excluded` by its reason) or plan
them to wait (`Invitee.waits`, counted under `Tally.holds` once sampled).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cxops.audience.contacts import BadRow, Contact, SeenIndex
from cxops.audience.eligibility import EXCLUSION_REASONS, ContactHistory, History
from cxops.audience.sample import RoundSampler, StratifiedSampler
from cxops.errors import ExpressionError
from cxops.expr import Evaluator, Scope
from cxops.spec.models import Sample, Survey

#: The segment of a contact no segment expression matched.
OTHER_SEGMENT = "other"
DUPLICATE_EMAIL = "duplicate_email"


@dataclass(frozen=True, slots=True)
class Waits:
    """A contact planned to wait: due at `until` (UTC-aware) because of `reason`."""

    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Invitee:
    contact: Contact
    segment: str
    #: A gate held them back at planning: planned, but due only at `waits.until`.
    waits: Waits | None = None
    #: The quota round that invites them (1, 2, …), 0 without rounds (`audience.quota`).
    round: int = 0


class PlanGate(Protocol):
    """The wave's gates asked at planning, about one contact of a segment."""

    def decide(self, contact: Contact, segment: str) -> str | Waits | None:
        """None: plan them; a reason: skip them; `Waits`: plan them to wait."""
        ...


@dataclass
class Tally:
    """The counts of one selection, in the shape of the wave summary."""

    #: Rows read, bad rows included.
    audience: int = 0
    filtered_out: int = 0
    #: Reason -> people held back for it (each person under their strongest reason).
    excluded: dict[str, int] = field(default_factory=dict)
    #: After bad rows, filter and exclusions; before sampling.
    eligible: int = 0
    sampled: int = 0
    #: Segment -> {"eligible": n, "sampled": n}.
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    history_available: bool = False
    #: What the history (the contact policy) has to say beyond the counts.
    notes: list[str] = field(default_factory=list)
    #: The first people the contact policy held back (`cxops plan` lists them).
    held: list[dict[str, Any]] = field(default_factory=list)
    #: Reason -> sampled invitees a gate planned to wait (`Invitee.waits`).
    holds: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "filtered_out": self.filtered_out,
            "excluded": dict(self.excluded),
            "eligible": self.eligible,
            "sampled": self.sampled,
            "by_segment": {name: dict(counts) for name, counts in self.by_segment.items()},
            "bad_rows": [bad.as_dict() for bad in self.bad_rows],
            "history_available": self.history_available,
        }

    def _segment(self, name: str) -> dict[str, int]:
        return self.by_segment.setdefault(name, {"eligible": 0, "sampled": 0})


def select_audience(
    survey: Survey,
    rows: Iterable[Contact | BadRow],
    *,
    evaluator: Evaluator,
    history: History,
    tally: Tally,
    gate: PlanGate | None = None,
) -> Iterator[Invitee]:
    """The invitees among `rows`, counting every row in `tally`; `gate` is asked about
    each contact the history lets through."""
    audience = survey.audience
    tally.history_available = bool(history.available)
    for name in audience.segments:
        tally._segment(name)
    by_contact = history if isinstance(history, ContactHistory) else None
    survey_info = survey_context(survey)
    seen_emails = SeenIndex()
    sample = audience.sample
    rounds = audience.quota.rounds if audience.quota is not None else None
    sampler: StratifiedSampler[Invitee] | RoundSampler[Invitee] | None = None
    if rounds is not None:
        # Rounds are per segment, in the sample's seeded order (no size: see `RoundSampler`).
        sampler = RoundSampler(rounds.size, sample.seed if sample else 0)
    elif sample is not None and sample.size is not None:
        sampler = StratifiedSampler(sample.size, sample.seed)

    for item in rows:
        tally.audience += 1
        if isinstance(item, BadRow):
            tally.bad_rows.append(item)
            continue
        scope = evaluator.scope({"contact": item.fields, "survey": survey_info})
        try:
            if audience.filter is not None and not _test(scope, audience.filter, "filter"):
                tally.filtered_out += 1
                continue
            segment = _segment_of(scope, audience.segments)
        except _RowFailed as failed:
            tally.bad_rows.append(BadRow(item.row, item.key, failed.reason))
            continue

        duplicate = not seen_emails.add(item.email)
        if by_contact is not None and not duplicate:
            reason = by_contact.contact_exclusion(item)
        else:
            reason = _exclusion(history, item.email, duplicate)
        waits: Waits | None = None
        if reason is None and gate is not None:
            decided = gate.decide(item, segment)
            if isinstance(decided, Waits):
                waits = decided
            else:
                reason = decided
        if reason is not None:
            tally.excluded[reason] = tally.excluded.get(reason, 0) + 1
            continue

        tally.eligible += 1
        tally._segment(segment)["eligible"] += 1
        invitee = Invitee(item, segment, waits)
        if sampler is None:
            _count_sampled(tally, invitee)
            yield invitee
        else:
            stratum = segment if rounds is not None else _stratum(sample, invitee)
            sampler.add(item.key, stratum, invitee)

    if by_contact is not None:
        tally.notes.extend(by_contact.notes())
        tally.held = by_contact.held_rows()
    if isinstance(sampler, RoundSampler):
        # Round by round (round k's rows are due later), source order within a round.
        drawn = sorted(
            (
                Invitee(invitee.contact, invitee.segment, invitee.waits, round=k)
                for k, invitee in sampler.draw()
            ),
            key=lambda invitee: (invitee.round, invitee.contact.row),
        )
        for name, count in sampler.rounds().items():
            tally._segment(name)["rounds"] = count
    elif sampler is not None:
        drawn = sorted(sampler.draw(), key=lambda invitee: invitee.contact.row)
    if sampler is not None:
        for invitee in drawn:
            _count_sampled(tally, invitee)
        yield from drawn


def _count_sampled(tally: Tally, invitee: Invitee) -> None:
    tally.sampled += 1
    tally._segment(invitee.segment)["sampled"] += 1
    if invitee.waits is not None:
        reason = invitee.waits.reason
        tally.holds[reason] = tally.holds.get(reason, 0) + 1


class _RowFailed(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _test(scope: Scope, source: str, where: str) -> bool:
    try:
        return scope.test(source)
    except ExpressionError as exc:
        detail = str(exc).removeprefix(f"{source!r}: ")
        raise _RowFailed(f"{where} {source!r} failed: {detail}") from exc


def survey_context(survey: Survey) -> dict[str, str]:
    """What filter and segment expressions see as `survey`."""
    return {"id": survey.id, "name": survey.name, "kind": survey.kind}


def segment_of(survey: Survey, contact: Contact, evaluator: Evaluator) -> str:
    """The segment `select_audience` puts `contact` in; raises `ExpressionError`."""
    scope = evaluator.scope({"contact": contact.fields, "survey": survey_context(survey)})
    try:
        return _segment_of(scope, survey.audience.segments)
    except _RowFailed as failed:
        cause = failed.__cause__
        raise cause if isinstance(cause, ExpressionError) else failed from None


def _segment_of(scope: Scope, segments: Mapping[str, str]) -> str:
    for name, expression in segments.items():
        if _test(scope, expression, f"segment {name!r}"):
            return name
    return OTHER_SEGMENT


def _exclusion(history: History, email: str, duplicate: bool) -> str | None:
    """The strongest reason to hold `email` back, or None."""
    return _strongest([history.exclusion(email)], duplicate)


def _strongest(reasons: list[str | None], duplicate: bool) -> str | None:
    if duplicate:
        reasons.append(DUPLICATE_EMAIL)
    known = [reason for reason in reasons if reason is not None]
    if not known:
        return None
    return min(known, key=_strength)


def _strength(reason: str) -> int:
    try:
        return EXCLUSION_REASONS.index(reason)
    except ValueError:  # a reason a History added: weaker than the known ones
        return len(EXCLUSION_REASONS)


def _stratum(sample: Sample | None, invitee: Invitee) -> str:
    stratify = sample.stratify if sample is not None else None
    if stratify is None:
        return ""
    if stratify == "segment":
        return invitee.segment
    value = invitee.contact.fields.get(stratify)
    return "" if value is None else str(value)
