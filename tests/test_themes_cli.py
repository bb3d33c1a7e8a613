"""`cxops themes suggest` end to end: the labelled comments in a real store, the table,
the YAML, `--json`, `--period`; nothing written."""

from __future__ import annotations

from pathlib import Path

import yaml
from analysis_support import Row, seed
from typer.testing import CliRunner

from cxops.cli import app
from cxops.testing import Project

DATA = Path(__file__).parent / "data" / "themes"


def test_themes_suggest_prints_groups_and_yaml_and_writes_nothing(project: Project) -> None:
    project.write(
        {
            "surveys/nps-labelled.yaml": (DATA / "survey.yaml").read_text(encoding="utf-8"),
            "customers.csv": "id,email\n1,a@example.com\n",
        }
    )
    comments = yaml.safe_load((DATA / "comments.yaml").read_text(encoding="utf-8"))["comments"]
    url = f"sqlite:///{project.root / 'store.db'}"
    # Every other comment in w2, whose answers fall in 2026-Q4 (w1's in 2026-Q3).
    seed(
        url,
        "nps-labelled",
        ["w1", "w2"],
        [
            Row(f"w{1 + i % 2}", "all", f"c{i}", {"score": 5, "reason": text}, locale=locale)
            for i, (locale, _, text) in enumerate(comments)
        ],
    )
    env = {"CXOPS_DATABASE_URL": url, "CXOPS_MIN_N": "5"}
    before = {p: p.stat().st_mtime_ns for p in project.root.rglob("*") if p.is_file()}

    data = project.run(["themes", "suggest", "nps-labelled", "--json"], env=env).json
    assert (data["survey"], data["period"], data["answers"], data["untagged"]) == (
        "nps-labelled",
        None,
        227,
        191,
    )
    ids = [theme["id"] for theme in data["themes"]]
    assert {"export", "integration", "app", "dark-mode", "dunkelmodus"} <= set(ids)
    assert all(theme["count"] >= 5 for theme in data["themes"])
    assert yaml.safe_load(data["yaml"]) == {t["id"]: t["keywords"] for t in data["themes"]}

    # The table in-process (the JSON above ran the real CLI).
    table = CliRunner().invoke(
        app,
        ["themes", "suggest", "nps-labelled", "--period", "2026-Q4"],
        env={**env, "COLUMNS": "200"},
    )
    assert table.exit_code == 0, table.output
    assert "Themes to consider · nps-labelled · 2026-Q4" in table.stdout
    assert "match no theme" in table.stdout and "export" in table.stdout
    pasted = yaml.safe_load(table.stdout.split("review, commit:\n", 1)[1])
    assert pasted and all(isinstance(keywords, list) for keywords in pasted.values())
    after = {p: p.stat().st_mtime_ns for p in project.root.rglob("*") if p.is_file()}
    assert after == before
