"""Survey priority: which higher-priority surveys "want" a person in the coming window.

The rule, concretely: while survey S plans a wave at `now`, another survey T
wants person P when
- T's `priority` is higher than S's (equal priorities reserve nothing),
- T has a schedule and its next run (at or after `now`) is within the window of
  a counting limit (the contact cap, or a policy rule `N per D`) that applies to P,
- P is in T's source and passes T's filter, evaluated at `now`.
The policy then holds P back from S when the limit leaves no room for both
(contacts in the window + 2 > N), until T's run; S's plan names T. Surveys
without a schedule (run by hand) never reserve anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cxops.audience.contacts import BadRow
from cxops.audience.sources import read_source
from cxops.errors import CxopsError, ExpressionError
from cxops.expr import Evaluator
from cxops.policy.evaluate import Reservation
from cxops.spec.models import Schedule, Survey


def next_run(schedule: Schedule, now: datetime) -> datetime:
    """The schedule's first fire time at or after `now` (UTC)."""
    zone = ZoneInfo(schedule.timezone)
    local = now.astimezone(zone)
    if schedule.cron:
        from croniter import croniter

        fire: datetime = croniter(schedule.cron, local - timedelta(seconds=1)).get_next(datetime)
        return fire.astimezone(ZoneInfo("UTC"))
    assert schedule.interval is not None
    # Interval waves start at multiples of the interval since the epoch, in local wall time.
    step = int(schedule.interval.approx_timedelta().total_seconds())
    wall = local.replace(tzinfo=None)
    since_epoch = (wall - datetime(1970, 1, 1)).total_seconds()
    ahead = -since_epoch % step
    return (wall + timedelta(seconds=ahead)).replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))


def reservations_for(
    survey: Survey,
    others: Sequence[Survey],
    project_dir: Path,
    now: datetime,
    window: timedelta,
    holidays: str | None = None,
) -> tuple[dict[str, list[Reservation]], list[str]]:
    """Email -> the higher-priority surveys that want the person within `window`; notes."""
    wanted: dict[str, list[Reservation]] = {}
    notes: list[str] = []
    evaluator = Evaluator(now, holidays)
    for other in others:
        if other.id == survey.id or other.priority <= survey.priority or other.schedule is None:
            continue
        at = next_run(other.schedule, now)
        if at - now > window:
            continue
        reservation = Reservation(other.id, other.priority, at)
        survey_info = {"id": other.id, "name": other.name, "kind": other.kind}
        try:
            for item in read_source(other.audience.source, project_dir):
                if isinstance(item, BadRow):
                    continue
                if other.audience.filter is not None:
                    context = {"contact": item.fields, "survey": survey_info}
                    try:
                        if not evaluator.test(other.audience.filter, context):
                            continue
                    except ExpressionError:
                        continue
                wanted.setdefault(item.email, []).append(reservation)
        except CxopsError as exc:
            notes.append(f"priority: survey {other.id!r} reserves nobody, its source failed: {exc}")
    return wanted, notes
