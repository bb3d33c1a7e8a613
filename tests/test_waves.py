from datetime import UTC, datetime

import pytest

from cxops.errors import ConfigError
from cxops.spec.models import Schedule
from cxops.wave.ids import wave_id_for, wave_start

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # the last fire time at or before now, in the survey's time zone
        (Schedule(cron="0 9 1 */3 *", timezone="Europe/Berlin"), "2026-10-01T0900"),
        (Schedule(cron="30 8 * * MON", timezone="America/New_York"), "2026-11-16T0830"),
        (Schedule(cron="0 10 * * TUE,THU", timezone="Europe/London"), "2026-11-19T1000"),
        (Schedule(cron="0 10 * * *", timezone="Europe/Berlin"), "2026-11-23T1000"),  # fires now
        (Schedule(interval="1h"), "2026-11-23T0900"),
        (Schedule(interval="1d", timezone="Asia/Tokyo"), "2026-11-23T0000"),
        (None, "2026-11-23"),
    ],
)
def test_wave_ids_follow_the_schedule(schedule, expected):
    assert wave_id_for(schedule, NOW) == expected


def test_a_cron_wave_is_stable_until_the_next_fire_time():
    schedule = Schedule(cron="0 9 1 */3 *", timezone="Europe/Berlin")
    assert wave_id_for(schedule, NOW) == wave_id_for(schedule, datetime(2026, 12, 31, tzinfo=UTC))
    assert wave_id_for(schedule, datetime(2027, 1, 1, 8, 0, tzinfo=UTC)) == "2027-01-01T0900"


def test_interval_waves_floor_now():
    schedule = Schedule(interval="15m")
    start = wave_start(schedule, datetime(2026, 11, 23, 9, 44, 59, tzinfo=UTC))
    assert (start.hour, start.minute) == (9, 30)


def test_override_wins_and_is_checked():
    assert wave_id_for(None, NOW, "backfill-1") == "backfill-1"
    with pytest.raises(ConfigError, match="--wave"):
        wave_id_for(None, NOW, "../etc")
