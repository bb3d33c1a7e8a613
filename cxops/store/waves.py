"""Wave rows: one per (survey, wave id), with its status and its planned summary.

Which status a wave has when is decided in `cxops.wave.status`, the only caller that
sets one; this module reads and writes rows and refuses names outside `WAVE_STATUSES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from cxops.store.db import Store
from cxops.store.models import Wave
from cxops.store.sql import dialect_insert

#: planning: the audience is being put into the ledger; planned: it is there (the row
#: holds the planned summary); complete: nothing pending nor in doubt is left; closed:
#: every invitation has expired (no answers, no reminders; the summary holds the final
#: response rate).
WaveStatus = Literal["planning", "planned", "complete", "closed"]
WAVE_STATUSES: tuple[str, ...] = get_args(WaveStatus)
#: Statuses that stamp `finished_at`.
FINISHED: tuple[str, ...] = ("complete",)


def ensure_wave(store: Store, survey_id: str, wave_id: str, now: datetime) -> Wave:
    """The wave row, created `planning` on first call; later calls return it unchanged."""
    with store.session(write=True) as session:
        session.execute(
            dialect_insert(store, Wave)
            .values(
                survey_id=survey_id, wave_id=wave_id, started_at=now, status="planning", summary={}
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "wave_id"])
        )
        return _wave(session, survey_id, wave_id)


def get_wave(store: Store, survey_id: str, wave_id: str) -> Wave | None:
    with store.session() as session:
        return session.scalar(
            select(Wave).where(Wave.survey_id == survey_id, Wave.wave_id == wave_id)
        )


def set_wave_status(store: Store, survey_id: str, wave_id: str, status: str, now: datetime) -> Wave:
    """Set the wave's status; a finished one (`complete`) also stamps `finished_at`
    (closing keeps the moment it finished sending)."""
    if status not in WAVE_STATUSES:
        raise ValueError(f"unknown wave status {status!r}; expected one of {WAVE_STATUSES}")
    with store.session(write=True) as session:
        wave = _wave(session, survey_id, wave_id)
        wave.status = status
        if status != "closed":
            wave.finished_at = now if status in FINISHED else None
        return wave


def save_wave_summary(
    store: Store, survey_id: str, wave_id: str, summary: Mapping[str, Any]
) -> Wave:
    """Store the wave summary (JSON-safe values), replacing the previous one."""
    with store.session(write=True) as session:
        wave = _wave(session, survey_id, wave_id)
        wave.summary = dict(summary)
        return wave


def pause_wave(
    store: Store,
    survey_id: str,
    wave_id: str,
    reason: str,
    figures: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Pause the wave (the breaker tripped): True when this call paused it, False when it
    was paused already (two runs of one wave tripping at once write one pause)."""
    with store.session(write=True) as session:
        result = session.execute(
            update(Wave)
            .where(Wave.survey_id == survey_id, Wave.wave_id == wave_id, Wave.paused_at.is_(None))
            .values(paused_at=now, pause_reason=reason[:64], pause_figures=dict(figures))
            .execution_options(synchronize_session=False)
        )
        return isinstance(result, CursorResult) and result.rowcount == 1


def resume_wave(store: Store, survey_id: str, wave_id: str, now: datetime) -> bool:
    """A person resumed the wave: True when it was paused. From `now` the breaker judges
    the messages sent since; the last pause's reason and figures stay."""
    with store.session(write=True) as session:
        wave = _wave(session, survey_id, wave_id)
        if wave.paused_at is None:
            return False
        wave.paused_at = None
        wave.resumed_at = now
        return True


def survey_waves(store: Store, survey_id: str) -> list[Wave]:
    """The survey's waves, oldest first."""
    with store.session() as session:
        return list(
            session.scalars(
                select(Wave).where(Wave.survey_id == survey_id).order_by(Wave.started_at, Wave.id)
            )
        )


def _wave(session: Session, survey_id: str, wave_id: str) -> Wave:
    wave = session.scalar(select(Wave).where(Wave.survey_id == survey_id, Wave.wave_id == wave_id))
    if wave is None:
        raise LookupError(f"no wave {wave_id!r} of survey {survey_id!r}; call ensure_wave first")
    return wave
