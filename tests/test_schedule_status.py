"""`cxops status`: surveys and next runs, open waves with counts, tasks, reachable APIs."""

from __future__ import annotations

from datetime import UTC, datetime

from cxops.schedule.status import next_run
from cxops.spec.models import Schedule


def test_next_run_of_a_cron_in_its_time_zone_and_of_an_interval():
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    monday = next_run(Schedule(cron="30 8 * * MON", timezone="America/New_York"), now, None)
    assert monday.isoformat() == "2026-11-23T08:30:00-05:00"
    hourly = Schedule(interval="1h")
    assert next_run(hourly, now, None) == now
    assert next_run(hourly, now, datetime(2026, 11, 23, 8, 30, tzinfo=UTC)).minute == 30
    assert next_run(hourly, now, datetime(2026, 11, 22, 8, 30, tzinfo=UTC)) == now
    assert next_run(None, now, None) is None


def test_status_lists_surveys_open_waves_tasks_and_apis(project):
    fresh = project.run(["status", "--json"], env={"PREFECT_API_URL": ""}).json
    assert [s["survey"] for s in fresh["surveys"]] == sorted(
        p.stem for p in project.path("surveys").glob("*.yaml")
    )
    assert fresh["store"] == "none yet" and fresh["prefect"] == {
        "up": None,
        "server": None,
        "background": None,
    }
    assert not project.path("cxops.db").exists()  # status creates nothing

    from cxops.store import waves as ledger
    from cxops.store.db import open_store

    store = open_store(project.settings().store_url)
    ledger.ensure_wave(
        store, "nps-quarterly", "2026-10-01T0900", datetime(2026, 11, 23, tzinfo=UTC)
    )
    store.dispose()
    unreachable = "http://127.0.0.1:9/api"
    status = project.run(["status", "--json"], env={"PREFECT_API_URL": unreachable}).json
    (wave,) = status["open_waves"]
    assert (wave["survey"], wave["sent"], wave["in_doubt"], wave["failed"]) == (
        "nps-quarterly",
        0,
        0,
        0,
    )
    assert status["tasks"] == {"open": 0, "overdue": 0}
    assert status["prefect"]["server"] == {"url": unreachable, "reachable": False}
    human = project.run(["status"], env={"PREFECT_API_URL": unreachable}).stdout
    assert "open wave nps-quarterly" in human and "NOT reachable" in human
