"""`Settings`: every group of settings at once, with the values derived from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cxops.durations import Limit
from cxops.errors import ConfigError
from cxops.settings.groups import (
    BreakerSettings,
    ChannelSettings,
    CollectorSettings,
    CrmSettings,
    PolicySettings,
    ProjectSettings,
    ReportSettings,
    ScheduleSettings,
    SecuritySettings,
    StaffSettings,
    StoreSettings,
    SyncSettings,
    WebhookSettings,
)
from cxops.settings.values import (
    ENV_PREFIX,
    SECRET_KEY_FILE,
    check_key_strength,
    create_key_file,
    hide_password,
    parse_contact_cap,
)


# Pydantic collects the fields of the last base first: the groups are listed backwards so
# that `model_fields` follows `cxops.settings.groups.GROUPS`.
class Settings(
    CrmSettings,
    WebhookSettings,
    SyncSettings,
    ReportSettings,
    ScheduleSettings,
    StaffSettings,
    BreakerSettings,
    PolicySettings,
    SecuritySettings,
    CollectorSettings,
    ChannelSettings,
    StoreSettings,
    ProjectSettings,
    BaseSettings,
):
    """Every setting of cxops; the env name is `CXOPS_` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        pyproject_toml_table_header=("tool", "cxops"),
    )

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
            create_key_file(path)
        key = path.read_text().strip().encode()
        try:
            check_key_strength(key, str(path))
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
            elif name == "webhooks":
                value = [endpoint.model_dump(exclude_none=True) for endpoint in value]
            elif name == "staff":
                value = {email: m.model_dump(exclude_none=True) for email, m in value.items()}
            shown[name] = value
        shown["store_url"] = hide_password(self.store_url)
        return shown
