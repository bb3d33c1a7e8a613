"""The deliverability breaker: a wave whose messages bounce or draw spam complaints pauses.

From the signed SendGrid events the collector stores (`cxops.store.events`), per wave
(all its steps): the hard-bounce rate is hard bounces over the messages with an outcome
(delivered or hard-bounced: a message still in flight says nothing yet); the complaint
rate is spam reports over delivered messages. Blocks (`bounce` of type `blocked`),
deferrals and drops are shown, never judged (SendGrid: temporary, or never sent). Past
`CXOPS_BREAKER_BOUNCE_RATE` or `CXOPS_BREAKER_COMPLAINT_RATE`, once the base holds at
least `CXOPS_BREAKER_MIN_DELIVERED` messages, the breaker trips.

As a gate it answers for the wave as a whole: `for_segment` holds every segment while the
wave is paused or its figures trip it (`Hold(PAUSED_UNTIL, "breaker")`); `for_contact`
lets a row already claimed go (it was claimed before the trip, like a batch in flight).
The wave stops on that hold and writes the pause itself (gates do not write); the rows
stay pending, untouched, until a person resumes the wave (`cxops run SURVEY --wave W
--resume`). From the resume on, the breaker judges only the messages sent after it: the
figures that tripped it were a person's to weigh, and must not trip it again at once.

The figures are read at most every `LOOK_EVERY_SECONDS` per wave and process: events come
seconds to minutes after a send, and each read counts the wave's events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cxops.gates.base import SEND, Candidate, Decision, Hold, Moment
from cxops.settings import Settings
from cxops.store.db import Store
from cxops.store.events import DeliveryFigures, wave_delivery_figures
from cxops.store.waves import get_wave

#: The reason of the breaker's hold (counted, shown).
BREAKER = "breaker"
#: A paused wave waits for a person, not for a time.
PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
#: How often a process reads a wave's figures again (seconds).
LOOK_EVERY_SECONDS = 10.0
#: Events received this long before the wave's start still count (clocks that disagree).
CLOCK_MARGIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Limits:
    """The breaker's settings."""

    bounce_rate: float
    complaint_rate: float
    min_delivered: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.breaker_bounce_rate,
            settings.breaker_complaint_rate,
            settings.breaker_min_delivered,
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """One judged rate: `count` of `base`, against `limit`."""

    name: str
    count: int
    base: int
    limit: float
    min_base: int

    @property
    def value(self) -> float:
        return self.count / self.base if self.base else 0.0

    @property
    def judged(self) -> bool:
        return self.base >= self.min_base

    @property
    def tripped(self) -> bool:
        return self.judged and self.value > self.limit


def rates(figures: DeliveryFigures, limits: Limits) -> tuple[Rate, Rate]:
    """The hard-bounce and complaint rates of `figures`."""
    outcome = figures.delivered + figures.hard_bounced
    return (
        Rate(
            "bounce rate", figures.hard_bounced, outcome, limits.bounce_rate, limits.min_delivered
        ),
        Rate(
            "complaint rate",
            figures.spam_reports,
            figures.delivered,
            limits.complaint_rate,
            limits.min_delivered,
        ),
    )


def judge(figures: DeliveryFigures, limits: Limits) -> Rate | None:
    """The first rate that trips the breaker, None when neither does."""
    return next((rate for rate in rates(figures, limits) if rate.tripped), None)


def _percent(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def rate_text(rate: Rate) -> str:
    base = "delivered or hard-bounced" if rate.name == "bounce rate" else "delivered"
    what = "hard bounces" if rate.name == "bounce rate" else "spam reports"
    text = (
        f"{rate.name} {_percent(rate.value)} ({rate.count} {what} of {rate.base} {base}; "
        f"limit {_percent(rate.limit)}"
    )
    if not rate.judged:
        text += f", judged from {rate.min_base}"
    return text + ")"


def pause_record(rate: Rate, figures: DeliveryFigures, limits: Limits) -> dict[str, Any]:
    """What a pause keeps (`waves.pause_figures`): the counts and both rates."""
    bounce, complaint = rates(figures, limits)
    return {
        **figures.as_dict(),
        "bounce_rate": round(bounce.value, 6),
        "complaint_rate": round(complaint.value, 6),
        "limits": {
            "bounce_rate": limits.bounce_rate,
            "complaint_rate": limits.complaint_rate,
            "min_delivered": limits.min_delivered,
        },
        "tripped": rate.name,
    }


def pause_text(reason: str | None, figures: dict[str, Any] | None) -> str:
    """A stored pause in words: why, with the figures."""
    figures = figures or {}
    limits = figures.get("limits") or {}
    delivered = int(figures.get("delivered", 0))
    bounced = int(figures.get("hard_bounced", 0))
    spam = int(figures.get("spam_reports", 0))
    bounce_limit = float(limits.get("bounce_rate", 0))
    complaint_limit = float(limits.get("complaint_rate", 0))
    minimum = int(limits.get("min_delivered", 0))
    parts = [
        rate_text(Rate("bounce rate", bounced, delivered + bounced, bounce_limit, minimum)),
        rate_text(Rate("complaint rate", spam, delivered, complaint_limit, minimum)),
    ]
    return f"tripped by the {reason or 'breaker'}: " + "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The breaker's view of one wave at one moment."""

    figures: DeliveryFigures
    limits: Limits
    #: The rate that trips it now (None: none does).
    tripped: Rate | None
    #: The pause in force (reason, figures), None when the wave is not paused.
    paused: tuple[str | None, dict[str, Any] | None] | None

    @property
    def holds(self) -> bool:
        return self.paused is not None or self.tripped is not None

    def text(self) -> str:
        """Why the wave is held, with the figures."""
        if self.paused is not None:
            return pause_text(*self.paused)
        return pause_text(
            self.tripped.name if self.tripped else None,
            pause_record(self.tripped, self.figures, self.limits) if self.tripped else None,
        )


_looks: dict[tuple[str, str, str, datetime | None], tuple[float, DeliveryFigures]] = {}
_looks_lock = threading.Lock()


def _figures(
    store: Store, survey_id: str, wave_id: str, started: datetime, resumed: datetime | None
) -> DeliveryFigures:
    key = (store.safe_url, survey_id, wave_id, resumed)
    with _looks_lock:
        seen = _looks.get(key)
    if seen is not None and time.monotonic() - seen[0] < LOOK_EVERY_SECONDS:
        return seen[1]
    figures = wave_delivery_figures(
        store,
        survey_id,
        wave_id,
        received_since=started - CLOCK_MARGIN,
        sent_since=resumed,
    )
    with _looks_lock:
        _looks[key] = (time.monotonic(), figures)
    return figures


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BreakerGate:
    """The breaker of one wave (see the module): reads the store, never writes it."""

    store: Store
    survey_id: str
    wave_id: str
    limits: Limits
    name: str = BREAKER

    @classmethod
    def of(cls, store: Store, survey_id: str, wave_id: str, settings: Settings) -> BreakerGate:
        return cls(store, survey_id, wave_id, Limits.of(settings))

    def verdict(self) -> Verdict:
        """The wave's pause and figures as the store holds them now."""
        wave = get_wave(self.store, self.survey_id, self.wave_id)
        if wave is None:  # not planned yet: nothing sent, nothing to judge
            return Verdict(DeliveryFigures(), self.limits, None, None)
        started = _aware(wave.started_at)
        assert started is not None
        figures = _figures(
            self.store, self.survey_id, self.wave_id, started, _aware(wave.resumed_at)
        )
        paused = None if wave.paused_at is None else (wave.pause_reason, wave.pause_figures)
        return Verdict(figures, self.limits, judge(figures, self.limits), paused)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        """A paused wave, or one whose figures trip the breaker, claims nothing."""
        return Hold(PAUSED_UNTIL, BREAKER) if self.verdict().holds else SEND

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        """The breaker judges the wave, not a person: a claimed row goes."""
        return SEND
