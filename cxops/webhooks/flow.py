"""The webhooks loop: one `cxops webhooks send` of the project every minute.

`cxops.webhooks.run.webhooks_deployment` is its deployment for `cxops deploy` and
`cxops up` (listed once `cxops.schedule.entrypoints` exports `webhooks_flow`). With no `webhooks:` configured a
run reads nothing and posts nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from cxops.project import open_project
from cxops.settings import get_settings
from cxops.webhooks.run import send_webhooks


@flow(name="webhooks", persist_result=False)
def webhooks_flow(project_dir: str | None = None) -> dict[str, Any]:
    """Queue what happened since the last run and post every due delivery."""
    settings = get_settings(project_dir=Path(project_dir) if project_dir else None)
    if not settings.webhooks:
        return {"endpoints": []}
    with open_project(settings) as project:
        return send_webhooks(settings, project.store).as_dict()
