"""The plain values that pass between the store and the follow-up rules.

The store reads responses and tasks into these and writes tasks from a `TaskFields`;
the rules (`cxops.followup.rules`) decide on them without a session. Defined here so
the store never imports the follow-up layer above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What rules see of one response (joined with its ledger row)."""

    id: int
    send_id: str
    survey_id: str
    wave_id: str
    contact_key: str
    segment: str
    status: str
    answers: Mapping[str, Any]
    contact: Mapping[str, Any]
    answered_at: datetime
    suspect: bool = False


@dataclass(frozen=True, slots=True)
class ExistingTask:
    id: int
    rule_id: str
    rule_version: str
    status: str


class TaskFields(Protocol):
    """What a task is written with (a rule's `TaskDraft` is one)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def rule_version(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def assignee(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def context(self) -> dict[str, Any]: ...
    @property
    def steps(self) -> list[str]: ...
