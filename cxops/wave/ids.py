"""Wave ids (which invitation round of a survey `now` belongs to) and `WaveContext`.

cron: the last fire time at or before now; interval: now floored to the interval
(counted from the Unix epoch in the survey's time zone); unscheduled: the date.
All in the survey's time zone, so the id reads as the people who scheduled it think.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cxops.errors import ConfigError
from cxops.settings import Settings
from cxops.spec.models import Schedule, Survey

WAVE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_wave_id(wave_id: str) -> str:
    if not WAVE_ID.match(wave_id):
        raise ConfigError(
            f"--wave {wave_id!r}: expected 1-64 letters, digits, '.', '_' or '-' "
            "(it names a folder of the outbox)"
        )
    return wave_id


def wave_start(schedule: Schedule | None, now: datetime) -> datetime:
    """The start of the wave that `now` (aware) falls in, in the survey's time zone."""
    zone = ZoneInfo(schedule.timezone if schedule else "UTC")
    local = now.astimezone(zone)
    if schedule is None:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    if schedule.cron:
        from croniter import croniter

        # croniter's get_prev is strictly before; step one second past now to include it.
        previous: datetime = croniter(schedule.cron, local + timedelta(seconds=1)).get_prev(
            datetime
        )
        return previous
    if schedule.interval is None:
        raise ConfigError("schedule: expected cron or interval")
    step = int(schedule.interval.approx_timedelta().total_seconds())
    wall = local.replace(tzinfo=None)
    since_epoch = int((wall - datetime(1970, 1, 1)).total_seconds())
    floored = datetime(1970, 1, 1) + timedelta(seconds=since_epoch - since_epoch % step)
    return floored.replace(tzinfo=zone)


def wave_id_for(schedule: Schedule | None, now: datetime, override: str | None = None) -> str:
    """The wave id: `--wave` when given, else derived from the schedule and `now`."""
    if override:
        return validate_wave_id(override)
    start = wave_start(schedule, now)
    if schedule is None:
        return start.strftime("%Y-%m-%d")
    return start.strftime("%Y-%m-%dT%H%M")


@dataclass(frozen=True)
class WaveContext:
    """One wave (or reminder step) of one survey: the typed values every step is given.

    Built once at the edge (`WaveContext.begin`), so the wave id is computed once, from
    the schedule and the wave's start time, and nothing deeper derives it again.
    """

    survey: Survey
    settings: Settings
    wave_id: str
    #: When the wave (this run of it) started: the id, planning and history use it.
    now: datetime
    #: 0 for the invitation, N for reminder N.
    step: int = 0

    @classmethod
    def begin(cls, survey: Survey, settings: Settings, wave: str | None = None) -> WaveContext:
        """The wave `survey` is in now (`wave`: the `--wave` override)."""
        now = settings.clock()
        return cls(survey, settings, wave_id_for(survey.schedule, now, wave), now)

    @property
    def survey_id(self) -> str:
        return self.survey.id
