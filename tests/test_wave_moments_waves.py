"""A triggered survey's waves are the days its invitations are due: one `waves` row per
day, ordered by day whatever order they were planned in, planned then complete, and
seen by `cxops status` and the report like a scheduled survey's waves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cxops.analysis.data import load_survey_data
from cxops.schedule.status import project_status
from cxops.store.db import Store
from cxops.store.waves import get_wave, set_wave_status, survey_waves
from cxops.wave.moments_waves import INVITED, DayTally, record_days
from tests.test_wave_moments import (
    SOLVED,
    SURVEY,
    ledger,
    payload,
    run_due,
    store_event,
    survey,
)


def other_person(event_id: str, ticket: str, occurred: str, who: str) -> dict[str, Any]:
    event = payload(id=event_id, occurred_at=occurred)
    event["data"]["ticket"]["id"] = ticket
    event["data"]["requester"] = {
        "id": who,
        "email": f"{who.lower()}@customer.example",
        "name": who,
        "locale": "en",
    }
    return event


def test_each_due_day_is_a_wave_like_a_scheduled_one(
    project: Any, store: Store, store_url: str
) -> None:
    # Planned first: a ticket solved on Tuesday, due Wednesday.
    store_event(store, other_person("e-tue", "2", "2026-12-08T09:05:00Z", "Bo"))
    run_due(project, store, SOLVED + timedelta(hours=23))  # Tuesday 09:05 UTC
    # Delivered late: Monday's ticket, due Tuesday; and a second one for Tuesday.
    store_event(store, payload())
    store_event(store, other_person("e-mon", "3", "2026-12-07T09:00:00Z", "Cy"))
    tuesday_noon = datetime.fromisoformat("2026-12-08T11:00:00+00:00")
    run_due(project, store, tuesday_noon - timedelta(minutes=30))

    waves = survey_waves(store, SURVEY)
    assert [w.wave_id for w in waves] == ["2026-12-08", "2026-12-09"]
    assert [w.status for w in waves] == ["planned", "planned"]
    tuesday, wednesday = (w.summary for w in waves)
    assert (tuesday["audience"], tuesday["sampled"], wednesday["sampled"]) == (2, 2, 1)
    assert "'ticket.solved' events" in tuesday["notes"][0]
    by_wave = {row.wave_id for row in ledger(store)}
    assert by_wave == {"2026-12-08", "2026-12-09"}

    settings = project.settings(now=tuesday_noon, database_url=store_url)
    shown = project_status(settings, [survey()])
    assert [(w["wave"], w["status"], w["pending"]) for w in shown["open_waves"]] == [
        ("2026-12-08", "planned", 2),
        ("2026-12-09", "planned", 1),
    ]
    assert load_survey_data(store, survey()).waves == ["2026-12-08", "2026-12-09"]

    # Tuesday's invitations go out (at their slots in the send window): that wave is
    # complete; Wednesday's still waits.
    slots = [r.not_before for r in ledger(store) if r.wave_id == "2026-12-08"]
    run_due(project, store, max(slot for slot in slots if slot is not None))
    assert [w.status for w in survey_waves(store, SURVEY)] == ["complete", "planned"]


def test_a_complete_day_with_a_new_invitation_is_planned_again(project: Any, store: Store) -> None:
    settings = project.settings(now=SOLVED)
    record_days(store, settings, survey(), {"2026-12-08": tally(invited=1)}, SOLVED)
    set_wave_status(store, SURVEY, "2026-12-08", "complete", SOLVED)
    # A day that invited nobody new keeps its status and counts the events.
    record_days(store, settings, survey(), {"2026-12-08": tally(invited=0)}, SOLVED)
    row = get_wave(store, SURVEY, "2026-12-08")
    assert row is not None and row.status == "complete"
    assert (row.summary["audience"], row.summary["excluded"]) == (2, {"cooldown": 1})
    record_days(store, settings, survey(), {"2026-12-08": tally(invited=1)}, SOLVED)
    row = get_wave(store, SURVEY, "2026-12-08")
    assert row is not None and (row.status, row.finished_at) == ("planned", None)
    assert row.summary["sampled"] == row.summary["by_segment"]["standard"]["sampled"] == 2
    # A day where nobody was invited has no wave.
    record_days(store, settings, survey(), {"2026-12-10": tally(invited=0)}, SOLVED)
    assert get_wave(store, SURVEY, "2026-12-10") is None


def tally(*, invited: int) -> DayTally:
    made = DayTally()
    if invited:
        made.count(INVITED, {"segment": "standard"})
    else:
        made.count("excluded: cooldown", None)
    return made
