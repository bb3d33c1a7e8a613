"""What `cxops plan` says of a survey's quota: per segment, the answers to expect and the
margin (or interval width) they would give, from the segment's past response rate.

The rate is the segment's confirmed answers over its invitations in the survey's earlier
waves; a segment never invited before (a survey's first wave) gets a stated assumption,
`ASSUMED_RESPONSE_RATE`. The spread of the scores is the segment's earlier answers' own;
without any, the widest one (half promoters, half detractors; half satisfied), so the
expected margin errs on the wide side. Read-only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxops.gates.quota import has_enough, precision
from cxops.spec.models import TOP_BOX, Quota, Survey
from cxops.store.db import open_store, store_exists
from cxops.store.quotas import Scores, SegmentHistory, segment_history
from cxops.wave.ids import WaveContext

#: The response rate assumed for a segment with no earlier invitations.
ASSUMED_RESPONSE_RATE = 0.2


@dataclass(frozen=True)
class SegmentExpectation:
    segment: str
    #: How many this wave may invite (with rounds: every round).
    invited: int
    response_rate: float
    #: "past waves" or "assumed".
    rate_from: str
    expected_answers: int
    #: The quota: answers wanted, or the margin / width limit.
    quota: float | None
    #: The margin (nps_margin) or width (ci_width) the expected answers would give.
    expected_precision: float | None
    #: Rounds: how many rounds are expected to meet the quota (None: not within `rounds`).
    rounds_needed: int | None
    rounds: int | None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invited": self.invited,
            "response_rate": round(self.response_rate, 4),
            "rate_from": self.rate_from,
            "expected_answers": self.expected_answers,
            "quota": self.quota,
        }
        if self.expected_precision is not None:
            data["expected_precision"] = round(self.expected_precision, 1)
        if self.rounds is not None:
            data["rounds"] = self.rounds
            data["rounds_needed"] = self.rounds_needed
        return data


def expected_scores(survey: Survey, n: int, past: Scores) -> Scores:
    """`n` answers spread as the segment's earlier scores, or the widest spread."""
    scored = {score: count for score, count in past.items() if score is not None}
    total = sum(scored.values())
    if total:
        return Counter({score: round(n * count / total) for score, count in scored.items()})
    if survey.kind == "nps":
        return Counter({10: n // 2, 0: n - n // 2})
    if survey.kind in TOP_BOX:
        low, _ = TOP_BOX[survey.kind]
        return Counter({low: n // 2, low - 1: n - n // 2})
    return Counter({None: n})


def segment_expectation(
    survey: Survey, quota: Quota, segment: str, invited: int, past: SegmentHistory | None
) -> SegmentExpectation:
    """One segment's expectation (see the module)."""
    if past is not None and past.invited > 0:
        rate, rate_from = past.answered / past.invited, "past waves"
    else:
        rate, rate_from = ASSUMED_RESPONSE_RATE, "assumed"
    history: Scores = past.scores if past is not None else Counter()

    def answers_of(people: int) -> Scores:
        return expected_scores(survey, round(people * rate), history)

    expected = answers_of(invited)
    limit = quota.nps_margin if quota.nps_margin is not None else quota.ci_width
    wanted = quota.answers_for(segment)
    rounds = quota.rounds
    total_rounds = math.ceil(invited / rounds.size) if rounds is not None else None
    needed: int | None = None
    if rounds is not None and total_rounds is not None:
        for k in range(1, total_rounds + 1):
            if has_enough(quota, survey.kind, segment, answers_of(min(invited, k * rounds.size))):
                needed = k
                break
    return SegmentExpectation(
        segment=segment,
        invited=invited,
        response_rate=rate,
        rate_from=rate_from,
        expected_answers=round(invited * rate),
        quota=float(wanted) if wanted is not None else limit,
        expected_precision=precision(quota, survey.kind, expected),
        rounds_needed=needed,
        rounds=total_rounds,
    )


def quota_expectations(
    wave: WaveContext, by_segment: Mapping[str, Mapping[str, int]]
) -> dict[str, Any] | None:
    """`plan`'s quota block: the quota, the assumption, and each segment's expectation
    (`by_segment`: the plan's tally, segment -> {"sampled": n, …}). None without a quota."""
    survey = wave.survey
    quota = survey.audience.quota
    if quota is None:
        return None
    history: dict[str, SegmentHistory] = {}
    url = wave.settings.store_url
    if store_exists(url):
        store = open_store(url, upgrade=False)
        try:
            main = survey.main_question
            history = segment_history(
                store, survey.id, wave.wave_id, main.id if main is not None else None
            )
        finally:
            store.dispose()
    segments = {
        name: segment_expectation(
            survey, quota, name, counts.get("sampled", 0), history.get(name)
        ).as_dict()
        for name, counts in sorted(by_segment.items())
    }
    assumed = [name for name, data in segments.items() if data["rate_from"] == "assumed"]
    return {
        "target": quota.target,
        "rounds": None
        if quota.rounds is None
        else {"size": quota.rounds.size, "every": str(quota.rounds.every)},
        "assumption": (
            f"no earlier wave of {', '.join(assumed)}: a response rate of "
            f"{ASSUMED_RESPONSE_RATE:.0%} is assumed, and the widest spread of scores"
            if assumed
            else None
        ),
        "segments": segments,
    }
