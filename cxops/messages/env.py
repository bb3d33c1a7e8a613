"""The Jinja environment for emails, and which template files a message uses.

Templates run in Jinja's sandbox with `StrictUndefined`. The project's `templates/`
overrides the built-in templates by file name. `*.html.j2` files are autoescaped;
subject and text parts are not. A subject is rendered to one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from cxops.errors import TemplateError
from cxops.locales import DEFAULT_LOCALE, locale_chain
from cxops.sandbox import BoundedSandbox
from cxops.template_files import (
    EMAIL_PARTS,
    template_file_name,
    template_search_path,
)


def autoescape_for(name: str | None) -> bool:
    """HTML templates are autoescaped; subject, text and inline strings are not."""
    return bool(name) and str(name).endswith((".html.j2", ".html"))


def make_environment(search_path: list[Path]) -> SandboxedEnvironment:
    """A fresh sandboxed environment over `search_path` (first folder wins).

    The immutable sandbox: a template cannot change the data it is given (the
    context's survey and question are shared between recipients); bounded in time,
    output size, memory and recursion (`cxops.sandbox`).
    """
    return BoundedSandbox(
        loader=FileSystemLoader([str(folder) for folder in search_path]),
        autoescape=autoescape_for,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )


@lru_cache(maxsize=16)
def _cached_environment(folders: tuple[Path, ...]) -> SandboxedEnvironment:
    return make_environment(list(folders))


def email_environment(project_dir: Path) -> SandboxedEnvironment:
    """The shared environment for a project (compiled templates are cached in it)."""
    return _cached_environment(tuple(template_search_path(Path(project_dir))))


def one_line(text: str) -> str:
    """A subject as one line: trimmed, every run of whitespace made one space."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """The template file names one message is rendered from.

    `subject` is None when the survey's `invitation.subject` replaces the file.
    `locale` is the locale of the HTML variant found (the language of the body).
    """

    subject: str | None
    html: str
    txt: str
    locale: str


def _exists(env: SandboxedEnvironment, name: str) -> bool:
    try:
        env.loader.get_source(env, name)  # type: ignore[union-attr]
    except TemplateNotFound:
        return False
    return True


def _candidates(locale: str) -> list[str | None]:
    """Locales to try for one file: the locale, its language, then the default file."""
    chain: list[str | None] = [c for c in locale_chain(locale) if c != DEFAULT_LOCALE]
    chain.append(None)
    return chain


def find_part(env: SandboxedEnvironment, name: str, part: str, locale: str) -> tuple[str, str]:
    """(file name, its locale) of template `name`'s `part` for `locale`, with fallbacks."""
    tried = []
    for candidate in _candidates(locale):
        file_name = template_file_name(name, part, candidate)
        if _exists(env, file_name):
            return file_name, candidate or DEFAULT_LOCALE
        tried.append(file_name)
    raise TemplateError(f"template {name!r} has no {part} part: looked for {', '.join(tried)}")


def message_template(env: SandboxedEnvironment, name: str, step: int) -> str:
    """The template a step's message uses: `name` for the invitation; for a reminder
    `NAME_reminder` when it exists (project or built-in), else `name` itself (its
    templates see `step` and may say it is a reminder)."""
    if step > 0:
        reminder = f"{name}_reminder"
        if _exists(env, template_file_name(reminder, "html", None)):
            return reminder
    return name


def find_template_set(
    env: SandboxedEnvironment, name: str, locale: str, *, subject_override: bool = False
) -> TemplateSet:
    """The files template `name` uses for `locale`; TemplateError names what is missing."""
    found = {
        part: find_part(env, name, part, locale)
        for part in EMAIL_PARTS
        if not (part == "subject" and subject_override)
    }
    return TemplateSet(
        subject=found["subject"][0] if "subject" in found else None,
        html=found["html"][0],
        txt=found["txt"][0],
        locale=found["html"][1],
    )
