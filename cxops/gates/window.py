"""The send window gate: a contact's invitation and reminders leave inside their own local
window (`invitation.send_window`), spread across it.

Each contact has a slot in each day's window: the window's start plus a share of its
length given by a stable hash of the contact key, so a thousand contacts of one zone do
not all leave at 09:00:00. At an instant `now` the gate answers

- `SEND` when `now` is inside the window of an allowed local day and at or after the
  contact's slot in it;
- `Hold(t, "send window")` otherwise, where `t` is the first instant at or after `now`
  that is inside a window and at or after that window's slot (asked again at `t`, the
  gate answers `SEND`).

Windows are local wall-clock times, read through `zoneinfo`: on the day clocks go
forward, a window time that does not exist (02:30 in Berlin on the last Sunday of March)
is not there, so the window starts when the clocks reach it; on the day they go back, a
wall time that happens twice is inside the window both times. The same instant always gets
the same answer, whatever zone `now` is written in.

A contact whose zone is missing or unknown gets the survey's zone (`schedule.timezone`,
else UTC) and is counted in `bad_timezone` (each contact once).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from cxops.audience.select import survey_context
from cxops.errors import ExpressionError
from cxops.expr import Evaluator
from cxops.gates.base import SEND, Candidate, Decision, Hold, Moment
from cxops.spec.models import Survey
from cxops.spec.send_window import SendWindow, is_zone_name
from cxops.timezones import time_zone

REASON = "send window"
#: `contact.X` read straight from the contact's columns, as the sandbox would.
_COLUMN = re.compile(r"^\s*contact\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
#: Local days searched for the next window: every allowed weekday at least twice, so a
#: day a zone skipped entirely (Pacific/Apia, 2011-12-30) is passed over.
_SEARCH_DAYS = 16
#: Bounds on a zone's UTC offset (the widest in the database is under 16 hours).
_MAX_OFFSET = timedelta(hours=26)
_STEP = timedelta(hours=1)
Interval = tuple[datetime, datetime]


def window_gate(survey: Survey) -> WindowGate | VariantWindows | None:
    """The survey's send window gate, or None when it has no `invitation.send_window`
    (and no variant has one); `VariantWindows` when a variant has its own."""
    context = survey_context(survey)
    window = survey.invitation.send_window
    default = None if window is None else WindowGate(window, survey.timezone, context)
    own = {v.id: v.send_window for v in survey.invitation.variants if v.send_window is not None}
    if not own:
        return default
    by_variant = {
        variant_id: WindowGate(variant_window, survey.timezone, context)
        for variant_id, variant_window in own.items()
    }
    return VariantWindows(default, by_variant)


@dataclass
class WindowGate:
    """`invitation.send_window` as a gate (see the module's docstring). It keeps the contact
    keys whose zone was missing or unknown; `bad_timezone` counts them."""

    window: SendWindow
    #: The zone of a contact without a usable one: the survey's, else UTC.
    fallback: str = "UTC"
    #: What the timezone expression sees as `survey`.
    survey: Mapping[str, Any] = field(default_factory=dict)
    name: str = REASON
    _bad: set[str] = field(default_factory=set, init=False, repr=False)
    _evaluator: Evaluator | None = field(default=None, init=False, repr=False)
    #: Read once: the one zone of every contact, or the column / expression naming it.
    _fixed: ZoneInfo | None = field(default=None, init=False, repr=False)
    _column: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        window = self.window
        if window.expression is None:
            self._fixed = time_zone(window.zone or self.fallback)
        else:
            column = _COLUMN.match(window.expression)
            self._column = column[1] if column else None

    @property
    def bad_timezone(self) -> int:
        """Contacts whose zone was missing or not an IANA zone (they got `fallback`)."""
        return len(self._bad)

    @property
    def bad_keys(self) -> frozenset[str]:
        """The contact keys counted in `bad_timezone`."""
        return frozenset(self._bad)

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        """The same rule for an invitation and each reminder, at every moment."""
        zone = self.zone_of(candidate, now)
        return decide(self.window, zone, candidate.contact_key, now)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        """A window is per contact: a segment's rows are always claimable."""
        return SEND

    def zone_of(self, candidate: Candidate, now: datetime) -> ZoneInfo:
        """The contact's zone; the fallback (counted) when it has none that exists."""
        if self._fixed is not None:
            return self._fixed
        value = self._zone_value(candidate, now)
        if isinstance(value, str):
            value = value.strip()
            if is_zone_name(value):
                return time_zone(value)
        self._bad.add(candidate.contact_key)
        return time_zone(self.fallback)

    def _zone_value(self, candidate: Candidate, now: datetime) -> Any:
        if self._column is not None:
            return candidate.contact.get(self._column)
        expression = self.window.expression
        assert expression is not None  # no fixed zone: __post_init__
        if self._evaluator is None:
            self._evaluator = Evaluator(now)
        context = {"contact": candidate.contact, "survey": dict(self.survey)}
        try:
            return self._evaluator.evaluate(expression, context, "send_window.timezone")
        except ExpressionError:
            return None


def decide(window: SendWindow, zone: ZoneInfo, key: str, now: datetime) -> Decision:
    """SEND, or Hold until the contact's next slot (pure: the gate's rule for one zone)."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    at = next_slot(window, zone, key, now)
    return SEND if at == now else Hold(at, REASON)


def next_slot(window: SendWindow, zone: ZoneInfo, key: str, now: datetime) -> datetime:
    """The first instant at or after `now` (aware) inside a window, at or after its slot."""
    share = _share(key)
    weekdays = window.weekdays
    today = now.astimezone(zone).date()
    best: datetime | None = None
    found = 0
    for offset in range(-1, _SEARCH_DAYS):
        if best is not None and offset > found + 1:
            break  # one more day: around midnight a zone's local dates may overlap
        day = today + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        at = _at_or_after(_measured(zone, day, window.from_, window.to), share, now)
        if at is not None and (best is None or at < best):
            best, found = at, offset if best is None else found
    if best is None:  # pragma: no cover - every allowed weekday comes twice in the search
        raise RuntimeError(f"no send window in {_SEARCH_DAYS} days of {zone.key}")
    return best


def _share(key: str) -> int:
    """A stable 64-bit number from the contact key: where in the window the slot lies."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


@lru_cache(maxsize=4096)
def _measured(
    zone: ZoneInfo, day: date, opens: time, closes: time
) -> tuple[tuple[Interval, ...], int]:
    """`day_window` with its length in whole seconds."""
    intervals = day_window(zone, day, opens, closes)
    return intervals, sum(int((end - start).total_seconds()) for start, end in intervals)


def _at_or_after(
    measured: tuple[tuple[Interval, ...], int], share: int, now: datetime
) -> datetime | None:
    """The first instant ≥ `now` in the intervals and ≥ the slot `share` gives; None if none."""
    intervals, total = measured
    if total <= 0:
        return None
    left = timedelta(seconds=share * total >> 64)  # < total: the slot is inside
    slot = intervals[-1][0]
    for start, end in intervals:
        if left < end - start:
            slot = start + left
            break
        left -= end - start
    for start, end in intervals:
        at = max(now, start, slot)
        if at < end:
            return at
    return None


@lru_cache(maxsize=4096)
def day_window(zone: ZoneInfo, day: date, opens: time, closes: time) -> tuple[Interval, ...]:
    """The UTC intervals of the instants whose local wall time on `day` is in
    [`opens`, `closes`): none when the window falls in a skipped hour, one as a rule,
    two when clocks go back inside it after passing `opens`."""
    wall_from = datetime.combine(day, opens, tzinfo=UTC)
    wall_to = datetime.combine(day, closes, tzinfo=UTC)
    intervals: list[Interval] = []
    for start, end, offset in _pieces(zone, wall_from - _MAX_OFFSET, wall_to + _MAX_OFFSET):
        # Within a piece local = instant + offset: keep the instants whose local time fits.
        low, high = max(start, wall_from - offset), min(end, wall_to - offset)
        if low >= high:
            continue
        if intervals and intervals[-1][1] == low:
            intervals[-1] = (intervals[-1][0], high)
        else:
            intervals.append((low, high))
    return tuple(intervals)


def _pieces(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where the zone's UTC offset changes: (from, to, offset) pieces.
    Changes are found an hour apart, then to the second (zones change at most once an hour)."""
    pieces = []
    piece_start, offset = start, _offset(zone, start)
    probe = start
    while probe < end:
        following = min(probe + _STEP, end)
        if _offset(zone, following) != offset:
            change = _change(zone, probe, following, offset)
            pieces.append((piece_start, change, offset))
            piece_start, offset = change, _offset(zone, change)
        probe = following
    pieces.append((piece_start, end, offset))
    return pieces


def _change(zone: ZoneInfo, before: datetime, after: datetime, offset: timedelta) -> datetime:
    """The first second in (before, after] whose offset is not `offset`."""
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, before + timedelta(seconds=middle)) == offset:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


@dataclass
class VariantWindows:
    """Send windows per invitation variant: a row of a variant with its own window is
    asked by that window, every other row by the invitation's (None: no window).

    At PLAN a contact has no variant yet (`Candidate.variant` None): the invitation's
    window plans the row, and its variant's window holds it again when it is claimed."""

    default: WindowGate | None
    by_variant: dict[str, WindowGate]
    name: str = REASON

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        gate = self.by_variant.get(candidate.variant or "", self.default)
        return SEND if gate is None else gate.for_contact(candidate, moment, now)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return SEND

    @property
    def bad_timezone(self) -> int:
        """Contacts whose zone was missing or unknown in any of the windows."""
        gates = [*self.by_variant.values(), *([self.default] if self.default else [])]
        return len(set().union(*(gate.bad_keys for gate in gates)))
