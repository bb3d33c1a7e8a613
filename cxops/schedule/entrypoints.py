"""The flows that deployments and `cxops up` name: `cxops.schedule.entrypoints:<function>`.

The entrypoints live in the installed package, so a `prefect.yaml` made by
`cxops deploy` works in any project (no `flows/` folder of its own): the worker
sets the working directory to the project (a pull step) and these flows read the
project's settings from there, or from `project_dir` when given.

This is the only module of `cxops.schedule` that imports the flows of the other
layers; the deployments `deploy.loop_deployments` and `deploy.wave_deployment` write
name only the functions here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from cxops.analysis.flow import report_flow
from cxops.crm.flow import crm_push_flow
from cxops.followup.flows import digest_flow, followups_flow
from cxops.settings import Settings, get_settings
from cxops.spec import find_survey
from cxops.spec.lookup import project_surveys
from cxops.sync.flow import sync_flow
from cxops.wave.flow import compile_reminders, compile_send_due, compile_survey
from cxops.webhooks.flow import webhooks_flow

__all__ = [
    "crm_push_flow",
    "digest_flow",
    "followups_flow",
    "remind_flow",
    "report_flow",
    "send_due_flow",
    "survey_wave",
    "sync_flow",
    "webhooks_flow",
]

#: Every due invitation and reminder of every survey (the `send-due` loop, every minute).
send_due_flow = compile_send_due()


def _settings(project_dir: str | None) -> Settings:
    return get_settings(project_dir=Path(project_dir) if project_dir else None)


@flow(name="survey-wave", validate_parameters=True)
def survey_wave(
    survey: str,
    wave: str | None = None,
    project_dir: str | None = None,
    resend_in_doubt: bool = False,
) -> dict[str, Any]:
    """The wave of `survey` (an id in the project's surveys/, or a file) due now."""
    settings = _settings(project_dir)
    spec = find_survey(survey, settings.surveys_path, settings.project_dir)
    wave_flow = compile_survey(spec, settings)
    summary = wave_flow(
        project_dir=str(settings.project_dir), wave=wave, resend_in_doubt=resend_in_doubt
    )
    return summary.as_dict()


@flow(name="reminders", validate_parameters=True)
def remind_flow(project_dir: str | None = None, resend_in_doubt: bool = False) -> dict[str, Any]:
    """One reminder round of every survey of the project that sends reminders (hourly)."""
    settings = _settings(project_dir)
    surveys = project_surveys(settings.surveys_path, settings.project_dir)
    rounds = []
    for survey in sorted(surveys.surveys.values(), key=lambda s: s.id):
        if survey.invitation.reminder is None:
            continue
        summary = compile_reminders(survey, settings)(
            project_dir=str(settings.project_dir), resend_in_doubt=resend_in_doubt
        )
        rounds.append(summary.as_dict())
    return {
        "now": settings.clock().isoformat(),
        "surveys": rounds,
        "sent": sum(r["sent"] for r in rounds),
        "in_doubt": sum(r["in_doubt"] for r in rounds),
        "skipped_surveys": surveys.skipped,
    }
