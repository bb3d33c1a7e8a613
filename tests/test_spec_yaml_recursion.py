"""Invariant: a YAML file that merges into itself is a file:line error in `validate`, never
a RecursionError, and commands about other surveys in the same folder are unaffected."""

from __future__ import annotations

import pytest

SELF_MERGES = {
    "flow": "id: looping\nname: L\nx: &a {<<: *a, k: 1}\n",
    "block": "id: looping\nname: L\nb: &b\n  k: 1\n  c:\n    <<: *b\n",
    "list": "id: looping\nname: L\nb: &b\n  k: 1\n  c:\n    <<: [{z: 1}, *b]\n",
}


@pytest.mark.parametrize("kind", sorted(SELF_MERGES))
def test_a_self_merging_anchor_is_a_located_error(project, kind):
    (project.root / "surveys" / "looping.yaml").write_text(SELF_MERGES[kind])
    result = project.run(["validate"], expect_pass=False)
    assert "surveys/looping.yaml:" in result.stdout
    assert "does not merge itself" in result.stdout
    assert "Traceback" not in result.output and "RecursionError" not in result.output


def test_other_surveys_still_plan_beside_a_self_merging_file(project):
    (project.root / "surveys" / "looping.yaml").write_text(SELF_MERGES["flow"])
    summary = project.run(["plan", "nps-quarterly", "--json"]).json
    assert summary["survey"] == "nps-quarterly" and summary["eligible"] > 0
    refused = project.run(["plan", "surveys/looping.yaml"], expect_pass=False)
    assert "does not merge itself" in refused.stderr and "Traceback" not in refused.output
