"""A wave's pause: the deliverability breaker asked before each batch is claimed, its trip
written, and the resume a person decides (`cxops run SURVEY --wave W --resume`).

The breaker (`cxops.gates.breaker`) only reads; when it holds the wave, the wave writes
the pause (when, why, the figures) and stops with one line. Nothing more is claimed; the
pending rows stay as they are, so a resume sends each of them once.
"""

from __future__ import annotations

from datetime import datetime

from cxops.errors import ConfigError
from cxops.gates.base import Hold
from cxops.gates.breaker import BREAKER, BreakerGate, pause_record
from cxops.store.db import Store
from cxops.store.ledger import wave_counts
from cxops.store.waves import get_wave, pause_wave, resume_wave
from cxops.wave.ids import WaveContext
from cxops.wave.stopping import WaveStopped

#: `for_segment`'s segment when the wave asks for all of its segments at once.
EVERY_SEGMENT = "*"


class WavePaused(WaveStopped):
    """The deliverability breaker paused the wave; the message says why, with the figures."""


def stop_if_paused(store: Store, wave: WaveContext, now: datetime) -> None:
    """Before a batch is claimed: ask the breaker; when it holds the wave, write the pause
    (if this is the trip) and raise `WavePaused`."""
    gate = BreakerGate.of(store, wave.survey_id, wave.wave_id, wave.settings)
    decision = gate.for_segment(EVERY_SEGMENT, now)
    if not (isinstance(decision, Hold) and decision.reason == BREAKER):
        return
    verdict = gate.verdict()
    if verdict.paused is None and verdict.tripped is not None:
        record = pause_record(verdict.tripped, verdict.figures, verdict.limits)
        pause_wave(store, wave.survey_id, wave.wave_id, verdict.tripped.name, record, now)
        verdict = gate.verdict()
    raise WavePaused(paused_line(store, wave, verdict.text()))


def paused_line(store: Store, wave: WaveContext, why: str) -> str:
    """The one line of a paused wave: why, with the figures, what is left, how to go on."""
    counts = wave_counts(store, wave.survey_id, wave.wave_id, wave.step)
    what = "sent" if wave.step == 0 else f"of reminder {wave.step} sent"
    return (
        f"wave {wave.wave_id} of {wave.survey_id} paused by the deliverability breaker: "
        f"{why}; {counts['sent']} of {counts['total']} {what}, {counts['pending']} pending "
        f"(left as they are); once decided, `cxops run {wave.survey_id} --wave "
        f"{wave.wave_id} --resume` goes on"
    )


def resume(store: Store, survey_id: str, wave_id: str | None, now: datetime) -> str:
    """A person decided the paused wave goes on: the note for the summary."""
    if wave_id is None:
        raise ConfigError(f"--resume needs the wave: `cxops run {survey_id} --wave W --resume`")
    if get_wave(store, survey_id, wave_id) is None:
        raise ConfigError(f"--resume: survey {survey_id} has no wave {wave_id!r}")
    if resume_wave(store, survey_id, wave_id, now):
        return (
            f"wave {wave_id} resumed at {now.isoformat(timespec='seconds')}: the breaker "
            "now judges only the messages sent from here"
        )
    return f"wave {wave_id} was not paused; --resume changed nothing"
