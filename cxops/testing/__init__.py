"""Test support for cxops projects; the runtime package never imports it.

Owns: the pytest plugin (`cxops.testing.plugin`: `project`, `postgres_url`, `store_url`,
`prefect_env`, `browser`, …), running the real CLI (`run_cxops`), `require_service`,
ledger rows for collector tests (`cxops.testing.collect`), follow-up set-ups
(`cxops.testing.followup`) and the local SendGrid-compatible server
(`cxops.testing.sendgrid_server`). May import any part of cxops; nothing in cxops
imports it (an import-linter contract). Importing this package does not import pytest.
"""

from cxops.testing.project import (
    DEFAULT_NOW,
    Project,
    Result,
    copy_example_project,
    run_cxops,
)
from cxops.testing.services import (
    POSTGRES_ADMIN_URL,
    chromium_path,
    in_ci,
    postgres_available,
    require_service,
)

__all__ = [
    "DEFAULT_NOW",
    "POSTGRES_ADMIN_URL",
    "Project",
    "Result",
    "chromium_path",
    "copy_example_project",
    "in_ci",
    "postgres_available",
    "require_service",
    "run_cxops",
]
