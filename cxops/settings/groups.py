"""The settings in groups, one model each: what a part of cxops reads.

`Settings` (`cxops.settings.model`) is all of them at once, so a setting keeps its flat
name everywhere users write it (`CXOPS_CHANNEL`, `channel = …` in `[tool.cxops]`) and in
code (`settings.channel`); the groups order the reference (`docs/settings.md`,
`cxops init`'s `.env.example`) and keep each setting's checks beside it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from cxops.settings.values import (
    StaffMember,
    check_key_strength,
    check_locale,
    check_timezone,
    parse_contact_cap,
)


def _http_url(value: str) -> str:
    # A space, newline or other control character would end up inside every link.
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValueError(
            f"expected an http(s):// URL without spaces or control characters, found {value!r}"
        )
    if not re.match(r"^https?://[^/?#]+", value):
        raise ValueError(f"expected an http(s):// URL, found {value!r}")
    return value.rstrip("/")


class ProjectSettings(BaseModel):
    """Project: where it is, and its calendar."""

    project_dir: Path = Field(
        default_factory=Path.cwd,
        description="Project directory: relative paths in surveys, templates/, surveys/.",
    )
    now: datetime | None = Field(
        default=None, description="The clock, as an ISO datetime (backfills and tests)."
    )
    holidays: str | None = Field(
        default=None, description="Country code whose public holidays are not business days."
    )

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,3})?", value):
            raise ValueError(f"expected a country code like 'DE' or 'US', found {value!r}")
        return value.upper()


class StoreSettings(BaseModel):
    """Store: the database of the send ledger, answers and tasks, and how waves write it."""

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default sqlite:///cxops.db in the project dir.",
    )
    batch_size: int = Field(
        default=1000, ge=1, le=10_000, description="Contacts per batch in a wave."
    )
    send_lease_seconds: int = Field(
        default=900,
        ge=10,
        le=86_400,
        description="After this long, a batch claimed by a run on another machine is in doubt.",
    )


class ChannelSettings(BaseModel):
    """Channel: how invitations and other emails leave."""

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
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://user:password@host:port (STARTTLS) or smtps://… (SSL).",
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        description="An address for a mailto: alternative in List-Unsubscribe (RFC 2369).",
    )
    channel_retry_seconds: float = Field(
        default=0.5,
        gt=0,
        le=3600,
        description="When a whole batch fails, the wait before the next one, doubled after "
        "each; a wave stops after 5 failed batches in a row (15 times this, waited in all).",
    )

    @field_validator("sendgrid_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value)

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


class CollectorSettings(BaseModel):
    """Collector: the web pages and webhooks that take answers and events."""

    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Public base URL of the collector."
    )
    allow_insecure_links: bool = Field(
        default=False,
        description="Let sendgrid/smtp send links to a non-https public URL (not for real mail).",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _http_url(value)


class SecuritySettings(BaseModel):
    """Security: the key that signs links, and the keys that prove webhooks genuine."""

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signing key for links; generated once into .cxops/secret_key when unset.",
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="SendGrid event-webhook public key; when set, unsigned events are refused.",
    )
    sendgrid_webhook_insecure: bool = Field(
        default=False,
        description="Accept unsigned SendGrid events (no public key set); logged loudly.",
    )
    calendly_webhook_signing_key: SecretStr | None = Field(
        default=None,
        description="Calendly webhook signing key; /webhooks/calendly refuses everything without it.",
    )
    events_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Standard Webhooks secret (whsec_…) for signed posts to /api/v1/events; "
            "unset: only API keys are accepted."
        ),
    )

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_key_strength(value.get_secret_value().encode(), "the key given")
        return value


class PolicySettings(BaseModel):
    """Contact policy: how often one person may be asked, across surveys."""

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

    @field_validator("contact_cap")
    @classmethod
    def _cap(cls, value: str) -> str:
        parse_contact_cap(value)
        return value


class BreakerSettings(BaseModel):
    """Deliverability breaker: when a wave pauses because its messages bounce or are
    reported as spam."""

    breaker_bounce_rate: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="A wave pauses when more than this share of its messages with an outcome "
        "hard-bounced (SendGrid `bounce` events of type bounce; blocks, deferrals and drops "
        "do not count); `cxops run SURVEY --wave W --resume` continues it.",
    )
    breaker_complaint_rate: float = Field(
        default=0.001,
        gt=0,
        le=1,
        description="A wave pauses when more than this share of its delivered messages were "
        "reported as spam (SendGrid `spamreport` events).",
    )
    breaker_min_delivered: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="Messages a wave needs with an outcome before the breaker judges it: "
        "delivered (the complaint rate's base), delivered or hard-bounced (the bounce "
        "rate's); after a resume, counted among the messages sent since.",
    )


class StaffSettings(BaseModel):
    """Staff emails: how CSMs and leads read their digests, assignments and escalations."""

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

    @field_validator("staff_locale")
    @classmethod
    def _staff_locale(cls, value: str) -> str:
        return check_locale(value)

    @field_validator("staff_timezone")
    @classmethod
    def _staff_timezone(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @field_validator("staff")
    @classmethod
    def _staff_addresses(cls, value: dict[str, StaffMember]) -> dict[str, StaffMember]:
        return {email.strip().lower(): member for email, member in value.items()}


class ScheduleSettings(BaseModel):
    """Schedule: the Prefect API flow runs use, and where a wave's batches run."""

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

    @field_validator("task_runner")
    @classmethod
    def _task_runner(cls, value: str) -> str:
        text = value.strip()
        if text in ("thread", "dask") or (text.startswith("dask:") and text[5:].strip()):
            return text
        raise ValueError(
            f"expected thread, dask or dask:ADDRESS (like dask:tcp://scheduler:8786), found {value!r}"
        )


class ReportSettings(BaseModel):
    """Report: what shared outputs may show."""

    min_n: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Smallest group shown in shared outputs; fewer answers show 'too few answers'.",
    )


class SyncOptions(BaseModel):
    """`sync:` in `[tool.cxops]` (`[tool.cxops.sync]`): what `cxops sync` sends."""

    model_config = {"extra": "forbid", "frozen": True}

    personal_data: bool = Field(
        default=False,
        description="Send addresses and names (`email`, `name` columns) to the warehouse.",
    )
    to: str | None = Field(
        default=None,
        description="The destination when `--to` is not given (default duckdb:///warehouse.duckdb).",
    )


class SyncSettings(BaseModel):
    """Sync: what `cxops sync` loads into a warehouse (docs/warehouse.md)."""

    sync: SyncOptions = Field(
        default_factory=SyncOptions,
        description=(
            "`personal_data` (default false: no `email` or `name` column leaves the store, "
            "nor an address, name or task title in a webhook) "
            "and `to` (the default destination URL); `[tool.cxops.sync]` in pyproject.toml, "
            "or CXOPS_SYNC='{\"personal_data\": true}'."
        ),
    )


#: The events an outbound webhook may subscribe to (docs/webhooks.md).
WEBHOOK_EVENTS = (
    "response.completed",
    "task.created",
    "task.closed",
    "person.unsubscribed",
    "person.erased",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WebhookEndpoint(BaseModel):
    """One entry of `webhooks:`: where events go, which ones, and the signing secret's
    variable. `name` identifies it in the store and in `cxops webhooks`: the URL, or
    `env:NAME` when the URL is read from a variable at delivery time."""

    model_config = {"extra": "forbid", "frozen": True}

    url: str | None = None
    url_env: str | None = None
    events: tuple[str, ...]
    secret_env: str

    @property
    def name(self) -> str:
        return self.url if self.url is not None else f"env:{self.url_env}"


def _webhook_entry(index: int, raw: object) -> WebhookEndpoint:
    """One `webhooks:` entry checked, or a ValueError naming it and what was expected."""
    if isinstance(raw, WebhookEndpoint):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(
            f"entry {index}: expected a table {{url | url_env, events, secret_env}}, found {raw!r}"
        )
    url, url_env = raw.get("url"), raw.get("url_env")
    where = f"entry {index} ({url or url_env or 'no url'})"
    unknown = sorted(set(raw) - {"url", "url_env", "events", "secret_env"})
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; expected url or url_env, events, secret_env"
        )
    if (url is None) == (url_env is None):
        raise ValueError(f"{where}: expected exactly one of url and url_env")
    if url is not None:
        if not isinstance(url, str):
            raise ValueError(f"{where}: expected url to be an http(s):// URL, found {url!r}")
        try:
            url = _http_url(url)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    for key in ("url_env", "secret_env"):
        value = raw.get(key)
        if key == "url_env" and value is None:
            continue
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            raise ValueError(
                f"{where}: expected {key} to name an environment variable, found {value!r}"
            )
    events = raw.get("events")
    if isinstance(events, str) or not isinstance(events, list | tuple) or not events:
        raise ValueError(
            f"{where}: expected events to be a list of {', '.join(WEBHOOK_EVENTS)}, found {events!r}"
        )
    for event in events:
        if event not in WEBHOOK_EVENTS:
            raise ValueError(
                f"{where}: unknown event {event!r}; expected one of {', '.join(WEBHOOK_EVENTS)}"
            )
    if len(set(events)) != len(events):
        raise ValueError(f"{where}: an event is named twice in {list(events)!r}")
    return WebhookEndpoint(
        url=url, url_env=url_env, events=tuple(events), secret_env=raw["secret_env"]
    )


class WebhookSettings(BaseModel):
    """Webhooks: the signed events cxops posts to other systems (docs/webhooks.md)."""

    webhooks: tuple[WebhookEndpoint, ...] = Field(
        default_factory=tuple,
        description=(
            "Endpoints that receive Standard Webhooks: `[[tool.cxops.webhooks]]` tables "
            "(or JSON) with `url` or `url_env`, `events` (response.completed, task.created, "
            "task.closed, person.unsubscribed, person.erased) and `secret_env` (a variable "
            "holding a `whsec_…` secret)."
        ),
    )
    webhook_timeout: float = Field(
        default=10,
        gt=0,
        le=120,
        description="Seconds a receiver has to answer one delivery before it counts as failed.",
    )

    @field_validator("webhooks", mode="before")
    @classmethod
    def _webhooks(cls, value: object) -> tuple[WebhookEndpoint, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list of endpoint tables, found {value!r}")
        endpoints = tuple(_webhook_entry(index, raw) for index, raw in enumerate(value, 1))
        names = [endpoint.name for endpoint in endpoints]
        for index, name in enumerate(names, 1):
            if names.index(name) != index - 1:
                raise ValueError(
                    f"entry {index} ({name}): the same endpoint as entry "
                    f"{names.index(name) + 1}; expected each URL once"
                )
        return endpoints


#: HubSpot's internal property names: lowercase letters, digits and underscores.
_PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")


class HubSpotProperties(BaseModel):
    """`crm.hubspot.properties`: the contact property each value is written to."""

    model_config = {"extra": "forbid", "frozen": True}

    score: str = Field(default="cx_nps_score", description="The latest NPS score (0-10).")
    category: str = Field(default="cx_nps_category", description="promoter, passive or detractor.")
    date: str = Field(default="cx_nps_date", description="The date of that answer (UTC).")
    open_task: str = Field(
        default="cx_open_task", description="true while a follow-up task about them is open."
    )

    @field_validator("score", "category", "date", "open_task")
    @classmethod
    def _property_name(cls, value: str) -> str:
        if not _PROPERTY_NAME.fullmatch(value):
            raise ValueError(
                "expected a HubSpot property's internal name (lowercase letters, digits, "
                f"underscores, starting with a letter), found {value!r}"
            )
        return value

    def names(self) -> dict[str, str]:
        """Value -> property name, in the order of the fields."""
        return {
            "score": self.score,
            "category": self.category,
            "date": self.date,
            "open_task": self.open_task,
        }


class HubSpotOptions(BaseModel):
    """`crm.hubspot`: where and how `cxops crm push` writes (docs/crm.md)."""

    model_config = {"extra": "forbid", "frozen": True}

    token_env: str = Field(
        description="The environment variable holding the private app's access token."
    )
    properties: HubSpotProperties = Field(default_factory=HubSpotProperties)
    api_url: str = Field(default="https://api.hubapi.com", description="HubSpot's API.")
    # HubSpot's published limits for private apps: 100 requests per 10 s and 250,000 a
    # day on Free and Starter; 190 and 625,000 (Professional) or 1,000,000 (Enterprise).
    requests_per_10s: int = Field(
        default=100, ge=1, le=1000, description="Requests per rolling 10 seconds."
    )
    daily_limit: int = Field(
        default=250_000, ge=1, le=10_000_000, description="Requests one push makes at most."
    )

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(f"expected an environment variable's name, found {value!r}")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value)


class CrmOptions(BaseModel):
    """`crm:` in `[tool.cxops]` (`[tool.cxops.crm.hubspot]`): the CRM `cxops crm push` writes."""

    model_config = {"extra": "forbid", "frozen": True}

    hubspot: HubSpotOptions | None = None


class CrmSettings(BaseModel):
    """CRM: the NPS values `cxops crm push` writes onto each person's CRM contact (docs/crm.md)."""

    crm: CrmOptions = Field(
        default_factory=CrmOptions,
        description=(
            "`hubspot: {token_env, properties: {score, category, date, open_task}, "
            "requests_per_10s (100), daily_limit (250000), api_url}`; unset: no CRM. "
            "`[tool.cxops.crm.hubspot]` in pyproject.toml, or CXOPS_CRM='{\"hubspot\": {…}}'."
        ),
    )


#: The groups in the order the reference lists them.
GROUPS: tuple[type[BaseModel], ...] = (
    ProjectSettings,
    StoreSettings,
    ChannelSettings,
    CollectorSettings,
    SecuritySettings,
    PolicySettings,
    BreakerSettings,
    StaffSettings,
    ScheduleSettings,
    ReportSettings,
    SyncSettings,
    WebhookSettings,
    CrmSettings,
)
