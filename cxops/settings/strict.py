"""Strict settings: a `[tool.cxops]` key or `CXOPS_*` variable that is no setting is
refused with its place and the nearest setting's name, not dropped."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from cxops.errors import ConfigError
from cxops.settings.model import Settings
from cxops.settings.values import ENV_PREFIX

#: `CXOPS_*` variables that are not settings, read on purpose by someone other than `Settings`.
NON_SETTING_VARIABLES: dict[str, str] = {
    # `cxops --debug` as a variable: tracebacks; the CLI sets it for the flow runs it starts.
    "CXOPS_DEBUG": "show tracebacks (`--debug`)",
    # The test suite's and the benchmarks' PostgreSQL server (cxops/testing/services.py).
    "CXOPS_TEST_POSTGRES_URL": "the PostgreSQL server of the tests and benchmarks",
    # Named by the tests' surveys as a follow-up rule's `notify: {url_env: …}`.
    "CXOPS_TEST_CHAT_URL": "a test survey's chat webhook URL (notify url_env)",
    # Named by the tests' surveys as a follow-up rule's `notify: {secret_env: …}`.
    "CXOPS_TEST_HOOK_SECRET": "a test survey's webhook signing secret (notify secret_env)",
    # The dbt the dbt package's test runs (tests/test_dbt_package.py), else .venv-dbt's.
    "CXOPS_TEST_DBT": "the dbt executable of the dbt package's test",
}


def unknown_settings(project_dir: Path, environ: Mapping[str, str]) -> list[str]:
    """One message per key of `[tool.cxops]` in the project's pyproject.toml, `CXOPS_*`
    line of its `.env` and `CXOPS_*` variable of `environ` that is no setting, each with
    its place and the nearest setting's name. Settings are read case-insensitively, as
    pydantic-settings reads them."""
    problems = [
        f"environment variable {name} is not a setting{_did_you_mean_variable(name)}"
        for name in sorted(environ)
        if _is_unknown_variable(name)
    ]
    dotenv = project_dir / ".env"
    problems += [
        f"{dotenv}:{line}: {name} is not a setting{_did_you_mean_variable(name)}"
        for name, line in _dotenv_names(dotenv)
        if _is_unknown_variable(name)
    ]
    pyproject = project_dir / "pyproject.toml"
    problems += [
        f"{pyproject}{where}: [tool.cxops] {key} is not a setting{_did_you_mean_key(key)}"
        for key, where in _pyproject_keys(pyproject)
        if key not in Settings.model_fields
    ]
    return problems


def _is_unknown_variable(name: str) -> bool:
    upper = name.upper()
    if not upper.startswith(ENV_PREFIX) or upper in NON_SETTING_VARIABLES:
        return False
    return upper.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields


def _nearest_field(name: str) -> str | None:
    found = difflib.get_close_matches(name.lower(), list(Settings.model_fields), n=1)
    return found[0] if found else None


def _did_you_mean_variable(name: str) -> str:
    field = _nearest_field(name.upper().removeprefix(ENV_PREFIX))
    if field is None:
        return " (`cxops settings` lists them)"
    return f"; did you mean {ENV_PREFIX}{field.upper()}?"


def _did_you_mean_key(key: str) -> str:
    field = _nearest_field(key)
    return f"; did you mean {field}?" if field else " (`cxops settings` lists them)"


def _dotenv_names(path: Path) -> list[tuple[str, int]]:
    """The names a `.env` file sets, with their line numbers (python-dotenv's parser, the
    one pydantic-settings reads the file with)."""
    from dotenv.parser import parse_stream

    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as stream:
        return [
            (binding.key, binding.original.line)
            for binding in parse_stream(stream)
            if binding.key is not None
        ]


def _pyproject_keys(path: Path) -> list[tuple[str, str]]:
    """The keys of `[tool.cxops]` in `path`, each with `:LINE` where the key is written."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    try:
        table = tomllib.loads(text).get("tool", {}).get("cxops", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(table, dict):
        return []
    return [(key, _line_of_key(text, key)) for key in table]


def _line_of_key(toml_text: str, key: str) -> str:
    """`:LINE` of `key = …` in the `[tool.cxops]` table of `toml_text`, or "" (a dotted or
    inline form, say)."""
    in_table = False
    assignment = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(toml_text.splitlines(), start=1):
        if re.match(r"\s*\[", line):
            in_table = re.match(r"\s*\[\s*tool\.cxops\s*\]", line) is not None
        elif in_table and assignment.match(line):
            return f":{number}"
    return ""
