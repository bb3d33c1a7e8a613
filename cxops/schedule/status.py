"""`cxops status`: each survey and its next run, open waves, what waits to be sent and
until when, tasks, and which API is reachable.

Reads only: the surveys, the store (not created when it does not exist yet),
`.cxops/api.json` and the background API's `.cxops/prefect-api.json`; the figures are
plain dicts for `--json` and the terminal alike.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cxops.schedule.background_api import read_background_api
from cxops.schedule.env import read_up_api
from cxops.settings import Settings
from cxops.spec.models import Schedule, Survey
from cxops.wave_labels import wave_label


def next_run(
    schedule: Schedule | None, now: datetime, last_start: datetime | None
) -> datetime | None:
    """When the schedule next fires after `now` (an interval counts from the last wave)."""
    if schedule is None:
        return None
    if schedule.cron:
        from croniter import croniter  # type: ignore[import-untyped,unused-ignore]

        local = now.astimezone(ZoneInfo(schedule.timezone))
        found: datetime = croniter(schedule.cron, local).get_next(datetime)
        return found
    assert schedule.interval is not None
    step = schedule.interval.approx_timedelta()
    return now if last_start is None else max(last_start + step, now)


def schedule_text(schedule: Schedule | None) -> str:
    if schedule is None:
        return "unscheduled"
    if schedule.cron:
        return f"cron {schedule.cron} ({schedule.timezone})"
    return f"every {schedule.interval}"


def project_status(settings: Settings, surveys: list[Survey]) -> dict[str, Any]:
    """Surveys with next runs, open waves with counts, open and overdue tasks, APIs."""
    now = settings.clock()
    store_info = _store_figures(settings, now, surveys)
    last_starts: dict[str, datetime] = store_info.pop("last_starts")
    recruiting: dict[str, dict[str, Any]] = store_info.pop("recruitment")
    listed = []
    for survey in sorted(surveys, key=lambda s: s.id):
        upcoming = next_run(survey.schedule, now, last_starts.get(survey.id))
        entry: dict[str, Any] = {
            "survey": survey.id,
            "kind": survey.kind,
            "schedule": schedule_text(survey.schedule),
            "next_run": upcoming.isoformat() if upcoming else None,
        }
        if survey.id in recruiting:
            entry["recruitment"] = recruiting[survey.id]
        listed.append(entry)
    return {"now": now.isoformat(), "surveys": listed, **store_info, "prefect": _apis(settings)}


def _store_figures(settings: Settings, now: datetime, surveys: list[Survey]) -> dict[str, Any]:
    url = settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return {
            "store": "none yet",
            "open_waves": [],
            "closed_waves": [],
            "tasks": {"open": 0, "overdue": 0},
            "waiting": [],
            "last_starts": {},
            "recruitment": {},
            "webhook_dead_letters": {},
        }
    from sqlalchemy import func, select

    from cxops.store import ledger
    from cxops.store.db import open_store
    from cxops.store.holds import held_counts
    from cxops.store.models import Task, Wave
    from cxops.store.reminders import step_rows
    from cxops.webhooks.admin import dead_letter_count

    store = open_store(url)
    try:
        with store.session() as session:
            waves = session.execute(select(Wave).order_by(Wave.started_at)).scalars().all()
            open_tasks = session.execute(
                select(func.count()).select_from(Task).where(Task.status == "open")
            ).scalar_one()
            overdue = session.execute(
                select(func.count())
                .select_from(Task)
                .where(Task.status == "open", Task.due_at < now)
            ).scalar_one()
        last_starts = {wave.survey_id: _aware(wave.started_at) for wave in waves}
        open_waves, closed_waves = [], []
        for wave in waves:
            if wave.status == "closed":
                closed_waves.append(wave)
                continue
            if wave.status == "complete":
                continue
            counts = ledger.wave_counts(store, wave.survey_id, wave.wave_id, 0, now=now)
            reminders = {
                str(step): by_status.get("sent", 0)
                for step, by_status in sorted(
                    step_rows(store, wave.survey_id, wave.wave_id).items()
                )
                if step > 0
            }
            open_waves.append(
                {
                    "survey": wave.survey_id,
                    "wave": wave.wave_id,
                    "status": wave.status,
                    "started_at": _aware(wave.started_at).isoformat(),
                    **_sent(counts["first_sent_at"], wave, surveys),
                    **{name: counts[name] for name in ("sent", "in_doubt", "failed", "pending")},
                    "waiting": counts["waiting"],
                    "reminders_sent": reminders,
                    "paused": _paused(wave),
                    # Reason -> rows a gate made wait or skipped (`cxops.gates`).
                    "held": held_counts(store, wave.survey_id, wave.wave_id, 0),
                }
            )
        return {
            "store": store.safe_url,
            "open_waves": open_waves,
            "closed_waves": [_closed(store, wave, surveys) for wave in closed_waves[-20:]],
            "tasks": {"open": int(open_tasks), "overdue": int(overdue)},
            "waiting": _waiting(store, now),
            "last_starts": last_starts,
            "recruitment": _recruitment(store, surveys),
            # Endpoint -> deliveries that failed their last attempt (`cxops webhooks retry`).
            "webhook_dead_letters": dead_letter_count(store),
        }
    finally:
        store.dispose()


def _paused(wave: Any) -> dict[str, Any] | None:
    """The breaker's pause of an open wave: when, why (in words, with the figures), and
    how to go on; None when it is not paused."""
    if wave.paused_at is None:
        return None
    from cxops.gates.breaker import pause_text

    return {
        "at": _aware(wave.paused_at).isoformat(),
        "reason": wave.pause_reason,
        "figures": wave.pause_figures or {},
        "why": pause_text(wave.pause_reason, wave.pause_figures),
        "resume": f"cxops run {wave.survey_id} --wave {wave.wave_id} --resume",
    }


def _waiting(store: Any, now: datetime) -> list[dict[str, Any]]:
    """Rows that wait for a later `not_before`, by survey, wave, step and why, with the
    first and last moment they come due (`cxops send-due` sends them then)."""
    from cxops.store.ledger import waiting_rows

    return [
        {**row, "earliest": row["earliest"].isoformat(), "latest": row["latest"].isoformat()}
        for row in waiting_rows(store, now)
    ]


def _recruitment(store: Any, surveys: list[Survey]) -> dict[str, dict[str, Any]]:
    """Interview studies: invited, accepted, booked, completed against the goal."""
    studies = [survey for survey in surveys if survey.interview is not None]
    if not studies:
        return {}
    from cxops.interviews.service import recruitment

    found = {}
    for survey in studies:
        progress = recruitment(store, survey).as_dict()
        progress.pop("by_status", None)
        found[survey.id] = progress
    return found


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _apis(settings: Settings) -> dict[str, Any]:
    from cxops.schedule.processes import api_healthy

    up = read_up_api(settings.project_dir)
    configured = settings.prefect_api_url or os.environ.get("PREFECT_API_URL") or None
    if up is not None and configured == up.url:
        configured = None
    background = read_background_api(settings.project_dir)
    if background is not None and configured == background.url:
        configured = None
    return {
        "up": {"url": up.url, "pid": up.pid, "collector": up.collector_url} if up else None,
        "server": {"url": configured, "reachable": api_healthy(configured)} if configured else None,
        # Not asked over HTTP: a request would count as use and keep it running.
        "background": {
            "url": background.url,
            "pid": background.pid,
            "started": background.started.isoformat(timespec="seconds"),
            "idle_until": background.idle_until(settings.project_dir).isoformat(timespec="seconds"),
        }
        if background
        else None,
    }


def _closed(store: Any, wave: Any, surveys: list[Survey]) -> dict[str, Any]:
    from cxops.store import ledger

    first_sent = ledger.wave_counts(store, wave.survey_id, wave.wave_id, 0)["first_sent_at"]
    return {
        "survey": wave.survey_id,
        "wave": wave.wave_id,
        "started_at": _aware(wave.started_at).isoformat(),
        **_sent(first_sent, wave, surveys),
        **(wave.summary.get("closed") or {}),
    }


def _sent(first_sent: datetime | None, wave: Any, surveys: list[Survey]) -> dict[str, Any]:
    """When the wave's first invitation went out, and the wave as people are shown it:
    its id, the schedule slot it names, and that date in the survey's zone."""
    zone = next((s.timezone for s in surveys if s.id == wave.survey_id), "UTC")
    return {
        "first_sent_at": first_sent.isoformat() if first_sent else None,
        "label": wave_label(wave.wave_id, first_sent, zone),
    }
