"""The README's example survey is a real, valid survey."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository


def test_the_readme_survey_validates(project):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n# surveys/nps-quarterly.yaml\n(.*?)```", readme, re.S)
    project.write({"surveys/nps-quarterly.yaml": example})
    result = project.run(["validate", "surveys/nps-quarterly.yaml"])
    assert "1 survey" in result.stdout
    summary = project.run(["plan", "nps-quarterly", "--json"]).json
    assert summary["sampled"] == 300
