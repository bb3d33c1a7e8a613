"""Where a sync goes: a destination URL as dlt's destination, and the project's list of
every destination it ever loaded (`.cxops/sync/destinations.json`), which `forget` and
`export person` read.

- `duckdb:///PATH` — a DuckDB file, relative to the project unless PATH starts with `/`
  (`duckdb:////abs/path.duckdb`); the default is `duckdb:///warehouse.duckdb`.
- `postgresql://USER@HOST:PORT/DB` — schema `cxops` (`?schema=NAME` for another); a
  password is better kept in `PGPASSWORD` or `~/.pgpass` than in the URL: the list of
  destinations keeps the URL without it.
- `parquet:///DIR` — Parquet files under DIR/cxops/TABLE/ (relative like DuckDB's).
- `dlt:NAME` — any other dlt destination (`snowflake`, `bigquery`, `redshift`,
  `databricks`, …), configured the way dlt reads it: `.dlt/secrets.toml` in the project or
  `DESTINATION__NAME__CREDENTIALS…` variables.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cxops.errors import ConfigError

Kind = Literal["duckdb", "postgres", "parquet", "dlt"]
DEFAULT_URL = "duckdb:///warehouse.duckdb"
DATASET = "cxops"


@dataclass(frozen=True, slots=True)
class Destination:
    """One destination: its kind, where it is, and the URL as it may be written down."""

    kind: Kind
    url: str
    #: The DuckDB file, the Parquet folder; None for servers.
    path: Path | None = None
    #: PostgreSQL: the connection URL given to dlt (without `schema=`).
    credentials: str | None = None
    dataset: str = DATASET
    #: `dlt:NAME`: the name of dlt's destination.
    dlt_name: str | None = None

    @property
    def safe_url(self) -> str:
        """The URL without a password (what the list of destinations keeps)."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.hostname or ""
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, ""))

    @property
    def slug(self) -> str:
        """A short stable name for the pipeline's folder and the list."""
        digest = hashlib.sha256(self.safe_url.encode()).hexdigest()[:12]
        return f"{self.kind}_{digest}"

    @property
    def appends(self) -> bool:
        """Whether changed rows are appended (files) rather than merged (databases)."""
        return self.kind == "parquet"

    def dlt_destination(self) -> Any:
        import dlt

        if self.kind == "duckdb":
            return dlt.destinations.duckdb(credentials=str(self.path))
        if self.kind == "postgres":
            from dlt.destinations.impl.postgres.configuration import PostgresCredentials

            assert self.credentials is not None
            credentials = PostgresCredentials()
            credentials.parse_native_representation(self.credentials)
            if not credentials.password:
                # dlt insists on a password; libpq's own (PGPASSWORD, ~/.pgpass, trust)
                # serve a URL without one.
                credentials.password = os.environ.get("PGPASSWORD", "")
            return dlt.destinations.postgres(credentials=credentials)
        if self.kind == "parquet":
            assert self.path is not None
            return dlt.destinations.filesystem(bucket_url=self.path.as_uri())
        return dlt.destination(self.dlt_name)


def parse_destination(url: str | None, project_dir: Path) -> Destination:
    """A destination from `--to` (or the default), or a ConfigError saying what is expected."""
    text = (url or DEFAULT_URL).strip()
    scheme, _, rest = text.partition(":")
    if scheme == "duckdb" or scheme == "parquet":
        if not rest.startswith("///") or len(rest) <= 3:
            raise ConfigError(
                f"--to {text!r}: expected {scheme}:///PATH (relative to the project) or "
                f"{scheme}:////ABSOLUTE/PATH"
            )
        raw = Path(rest[3:])
        path = raw if raw.is_absolute() else project_dir / raw
        kind: Kind = "duckdb" if scheme == "duckdb" else "parquet"
        return Destination(kind, f"{scheme}:///{path}", path=path.resolve())
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        parts = urlsplit(text)
        query = dict(parse_qsl(parts.query))
        dataset = query.pop("schema", DATASET)
        credentials = urlunsplit(
            ("postgresql", parts.netloc, parts.path, urlencode(query), parts.fragment)
        )
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(
                f"--to: expected postgresql://USER@HOST:PORT/DATABASE, found {text!r}"
            )
        return Destination("postgres", text, credentials=credentials, dataset=dataset)
    if scheme == "dlt" and rest.strip():
        return Destination("dlt", text, dlt_name=rest.strip())
    raise ConfigError(
        f"--to {text!r}: expected duckdb:///PATH, postgresql://…, parquet:///DIR or dlt:NAME "
        "(another dlt destination, configured through dlt's own configuration)"
    )


# -- the project's list of destinations --------------------------------------------


def sync_folder(project_dir: Path) -> Path:
    return project_dir / ".cxops" / "sync"


def _list_path(project_dir: Path) -> Path:
    return sync_folder(project_dir) / "destinations.json"


def read_destinations(project_dir: Path) -> dict[str, dict[str, Any]]:
    """Slug -> what is known of a destination: `url` (no password), `kind`,
    `personal_data`, `first_sync`, `last_sync`, `erasures_pending`."""
    path = _list_path(project_dir)
    if not path.is_file():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def write_destinations(project_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    path = _list_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def remember(
    project_dir: Path,
    destination: Destination,
    *,
    now: datetime,
    personal_data: bool,
    erasures_pending: int | None = None,
) -> None:
    """Record a sync (or a pending erasure count) for `destination`."""
    entries = read_destinations(project_dir)
    entry = entries.setdefault(
        destination.slug,
        {"url": destination.safe_url, "kind": destination.kind, "first_sync": now.isoformat()},
    )
    entry["last_sync"] = now.isoformat()
    entry["personal_data"] = bool(entry.get("personal_data")) or personal_data
    if erasures_pending is not None:
        entry["erasures_pending"] = erasures_pending
    write_destinations(project_dir, entries)
