"""The whole collector: `cxops.collect.create_app` with the follow-up's pages plugged in.

Assembled here, in the layer above the collector, so that the collector never imports
follow-up (the layers contract in pyproject holds without exceptions). `cxops serve` and
tests that open task pages use this; the collector alone serves answers, unsubscribes and
webhooks.
"""

from __future__ import annotations

from fastapi import FastAPI

from cxops.collect.app import BODY_READ_TIMEOUT, create_app
from cxops.followup.pages import my_tasks, task
from cxops.settings import Settings
from cxops.store.db import Store


def create_collector(
    settings: Settings, *, store: Store | None = None, body_timeout: float = BODY_READ_TIMEOUT
) -> FastAPI:
    """The collector for `settings` with the task page (`/t/…`) and the list (`/m/…`)."""
    return create_app(
        settings, store=store, body_timeout=body_timeout, routers=(task.router, my_tasks.router)
    )
