"""Settings, read through `get_settings()` and never at import time.

Precedence: CLI flag (keyword overrides) > environment `CXOPS_*` > `.env` in the
project directory > `[tool.cxops]` in the project's `pyproject.toml` > defaults.

The settings come in groups (`groups.py`: project, store, channel, collector, security,
contact policy, staff emails, schedule, report), each checked where it is defined;
`Settings` (`model.py`) is all of them, read by their flat names. `strict.py` refuses
what is no setting; `reference.py` writes docs/settings.md's tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from cxops.errors import ConfigError
from cxops.settings.groups import GROUPS
from cxops.settings.model import Settings
from cxops.settings.reference import settings_table
from cxops.settings.strict import NON_SETTING_VARIABLES, unknown_settings
from cxops.settings.values import (
    ENV_PREFIX,
    SECRET_KEY_FILE,
    StaffMember,
    hide_password,
    parse_contact_cap,
)

__all__ = [
    "ENV_PREFIX",
    "GROUPS",
    "NON_SETTING_VARIABLES",
    "SECRET_KEY_FILE",
    "Settings",
    "StaffMember",
    "get_settings",
    "hide_password",
    "parse_contact_cap",
    "settings_table",
    "unknown_settings",
]


def get_settings(**overrides: Any) -> Settings:
    """Settings for one command: `overrides` are CLI flags (None means not given)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    raw_dir = given.get("project_dir") or os.environ.get(f"{ENV_PREFIX}PROJECT_DIR") or "."
    project_dir = Path(raw_dir).expanduser().resolve()
    given["project_dir"] = project_dir

    class _ProjectSettings(Settings):
        model_config = SettingsConfigDict(env_file=project_dir / ".env")

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            pyproject = PyprojectTomlConfigSettingsSource(
                settings_cls, project_dir / "pyproject.toml"
            )
            return init_settings, env_settings, dotenv_settings, pyproject

    problems = unknown_settings(project_dir, os.environ)
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        bound = _ProjectSettings(**given)
    except ValidationError as exc:
        raise ConfigError(_settings_error_text(exc)) from None
    # `model_fields_set` keeps saying which settings were given (flag, environment, .env
    # or pyproject) rather than defaulted: `cxops up` derives the public URL otherwise.
    return Settings.model_construct(
        _fields_set=set(bound.model_fields_set),
        **{name: getattr(bound, name) for name in Settings.model_fields},
    )


def _settings_error_text(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        lines.append(f"setting {name} ({ENV_PREFIX}{name.upper()}): {error['msg']}")
    return "; ".join(lines)
