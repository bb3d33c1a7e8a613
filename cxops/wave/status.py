"""A wave's status, in one place: planning -> planned -> complete.

`planning` when its row is first made; `planned` once every invitee is in the ledger
(the row then holds the planned summary, and a re-run resumes from it); `complete`
when nothing is pending or in doubt any more. Only this module sets a wave's status.
"""

from __future__ import annotations

from cxops.store.db import Store
from cxops.store.models import Wave
from cxops.store.waves import ensure_wave, get_wave, save_wave_summary, set_wave_status
from cxops.wave.ids import WaveContext
from cxops.wave.summary import WaveSummary

#: Statuses after which the ledger holds the whole audience of the wave.
_PLANNED = ("planned", "complete")


def begin(store: Store, wave: WaveContext) -> Wave:
    """The wave's row (made `planning` by the first run)."""
    return ensure_wave(store, wave.survey_id, wave.wave_id, wave.now)


def is_planned(row: Wave | None) -> bool:
    """Whether the wave's invitees are all in the ledger, with the planned summary."""
    return row is not None and row.status in _PLANNED and bool(row.summary)


def planned_summary(store: Store, wave: WaveContext) -> WaveSummary | None:
    """The stored planned summary when the wave was planned by an earlier run."""
    row = begin(store, wave)
    return WaveSummary.from_stored(row.summary) if is_planned(row) else None


def needs_planning(store: Store, wave: WaveContext) -> bool:
    """True unless an earlier run planned this wave."""
    return not is_planned(get_wave(store, wave.survey_id, wave.wave_id))


def mark_planned(store: Store, wave: WaveContext, summary: WaveSummary) -> None:
    """Every invitee is in the ledger: store the planned summary, status `planned`."""
    save_wave_summary(store, wave.survey_id, wave.wave_id, summary.as_dict())
    set_wave_status(store, wave.survey_id, wave.wave_id, "planned", wave.now)


def finish_if_done(store: Store, wave: WaveContext, summary: WaveSummary) -> bool:
    """Mark the wave `complete` when nothing is pending or in doubt; whether it is."""
    if summary.pending != 0 or summary.in_doubt != 0:
        return False
    set_wave_status(store, wave.survey_id, wave.wave_id, "complete", wave.settings.clock())
    return True
