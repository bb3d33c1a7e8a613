"""Where templates are found: the project's `templates/` first, then the built-in ones.

A leaf: imports nothing of cxops (spec checks, messages, the collector and follow-up share it).

Email templates are `NAME[.LOCALE].PART.j2` with PART one of subject, html, txt;
`NAME.PART.j2` is the default (English) variant.
"""

from __future__ import annotations

from pathlib import Path

EMAIL_PARTS = ("subject", "html", "txt")


def builtin_templates_dir() -> Path:
    """Built-in templates: inside the wheel, or the repo's `templates/` in a checkout."""
    package = Path(__file__).resolve().parent  # cxops/
    packaged = package / "_builtin_templates"
    if packaged.is_dir():
        return packaged
    return package.parent / "templates"


def template_search_path(project_dir: Path) -> list[Path]:
    """Folders to look in, project first (overrides built-ins by name)."""
    folders = [project_dir / "templates", builtin_templates_dir()]
    unique: list[Path] = []
    for folder in folders:
        resolved = folder.resolve()
        if resolved not in unique and resolved.is_dir():
            unique.append(resolved)
    return unique


def template_file_name(name: str, part: str, locale: str | None = None) -> str:
    """`nps_invite.de.html.j2`; the default variant has no locale (`nps_invite.html.j2`)."""
    if locale and locale != "en":
        return f"{name}.{locale}.{part}.j2"
    return f"{name}.{part}.j2"


def find_template_file(
    name: str, part: str, locale: str | None, search_path: list[Path]
) -> Path | None:
    """The file for exactly this name, part and locale, or None."""
    file_name = template_file_name(name, part, locale)
    for folder in search_path:
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return None
