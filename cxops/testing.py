"""Test helpers: temporary projects, running the real CLI, the real services.

Loaded as a pytest plugin by `tests/conftest.py`. Fixtures:
- `project`: a temporary project dir (the repo's surveys, templates and data copied
  in), `CXOPS_*` cleared, `CXOPS_PROJECT_DIR` pointing at it, the clock fixed.
- `postgres_url`: a fresh PostgreSQL database for the test session; skipped only
  when the server is absent and `CI` is unset, a failure under `CI=true`.
- `prefect_harness`: one `prefect_test_harness` for the whole session.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The clock tests run at unless they move it: the day the sample data was made for.
DEFAULT_NOW = "2026-11-23T09:00:00+00:00"
POSTGRES_ADMIN_URL = os.environ.get(
    "CXOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, reason: str) -> None:
    """Skip when a service is absent, but fail under CI=true where it must run."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true demands it)")
    pytest.skip(reason)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    args: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cxops(
    args: list[str] | str,
    *,
    expect_pass: bool | None = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> Result:
    """Run the real `cxops` CLI in a subprocess; assert on its exit code."""
    argv = shlex.split(args) if isinstance(args, str) else list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    completed = subprocess.run(
        [sys.executable, "-m", "cxops", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Result(completed.returncode, completed.stdout, completed.stderr, argv)
    if expect_pass is True and result.exit_code != 0:
        raise AssertionError(f"cxops {argv} failed ({result.exit_code}):\n{result.output}")
    if expect_pass is False and result.exit_code == 0:
        raise AssertionError(f"cxops {argv} passed but should fail:\n{result.output}")
    return result


@dataclass
class Project:
    """A temporary cxops project directory."""

    root: Path

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def path(self, name: str) -> Path:
        return self.root / name

    def run(self, args: list[str] | str, **kwargs: Any) -> Result:
        kwargs.setdefault("cwd", self.root)
        return run_cxops(args, **kwargs)

    def settings(self, **overrides: Any):
        from cxops.settings import get_settings

        return get_settings(project_dir=self.root, **overrides)


def copy_repo_project(target: Path, *, with_surveys: bool = True) -> None:
    """Copy the repo's surveys, templates and data into `target`."""
    for name in ("templates", "data") + (("surveys",) if with_surveys else ()):
        source = REPO_ROOT / name
        if source.exists():
            shutil.copytree(source, target / name, dirs_exist_ok=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's CXOPS_* settings or Prefect profile."""
    for name in list(os.environ):
        if name.startswith("CXOPS_") and name != "CXOPS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CXOPS_NOW", DEFAULT_NOW)
    monkeypatch.setenv("CXOPS_PROJECT_DIR", str(tmp_path / "project"))
    (tmp_path / "project").mkdir(exist_ok=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    copy_repo_project(root)
    monkeypatch.chdir(root)
    return Project(root)


@pytest.fixture
def empty_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    monkeypatch.chdir(root)
    return Project(root)


def postgres_available(url: str = POSTGRES_ADMIN_URL) -> bool:
    try:
        import psycopg

        with psycopg.connect(_libpq(url), connect_timeout=3):
            return True
    except Exception:
        return False


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session."""
    import psycopg

    require_service(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    name = f"cxops_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as conn:
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
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One Prefect test harness (a temporary local API) for the whole session; its API URL.

    Pass it to CLI subprocesses as PREFECT_API_URL so they use this server instead of
    each starting an ephemeral one.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def prefect_env(prefect_harness: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI subprocesses that run flows against the session's Prefect API."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    return {"PREFECT_API_URL": prefect_harness}


#: Flags for headless Chromium on a machine with no network beyond loopback.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


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


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
