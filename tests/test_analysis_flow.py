"""The report flow publishes the report's figures as Prefect artifacts (a real local API)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from analysis_support import seed
from test_analysis_report import ACCOUNTS, SURVEY, rows

from cxops.analysis.artifacts import report_markdown
from cxops.analysis.report_model import Report
from cxops.testing import Project


def test_markdown_says_too_few_answers_for_small_groups() -> None:
    report = {
        "report_version": 2,
        "survey": {"id": "s", "name": "S | pipes", "kind": "nps"},
        "wave": None,
        "waves": [],
        "wave_labels": {},
        "first_sent_at": {},
        "by": "wave",
        "periods": [],
        "period_waves": {},
        "period_labels": {},
        "min_n": 5,
        "level": 0.95,
        "overall": {
            "suppressed": True,
            "n": 3,
            "invited": 9,
            "complete": 3,
            "partial": 0,
            "response_rate": {"value": 33.3, "ci": [12.06, 64.58], "n": 9},
            "partial_rate": {"value": 0.0, "ci": [0.0, 29.91], "n": 9},
        },
        "by_segment": {},
        "by_period": {},
        "changes": [],
        "excluded": {"suspect": {}, "total": 0},
        "themes": {
            "answers": 0,
            "revenue_column": None,
            "themes": {},
            "untagged_count": 0,
            "untagged": [],
        },
        "loop": None,
        "provenance": {
            "survey_file": None,
            "commit": None,
            "dirty": None,
            "inputs_sha256": "ab",
            "cxops_version": "0",
            "generated_at": "t",
        },
    }
    text = report_markdown(Report.model_validate(report))
    assert "**too few answers** (n=3, minimum 5)" in text
    assert "S \\| pipes" in text


@pytest.mark.prefect
def test_report_flow_publishes_artifacts(
    project: Project, tmp_path: Path, prefect_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(url, "nps-test", ["w1", "w2"], rows())
    monkeypatch.setenv("CXOPS_DATABASE_URL", url)
    from cxops.analysis.flow import report_flow

    result = report_flow("nps-test", wave="w2", project_dir=str(project.root), out="r.html")

    assert result["artifacts"] == [
        "report-nps-test",
        "report-nps-test-segments",
        "report-nps-test-waves",
        "report-nps-test-themes",
    ]
    assert project.path("r.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    api = prefect_env["PREFECT_API_URL"]
    found = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"key": {"any_": result["artifacts"]}}, "limit": 20},
    ).json()
    by_key = {artifact["key"]: artifact for artifact in found}
    markdown = by_key["report-nps-test"]["data"]
    assert "**NPS**: 7.7 pts [-36.95, 49.45] (n=13)" in markdown
    assert "| smb | 10 | 30% [10.78, 60.32] (n=10) | 3 | too few answers (n=3) |" in markdown
    segments = by_key["report-nps-test-segments"]
    assert segments["type"] == "table" and "too few answers" in str(segments["data"])
