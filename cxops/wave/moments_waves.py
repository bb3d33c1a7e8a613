"""A triggered survey's waves: the days (in its time zone) its invitations are due.

Each pass of `cxops.wave.moments` tallies what it made of the events per day, and each
day with an invitation gets its `waves` row: started at the day's midnight (so waves
order by day, whenever they were planned), `planned` with a summary that adds up every
pass (events looked at, why not, invitations by segment). `send-due` completes it when
nothing is left pending, as a scheduled wave's; a later invitation due that day makes
it `planned` again; it closes when its invitations expire, like any wave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.models import Send, Wave
from cxops.store.waves import ensure_wave, get_wave, save_wave_summary
from cxops.wave import status
from cxops.wave.ids import WaveContext
from cxops.wave.summary import WaveSummary

INVITED = "invited"


@dataclass
class DayTally:
    """What one pass made of the events due one day."""

    events: int = 0
    invited: int = 0
    #: Outcome ("excluded: cooldown", "duplicate" …) -> events.
    not_invited: dict[str, int] = field(default_factory=dict)
    #: Segment -> invitations.
    by_segment: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, row: Mapping[str, Any] | None) -> None:
        self.events += 1
        if outcome == INVITED and row is not None:
            self.invited += 1
            segment = str(row["segment"])
            self.by_segment[segment] = self.by_segment.get(segment, 0) + 1
        else:
            reason = outcome.removeprefix("excluded: ")
            self.not_invited[reason] = self.not_invited.get(reason, 0) + 1


def record_days(
    store: Store,
    settings: Settings,
    survey: Survey,
    days: Mapping[str, DayTally],
    now: datetime,
) -> None:
    """Create or update the wave row of each day this pass invited someone for (a day
    with a row already also counts the events it did not invite), and of each day whose
    invitations an interrupted pass wrote without its row."""
    zone = ZoneInfo(survey.timezone)
    every = _unrecorded(store, survey.id, days)
    for day, tally in sorted(every.items()):
        if tally.invited == 0 and get_wave(store, survey.id, day) is None:
            continue
        started = datetime.combine(date.fromisoformat(day), time(0), tzinfo=zone)
        row = ensure_wave(store, survey.id, day, started)
        before = (
            WaveSummary.from_stored(row.summary) if row.summary else WaveSummary(survey.id, day)
        )
        summary = _added(before, tally, survey)
        if row.status == "closed":
            continue  # its invitations expired: nothing planned now is due that day
        if tally.invited or row.status == "planning":
            status.mark_planned(store, WaveContext(survey, settings, day, now), summary)
        else:
            save_wave_summary(store, survey.id, day, summary.as_dict())


def _unrecorded(store: Store, survey_id: str, days: Mapping[str, DayTally]) -> dict[str, DayTally]:
    """`days`, and the days with invitations in the ledger and no wave row (a pass died
    before writing it: all their invitations counted, this pass's included)."""
    waves = select(Wave.wave_id).where(Wave.survey_id == survey_id)
    query = (
        select(Send.wave_id, Send.segment, func.count())
        .where(Send.survey_id == survey_id, Send.step == 0, Send.wave_id.not_in(waves))
        .group_by(Send.wave_id, Send.segment)
    )
    found: dict[str, DayTally] = {}
    with store.session() as session:
        for day, segment, count in session.execute(query):
            tally = found.setdefault(day, DayTally())
            for _ in range(count):
                tally.count(INVITED, {"segment": segment})
    for day, tally in days.items():
        if day in found:  # the ledger counted this pass's invitations; add the others
            found[day].events += tally.events - tally.invited
            for reason, count in tally.not_invited.items():
                found[day].not_invited[reason] = found[day].not_invited.get(reason, 0) + count
        else:
            found[day] = tally
    return found


def _added(summary: WaveSummary, tally: DayTally, survey: Survey) -> WaveSummary:
    excluded = dict(summary.excluded)
    for reason, count in tally.not_invited.items():
        excluded[reason] = excluded.get(reason, 0) + count
    by_segment = {name: dict(counts) for name, counts in summary.by_segment.items()}
    for segment, count in tally.by_segment.items():
        counts = by_segment.setdefault(segment, {"eligible": 0, "sampled": 0})
        counts["eligible"] += count
        counts["sampled"] += count
    assert survey.trigger is not None
    note = f"invitations due this day from {survey.trigger.event!r} events"
    return replace(
        summary,
        audience=summary.audience + tally.events,
        excluded=excluded,
        eligible=summary.eligible + tally.invited,
        sampled=summary.sampled + tally.invited,
        by_segment=by_segment,
        notes=summary.notes if note in summary.notes else (*summary.notes, note),
    )
