"""IANA time zones as users name them (a survey's `schedule.timezone`, `--timezone`)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def time_zone(name: str) -> ZoneInfo:
    """The time zone `name`; ValueError saying what was expected when there is none.

    Besides an unknown key, `zoneinfo` raises OSError for a folder of the zone
    database (`Europe`) and ValueError for a key that is not a plain relative path.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"expected an IANA time zone like 'Europe/Berlin', found {name!r}"
        ) from None
