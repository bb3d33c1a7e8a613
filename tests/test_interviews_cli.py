"""`cxops interviews status|list|mark|pay` and `cxops export incentives`, through the real CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cxops.channels.base import Delivery
from cxops.interviews.screen import interview_answers
from cxops.spec import find_survey
from cxops.store import claims, ledger
from cxops.store.db import open_store
from cxops.store.models import Send
from cxops.store.responses import save_answers

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STUDY = "interviews-power-users"


def seed(project: Any, accepted: int, declined: int) -> list[str]:
    spec = find_survey(STUDY, project.root / "surveys", project.root)
    store = open_store(project.settings().store_url)
    try:
        people = accepted + declined
        rows = [
            {
                "contact_key": f"c{i}",
                "email": f"p{i}@example.com",
                "segment": "s",
                "locale": "en",
                "contact": {},
            }
            for i in range(people)
        ]
        ledger.add_invitees(store, STUDY, "w1", 0, rows, NOW - timedelta(days=1))
        claim = claims.new_claim_id()
        claims.claim_batch(store, STUDY, "w1", 0, claim, 100, NOW - timedelta(days=1))
        with store.session() as session:
            refs = list(session.scalars(select(Send.send_id).order_by(Send.contact_key)))
        claims.mark_results(store, claim, [Delivery(r, "sent") for r in refs], NOW)
        for index, ref in enumerate(refs):
            values = {"accepted": index < accepted, "consent": index < accepted}
            save_answers(store, ref, interview_answers(spec, values, NOW), complete=True, now=NOW)
        return refs
    finally:
        store.dispose()


def test_status_mark_pay_and_export(project: Any) -> None:
    refs = seed(project, accepted=3, declined=2)
    status = project.run(["interviews", "status", STUDY, "--json"]).json
    assert (status["invited"], status["accepted"], status["places_left"]) == (5, 3, 5)
    line = project.run(["interviews", "status", STUDY]).stdout
    assert line.strip() == (
        f"{STUDY}: invited 5, accepted 3, booked 0, completed 0, goal 8: 5 places left"
    )
    assert "p0@example.com" in project.run(["interviews", "mark", refs[0], "booked"]).stdout
    done = project.run(["interviews", "mark", refs[0][-8:], "completed", "--json"]).json
    assert done["status"] == "completed" and done["incentive_status"] == "owed"
    project.run(["interviews", "mark", refs[1], "no-show"])
    paid = project.run(["interviews", "pay", refs[0]]).stdout
    assert "paid A $50 gift card to p0@example.com; 2026 total for them: 50 USD" in paid
    again = project.run(["interviews", "pay", refs[0]], expect_pass=False)
    assert "was paid on 2026-11-23" in again.stderr
    refused = project.run(["interviews", "mark", refs[4], "booked"], expect_pass=False)
    assert "declined: nothing to mark" in refused.stderr
    listed = project.run(["interviews", "list", STUDY, "--json"]).json
    assert [row["status"] for row in listed] == [
        "completed",
        "no_show",
        "accepted",
        "declined",
        "declined",
    ]
    status = project.run(["interviews", "status", STUDY, "--json"]).json
    assert (status["accepted"], status["booked"], status["completed"]) == (3, 1, 1)
    assert status["holding_places"] == 2
    exported = project.run(["export", "incentives", STUDY]).stdout
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert (row["ref"], row["incentive_status"], row["person_year_total"]) == (
        refs[0],
        "paid",
        "50.0",
    )
    not_interview = project.run(["interviews", "status", "nps-quarterly"], expect_pass=False)
    assert "is not an interview" in not_interview.stderr
