"""A wave's status, in one place: planning -> planned -> complete -> closed.

`planning` when its row is first made; `planned` once every invitee is in the ledger
(the row then holds the planned summary, and a re-run resumes from it); `complete`
when nothing is pending or in doubt any more; `closed` once every invitation of it has
expired (`invitation.expires_after` after it was sent): its links answer 410, no
reminder goes out, and the stored summary keeps the final response rate. Only this
module sets a wave's status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.ledger import has_pending, wave_counts
from cxops.store.models import Wave
from cxops.store.reminders import confirmed_answers, last_invitation_at, step_rows
from cxops.store.waves import (
    ensure_wave,
    get_wave,
    save_wave_summary,
    set_wave_status,
    survey_waves,
)
from cxops.wave.ids import WaveContext
from cxops.wave.summary import WaveSummary

#: Statuses after which the ledger holds the whole audience of the wave.
_PLANNED = ("planned", "complete", "closed")
#: Statuses of a wave whose invitations may still be answered and reminded.
OPEN = ("planned", "complete")


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
    if summary.pending != 0 or summary.in_doubt != 0 or summary.in_flight:
        return False
    set_wave_status(store, wave.survey_id, wave.wave_id, "complete", wave.settings.clock())
    return True


def finished(store: Store, wave: WaveContext, summary: WaveSummary) -> WaveSummary:
    """After sending: mark the wave `complete` when it is, and say its status (and a
    closed wave's final figures) in the summary."""
    finish_if_done(store, wave, summary)
    row = get_wave(store, wave.survey_id, wave.wave_id)
    return replace(
        summary,
        status=row.status if row is not None else None,
        closed=closed_figures(store, wave),
    )


def open_waves(store: Store, survey_id: str) -> list[str]:
    """The survey's planned waves not closed yet, oldest first."""
    return [row.wave_id for row in survey_waves(store, survey_id) if row.status in OPEN]


def closes_at(store: Store, survey: Survey, row: Wave, settings: Settings) -> datetime:
    """When the wave's last invitation expires (from the wave's start if none was sent)."""
    last = last_invitation_at(store, survey.id, row.wave_id) or row.started_at
    return survey.invitation.expires_after.after(last, settings.holidays)


def close_expired(
    store: Store, survey: Survey, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """Close every open wave of `survey` whose invitations have all expired; their finals."""
    closed = []
    for row in survey_waves(store, survey.id):
        if row.status not in OPEN or has_pending(store, survey.id, row.wave_id, 0):
            continue
        moment = closes_at(store, survey, row, settings)
        if moment > now:
            continue
        final = final_figures(store, survey.id, row.wave_id, moment)
        save_wave_summary(store, survey.id, row.wave_id, {**row.summary, "closed": final})
        set_wave_status(store, survey.id, row.wave_id, "closed", now)
        closed.append({"wave": row.wave_id, **final})
    return closed


def final_figures(store: Store, survey_id: str, wave_id: str, at: datetime) -> dict[str, Any]:
    """Invitations sent, people who answered (confirmed), the response rate, reminders sent."""
    invited = wave_counts(store, survey_id, wave_id, 0)["sent"]
    answered = confirmed_answers(store, survey_id, wave_id)
    reminders = {
        str(step): counts.get("sent", 0)
        for step, counts in sorted(step_rows(store, survey_id, wave_id).items())
        if step > 0
    }
    return {
        "closed_at": at.isoformat(),
        "invited": invited,
        "answered": answered,
        "response_rate": response_rate(answered, invited),
        "reminders_sent": reminders,
    }


def response_rate(answered: int, invited: int) -> float | None:
    """Answered per invitation sent, in percent with one decimal (None: none sent)."""
    return round(100 * answered / invited, 1) if invited else None


def closed_figures(store: Store, wave: WaveContext) -> dict[str, Any] | None:
    """The final figures of a closed wave (None while it is open)."""
    row = get_wave(store, wave.survey_id, wave.wave_id)
    if row is None or row.status != "closed":
        return None
    final = row.summary.get("closed")
    return dict(final) if isinstance(final, dict) else None
