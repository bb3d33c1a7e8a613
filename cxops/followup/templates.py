"""Rendering the follow-up emails and the task page from `templates/`.

The project's `templates/` override the built-in ones by name. HTML is autoescaped:
names and answers are data, never markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from cxops.errors import TemplateError
from cxops.sandbox import BoundedSandbox
from cxops.template_files import template_search_path


@lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> Environment:
    return BoundedSandbox(
        loader=FileSystemLoader([str(folder) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def environment(project_dir: Path) -> Environment:
    return _environment(tuple(template_search_path(project_dir)))


def render(project_dir: Path, name: str, context: dict[str, Any]) -> str:
    """Render template file `name` (e.g. `digest.html.j2`)."""
    try:
        return environment(project_dir).get_template(name).render(**context)
    except TemplateNotFound as exc:
        raise TemplateError(
            f"template {exc.name} not found in {project_dir / 'templates'} or the built-ins"
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(f"{name}: {type(exc).__name__}: {exc}") from None


def render_email(project_dir: Path, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, html, text) of email template `name`."""
    subject = " ".join(render(project_dir, f"{name}.subject.j2", context).split())
    html = render(project_dir, f"{name}.html.j2", context)
    text = render(project_dir, f"{name}.txt.j2", context)
    return subject, html, text


def read_static(project_dir: Path, name: str) -> str:
    """A static file next to the templates (the collector's CSS), '' when absent."""
    for folder in template_search_path(project_dir):
        candidate = folder / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return ""
