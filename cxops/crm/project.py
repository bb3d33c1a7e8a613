"""What the layers above call: a project's CRM push, `forget`'s clearing, what
`export person` lists, and the hourly deployment.

The private app's token is read from the environment variable `crm.hubspot.token_env`
names, only when a request is about to be made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from cxops.crm import state
from cxops.crm.hubspot import HubSpotClient
from cxops.crm.limits import RequestBudget
from cxops.crm.push import CRM, PushResult, clear, push
from cxops.crm.values import wanted_values
from cxops.errors import ConfigError, CxopsError
from cxops.project import ProjectContext
from cxops.settings.groups import HubSpotOptions

#: How often the scheduled push runs (with the warehouse sync).
PUSH_INTERVAL_SECONDS = 3600


def hubspot_options(project: ProjectContext) -> HubSpotOptions:
    options = project.settings.crm.hubspot
    if options is None:
        raise ConfigError(
            "no CRM configured: add [tool.cxops.crm.hubspot] with token_env to pyproject.toml "
            "(docs/crm.md)"
        )
    return options


def read_token(options: HubSpotOptions) -> SecretStr:
    """The private app's token from the environment variable `token_env` names."""
    token = os.environ.get(options.token_env, "").strip()
    if not token:
        raise ConfigError(
            f"crm.hubspot.token_env: environment variable {options.token_env} is not set "
            "(the HubSpot private app's access token)"
        )
    return SecretStr(token)


def client_factory(
    options: HubSpotOptions,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> Callable[[], HubSpotClient]:
    """A new client per push (the token read from the environment now)."""

    def make() -> HubSpotClient:
        token = read_token(options)
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if clock is not None:
            extra["clock"] = clock
        budget = RequestBudget(options.requests_per_10s, options.daily_limit, **extra)
        return HubSpotClient(options.api_url, token, budget, sleep=budget.sleep)

    return make


def push_project(
    project: ProjectContext,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> PushResult:
    """Write each person's latest NPS values onto their HubSpot contact (docs/crm.md)."""
    options = hubspot_options(project)
    settings = project.settings
    surveys = project.surveys.surveys(checks=False).surveys
    wanted = wanted_values(project.store, surveys, options.properties)
    if not dry_run:
        read_token(options)  # a missing token is said before anything is read or sent
    factory = None if dry_run else client_factory(options, sleep=sleep, clock=clock)
    return push(
        project.store, wanted, key=settings.signing_key(), now=settings.clock(), client=factory
    )


@dataclass(frozen=True, slots=True)
class CrmErasure:
    """What `forget` did in one CRM: `cleared` (now), `pending` (the next push clears)."""

    crm: str
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"crm": self.crm, "status": self.status, "detail": self.detail}


def erase_in_crm(
    project: ProjectContext,
    person: str,
    *,
    sleep: Callable[[float], None] | None = None,
) -> list[CrmErasure]:
    """`forget`: clear the properties cxops wrote on the person's contact (`person` is
    their erasure hash), at once when the CRM answers, else at the next push."""
    store = project.existing_store()
    if store is None:
        return []
    rows = state.mark_erasure(store, person, project.settings.clock())
    if not rows:
        return []
    options = project.settings.crm.hubspot
    if options is None:
        detail = "no CRM configured now: the next `cxops crm push` clears them"
        return [CrmErasure(CRM, "pending", detail)]
    try:
        with client_factory(options, sleep=sleep)() as hubspot:
            cleared = clear(store, hubspot, rows)
    except CxopsError as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return [CrmErasure(CRM, "pending", reason)]
    if cleared:
        return [CrmErasure(CRM, "cleared")]
    return [CrmErasure(CRM, "pending", "HubSpot did not confirm: the next push retries")]


def crm_sent(project: ProjectContext, person: str) -> list[dict[str, Any]]:
    """Where cxops wrote the person's values in a CRM (`export person` lists it)."""
    store = project.existing_store()
    if store is None:
        return []
    return [
        {
            "crm": crm,
            "contact_id": row.contact_id,
            "properties": row.values,
            "written_at": row.written_at.isoformat() if row.written_at else None,
            "erasure_pending": row.erase_pending,
        }
        for crm, row in sorted(state.of_person(store, person).items())
        if row.contact_id is not None
    ]


def crm_deployment(entrypoints: str, work_pool: str) -> dict[str, Any]:
    """The hourly push as a `prefect.yaml` deployment (the shape `cxops deploy` writes)."""
    return {
        "name": "crm-push",
        "description": "Each person's latest NPS onto their CRM contact (cxops crm push; docs/crm.md).",
        "entrypoint": f"{entrypoints}:crm_push_flow",
        "tags": ["cxops", "crm"],
        "schedules": [{"interval": PUSH_INTERVAL_SECONDS}],
        "work_pool": {"name": work_pool},
    }
