"""Settings, read through `get_settings()` and never at import time.

Precedence: CLI flag (keyword overrides) > environment `CXOPS_*` > `.env` in the
project directory > `[tool.cxops]` in the project's `pyproject.toml` > defaults.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
)

from cxops.durations import Duration, DurationSyntaxError, parse_duration
from cxops.errors import ConfigError

ENV_PREFIX = "CXOPS_"
SECRET_KEY_FILE = Path(".cxops") / "secret_key"
#: A signing key shorter than this is refused: an empty or short key lets anyone forge links.
MIN_SECRET_KEY_BYTES = 32
#: A signing key of fewer different bytes than this is refused: 32 spaces or `abab…` is
#: long enough but guessable (a generated key has about 40 of its 64 characters different).
MIN_SECRET_KEY_DISTINCT_BYTES = 8


@dataclass(frozen=True, slots=True)
class ContactCap:
    """At most `count` invitations per person within `within`, across all surveys."""

    count: int
    within: Duration


def parse_contact_cap(text: str) -> ContactCap | None:
    """`1 per 30d` -> ContactCap(1, 30d); `none` or `off` -> no cap."""
    if text.strip().lower() in {"none", "off", "0"}:
        return None
    match = re.fullmatch(r"\s*(\d+)\s+per\s+(.+?)\s*", text)
    if not match:
        raise ValueError(f"expected 'N per DURATION' like '1 per 30d', or 'none'; found {text!r}")
    try:
        return ContactCap(int(match[1]), parse_duration(match[2]))
    except DurationSyntaxError as exc:
        raise ValueError(str(exc)) from exc


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
        default="outbox", description="How invitations leave."
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
        default="1 per 30d", description="Invitations per person across all surveys."
    )
    holidays: str | None = Field(
        default=None, description="Country code whose public holidays are not business days."
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
        description="Prefect API for flow runs; unset uses PREFECT_API_URL or ephemeral mode.",
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
    def cap(self) -> ContactCap | None:
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
