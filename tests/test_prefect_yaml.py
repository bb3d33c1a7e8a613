"""prefect.yaml: written by `cxops deploy`, kept current, hand-written parts kept."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from cxops.errors import ConfigError
from cxops.schedule import deploy
from cxops.spec import load_surveys

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository


def _deployments(path: Path) -> dict[str, dict]:
    config = yaml.safe_load(path.read_text())
    return {d["name"]: d for d in config["deployments"]}


def _all_flows(name: str) -> bool:
    return name in {"followups_flow", "digest_flow", "report_flow"}


def test_the_repository_prefect_yaml_is_what_cxops_deploy_writes():
    result = deploy.deploy_project(REPO_ROOT, REPO_ROOT / "surveys", check=True)
    assert not result.changed, "prefect.yaml is out of date: run `cxops deploy`"


def test_every_entrypoint_names_a_flow_in_the_installed_package():
    for deployment in _deployments(REPO_ROOT / "prefect.yaml").values():
        module, _, attribute = deployment["entrypoint"].partition(":")
        flow = getattr(importlib.import_module(module), attribute)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"


def test_each_survey_has_a_deployment_with_its_schedule():
    deployments = _deployments(REPO_ROOT / "prefect.yaml")
    for survey in load_surveys(REPO_ROOT / "surveys", project_dir=REPO_ROOT):
        deployment = deployments[survey.id]
        assert deployment["parameters"] == {"survey": survey.id}
        assert deployment["work_pool"] == {"name": "cxops"}
        (schedule,) = deployment["schedules"]
        if survey.schedule.cron:
            assert schedule == {"cron": survey.schedule.cron, "timezone": survey.schedule.timezone}
        else:
            seconds = survey.schedule.interval.approx_timedelta().total_seconds()
            assert schedule == {"interval": seconds}
    assert deployments["followups"]["schedules"] == [{"interval": 900}]
    assert deployments["reminders"]["schedules"] == [{"interval": 3600}]  # hourly
    assert deployments["reminders"]["entrypoint"].endswith(":remind_flow")
    assert deployments["send-due"]["schedules"] == [{"interval": 60}]  # every minute
    assert deployments["send-due"]["entrypoint"].endswith(":send_due_flow")
    assert deployments["warehouse-sync"]["schedules"] == [{"interval": 3600}]  # hourly
    assert deployments["warehouse-sync"]["entrypoint"].endswith(":sync_flow")
    assert deployments["webhooks"]["schedules"] == [{"interval": 60}]  # every minute
    assert deployments["webhooks"]["entrypoint"].endswith(":webhooks_flow")
    assert deployments["crm-push"]["schedules"] == [{"interval": 3600}]  # hourly, with the sync
    assert deployments["crm-push"]["entrypoint"].endswith(":crm_push_flow")
    zones = {s["timezone"] for s in deployments["digest"]["schedules"]}
    assert zones == {"Europe/Berlin", "America/New_York", "Europe/London", "UTC"}


def test_each_survey_has_a_weekly_report_in_its_time_zone():
    deployments = _deployments(REPO_ROOT / "prefect.yaml")
    surveys = load_surveys(REPO_ROOT / "surveys", project_dir=REPO_ROOT)
    reports = {name: d for name, d in deployments.items() if name.startswith("report-")}
    assert set(reports) == {f"report-{survey.id}" for survey in surveys}
    for survey in surveys:
        report = reports[f"report-{survey.id}"]
        assert report["entrypoint"] == "cxops.schedule.entrypoints:report_flow"
        assert report["parameters"] == {"survey": survey.id}
        assert report["schedules"] == [{"cron": "0 7 * * MON", "timezone": survey.timezone}]
        assert report["work_pool"] == {"name": "cxops"}
        assert f"survey:{survey.id}" in report["tags"]
    assert reports["report-nps-quarterly"]["schedules"][0]["timezone"] == "Europe/Berlin"


def test_report_deployments_follow_the_surveys(project):
    project.run(["deploy"])
    names = list(_deployments(project.path("prefect.yaml")))
    surveys = sorted(s.stem for s in project.path("surveys").glob("*.yaml"))
    assert names[-len(surveys) :] == [f"report-{name}" for name in surveys]
    project.path("surveys/ces-onboarding.yaml").unlink()
    project.run(["deploy"])
    names = set(_deployments(project.path("prefect.yaml")))
    assert "report-ces-onboarding" not in names and "report-nps-quarterly" in names


def test_deploy_keeps_hand_written_parts_drops_deleted_surveys_and_is_idempotent(project):
    hand_written = (
        "# my own header\n"
        "name: acme-research\n"
        "pull:\n"
        "  - prefect.deployments.steps.set_working_directory:\n"
        "      directory: /srv/acme\n"
        "deployments:\n"
        "  - name: my-own   # kept\n"
        "    entrypoint: my_flows.py:hello\n"
        "    work_pool: {name: other}\n"
        "# trailing comment\n"
    )
    project.write({"prefect.yaml": hand_written})
    first = project.run(["deploy"]).stdout
    assert "written" in first
    text = project.path("prefect.yaml").read_text()
    assert text.startswith("# my own header\nname: acme-research\npull:\n")
    assert "  - name: my-own   # kept\n    entrypoint: my_flows.py:hello\n" in text
    assert text.endswith("# trailing comment\n")
    names = list(_deployments(project.path("prefect.yaml")))
    assert names[:4] == sorted(s.stem for s in project.path("surveys").glob("*.yaml"))
    assert {"my-own", "followups", "digest", "report-nps-quarterly"} <= set(names)

    assert "unchanged" in project.run(["deploy"]).stdout
    assert project.path("prefect.yaml").read_text() == text  # byte for byte
    project.run(["deploy", "--check"])

    project.path("surveys/ces-onboarding.yaml").unlink()
    stale = project.run(["deploy", "--check"], expect_pass=False)
    assert stale.exit_code == 1 and "out of date" in stale.stdout
    assert project.path("prefect.yaml").read_text() == text  # --check writes nothing
    project.run(["deploy"])
    names = set(_deployments(project.path("prefect.yaml")))
    assert "ces-onboarding" not in names and "my-own" in names
    assert "Europe/London" in project.path("prefect.yaml").read_text()


def test_deploy_writes_a_new_file_that_prefect_reads(project):
    result = project.run(["deploy", "--json"]).json
    assert result["changed"] is True
    config = yaml.safe_load(project.path("prefect.yaml").read_text())
    assert config["name"] == "project" and config["deployments"]
    assert set(result["deployments"]) == {d["name"] for d in config["deployments"]}


def test_a_hand_written_deployment_with_a_generated_name_is_an_error(tmp_path):
    (tmp_path / "prefect.yaml").write_text(
        "deployments:\n  - name: followups\n    entrypoint: x.py:y\n"
    )
    with pytest.raises(
        ConfigError, match=r"prefect.yaml:2: deployment 'followups' is written by hand"
    ):
        deploy.deploy_project(tmp_path, tmp_path / "surveys", has_flow=_all_flows)


def test_broken_yaml_and_broken_marks_name_the_file(tmp_path):
    path = tmp_path / "prefect.yaml"
    path.write_text("deployments:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"prefect.yaml:\d+: not valid YAML"):
        deploy.deploy_project(tmp_path, tmp_path / "surveys", has_flow=_all_flows)
    path.write_text(f"deployments:\n{deploy.BEGIN}\n")
    with pytest.raises(ConfigError, match="expected one `# >>> cxops deploy` line"):
        deploy.deploy_project(tmp_path, tmp_path / "surveys", has_flow=_all_flows)
    path.write_text("deployments: [{name: a}]\n")
    with pytest.raises(
        ConfigError, match=r"prefect.yaml:1: expected `deployments:` followed by a block"
    ):
        deploy.deploy_project(tmp_path, tmp_path / "surveys", has_flow=_all_flows)


def test_loop_deployments_exist_only_for_flows_that_exist(tmp_path):
    only_followups = deploy.deploy_project(
        tmp_path, tmp_path / "surveys", has_flow=lambda name: name == "followups_flow"
    )
    assert only_followups.names == ("followups",)
    everything = deploy.deploy_project(tmp_path, tmp_path / "surveys", has_flow=lambda name: True)
    # reports are per survey
    assert everything.names == (
        "followups",
        "send-due",
        "reminders",
        "digest",
        "warehouse-sync",
        "webhooks",
        "crm-push",
    )
    assert deploy.entrypoint_exists("survey_wave") and not deploy.entrypoint_exists("no_such_flow")
    from cxops.schedule import entrypoints

    for name in entrypoints.__all__:
        assert hasattr(getattr(entrypoints, name), "fn"), f"{name} is not a Prefect flow"
