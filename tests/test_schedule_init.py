"""`cxops init DIR`: a new project that validates, plans, previews and dry-runs at once."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from cxops.settings import Settings
from cxops.testing import run_cxops
from cxops.testing.services import require_service


@pytest.mark.prefect
@pytest.mark.timeout(900)  # seven CLI runs; minutes on a loaded 2-core machine
def test_init_makes_a_project_that_validates_plans_previews_and_dry_runs(tmp_path, prefect_env):
    target = tmp_path / "research"
    made = run_cxops(["init", str(target)], cwd=tmp_path)
    assert "surveys/nps.yaml" in made.stdout
    env = {**prefect_env, "CXOPS_PROJECT_DIR": str(target)}
    assert "4 surveys OK" in run_cxops(["validate"], cwd=target, env=env).stdout
    kinds = {}
    for survey in ("nps", "csat", "ces", "interview"):
        plan = run_cxops(["plan", survey, "--json"], cwd=target, env=env).json
        assert plan["sampled"] > 0, (survey, plan)
        kinds[survey] = yaml.safe_load((target / "surveys" / f"{survey}.yaml").read_text())["kind"]
    assert kinds == {"nps": "nps", "csat": "csat", "ces": "ces", "interview": "interview"}
    previews = run_cxops(["preview", "nps", "--json"], cwd=target, env=env).json
    assert previews and "recommend" in previews[0]["subject"].lower() and previews[0]["html"]
    dry = run_cxops(["run", "nps", "--dry-run", "--json"], cwd=target, env=env).json
    assert dry["sampled"] == 100 and not (target / "outbox").exists()
    run_cxops(["deploy", "--check"], cwd=target, env=env)
    names = {
        d["name"] for d in yaml.safe_load((target / "prefect.yaml").read_text())["deployments"]
    }
    assert {"nps", "csat", "ces", "interview", "followups", "digest", "send-due"} <= names


def test_env_example_lists_every_setting_and_gitignore_the_local_state(tmp_path):
    target = tmp_path / "p"
    run_cxops(["init", str(target)], cwd=tmp_path)
    example = (target / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"# CXOPS_{name.upper()}=" in example
    ignored = (target / ".gitignore").read_text().splitlines()
    # reports quote customers; previews and exports name them
    assert {"cxops.db", "outbox/", ".cxops/", ".env", "reports/", "preview/", "exports/"} <= set(
        ignored
    )
    assert (target / "templates" / "README.md").exists()
    assert [p.name for p in (target / "templates").iterdir()] == ["README.md"]


def test_init_refuses_a_non_empty_directory_without_force(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    refused = run_cxops(["init", str(target)], cwd=tmp_path, expect_pass=False)
    assert refused.exit_code == 1 and "not empty; use --force" in refused.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    run_cxops(["init", str(target), "--force"], cwd=tmp_path)
    assert (target / "notes.txt").read_text() == "mine" and (
        target / "surveys" / "nps.yaml"
    ).exists()


def test_init_makes_a_git_repository_unless_already_in_one(tmp_path):
    require_service(shutil.which("git") is not None, "git is not installed")
    target = tmp_path / "research"
    made = run_cxops(["init", str(target)], cwd=tmp_path)
    assert "made a git repository" in made.stdout
    assert (target / ".git").is_dir()
    ignored = subprocess.run(
        ["git", "check-ignore", "reports/nps.html", "preview/x.html", "cxops.db"],
        cwd=target,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ignored.stdout.split() == ["reports/nps.html", "preview/x.html", "cxops.db"]

    inner = target / "second"
    again = run_cxops(["init", str(inner)], cwd=tmp_path)
    assert f"already in the git repository {target.resolve()}" in again.stdout
    assert not (inner / ".git").exists()
