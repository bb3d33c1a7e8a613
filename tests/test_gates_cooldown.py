"""A survey's `cooldown` as a gate over the real ledger (SQLite and PostgreSQL), and in `plan`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cxops.durations import parse_duration
from cxops.gates.base import SEND, Candidate, Moment, Skip
from cxops.gates.cooldown import CooldownGate
from cxops.spec import find_survey
from cxops.spec.models import Survey
from cxops.store.db import Store, open_store
from tests.test_policy_store import send

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SURVEY = "csat-support"


def candidate(email: str, step: int = 0) -> Candidate:
    return Candidate(email, email, "standard", step, {})


REPO = Path(__file__).parents[1]


def csat(cooldown: str | None) -> Survey:
    survey = find_survey(SURVEY, REPO / "surveys", REPO, checks=False)
    return survey.model_copy(update={"cooldown": parse_duration(cooldown) if cooldown else None})


def gate(store: Store, wave: str = "w9") -> CooldownGate:
    built = CooldownGate.for_wave(store, csat("14d"), wave, NOW)
    assert built is not None
    return built


def test_an_invitation_of_the_survey_within_the_cooldown_skips_the_next(store: Store) -> None:
    send(store, "recent@example.com", survey=SURVEY, wave="w1", step=0, at=NOW - 5 * DAY)
    send(store, "old@example.com", survey=SURVEY, wave="w1", step=0, at=NOW - 15 * DAY)
    send(store, "doubt@example.com", survey=SURVEY, wave="w2", step=0, at=NOW - DAY,
         outcome="in_doubt")  # fmt: skip
    send(store, "sending@example.com", survey=SURVEY, wave="w2", step=0, at=NOW - DAY,
         outcome="sending")  # fmt: skip
    send(store, "failed@example.com", survey=SURVEY, wave="w2", step=0, at=NOW - DAY,
         outcome="failed")  # fmt: skip
    send(store, "other@example.com", survey="nps-quarterly", wave="w1", step=0, at=NOW - DAY)
    send(store, "same-wave@example.com", survey=SURVEY, wave="w9", step=0, at=NOW - DAY)
    cooldown = gate(store)
    for moment in (Moment.PLAN, Moment.CLAIM):
        for email in ("recent@example.com", "doubt@example.com", "sending@example.com"):
            assert cooldown.for_contact(candidate(email), moment, NOW) == Skip("cooldown"), email
        # older than the cooldown, never reached, another survey, the wave's own row
        for email in ("old@example.com", "failed@example.com", "other@example.com",
                      "same-wave@example.com", "new@example.com"):  # fmt: skip
            assert cooldown.for_contact(candidate(email), moment, NOW) is SEND, email
    # reminders follow an invitation that passed: never held by the cooldown
    assert cooldown.for_contact(candidate("recent@example.com", 1), Moment.REMIND, NOW) is SEND
    assert cooldown.for_contact(candidate("recent@example.com", 1), Moment.CLAIM, NOW) is SEND
    assert cooldown.for_segment("standard", NOW) is SEND
    # the cooldown is over 14 days after the invitation (asked later, as a claim would be)
    later = NOW + 9 * DAY + timedelta(minutes=1)
    assert cooldown.for_contact(candidate("recent@example.com"), Moment.CLAIM, later) is SEND


def test_a_survey_without_a_cooldown_has_no_gate(store: Store) -> None:
    assert CooldownGate.for_wave(store, csat(None), "w", NOW) is None


def test_plan_counts_people_in_their_cooldown(project: Any) -> None:
    assert "cooldown: 14d" in project.path("surveys/csat-support.yaml").read_text()
    env = {"CXOPS_NOW": NOW.isoformat(), "CXOPS_CONTACT_CAP": "none"}
    before = project.run(["plan", "csat-support", "--json", "--invitees"], env=env).json
    first = before["invitees"][0]
    store = open_store(project.settings().store_url)
    try:
        send(store, first["email"], survey=SURVEY, wave="earlier", step=0, at=NOW - 3 * DAY)
    finally:
        store.dispose()
    after = project.run(["plan", "csat-support", "--json", "--invitees"], env=env).json
    assert after["excluded"].get("cooldown") == 1
    assert first["email"] not in {row["email"] for row in after["invitees"]}
    assert len(after["invitees"]) == len(before["invitees"]) - 1
