"""The scheduled CRM push: one `cxops crm push` of the project as a Prefect flow.

`cxops.crm.project.crm_deployment` is its deployment (hourly, beside the warehouse
sync). A project without `crm:` configured pushes nothing and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from cxops.crm.project import push_project
from cxops.project import open_project
from cxops.settings import get_settings


@flow(name="crm-push", persist_result=False)
def crm_push_flow(project_dir: str | None = None) -> dict[str, Any]:
    """Write what changed onto the project's CRM contacts; what was done."""
    settings = get_settings(project_dir=Path(project_dir) if project_dir else None)
    if settings.crm.hubspot is None:
        return {"crm": None, "configured": False}
    with open_project(settings) as project:
        return push_project(project).as_dict()
