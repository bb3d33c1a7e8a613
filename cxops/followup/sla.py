"""Due dates, overdue and escalation steps. Pure functions over aware datetimes.

Due dates are counted in the survey's time zone (business days skip weekends and
the `CXOPS_HOLIDAYS` calendar there) and stored in UTC. An overdue task escalates
at its due time (step 1), and again each further `due` period later, up to
`MAX_ESCALATION_STEPS`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cxops.durations import Duration

MAX_ESCALATION_STEPS = 3
#: The common bar for "contacted a detractor in time".
SLA_HOURS = 48


def due_at(start: datetime, due: Duration, timezone: str, holidays: str | None = None) -> datetime:
    """When a task that starts at `start` is due, in UTC."""
    local = start.astimezone(ZoneInfo(timezone))
    return due.after(local, holidays).astimezone(UTC)


def escalation_step(
    due: datetime,
    now: datetime,
    period: Duration | None,
    timezone: str,
    holidays: str | None = None,
    max_steps: int = MAX_ESCALATION_STEPS,
) -> int:
    """The escalation step an open task should have reached by `now` (0: not overdue).

    Step 1 at `due`; step N one `period` after step N-1. Without a period, one step only.
    """
    if now <= due:
        return 0
    step = 1
    moment = due
    while period is not None and step < max_steps:
        moment = due_at(moment, period, timezone, holidays)
        if now <= moment:
            break
        step += 1
    return step
