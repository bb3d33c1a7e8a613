"""The one list of gates: `gates_for(store, wave)` builds a wave's (and step's) gates.

A new rule is one more entry in `gates_for`, never a special case in the wave. The wave
asks the result (`Gates`) at PLAN, CLAIM and REMIND (`cxops.gates.base`). A gate
that has more to say than its decisions may also have `notes()` (lines for the wave
summary) and `held_rows()` (the first people it held back, for `cxops plan`).

Order matters: the first skip ends the asking (`cxops.gates.base.combine`), so a survey's
cooldown comes before the contact policy (which counts whom it lets through into its
rules' groups), and the notes follow the gates' order.

The deliverability breaker is not in this list: it judges the wave as a whole, and its
hold pauses the wave (written, one line, `--resume`) instead of making rows wait; the
wave asks it before each claim (`cxops.wave.pause`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cxops.audience.eligibility import NoHistory
from cxops.gates.base import Gate, Gates
from cxops.gates.cooldown import CooldownGate
from cxops.gates.goal import GoalGate
from cxops.gates.policy import PolicyGate
from cxops.gates.quota import quota_gate
from cxops.gates.window import VariantWindows, WindowGate, window_gate
from cxops.policy.eligibility import PolicyHistory
from cxops.policy.history import policy_history
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store


class GateWave(Protocol):
    """What gates are built for: one wave (or reminder step) of one survey
    (`cxops.wave.ids.WaveContext` is one)."""

    @property
    def survey(self) -> Survey: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def wave_id(self) -> str: ...
    @property
    def now(self) -> datetime: ...
    @property
    def step(self) -> int: ...


@runtime_checkable
class Reports(Protocol):
    """A gate that says more than its decisions."""

    def notes(self) -> list[str]: ...
    def held_rows(self) -> list[dict[str, Any]]: ...


def gates_for(store: Store | None, wave: GateWave) -> Gates:
    """The gates of `wave` (`store` None: no store yet, `cxops plan` of a new project).

    Built once per wave and step: a gate reads what it needs from the store here
    (the policy's contact log, the interview places held) and may ask again later only
    what changes while a wave sends (the goal).
    """
    survey, settings = wave.survey, wave.settings
    gates: list[Gate] = []
    # A survey's own cooldown before the cross-survey policy: a person it skips is never
    # counted into a rule's group (the first skip ends the asking, `gates.base.combine`).
    if store is not None and (
        cooldown := CooldownGate.for_wave(store, survey, wave.wave_id, wave.now)
    ):
        gates.append(cooldown)
    history = policy_history(
        store, NoHistory(), survey, settings, wave_id=wave.wave_id, now=wave.now
    )
    if isinstance(history, PolicyHistory):
        gates.append(PolicyGate(history))
    if survey.interview is not None:
        gates.append(GoalGate.of(store, survey))
    if store is not None and (quota := quota_gate(store, survey, wave.wave_id)):
        gates.append(quota)
    if (window := window_gate(survey)) is not None:
        gates.append(window)
    return Gates(tuple(gates))


def gate_notes(gates: Gates) -> list[str]:
    """What the gates have to say in the wave summary, in the gates' order."""
    notes: list[str] = []
    for gate in gates.gates:
        notes += gate.notes() if isinstance(gate, Reports) else []
    return notes


def gate_held_rows(gates: Gates) -> list[dict[str, Any]]:
    """The first people the gates held back at planning (`cxops plan`'s `held_back`)."""
    rows: list[dict[str, Any]] = []
    for gate in gates.gates:
        rows += gate.held_rows() if isinstance(gate, Reports) else []
    return rows


def bad_timezones(gates: Gates) -> int | None:
    """Contacts whose send window was read in the survey's zone (theirs missing or
    unknown), None without a send window."""
    windows = [g for g in gates.gates if isinstance(g, WindowGate | VariantWindows)]
    return sum(gate.bad_timezone for gate in windows) or None if windows else None
