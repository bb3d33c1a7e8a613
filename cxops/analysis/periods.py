"""Periods a report groups waves into: each wave itself, or the ISO week, month or quarter
in which it went out, in the survey's time zone.

A wave belongs to the period of its first invitation (else of when it started, else
of the schedule slot its id names). Surveys whose waves are at least a week apart are
read wave by wave; hourly, daily and triggered surveys (one wave per day) by month.
Pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cxops.wave_labels import scheduled_for, wave_label

PERIODS = ("wave", "week", "month", "quarter")
#: Waves at least this far apart are read one by one (`--by wave` by default).
WAVE_GAP = timedelta(days=7)
#: Waves with no time at all (neither sent, started nor a dated id) go here, last.
UNDATED = "undated"


@dataclass(frozen=True, slots=True)
class Periods:
    """`by`, the periods in order, and which waves each holds (in wave order)."""

    by: str
    order: tuple[str, ...]
    waves: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str]

    def of(self, wave: str) -> str:
        for period, held in self.waves.items():
            if wave in held:
                return period
        raise KeyError(wave)


def default_by(times: Sequence[datetime]) -> str:
    """`wave` when consecutive waves went out at least `WAVE_GAP` apart, else `month`."""
    ordered = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return "wave" if all(gap >= WAVE_GAP for gap in gaps) else "month"


def period_of(by: str, at: datetime, zone: str) -> str:
    """The period id of the instant `at` (aware or naive local): `2026-W50`, `2026-12`,
    `2026-Q4`."""
    local = at.astimezone(ZoneInfo(zone)) if at.tzinfo else at
    if by == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{local.year}-{local.month:02d}"
    if by == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    raise ValueError(f"expected one of {', '.join(PERIODS)}, got {by!r}")


def period_label(by: str, period: str) -> str:
    """How people read a period id: `week of 7 Dec 2026`, `Dec 2026`, `Q4 2026`."""
    if period == UNDATED:
        return "undated waves"
    if by == "week":
        monday = datetime.strptime(period + "-1", "%G-W%V-%u")
        return f"week of {monday.day} {monday:%b %Y}"
    if by == "month":
        return f"{datetime.strptime(period, '%Y-%m'):%b %Y}"
    year, quarter = period.split("-")
    return f"{quarter} {year}"


def group_waves(
    waves: Sequence[str],
    sent: Mapping[str, datetime],
    started: Mapping[str, datetime],
    by: str | None,
    zone: str,
) -> Periods:
    """The periods of `waves` (in order); `by` None: the default for these waves."""
    when = {wave: sent.get(wave) or started.get(wave) or scheduled_for(wave) for wave in waves}
    if by is None:
        by = default_by([at for at in when.values() if at is not None])
    if by == "wave":
        labels = {wave: wave_label(wave, sent.get(wave), zone) for wave in waves}
        return Periods("wave", tuple(waves), {wave: (wave,) for wave in waves}, labels)
    held: dict[str, list[str]] = {}
    for wave in waves:
        at = when[wave]
        held.setdefault(UNDATED if at is None else period_of(by, at, zone), []).append(wave)
    order = sorted(held, key=lambda period: (period == UNDATED, period))
    return Periods(
        by,
        tuple(order),
        {period: tuple(held[period]) for period in order},
        {period: period_label(by, period) for period in order},
    )
