"""Settings, read through `get_settings()` and never at import time.

Precedence: CLI flag (keyword overrides) > environment `CXOPS_*` > `.env` in the
project directory > `[tool.cxops]` in the project's `pyproject.toml` > defaults.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import secrets
import tempfile
import tomllib
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from cxops.durations import Limit, parse_limit
from cxops.errors import ConfigError
from cxops.timezones import time_zone

ENV_PREFIX = "CXOPS_"
SECRET_KEY_FILE = Path(".cxops") / "secret_key"
#: A signing key shorter than this is refused: an empty or short key lets anyone forge links.
MIN_SECRET_KEY_BYTES = 32
#: A signing key of fewer different bytes than this is refused: 32 spaces or `abab…` is
#: long enough but guessable (a generated key has about 40 of its 64 characters different).
MIN_SECRET_KEY_DISTINCT_BYTES = 8


def parse_contact_cap(text: str) -> Limit | None:
    """`1 per 30d` -> Limit(1, 30d); `none`, `off` or `0` -> no cap."""
    if text.strip().lower() in {"none", "off", "0"}:
        return None
    expected = f"expected 'N per DURATION' like '1 per 30d', or 'none'; found {text!r}"
    try:
        limit = parse_limit(text)
    except ValueError as exc:
        raise ValueError(f"{expected} ({exc})") from None
    if limit.never:
        raise ValueError(expected)
    return limit


LOCALE = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?"


def _check_locale(value: str) -> str:
    if not re.fullmatch(LOCALE, value):
        raise ValueError(f"expected a locale like 'en', 'de' or 'fr-CA', found {value!r}")
    return value


def _check_timezone(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    time_zone(value)
    return value


class StaffMember(BaseModel):
    """How one assignee reads their emails: a locale and a time zone (each optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str | None = None
    timezone: str | None = None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        return None if value in (None, "") else _check_locale(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value)


class Settings(BaseSettings):
    """Every setting of cxops; the env name is `CXOPS_` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        pyproject_toml_table_header=("tool", "cxops"),
    )

    project_dir: Path = Field(
        default_factory=Path.cwd,
        description="Project directory: relative paths in surveys, templates/, surveys/.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default sqlite:///cxops.db in the project dir.",
    )
    channel: Literal["outbox", "sendgrid", "smtp"] = Field(
        default="outbox", description="How invitations and other emails leave."
    )
    outbox_dir: Path | None = Field(
        default=None, description="Folder of the outbox channel; default outbox/ in the project."
    )
    sendgrid_api_key: SecretStr | None = Field(default=None, description="SendGrid API key.")
    sendgrid_api_url: str = Field(
        default="https://api.sendgrid.com", description="Base URL of the SendGrid v3 API."
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="SendGrid event-webhook public key; when set, unsigned events are refused.",
    )
    calendly_webhook_signing_key: SecretStr | None = Field(
        default=None,
        description="Calendly webhook signing key; /webhooks/calendly refuses everything without it.",
    )
    sendgrid_webhook_insecure: bool = Field(
        default=False,
        description="Accept unsigned SendGrid events (no public key set); logged loudly.",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://user:password@host:port (STARTTLS) or smtps://… (SSL).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Public base URL of the collector."
    )
    allow_insecure_links: bool = Field(
        default=False,
        description="Let sendgrid/smtp send links to a non-https public URL (not for real mail).",
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        description="An address for a mailto: alternative in List-Unsubscribe (RFC 2369).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signing key for links; generated once into .cxops/secret_key when unset.",
    )
    contact_cap: str = Field(
        default="1 per 30d",
        description="Invitations and reminders per person across all surveys: 'N per DURATION' "
        "or none.",
    )
    contact_cap_exempt: str | None = Field(
        default=None,
        description="An expression over `survey` (id, kind, priority, triggered), e.g. "
        "\"survey.kind == 'csat'\": the surveys it is true for are outside the contact cap "
        "(never held back by it, their contacts not counted towards it).",
    )
    holidays: str | None = Field(
        default=None, description="Country code whose public holidays are not business days."
    )
    staff_locale: str = Field(
        default="en",
        description="Language of the digests, assignment and escalation emails (en, de, fr).",
    )
    staff_timezone: str | None = Field(
        default=None,
        description="Time zone of the times in those emails; default the survey's time zone.",
    )
    staff: dict[str, StaffMember] = Field(
        default_factory=dict,
        description="Per assignee, over staff_locale and staff_timezone (JSON, or a "
        '[tool.cxops.staff] table): {"anna@acme.example": {"locale": "de", '
        '"timezone": "Europe/Berlin"}}.',
    )
    now: datetime | None = Field(
        default=None, description="The clock, as an ISO datetime (backfills and tests)."
    )
    batch_size: int = Field(
        default=1000, ge=1, le=10_000, description="Contacts per batch in a wave."
    )
    channel_retry_seconds: float = Field(
        default=0.5,
        gt=0,
        le=3600,
        description="When a whole batch fails, the wait before the next one, doubled after "
        "each; a wave stops after 5 failed batches in a row (15 times this, waited in all).",
    )
    send_lease_seconds: int = Field(
        default=900,
        ge=10,
        le=86_400,
        description="After this long, a batch claimed by a run on another machine is in doubt.",
    )
    min_n: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Smallest group shown in shared outputs; fewer answers show 'too few answers'.",
    )
    prefect_api_url: str | None = Field(
        default=None,
        description=(
            "Prefect API for flow runs; unset: PREFECT_API_URL, `cxops up`'s API, or the "
            "background one (see CXOPS_PREFECT_IDLE_MINUTES)."
        ),
    )
    prefect_idle_minutes: float = Field(
        default=15,
        ge=0,
        le=1440,
        description=(
            "Minutes the project's background Prefect API (started by the first command that "
            "runs a flow, reused by the next) stays unused before it stops; 0: each command "
            "starts Prefect's temporary one."
        ),
    )
    task_runner: str = Field(
        default="thread",
        description=(
            "Where a wave's batches run: thread (in the flow's process), dask (a local Dask "
            "cluster) or dask:ADDRESS (an existing scheduler); dask needs the cxops[dask] extra."
        ),
    )

    @field_validator("public_url", "sendgrid_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # A space, newline or other control character would end up inside every link.
        if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            raise ValueError(
                f"expected an http(s):// URL without spaces or control characters, found {value!r}"
            )
        if not re.match(r"^https?://[^/?#]+", value):
            raise ValueError(f"expected an http(s):// URL, found {value!r}")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_key_strength(value.get_secret_value().encode(), "the key given")
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        address = value.removeprefix("mailto:").strip()
        if not re.fullmatch(r"[^@\s<>,;?]+@[^@\s<>,;?]+\.[^@\s<>,;?]+", address):
            raise ValueError(
                f"expected an email address like unsubscribe@acme.example, found {value!r}"
            )
        return address

    @field_validator("task_runner")
    @classmethod
    def _task_runner(cls, value: str) -> str:
        text = value.strip()
        if text in ("thread", "dask") or (text.startswith("dask:") and text[5:].strip()):
            return text
        raise ValueError(
            f"expected thread, dask or dask:ADDRESS (like dask:tcp://scheduler:8786), found {value!r}"
        )

    @field_validator("contact_cap")
    @classmethod
    def _cap(cls, value: str) -> str:
        parse_contact_cap(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,3})?", value):
            raise ValueError(f"expected a country code like 'DE' or 'US', found {value!r}")
        return value.upper()

    @field_validator("staff_locale")
    @classmethod
    def _staff_locale(cls, value: str) -> str:
        return _check_locale(value)

    @field_validator("staff_timezone")
    @classmethod
    def _staff_timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value)

    @field_validator("staff")
    @classmethod
    def _staff_addresses(cls, value: dict[str, StaffMember]) -> dict[str, StaffMember]:
        return {email.strip().lower(): member for email, member in value.items()}

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    # -- derived values -------------------------------------------------------------

    @property
    def store_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.project_dir / 'cxops.db'}"

    @property
    def outbox_path(self) -> Path:
        folder = self.outbox_dir or Path("outbox")
        return folder if folder.is_absolute() else self.project_dir / folder

    @property
    def templates_path(self) -> Path:
        return self.project_dir / "templates"

    @property
    def surveys_path(self) -> Path:
        return self.project_dir / "surveys"

    @property
    def cap(self) -> Limit | None:
        return parse_contact_cap(self.contact_cap)

    def clock(self) -> datetime:
        """Now, in UTC: `CXOPS_NOW` when set, else the real time."""
        return (self.now or datetime.now(UTC)).astimezone(UTC)

    def signing_key(self) -> bytes:
        """The link-signing key; generated once into the project dir when not configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.project_dir / SECRET_KEY_FILE
        if not path.exists():
            _create_key_file(path)
        key = path.read_text().strip().encode()
        try:
            _check_key_strength(key, str(path))
        except ValueError as exc:
            raise ConfigError(f"setting secret_key ({ENV_PREFIX}SECRET_KEY): {exc}") from None
        return key

    def redacted(self) -> dict[str, Any]:
        """All settings as plain values, secrets shown as '**********'."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url" and value is not None:
                value = hide_password(value.get_secret_value())
            elif isinstance(value, SecretStr):
                value = "**********"
            elif isinstance(value, Path | datetime | timedelta):
                value = str(value)
            elif name == "staff":
                value = {email: m.model_dump(exclude_none=True) for email, m in value.items()}
            shown[name] = value
        shown["store_url"] = hide_password(self.store_url)
        return shown


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` unless another process did first. The key is written
    whole to a file of its own, then linked into place: two commands starting at once in
    a new project never read a half-written key, and both use the one that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its key first
            os.link(draft, path)
    finally:
        os.unlink(draft)


def _check_key_strength(key: bytes, where: str) -> None:
    advice = (
        "unset it to have one generated, or use "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(
            f"{where} is {len(key)} bytes; a signing key needs at least "
            f"{MIN_SECRET_KEY_BYTES} ({advice})"
        )
    if not key.strip():
        raise ValueError(f"{where} is blank ({len(key)} spaces or other blanks); {advice}")
    distinct = len(set(key))
    if distinct < MIN_SECRET_KEY_DISTINCT_BYTES:
        raise ValueError(
            f"{where} has only {distinct} different bytes in {len(key)}: too easy to guess; "
            f"a signing key needs at least {MIN_SECRET_KEY_DISTINCT_BYTES} ({advice})"
        )


def hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", url)


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


# -- strict settings: a key or variable that is no setting is refused, not dropped -------

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


# -- the settings reference: docs/settings.md's table, generated from the fields ---------

#: Defaults computed when settings are read, said in words.
_COMPUTED_DEFAULTS = {"project_dir": "the current directory", "staff": "none"}


def settings_table() -> str:
    """Every setting as a markdown table: variable, `[tool.cxops]` key, default, meaning.
    `cxops settings --markdown` prints it; a test keeps docs/settings.md equal to it."""
    rows = [
        "| variable | `[tool.cxops]` key | default | what it is |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
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
    return "\n".join(rows) + "\n"
