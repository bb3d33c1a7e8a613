"""The quota gate: stop inviting a segment once it has enough answers, or a precise enough
figure, and the times of quota rounds.

`audience.quota` says when a segment has enough: a number of confirmed answers
(`per_segment`, or one number per segment), or a precision of its 95% interval
(`nps_margin`: Rocks' adjusted-Wald half-width of the NPS, in points; `ci_width`: the
full width of the Wilson interval of % satisfied (CSAT) or % easy (CES), in percentage
points). Before a segment's due rows are claimed, `QuotaGate.for_segment` reads the
wave's confirmed answers from the store and answers `Skip("quota met")` once the segment
has enough, so its rows are skipped instead of sent; otherwise `SEND`. It holds no
single contact back (`for_contact` is always `SEND`): reminders of people already
invited still go, as their answers are part of the figure.

With `quota.rounds` every eligible person is planned at once, round k (the next
`rounds.size` of each segment in the sample's seeded order, `cxops.audience.RoundSampler`)
due at the wave's start + (k - 1) x `every` and held as "quota round" until then
(`RoundTimes`). A round is claimed only after the gate has read the answers so far, so
answers arriving while a round is sent can make a segment overshoot its quota by at
most that one round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.durations import Duration
from cxops.gates.base import SEND, Candidate, Decision, Moment, Skip
from cxops.intervals import nps_adjusted_wald_margin, wilson_interval
from cxops.spec.models import TOP_BOX, Quota, Survey
from cxops.store.db import Store
from cxops.store.quotas import Scores, segment_answers

#: Why a segment's rows are skipped once it has enough.
QUOTA_MET = "quota met"
#: Why a later round's rows wait in the ledger.
ROUND_HELD = "quota round"


# -- the precision of a segment's figure ---------------------------------------------------


def scored(scores: Mapping[int | None, int]) -> dict[int, int]:
    """The answers that gave the main question a score."""
    return {score: count for score, count in scores.items() if score is not None and count}


def nps_margin(scores: Mapping[int | None, int]) -> float:
    """The 95% adjusted-Wald margin (half-width, NPS points) of these answers (Rocks 2016)."""
    tally = scored(scores)
    n = sum(tally.values())
    promoters = sum(count for score, count in tally.items() if score >= 9)
    detractors = sum(count for score, count in tally.items() if score <= 6)
    return 100.0 * nps_adjusted_wald_margin(promoters, detractors, n)


def ci_width(kind: str, scores: Mapping[int | None, int]) -> float:
    """The full width (percentage points) of the 95% Wilson interval of the top-box share
    (% satisfied for CSAT, % easy for CES) of these answers; 100 with none."""
    tally = scored(scores)
    low_box, high_box = TOP_BOX[kind]
    n = sum(tally.values())
    hits = sum(count for score, count in tally.items() if low_box <= score <= high_box)
    low, high = wilson_interval(hits, n)
    return 100.0 * (high - low)


def precision(quota: Quota, kind: str, scores: Mapping[int | None, int]) -> float | None:
    """The figure a precision quota compares (margin or width, points); None for answers."""
    if quota.nps_margin is not None:
        return nps_margin(scores)
    if quota.ci_width is not None:
        return ci_width(kind, scores)
    return None


def has_enough(quota: Quota, kind: str, segment: str, scores: Mapping[int | None, int]) -> bool:
    """Whether `segment` with these confirmed answers has met its quota."""
    needed = quota.answers_for(segment)
    if needed is not None:
        return sum(scores.values()) >= needed
    figure = precision(quota, kind, scores)
    if figure is None:  # a quota per named segment that does not name this one
        return False
    limit = quota.nps_margin if quota.nps_margin is not None else quota.ci_width
    return limit is not None and figure <= limit


# -- the gate --------------------------------------------------------------------------


@dataclass
class QuotaGate:
    """Skips a segment's rows at claim time once the segment has enough (see the module)."""

    quota: Quota
    #: The survey's kind (nps, csat, ces…): which precision applies.
    kind: str
    #: The wave's confirmed answers so far: segment -> main score -> count.
    answers: Callable[[], Mapping[str, Scores]]
    name: str = "quota"
    #: The answers read for one `now` (several segments are asked at one claim).
    _read: tuple[datetime, Mapping[str, Scores]] | None = field(default=None, repr=False)

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        return SEND

    def for_segment(self, segment: str, now: datetime) -> Decision:
        if self._read is None or self._read[0] != now:
            self._read = (now, self.answers())
        scores = self._read[1].get(segment, Scores())
        return Skip(QUOTA_MET) if has_enough(self.quota, self.kind, segment, scores) else SEND


def quota_gate(store: Store, survey: Survey, wave_id: str) -> QuotaGate | None:
    """The quota gate of one wave of `survey`, None when the survey has no quota."""
    quota = survey.audience.quota
    if quota is None:
        return None
    main = survey.main_question
    question_id = main.id if main is not None else None
    return QuotaGate(
        quota,
        survey.kind,
        lambda: segment_answers(store, survey.id, wave_id, question_id),
    )


# -- the times of rounds --------------------------------------------------------------


def round_due(start: datetime, every: Duration, k: int, holidays: str | None = None) -> datetime:
    """When round `k` (1, 2, …) is due: `start` + (k - 1) x `every`."""
    due = start
    for _ in range(k - 1):
        due = every.after(due, holidays)
    return due


@dataclass
class RoundTimes:
    """Puts each planned row's round on it: round 1 is due at once, round k >= 2 waits with
    `not_before` = the wave's start + (k - 1) x every and `held` = "quota round"."""

    start: datetime
    every: Duration | None
    holidays: str | None = None

    @classmethod
    def of(cls, survey: Survey, start: datetime, holidays: str | None = None) -> RoundTimes:
        quota = survey.audience.quota
        every = quota.rounds.every if quota is not None and quota.rounds is not None else None
        return cls(start, every, holidays)

    def fields(self, k: int) -> dict[str, Any]:
        """A row's `not_before` and `held` for round `k` (none for 0, no rounds, and 1)."""
        if self.every is None or k <= 1:
            return {}
        return {
            "not_before": round_due(self.start, self.every, k, self.holidays),
            "held": ROUND_HELD,
        }

    def timed(self, rows: Iterable[tuple[Mapping[str, Any], int]]) -> Iterator[dict[str, Any]]:
        """Ledger rows (`ledger_row`'s shape, with their round) with their round's fields;
        a row a gate already made wait keeps the later of the two times and its reason."""
        due: dict[int, dict[str, Any]] = {}
        for row, k in rows:
            extra = due.get(k)
            if extra is None:
                extra = due[k] = self.fields(k)
            waits = row.get("not_before")
            if not extra or (waits is not None and waits >= extra["not_before"]):
                yield dict(row)
            else:
                yield {**row, **extra}
