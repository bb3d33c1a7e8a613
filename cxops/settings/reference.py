"""The settings reference: docs/settings.md's tables, generated from the groups' fields."""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from cxops.settings.groups import GROUPS
from cxops.settings.values import ENV_PREFIX

#: Defaults computed when settings are read, said in words.
_COMPUTED_DEFAULTS = {
    "project_dir": "the current directory",
    "staff": "none",
    "sync": "`{personal_data = false}`",
    "webhooks": "none",
    "crm": "none",
}


def settings_table() -> str:
    """Every setting, a markdown table per group (its title and what it is for, then
    variable, `[tool.cxops]` key, default, meaning). `cxops settings --markdown` prints
    it; a test keeps docs/settings.md equal to it."""
    parts = []
    for group in GROUPS:
        title, _, about = (group.__doc__ or group.__name__).partition(":")
        rows = [
            f"### {title.strip()}",
            "",
            f"{about.strip()[:1].upper()}{about.strip()[1:]}",
            "",
            "| variable | `[tool.cxops]` key | default | what it is |",
            "| --- | --- | --- | --- |",
        ]
        for name, field in group.model_fields.items():
            if field.default_factory is not None:
                default = _COMPUTED_DEFAULTS[name]
            elif field.default is None:
                default = "—"
            elif isinstance(field.default, bool):
                default = f"`{str(field.default).lower()}`"
            else:
                default = f"`{field.default}`"
            description = (field.description or "").replace("|", "\\|")
            if get_origin(field.annotation) is Literal:
                choices = ", ".join(f"`{choice}`" for choice in get_args(field.annotation))
                description = f"{description} One of {choices}."
            rows.append(f"| `{ENV_PREFIX}{name.upper()}` | `{name}` | {default} | {description} |")
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)
