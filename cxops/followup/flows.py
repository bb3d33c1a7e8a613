"""The Prefect flows of follow-ups: `followups` (every 15 minutes) and `digest` (daily).

Thin: each task calls one function of the follow-up modules (`apply`, `webhooks`,
`escalation`, `measures`, `digest_mail`); the store decides what was already done, so a
retried task or a second run changes nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from cxops.channels.base import Channel
from cxops.followup.apply import apply_rules
from cxops.followup.digest_mail import send_digests
from cxops.followup.escalation import escalate_overdue
from cxops.followup.measures import loop_measures, measures_markdown
from cxops.followup.webhooks import deliver_webhooks
from cxops.project import open_project
from cxops.settings import Settings, get_settings
from cxops.spec.lookup import ProjectSurveys
from cxops.store.db import Store
from cxops.wave.contact_free import contact_free_errors

MEASURES_ARTIFACT = "followup-measures"


def _settings(project_dir: str | None) -> Settings:
    return get_settings(project_dir=Path(project_dir) if project_dir else None)


def open_channel(settings: Settings) -> Channel:
    """The configured channel (the outbox by default)."""
    from cxops.channels import make_channel

    return make_channel(settings)


@task(name="apply-followup-rules", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def apply_rules_task(
    settings: Settings, store: Store, surveys: ProjectSurveys, replay: bool
) -> list[dict[str, Any]]:
    now = settings.clock()
    return [
        apply_rules(settings, store, survey, replay=replay, now=now).as_dict()
        for survey in surveys.surveys.values()
    ]


@task(name="deliver-task-webhooks", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def webhooks_task(settings: Settings, store: Store, surveys: ProjectSurveys) -> dict[str, Any]:
    return deliver_webhooks(settings, store, surveys.surveys).as_dict()


@task(name="escalate-overdue-tasks", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def escalations_task(settings: Settings, store: Store, surveys: ProjectSurveys) -> dict[str, Any]:
    channel = open_channel(settings)
    try:
        return escalate_overdue(settings, store, surveys.surveys, channel).as_dict()
    finally:
        channel.close()


@task(name="publish-loop-measures", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def measures_task(settings: Settings, store: Store, surveys: ProjectSurveys) -> dict[str, Any]:
    measures = loop_measures(store, surveys.surveys, settings.clock())
    create_markdown_artifact(
        key=MEASURES_ARTIFACT,
        markdown=measures_markdown(measures),
        description="Follow-up loop measures by survey, segment and assignee",
    )
    return measures


@flow(name="followups", persist_result=False)
@contact_free_errors
def followups_flow(project_dir: str | None = None, replay: bool = False) -> dict[str, Any]:
    """New answers to tasks (all answers with `replay`), webhooks, escalations, measures."""
    with open_project(_settings(project_dir)) as project:
        settings, store = project.settings, project.store
        surveys = project.surveys.surveys()
        runs = apply_rules_task(settings, store, surveys, replay)
        hooks = webhooks_task(settings, store, surveys)
        escalations = escalations_task(settings, store, surveys)
        measures = measures_task(settings, store, surveys)
    return {
        "now": settings.clock().isoformat(),
        "replay": replay,
        "surveys": runs,
        "created": sum(r["created"] + r["reopened"] for r in runs),
        "withdrawn": sum(r["withdrawn"] for r in runs),
        "reversioned": sum(r["reversioned"] for r in runs),
        "failed": sum(r["failed"] for r in runs),
        "webhooks": hooks,
        "escalations": escalations,
        "open": measures["overall"]["open"],
        "overdue": measures["overall"]["overdue"],
        "measures": measures["overall"],
        "skipped_surveys": surveys.skipped,
    }


@flow(name="digest", persist_result=False)
@contact_free_errors
def digest_flow(
    project_dir: str | None = None, timezone: str = "UTC", resend_in_doubt: bool = False
) -> dict[str, Any]:
    """One email per assignee with open tasks, once a day (the day in `timezone`); a
    digest in doubt is sent again only with `resend_in_doubt`."""
    with open_project(_settings(project_dir)) as project:
        store, channel = project.store, project.channel
        run = send_digests(
            project.settings,
            store,
            project.surveys.surveys().surveys,
            channel,
            timezone=timezone,
            resend_in_doubt=resend_in_doubt,
        )
        return run.as_dict()
