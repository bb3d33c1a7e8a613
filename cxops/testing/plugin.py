"""The pytest plugin: fixtures for temporary projects and the real services.

Loaded by `tests/conftest.py` (`pytest_plugins = ["cxops.testing.plugin"]`). Fixtures:
- `project`: a temporary project dir with the surveys, templates and data of the project
  under test (pytest's rootdir) copied in, `CXOPS_*` cleared, `CXOPS_PROJECT_DIR`
  pointing at it, the clock fixed; `empty_project` the same with nothing copied.
- `postgres_url`: a fresh PostgreSQL database for the test session; skipped only
  when the server is absent and `CI` is unset, a failure under `CI=true`.
- `store_url`: one test on SQLite and on PostgreSQL; `store`: that store, opened.
- `prefect_harness` / `prefect_env`: one `prefect_test_harness` for the whole session.
- `browser`: Debian's chromium driven by Playwright.

It also loads `cxops.testing.cpu_time` (`--cpu-durations=N`: what each test costs in CPU).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cxops.store.db import Store

from cxops.testing.project import DEFAULT_NOW, Project, copy_example_project
from cxops.testing.services import (
    CHROMIUM_ARGS,
    POSTGRES_ADMIN_URL,
    chromium_path,
    libpq_url,
    postgres_available,
    require_service,
)

pytest_plugins = ["cxops.testing.cpu_time"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with the most tests marked `slow` (real servers, real flows) first.

    `--dist loadfile` hands whole files to the workers in this order, so the long ones
    start early and the last to be handed out are quick: no worker waits idle at the end
    for the other to finish a big file. Tests keep their order inside their file."""
    slow: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        slow[path] = slow.get(path, 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: -slow[item.nodeid.split("::", 1)[0]])


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's CXOPS_* settings or Prefect profile, and no command
    starts a background Prefect API (CXOPS_PREFECT_IDLE_MINUTES=0)."""
    for name in list(os.environ):
        if name.startswith("CXOPS_") and name != "CXOPS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CXOPS_NOW", DEFAULT_NOW)
    # No command leaves a background Prefect API running (tests that want one set this).
    monkeypatch.setenv("CXOPS_PREFECT_IDLE_MINUTES", "0")
    monkeypatch.setenv("CXOPS_PROJECT_DIR", str(tmp_path / "project"))
    (tmp_path / "project").mkdir(exist_ok=True)


@pytest.fixture
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Project:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    copy_example_project(request.config.rootpath, root)
    monkeypatch.chdir(root)
    return Project(root)


@pytest.fixture
def empty_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    monkeypatch.chdir(root)
    return Project(root)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session."""
    import psycopg

    require_service(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    name = f"cxops_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(libpq_url(POSTGRES_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(libpq_url(POSTGRES_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """The session database, emptied of cxops tables before each test."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store at `store_url` (SQLite, then PostgreSQL), opened and migrated."""
    from cxops.store.db import open_store

    opened = open_store(store_url)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One Prefect test harness (a temporary local API) for the whole session; its API URL.

    Pass it to CLI subprocesses as PREFECT_API_URL so they use this server instead of
    each starting an ephemeral one.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def prefect_env(prefect_harness: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI subprocesses that run flows against the session's Prefect API."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    return {"PREFECT_API_URL": prefect_harness}


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (its own browser download does not work here)."""
    path = chromium_path()
    require_service(path is not None, "Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()
