"""Browser-test helpers: screenshots under tests/artifacts/, axe-core's verdict on a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """A full-page PNG of `page` as `folder/name.png` (the folder is made when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page: Any, checker: Any | None = None) -> None:
    """axe-core (axe-playwright-python) finds no violation on the page as it is now.

    axe runs as a script: for a page with scripts off, pass `checker`, a page of a
    context with scripts on; the document is copied there (its stylesheets still load
    from the page's origin) and checked.
    """
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    target = page
    if checker is not None:
        parts = urlsplit(page.url)
        base = f'<base href="{parts.scheme}://{parts.netloc}/">'
        checker.set_content(page.content().replace("<head>", "<head>" + base, 1))
        target = checker
    results = Axe().run(target)
    assert results.violations_count == 0, results.generate_report()
