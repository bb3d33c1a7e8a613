"""prefect.yaml stays in step with the surveys and the flow entrypoints."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from cxops.spec import load_surveys

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository


def _deployments() -> dict[str, dict]:
    config = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    return {d["name"]: d for d in config["deployments"]}


def test_every_entrypoint_names_a_flow_that_exists():
    for name, deployment in _deployments().items():
        path, _, attribute = deployment["entrypoint"].partition(":")
        spec = importlib.util.spec_from_file_location(f"entry_{name}", REPO_ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        flow = getattr(module, attribute)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"


def test_each_survey_has_a_deployment_with_its_schedule():
    deployments = _deployments()
    for survey in load_surveys(REPO_ROOT / "surveys", project_dir=REPO_ROOT):
        deployment = deployments[survey.id]
        assert deployment["parameters"]["survey"] == survey.id
        (schedule,) = deployment["schedules"]
        if survey.schedule.cron:
            assert schedule["cron"] == survey.schedule.cron
            assert schedule["timezone"] == survey.schedule.timezone
        else:
            seconds = survey.schedule.interval.approx_timedelta().total_seconds()
            assert schedule["interval"] == seconds
    assert Path(REPO_ROOT / "flows" / "wave.py").exists()
