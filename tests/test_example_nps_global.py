"""The specification's example `nps-global.yaml` (a copy in tests/data/examples): it
validates against the sample data and plans as its comments say — everyone in their own
morning (held by the send window), rounds of 150 per segment against a ±10-point NPS
margin, and two subject lines split evenly."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).parent / "data" / "examples" / "nps-global.yaml"


def test_nps_global_validates_and_plans_windows_rounds_and_variants(project):
    shutil.copy(EXAMPLE, project.path("surveys") / EXAMPLE.name)
    project.run(["validate", "surveys/nps-global.yaml"])
    plan = project.run(["plan", "nps-global", "--json"]).json
    sampled = plan["sampled"]
    assert sampled > 300
    # The clock is a Monday 09:00 UTC: most are held until their own morning.
    assert 0 < plan["held"]["send window"] < sampled
    assert plan["bad_timezone"] > 0  # the sample data's unknown zones, counted
    quota = plan["quota"]
    assert quota["target"] == "nps_margin" and quota["rounds"]["size"] == 150
    assert set(quota["segments"]) == {"enterprise", "growth", "smb"}
    variants = plan["variants"]
    assert variants["split"] == {"plain": 50.0, "personal": 50.0}
    assert abs(variants["invitees"]["plain"] - variants["invitees"]["personal"]) <= 1
    assert sum(variants["invitees"].values()) == sampled
