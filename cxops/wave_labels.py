"""How a wave is shown to people: its id with its schedule slot and when it went out.

A derived wave id is the schedule's slot (a cron's last fire, `2026-10-07T0900`),
which people read as a send date; a wave sent on 7 Dec is labelled 7 Oct. Wherever
a person sees a wave (plan, run, status, reports, why) it is this label. A leaf:
every layer may show a wave.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def scheduled_for(wave_id: str) -> datetime | None:
    """The schedule slot a derived wave id names (`2026-10-07T0900`, `2026-10-07`), or None
    for an id given with `--wave`; wall time in the survey's zone, naive."""
    for pattern in ("%Y-%m-%dT%H%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(wave_id, pattern)
        except ValueError:
            continue
    return None


def scheduled_text(wave_id: str) -> str | None:
    """`scheduled 7 Oct 2026 09:00` for a derived wave id, None for one given by hand."""
    slot = scheduled_for(wave_id)
    if slot is None:
        return None
    at = f" {slot:%H:%M}" if "T" in wave_id else ""
    return f"scheduled {slot.day} {slot:%b %Y}{at}"


def wave_label(wave_id: str, sent_at: datetime | None, zone: str = "UTC") -> str:
    """`wave 2026-10-07T0900 (scheduled 7 Oct 2026 09:00, sent 7 Dec 2026)`: the id is
    the schedule's slot, which people read as a send date; say both."""
    slot = scheduled_text(wave_id)
    parts = [slot] if slot else []
    if sent_at is not None:
        local = sent_at.astimezone(ZoneInfo(zone)) if sent_at.tzinfo else sent_at
        parts.append(f"sent {local.day} {local:%b %Y}")
    else:
        parts.append("not sent yet")
    return f"wave {wave_id} ({', '.join(parts)})"
