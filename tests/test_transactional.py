"""A relationship NPS and a transactional CSAT side by side, as the example project has them:
the CSAT outside the contact cap (the project's `contact_cap_exempt`), with its own cooldown;
policy rules that name the survey; `validate` on the setting."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cxops.store.db import open_store
from tests.test_policy_store import send

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REPO = Path(__file__).parents[1]
#: The cap's window reaches the relationship NPS's next wave (1 January) from NOW.
CAP = "1 per 60d"


def example_settings() -> str:
    """The example project's `[tool.cxops]` (the repository's own pyproject.toml)."""
    table = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["cxops"]
    return "[tool.cxops]\n" + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in table.items()
    )


@pytest.fixture
def side_by_side(project: Any) -> Any:
    """The example project, its relationship NPS given the first claim on people."""
    nps = project.path("surveys/nps-quarterly.yaml").read_text(encoding="utf-8")
    project.write(
        {
            "pyproject.toml": example_settings(),
            "surveys/nps-quarterly.yaml": nps.replace(
                "kind: nps\n", "kind: nps\npriority: 10\n", 1
            ),
        }
    )
    return project


def plan(project: Any, survey: str, now: datetime = NOW, **env: str) -> dict[str, Any]:
    env = {"CXOPS_NOW": now.isoformat(), "CXOPS_CONTACT_CAP": CAP, **env}
    return project.run(["plan", survey, "--json", "--invitees"], env=env).json


def emails(summary: dict[str, Any]) -> set[str]:
    return {row["email"] for row in summary["invitees"]}


def test_the_relationship_nps_no_longer_holds_back_the_transactional_csat(
    side_by_side: Any,
) -> None:
    assert "contact_cap_exempt = \"survey.kind == 'csat'\"" in example_settings()
    # without the exemption, the NPS (priority 10, next wave within the cap's window)
    # keeps every ticket requester it wants: the CSAT is blocked for weeks
    before = plan(side_by_side, "csat-support", CXOPS_CONTACT_CAP_EXEMPT="")
    kept = before["excluded"]["priority:nps-quarterly"]
    assert kept > 0
    # with the example project's setting, the CSAT is outside the cap: nobody is kept
    after = plan(side_by_side, "csat-support")
    assert not any(r.startswith(("priority:", "contact_cap")) for r in after["excluded"])
    assert after["eligible"] == before["eligible"] + kept
    # the CSAT goes out to five of the people the NPS wants; those invitations do not
    # count towards the NPS's cap (they would without the exemption)
    wanted = sorted(_held(before) & emails(after))[:5]
    assert len(wanted) == 5
    store = open_store(side_by_side.settings().store_url)
    try:
        for email in wanted:
            send(store, email, survey="csat-support", wave="w-csat", step=0, at=NOW - DAY)
    finally:
        store.dispose()
    assert "contact_cap" not in plan(side_by_side, "nps-quarterly")["excluded"]
    counted = plan(side_by_side, "nps-quarterly", CXOPS_CONTACT_CAP_EXEMPT="")
    assert counted["excluded"]["contact_cap"] == 5 and _held(counted) == set(wanted)
    # the CSAT's own cooldown: one ticket per person in 14 days, a reason of its own
    again = plan(side_by_side, "csat-support")
    assert again["excluded"]["cooldown"] == 5
    assert not emails(again) & set(wanted)


def _held(summary: dict[str, Any]) -> set[str]:
    return {row["email"] for row in summary.get("held_back", [])}


def test_a_policy_rule_names_the_survey(side_by_side: Any) -> None:
    side_by_side.write(
        {
            "policy.yaml": "rules:\n"
            "  - name: no-relationship-surveys-for-starters\n"
            "    when: \"survey.kind == 'nps' and contact.plan == 'starter'\"\n"
            "    limit: never\n"
        }
    )
    assert side_by_side.run(["validate"]).stdout.strip().endswith("and policy.yaml OK")
    nps = plan(side_by_side, "nps-quarterly")
    assert nps["excluded"]["policy:no-relationship-surveys-for-starters"] > 0
    csat = plan(side_by_side, "csat-support")
    assert not any(reason.startswith("policy:") for reason in csat["excluded"])


def test_validate_names_a_bad_exemption_and_a_bad_cooldown(side_by_side: Any) -> None:
    bad = side_by_side.run(
        ["validate"], env={"CXOPS_CONTACT_CAP_EXEMPT": "survey.knd == 'csat'"}, expect_pass=False
    )
    assert (
        "setting contact_cap_exempt (CXOPS_CONTACT_CAP_EXEMPT): unknown survey field 'knd' "
        "(did you mean 'kind'?)"
    ) in bad.stderr
    failed = side_by_side.run(
        ["plan", "csat-support"],
        env={"CXOPS_CONTACT_CAP_EXEMPT": "srvey.triggered"},
        expect_pass=False,
    )
    assert "unknown name 'srvey' (did you mean 'survey'?)" in failed.stderr
    csat = side_by_side.path("surveys/csat-support.yaml").read_text(encoding="utf-8")
    side_by_side.write(
        {"surveys/csat-support.yaml": csat.replace("cooldown: 14d", "cooldown: 14x")}
    )
    wrong = side_by_side.run(["validate"], expect_pass=False)
    assert "csat-support.yaml:10:11: cooldown: expected a duration like '90d'" in wrong.stdout
