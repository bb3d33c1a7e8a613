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

    from cxops.channels.base import Delivery
    from cxops.store import claims
    from cxops.store import ledger as sends
    from cxops.store import waves as ledger
    from cxops.store.db import open_store

    store = open_store(project.settings().store_url)
    wave_id, started = "2026-10-01T0900", datetime(2026, 11, 23, tzinfo=UTC)
    ledger.ensure_wave(store, "nps-quarterly", wave_id, started)
    person = {"contact_key": "c1", "email": "c1@example.com", "segment": "all", "contact": {}}
    sends.add_invitees(store, "nps-quarterly", wave_id, 0, [person], started)
    [row] = claims.claim_batch(store, "nps-quarterly", wave_id, 0, "t:1:x", 1, started)
    # the wave's first invitation went out on 7 Dec (23:30 UTC: 8 Dec in Berlin)
    first_sent = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    claims.mark_results(store, "t:1:x", [Delivery(row.send_id, "sent")], first_sent)
    store.dispose()
    unreachable = "http://127.0.0.1:9/api"
    status = project.run(["status", "--json"], env={"PREFECT_API_URL": unreachable}).json
    (wave,) = status["open_waves"]
    assert (wave["survey"], wave["sent"], wave["in_doubt"], wave["failed"]) == (
        "nps-quarterly",
        1,
        0,
        0,
    )
    assert status["tasks"] == {"open": 0, "overdue": 0}
    assert status["prefect"]["server"] == {"url": unreachable, "reachable": False}
    # the id is the cron's slot, which people read as a send date: both are said
    assert wave["wave"] == "2026-10-01T0900"
    assert wave["label"] == "wave 2026-10-01T0900 (scheduled 1 Oct 2026 09:00, sent 8 Dec 2026)"
    assert wave["first_sent_at"] == first_sent.isoformat()
    human = project.run(["status"], env={"PREFECT_API_URL": unreachable}).stdout
    assert "open wave nps-quarterly 2026-10-01T0900 (scheduled 1 Oct 2026 09:00, sent 8 Dec" in (
        " ".join(human.split())
    )
    assert "NOT reachable" in human
