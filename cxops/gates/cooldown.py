"""A survey's `cooldown`: no second invitation of the survey to a person within it.

`cooldown: 14d` on a survey is per person (by address) and per survey: an invitation
(step 0) that may have reached the person (sent, being sent or in doubt) in another wave
of the same survey less than 14 days before now makes the gate answer Skip("cooldown"),
at planning and again when a due row is claimed (another wave's invitation may have left
meanwhile). Reminders are never held by it: they follow an invitation that passed.
Business days count as calendar days, as `audience.exclude.surveyed_within`'s do.

The registry asks it before the contact policy, so a person it skips is counted under
`cooldown` in the plan's `excluded` and never counted into a rule's group.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cxops.durations import Duration
from cxops.gates.base import SEND, Candidate, Decision, Moment, Skip
from cxops.spec.models import Survey
from cxops.store.contact_log import last_invitations
from cxops.store.db import Store

REASON = "cooldown"


class CooldownGate:
    """The cooldown of one survey, for one wave: the last invitations read once."""

    name = REASON

    def __init__(self, cooldown: Duration, last: Mapping[str, datetime]):
        self.cooldown = cooldown
        #: email -> the latest invitation of the survey in another wave, within reach.
        self.last = last

    @classmethod
    def for_wave(
        cls, store: Store, survey: Survey, wave_id: str, now: datetime
    ) -> CooldownGate | None:
        """The gate for a wave of `survey` (None when the survey has no cooldown)."""
        if survey.cooldown is None:
            return None
        since = survey.cooldown.before(now)
        return cls(survey.cooldown, last_invitations(store, survey.id, since, skip_wave=wave_id))

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        if candidate.step != 0 or moment is Moment.REMIND:
            return SEND
        last = self.last.get(candidate.email)
        if last is not None and last > self.cooldown.before(now):
            return Skip(REASON)
        return SEND

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return SEND
