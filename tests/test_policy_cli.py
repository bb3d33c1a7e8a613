"""The contact policy end to end: `cxops plan` names the rule, `cxops why` explains, clock moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cxops.channels.base import Delivery
from cxops.store import claims, ledger
from cxops.store.db import open_store
from cxops.store.models import Send

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)

PEOPLE = """\
id,name,email,plan,title,account_id,renewal_date,locale
p1,Ada Boss,ada@example.com,team,CEO,A1,,en
p2,Ben Big,ben@bigcorp.example,enterprise,Engineer,E1,,en
p3,Cy Big,cy@bigcorp.example,enterprise,Analyst,E1,,en
p4,Di Renew,di@example.com,team,Engineer,A4,2026-12-01,en
p5,Ed Plain,ed@example.com,team,Engineer,A5,,en
"""

SURVEY = """\
id: pulse
name: Pulse
kind: nps
audience:
  source:
    csv: data/people.csv
    key: id
    columns: {renewal_date: date}
questions:
  - id: score
    type: nps
    text: "How likely are you to recommend us?"
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
"""

POLICY = """\
rules:
  - name: enterprise-accounts       # at most one invitation per account in 60 days
    when: "contact.plan == 'enterprise'"
    per: "contact.account_id"
    limit: 1 per 60d
  - name: no-executives
    when: "contact.title in ['CEO', 'CFO', 'Founder']"
    limit: never
  - name: not-in-renewal-month
    when: "contact.renewal_date and 0 <= days_until(contact.renewal_date) <= 30"
    limit: never
"""


@pytest.fixture
def pulse(project: Any) -> Any:
    project.write({"data/people.csv": PEOPLE, "surveys/pulse.yaml": SURVEY, "policy.yaml": POLICY})
    return project


def contacted(
    project: Any,
    email: str,
    key: str,
    fields: dict[str, Any],
    *,
    survey: str,
    at: datetime,
    step: int = 0,
    wave: str = "w0",
) -> None:
    """A ledger row for `email`, claimed and sent at `at` (as a wave would leave it)."""
    store = open_store(project.settings().store_url)
    try:
        row = {
            "contact_key": key,
            "email": email,
            "segment": "s",
            "locale": "en",
            "contact": fields,
        }
        ledger.add_invitees(store, survey, wave, step, [row], at)
        claim = f"test:{key}:{step}"
        claims.claim_batch(store, survey, wave, step, claim, 10, at)
        with store.session() as session:
            send_id = session.scalars(
                select(Send.send_id).where(
                    Send.email == email, Send.survey_id == survey, Send.step == step
                )
            ).one()
        claims.mark_results(store, claim, [Delivery(send_id, "sent")], at)
    finally:
        store.dispose()


def plan(project: Any, now: datetime, *args: str, **env: str) -> dict[str, Any]:
    result = project.run(
        ["plan", "pulse", "--json", "--invitees", *args], env={"CXOPS_NOW": now.isoformat(), **env}
    )
    return result.json


def invited(summary: dict[str, Any]) -> set[str]:
    return {entry["email"] for entry in summary["invitees"]}


def test_plan_names_the_rule_that_held_each_person_back(pulse: Any) -> None:
    summary = plan(pulse, NOW)
    assert summary["excluded"] == {
        "policy:no-executives": 1,
        "policy:not-in-renewal-month": 1,
        # no history yet: the first of the account takes its place, the colleague waits
        "policy:enterprise-accounts": 1,
    }
    assert invited(summary) == {"ben@bigcorp.example", "ed@example.com"}
    held = {row["email"]: row for row in summary["held_back"]}
    assert held["ada@example.com"]["rule"] == "no-executives"
    assert held["ada@example.com"]["until"] is None
    assert held["di@example.com"]["rule"] == "not-in-renewal-month"
    # after the renewal date the rule no longer holds
    later = plan(pulse, datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert "policy:not-in-renewal-month" not in later["excluded"]
    assert "di@example.com" in invited(later)
    text = pulse.run(["plan", "pulse"], env={"CXOPS_NOW": NOW.isoformat()}).stdout
    assert "policy:no-executives" in text and "held back by the contact policy" in text
    assert "ada@example.com" in text


def test_the_cap_counts_reminders_of_other_surveys_and_lifts_with_time(pulse: Any) -> None:
    contacted(pulse, "ed@example.com", "c-9", {}, survey="nps-quarterly", at=NOW - 20 * DAY)
    # a reminder is a contact too: with a cap of 2 per 30d, invitation + reminder fill it
    contacted(pulse, "ed@example.com", "c-9", {}, survey="nps-quarterly", at=NOW - 17 * DAY, step=1)
    capped = plan(pulse, NOW, CXOPS_CONTACT_CAP="2 per 30d")
    assert capped["excluded"]["contact_cap"] == 1
    [row] = [r for r in capped["held_back"] if r["email"] == "ed@example.com"]
    # free once the older of the two contacts is 30 days old
    assert row["until"] == (NOW + 10 * DAY).isoformat()
    assert "ed@example.com" not in invited(capped)
    after = plan(pulse, NOW + 11 * DAY, CXOPS_CONTACT_CAP="2 per 30d")
    assert "contact_cap" not in after["excluded"]
    assert "ed@example.com" in invited(after)
    assert "ed@example.com" in invited(plan(pulse, NOW, CXOPS_CONTACT_CAP="none"))


def test_per_account_rule_counts_colleagues_contacted_by_other_surveys(pulse: Any) -> None:
    fields = {"plan": "enterprise", "account_id": "E1"}
    contacted(
        pulse, "boss@bigcorp.example", "x-1", fields, survey="ces-onboarding", at=NOW - 40 * DAY
    )
    summary = plan(pulse, NOW)
    assert summary["excluded"]["policy:enterprise-accounts"] == 2
    assert not invited(summary) & {"ben@bigcorp.example", "cy@bigcorp.example"}
    held = {row["email"]: row for row in summary["held_back"]}
    assert held["cy@bigcorp.example"]["until"] == (NOW + 20 * DAY).isoformat()
    later = plan(pulse, NOW + 21 * DAY)
    assert invited(later) & {"ben@bigcorp.example", "cy@bigcorp.example"} == {"ben@bigcorp.example"}


def test_why_explains_history_and_each_hold_in_plain_words(pulse: Any) -> None:
    contacted(
        pulse,
        "ben@bigcorp.example",
        "p2",
        {"plan": "enterprise", "account_id": "E1"},
        survey="ces-onboarding",
        at=NOW - 5 * DAY,
    )
    out = pulse.run(["why", "ben@bigcorp.example", "pulse"]).stdout
    lines = [line.strip() for line in out.splitlines()]
    assert (
        "2026-11-18 09:00 UTC  invitation of ces-onboarding (wave w0): sent; counts as a contact"
        in lines
    )
    assert "in the audience source as p2 (row 3)" in lines
    # the wave id is a slot of the schedule, said as such (people read it as a send date)
    assert "pulse (wave 2026-11-23, scheduled 23 Nov 2026):" in lines, out
    assert any(
        line.startswith("held back: the contact cap allows 1 per 30d: 1 in the window")
        and line.endswith("until 2026-12-18 09:00 UTC")
        for line in lines
    ), out
    assert any(
        line.startswith("held back: rule 'enterprise-accounts' (per contact.account_id = E1)")
        and line.endswith("until 2027-01-17 09:00 UTC")
        for line in lines
    ), out
    assert lines[-1] == "not invited now; earliest again 2027-01-17 09:00 UTC"
    data = pulse.run(["why", "ada@example.com", "pulse", "--json"]).json
    [verdict] = data["surveys"]
    assert verdict["eligible"] is False
    assert (verdict["wave"], verdict["wave_scheduled"]) == ("2026-11-23", "scheduled 23 Nov 2026")
    assert [hold["rule"] for hold in verdict["holds"]] == ["no-executives"]
    assert verdict["holds"][0]["until"] is None
    assert data["history"] == ["no invitation or reminder recorded"]
    free = pulse.run(["why", "ed@example.com", "pulse"]).stdout
    assert "may be invited now" in free
    stranger = pulse.run(["why", "nobody@example.com"]).stdout
    assert "not in the survey's audience source" in stranger


PRIORITY_SURVEY = """id: vip
name: VIP
kind: nps
priority: 5
schedule:
  cron: "0 9 30 11 *"
audience:
  source:
    csv: data/people.csv
    key: id
  filter: "contact.plan == 'team'"
questions:
  - id: score
    type: nps
    text: "How likely are you to recommend us?"
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
"""


def test_a_higher_priority_survey_due_in_the_window_keeps_its_people(pulse: Any) -> None:
    pulse.write({"surveys/vip.yaml": PRIORITY_SURVEY})
    summary = plan(pulse, NOW)
    # vip (priority 5) runs on 30 Nov, within the cap's 30 days, and wants the team plan
    assert summary["excluded"]["priority:vip"] == 1
    assert "ed@example.com" not in invited(summary)
    assert any("higher-priority survey 'vip'" in note for note in summary["notes"])
    [row] = [r for r in summary["held_back"] if r["rule"] == "priority"]
    assert row["email"] == "ed@example.com" and row["until"] == "2026-11-30T09:00:00+00:00"
    # room for two contacts per window: no need to keep anyone
    roomy = plan(pulse, NOW, CXOPS_CONTACT_CAP="2 per 30d")
    assert "priority:vip" not in roomy["excluded"]
    # after vip's run, pulse may have them again (vip's invitation would then count)
    after = plan(pulse, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert "priority:vip" not in after["excluded"]
    # vip itself, with the higher priority, is not held back by pulse
    vip = pulse.run(
        ["plan", "vip", "--json", "--invitees"], env={"CXOPS_NOW": NOW.isoformat()}
    ).json
    assert not any(reason.startswith("priority:") for reason in vip["excluded"])


def test_validate_checks_the_policy_file_with_its_place(pulse: Any) -> None:
    ok = pulse.run(["validate"]).stdout
    assert ok.strip().endswith("and policy.yaml OK")
    pulse.write({"policy.yaml": POLICY.replace("limit: never", "limit: sometimes", 1)})
    bad = pulse.run(["validate"], expect_pass=False)
    assert (
        "policy.yaml:8:12: rules[1].limit: expected a limit like '1 per 60d' or 'never', found 'sometimes'"
        in bad.stdout
    )
    alone = pulse.run(["validate", "policy.yaml"], expect_pass=False)
    assert "rules[1].limit" in alone.stdout
    failed = pulse.run(["plan", "pulse"], expect_pass=False)
    assert "policy.yaml:8:12" in failed.stderr
