"""The real services tests use: PostgreSQL and Chromium, skipped only outside CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

POSTGRES_ADMIN_URL = os.environ.get(
    "CXOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, reason: str) -> None:
    """Skip when a service is absent, but fail under CI=true where it must run."""
    import pytest

    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true demands it)")
    pytest.skip(reason)


def postgres_available(url: str = POSTGRES_ADMIN_URL) -> bool:
    try:
        import psycopg

        with psycopg.connect(libpq_url(url), connect_timeout=3):
            return True
    except Exception:  # any failure to connect means: not available here
        return False


def libpq_url(url: str) -> str:
    """A SQLAlchemy psycopg URL as libpq wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
