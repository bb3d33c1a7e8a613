"""The contact policy, evaluated on its own: the cap, rules, `per` groups, priority, until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cxops.durations import Limit, parse_duration, parse_limit
from cxops.errors import SurveyError
from cxops.policy.evaluate import CAP_RULE, Contacted, ContactPolicy, Reservation
from cxops.policy.load import load_policy, read_policy
from cxops.policy.model import PolicyFile

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def policy(text: str, tmp_path: Path, cap: str | None = None) -> ContactPolicy:
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    loaded = load_policy(tmp_path)
    assert loaded is not None
    limit = parse_limit(cap) if cap else None
    return ContactPolicy.build(loaded, limit)


def sent(days_ago: float, survey: str = "nps", step: int = 0) -> Contacted:
    return Contacted(NOW - days_ago * DAY, survey, "w1", step)


RULES = """\
rules:
  - name: enterprise-accounts
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


def test_limits_parse_and_print() -> None:
    assert parse_limit("2 per 90d") == Limit(2, parse_duration("90d"))
    assert str(parse_limit("1 per 60d")) == "1 per 60d"
    assert parse_limit("never").never
    for bad in ("0 per 30d", "often", "1 per 2 business days", "1 per"):
        with pytest.raises(ValueError, match="expected"):
            parse_limit(bad)


def test_a_bad_policy_file_names_each_place(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: a\n"
        "    when: \"contact.plan == 'x'\"\n"
        "    limit: 1 per 60x\n"
        "  - name: a\n"
        '    when: "answers.score < 3"\n'
        "    limit: never\n"
        "  - name: b\n"
        '    when: "true"\n'
        "    per: contact.account_id\n"
        "    limit: never\n"
        "  - name: c\n"
        '    when: "true"\n'
        "    limt: never\n",
        encoding="utf-8",
    )
    shown = [str(problem) for problem in read_policy(path).problems]
    assert shown[0].endswith(
        "policy.yaml:4:12: rules[0].limit: expected a limit like '1 per 60d' or 'never': "
        "expected a duration like '90d', '36h', '30m' or '2 business days', found '60x'"
    )
    assert any(":8:5: rules[2]: expected 'per' only with a limit" in line for line in shown), shown
    assert any(
        ":14:5: rules[3].limt: unknown key 'limt': did you mean 'limit'?" in line for line in shown
    )
    assert any("rules[3].limit: expected the required key 'limit'" in line for line in shown)
    # the model failed, so the name checks did not run; fix the model and they do
    path.write_text(
        "rules:\n"
        "  - name: a\n"
        '    when: "true"\n'
        "    limit: never\n"
        "  - name: a\n"
        '    when: "answers.score < 3"\n'
        "    limit: never\n",
        encoding="utf-8",
    )
    shown = [str(problem) for problem in read_policy(path).problems]
    assert [line.split("policy.yaml:")[1] for line in shown] == [
        "5:11: rules[1].name: duplicate rule name 'a' (first used on line 2)",
        "6:11: rules[1].when: unknown name 'answers': a policy expression may use "
        "business_days_since, contact, days_since, days_until, duration_days, hours_since, "
        "now, survey, today",
    ]
    with pytest.raises(SurveyError):
        load_policy(tmp_path)


def test_no_policy_file_is_no_policy(tmp_path: Path) -> None:
    assert load_policy(tmp_path) is None
    assert ContactPolicy.build(None, None).empty


def test_the_cap_counts_invitations_and_reminders_of_every_survey() -> None:
    cap = ContactPolicy.build(PolicyFile(), parse_limit("2 per 30d"))
    one = [sent(3, "nps")]
    assert cap.holds({}, one, NOW) == []
    two = [sent(20, "nps"), sent(3, "csat", step=1)]  # an invitation, and a reminder elsewhere
    [hold] = cap.holds({}, two, NOW)
    assert (hold.rule, hold.reason) == (CAP_RULE, "contact_cap")
    # free again once the older of the two is 30 days old
    assert hold.until == NOW - 20 * DAY + 30 * DAY
    assert cap.holds({}, [sent(31), sent(3)], NOW) == []


def test_never_rules_hold_while_they_apply(tmp_path: Path) -> None:
    rules = policy(RULES, tmp_path)
    [hold] = rules.holds({"title": "CEO"}, [], NOW, explain=True)
    assert (hold.reason, hold.until) == ("policy:no-executives", None)
    assert rules.holds({"title": "Engineer"}, [], NOW) == []
    # a field the contact's source does not have reads as none: the rule does not apply
    assert rules.holds({"email": "x@example.com"}, [], NOW) == []
    renewing = {"renewal_date": "2026-12-10"}
    [hold] = rules.holds(renewing, [], NOW, explain=True)
    assert hold.reason == "policy:not-in-renewal-month"
    # the renewal date passes; `why` says from which day the rule no longer holds
    assert hold.until == datetime(2026, 12, 11, tzinfo=UTC)
    assert rules.holds(renewing, [], NOW + 18 * DAY) == []
    assert rules.holds({"renewal_date": "2027-03-01"}, [], NOW) == []


def test_per_rules_count_everyone_sharing_the_key(tmp_path: Path) -> None:
    rules = policy(RULES, tmp_path)
    groups = {("enterprise-accounts", "acc-1"): [sent(40, "ces")]}

    def group(rule: str, key: str) -> list[Contacted]:
        return groups.get((rule, key), [])

    colleague = {"plan": "enterprise", "account_id": "acc-1"}
    [hold] = rules.holds(colleague, [], NOW, group=group)
    assert hold.reason == "policy:enterprise-accounts"
    assert hold.until == NOW + 20 * DAY
    assert "per contact.account_id = acc-1" in hold.detail
    assert rules.holds({**colleague, "account_id": "acc-2"}, [], NOW, group=group) == []
    assert rules.holds({**colleague, "plan": "team"}, [], NOW, group=group) == []
    assert rules.holds(colleague, [], NOW + 21 * DAY, group=group) == []


def test_a_rule_that_fails_holds_the_person_back_and_says_why(tmp_path: Path) -> None:
    rules = policy('rules:\n  - {name: big, when: "contact.seats > 10", limit: never}\n', tmp_path)
    [hold] = rules.holds({"seats": "many"}, [], NOW)
    assert hold.reason == "policy:big" and "failed" in hold.detail


def test_a_higher_priority_survey_keeps_the_person_when_only_one_fits(tmp_path: Path) -> None:
    cap = ContactPolicy.build(PolicyFile(), parse_limit("1 per 30d"))
    soon = Reservation("nps", 5, NOW + 7 * DAY)
    [hold] = cap.holds({}, [], NOW, reservations=[soon], priority=0)
    assert (hold.rule, hold.reason, hold.until) == ("priority", "priority:nps", soon.at)
    assert "priority 5 over 0" in hold.detail
    # the same or a lower priority does not reserve; a run after the window does not either
    assert cap.holds({}, [], NOW, reservations=[soon], priority=5) == []
    later = Reservation("nps", 5, NOW + 31 * DAY)
    assert cap.holds({}, [], NOW, reservations=[later]) == []
    # room for both: no reservation needed
    roomy = ContactPolicy.build(PolicyFile(), parse_limit("2 per 30d"))
    assert roomy.holds({}, [], NOW, reservations=[soon]) == []
    assert roomy.holds({}, [sent(3)], NOW, reservations=[soon])[0].reason == "priority:nps"
    # no counting limit at all: priority has nothing to protect
    assert ContactPolicy.build(PolicyFile(), None).holds({}, [], NOW, reservations=[soon]) == []


NPS = {"id": "rnps", "kind": "nps", "priority": 10, "triggered": False}
CSAT = {"id": "csat-support", "kind": "csat", "priority": 0, "triggered": False}


def test_a_rule_may_name_the_survey_being_planned(tmp_path: Path) -> None:
    rules = policy(
        "rules:\n"
        "  - name: relationship-quarterly\n"
        "    when: \"survey.kind == 'nps' and not survey.triggered\"\n"
        "    limit: 1 per 90d\n"
        "  - name: no-low-priority-for-ceos\n"
        "    when: \"survey.priority < 5 and contact.title == 'CEO'\"\n"
        "    limit: never\n",
        tmp_path,
    )
    [hold] = rules.holds({}, [sent(40, "ces")], NOW, survey=NPS)
    assert hold.reason == "policy:relationship-quarterly"
    # the rule is about the relationship NPS: the CSAT is not held by it
    assert rules.holds({}, [sent(40, "ces")], NOW, survey=CSAT) == []
    [hold] = rules.holds({"title": "CEO"}, [], NOW, survey=CSAT)
    assert hold.reason == "policy:no-low-priority-for-ceos"
    assert rules.holds({"title": "CEO"}, [], NOW, survey=NPS) == []
    # without a survey its fields read as none, as a contact's missing column does: the
    # first rule does not apply, the second fails (None < 5) and holds, as failing rules do
    [hold] = rules.holds({}, [sent(40, "ces")], NOW)
    assert hold.rule == "no-low-priority-for-ceos" and "failed" in hold.detail


def test_policy_names_are_checked_with_a_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: a\n"
        "    when: \"srvey.kind == 'nps'\"\n"
        "    limit: never\n"
        "  - name: b\n"
        "    when: \"survey.knd == 'nps'\"\n"
        "    limit: never\n"
        "  - name: c\n"
        '    when: "true"\n'
        '    per: "survey.id ~ contact.account_id"\n'
        "    limit: 1 per 30d\n",
        encoding="utf-8",
    )
    shown = [str(problem).split("policy.yaml:")[1] for problem in read_policy(path).problems]
    assert shown[0].startswith(
        "3:11: rules[0].when: unknown name 'srvey' (did you mean 'survey'?): "
        "a policy expression may use business_days_since, contact,"
    )
    assert shown[1] == (
        "6:11: rules[1].when: unknown survey field 'knd' (did you mean 'kind'?): "
        "expected one of id, kind, priority, triggered"
    )
    assert shown[2].startswith(
        "10:10: rules[2].per: unknown name 'survey': 'per' (a key over the contact) may use "
    )
    assert len(shown) == 3


def test_surveys_outside_the_cap_are_not_held_by_it_and_do_not_count_towards_it() -> None:
    cap = ContactPolicy.build(
        PolicyFile(), parse_limit("1 per 30d"), cap_exempt="survey.kind == 'csat'"
    ).counting_only([NPS, CSAT], NOW)
    assert cap.uncounted == frozenset({"csat-support"})
    # the CSAT is not held by the cap, whatever the person had
    assert cap.holds({}, [sent(3, "rnps")], NOW, survey=CSAT) == []
    # nor kept for the relationship NPS through the cap: it takes no room under it
    soon = Reservation("rnps", 10, NOW + 7 * DAY)
    assert cap.holds({}, [], NOW, reservations=[soon], survey=CSAT) == []
    # the NPS is not held by a CSAT sent three days ago …
    assert cap.holds({}, [sent(3, "csat-support")], NOW, survey=NPS) == []
    # … and another survey is not kept for the CSAT (which needs no room) …
    later_csat = Reservation("csat-support", 20, NOW + DAY)
    assert cap.holds({}, [], NOW, reservations=[later_csat], survey=NPS) == []
    # … but is held by the NPS sent three days ago, as before
    [hold] = cap.holds({}, [sent(3, "rnps")], NOW, survey={**NPS, "id": "ces"})
    assert hold.reason == "contact_cap"
    # without the exemption, all of it holds as before
    plain = ContactPolicy.build(PolicyFile(), parse_limit("1 per 30d"))
    assert plain.holds({}, [sent(3, "rnps")], NOW, survey=CSAT)[0].reason == "contact_cap"
    assert plain.holds({}, [], NOW, reservations=[soon], survey=CSAT)[0].reason == "priority:rnps"


def test_rules_still_count_and_hold_surveys_outside_the_cap(tmp_path: Path) -> None:
    rules = ContactPolicy.build(
        PolicyFile.model_validate(
            {"rules": [{"name": "any-two", "when": "true", "limit": "2 per 30d"}]}
        ),
        parse_limit("1 per 30d"),
        cap_exempt="survey.triggered or survey.kind == 'csat'",
    ).counting_only([NPS, CSAT], NOW)
    two = [sent(3, "csat-support"), sent(5, "csat-support")]
    assert rules.holds({}, two, NOW, survey=CSAT)[0].reason == "policy:any-two"
    assert rules.holds({}, two, NOW, survey=NPS)[0].reason == "policy:any-two"


def test_the_exemption_setting_is_an_expression_over_survey() -> None:
    from cxops.errors import ConfigError
    from cxops.policy.survey import check_cap_exempt

    assert check_cap_exempt(None) is None and check_cap_exempt(" ") is None
    assert check_cap_exempt("survey.triggered") == "survey.triggered"
    for bad, expected in (
        (
            "srvey.triggered",
            "unknown name 'srvey' (did you mean 'survey'?): the exemption may use survey",
        ),
        ("contact.plan == 'x'", "unknown name 'contact': the exemption may use survey"),
        ("survey.trigered", "unknown survey field 'trigered' (did you mean 'triggered'?)"),
        ("survey.kind ==", "invalid expression"),
    ):
        with pytest.raises(ConfigError) as raised:
            check_cap_exempt(bad)
        assert str(raised.value).startswith(
            "setting contact_cap_exempt (CXOPS_CONTACT_CAP_EXEMPT): " + expected
        ), str(raised.value)
