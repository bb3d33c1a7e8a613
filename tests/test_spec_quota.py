"""`audience.quota` and `quota.rounds` in the survey format (the broken ones are in
tests/broken_surveys/bad_quota_*.yaml, each with its file:line)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from cxops.spec.loader import load_survey
from cxops.spec.models import Quota
from cxops.testing import Project

SURVEY = """\
id: quota-{kind}
name: Quota
kind: {kind}
audience:
  source: {{csv: data/customers.csv, key: id}}
  segments:
    enterprise: "contact.plan == 'enterprise'"
    smb: "contact.plan != 'enterprise'"
  sample: {{seed: 11}}
  quota:
{quota}
    rounds: {{size: 150, every: 3d}}
questions:
  - {{id: score, type: {kind}, text: "How are we doing?"}}
invitation: {{template: nps_invite, from: "Acme <research@acme.example>"}}
"""


@pytest.mark.parametrize(
    ("kind", "quota", "target", "enterprise", "smb"),
    [
        ("nps", "    per_segment: 100", "answers", 100, 100),
        ("nps", "    enterprise: 50\n    smb: 200", "answers", 50, 200),
        ("nps", "    enterprise: 50", "answers", 50, None),
        ("nps", "    nps_margin: 10", "nps_margin", None, None),
        ("csat", "    ci_width: 12.5", "ci_width", None, None),
        ("ces", "    ci_width: 20", "ci_width", None, None),
    ],
)
def test_each_kind_of_quota_loads(
    empty_project: Project, kind: str, quota: str, target: str, enterprise, smb
) -> None:
    empty_project.write(
        {
            "data/customers.csv": "id,email,plan\n1,a@b.example,smb\n",
            "surveys/s.yaml": SURVEY.format(kind=kind, quota=quota),
        }
    )
    survey = load_survey(empty_project.path("surveys/s.yaml"), empty_project.root)
    loaded = survey.audience.quota
    assert loaded is not None and loaded.rounds is not None
    assert loaded.target == target
    assert (loaded.answers_for("enterprise"), loaded.answers_for("smb")) == (enterprise, smb)
    assert loaded.rounds.size == 150
    assert loaded.rounds.every.approx_timedelta() == timedelta(days=3)
    assert survey.audience.sample is not None and survey.audience.sample.size is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"enterprise": "50"},
        {"enterprise": True},
        {"per_segment": 10, "enterprise": 5},
        {"nps_margin": 0},
        {"rounds": {"size": 10, "every": "1d"}},
    ],
)
def test_a_quota_that_is_not_one_kind_of_target_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Quota.model_validate(data)


def test_the_schema_describes_segment_quotas_as_positive_integers() -> None:
    from cxops.spec.schema import survey_json_schema

    schema = survey_json_schema()
    quota = schema["$defs"]["Quota"]
    assert quota["additionalProperties"]["type"] == "integer"
    assert {"per_segment", "nps_margin", "ci_width", "rounds"} <= set(quota["properties"])


def test_the_contracts_example_block_is_a_precision_quota_in_rounds() -> None:
    # The block of a relationship NPS in rounds until each segment is known to ±10 points.
    quota = Quota.model_validate({"nps_margin": 10, "rounds": {"size": 150, "every": "3d"}})
    assert quota.target == "nps_margin" and quota.answers_for("growth") is None
    assert quota.rounds is not None and quota.rounds.size == 150
