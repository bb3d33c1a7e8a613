"""Opening the store: engine, sessions, migrations.

SQLite runs in WAL mode with a busy timeout, and SQLAlchemy (not the sqlite3
driver) emits BEGIN, so a write session really takes the write lock at its start
(`BEGIN IMMEDIATE`, see SQLAlchemy's "Enabling Non-Legacy SQLite Transactional
Modes" recipe). Migrations are Alembic scripts shipped in `cxops/store/migrations`;
`open_store()` applies them on first use, safely when several processes race.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from cxops.errors import StoreError
from cxops.settings import hide_password

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock held while migrating ("cxops" in ASCII).
MIGRATION_LOCK_KEY = 0x6378_6F70_73
#: Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE_OPTION = "cxops_write"
SQLITE_BUSY_MS = 30_000
INITIAL_REVISION = "0001_initial"


class Store:
    """One database: SQLite (WAL) by default, PostgreSQL in production."""

    def __init__(self, url: str):
        self.url = normalize_url(url)
        self.engine: Engine = _engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden, for messages and logs."""
        return hide_password(self.url)

    def upgrade(self) -> None:
        """Apply every pending migration (`alembic upgrade head`); safe to race."""
        if self._is_current():
            return  # the common case: no lock taken, Alembic not even imported
        with self._guard("migrate"), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if self.dialect == "postgresql":
                    # Held until commit: a second process waits, then finds the schema current.
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                _alembic_upgrade(conn)

    def revision(self) -> str | None:
        """The schema revision of the database (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._guard("read"), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _is_current(self) -> bool:
        """True when the database is at the newest shipped revision, read without Alembic
        (a command that opens a store pays neither its import nor its script loading)."""
        head = shipped_head()
        if head is None:
            return self.revision() == head_revision()
        with self._guard("read"), self.engine.connect() as conn:
            if not inspect(conn).has_table(VERSION_TABLE):
                return False
            versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            return list(versions) == [head]

    def has_schema(self) -> bool:
        with self._guard("read"), self.engine.connect() as conn:
            return inspect(conn).has_table("sends")

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        `write=True` takes SQLite's write lock when the transaction begins (no
        other writer can slip in between a read and the write that depends on it).
        """
        options = {WRITE_OPTION: True} if write else {}
        with self._sessions(execution_options=options) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction, committed on success."""
        with self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            if not exc.connection_invalidated and not _is_connect_error(exc):
                raise
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(f"cannot {action} the store {self.safe_url}: {reason}") from None


def normalize_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3, the driver cxops ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _is_connect_error(exc: DBAPIError) -> bool:
    # Raised before any statement ran: refused, unknown host, bad password, no database.
    return exc.statement is None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package."""
    # Imported here: processes that only read and write the store never load Alembic.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: Alembic's table of the database's revision (its default name).
VERSION_TABLE = "alembic_version"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(None|\"([^\"]+)\")", re.M)
_shipped_head: tuple[str | None] | None = None


def shipped_head() -> str | None:
    """The newest shipped revision, from the migration files' `revision` and
    `down_revision` lines, without importing Alembic; None when the files do not read
    as one line of revisions (then `head_revision`, Alembic's answer, is the one to ask).
    tests/test_store_db.py checks that both agree."""
    global _shipped_head
    if _shipped_head is None:
        _shipped_head = (_read_shipped_head(),)
    return _shipped_head[0]


def _read_shipped_head() -> str | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {
            name: value
            for name, _, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8"))
        }
        if "revision" not in found or not found["revision"] or "down_revision" not in found:
            return None  # a file this reading does not understand (a merge, say)
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def head_revision() -> str | None:
    """The newest revision shipped with this version of cxops."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _alembic_upgrade(conn: Connection) -> None:
    """`alembic upgrade head` inside the caller's transaction on `conn`.

    A store made by create_all before migrations existed has the tables but no
    version: it is stamped at the initial revision, then upgraded.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(conn)
    tables = inspect(conn).get_table_names()
    if "sends" in tables and MigrationContext.configure(conn).get_current_revision() is None:
        command.stamp(config, INITIAL_REVISION)
    command.upgrade(config, "head")


def _engine(url: str) -> Engine:
    safe = hide_password(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"cannot open store {safe!r}: not a database URL") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"cannot open store {safe!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST/DATABASE (cxops stores in SQLite or PostgreSQL)"
        )
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, parsed.database)
        # The collector serves up to `pool_size` requests at once; overflow connections
        # would each cost a new server process on PostgreSQL.
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=5)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise StoreError(f"cannot open store {safe!r}: {exc}") from None


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (see _sqlite_begin), not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: big ledgers stay in memory
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """The store at `url`, migrated to the current schema unless `upgrade` is False."""
    store = Store(url)
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.dispose()
            raise
    return store


def store_exists(url: str) -> bool:
    """True when the store has been created; creates and changes nothing.

    False for a missing SQLite file or PostgreSQL database, or one without the
    cxops tables; StoreError when the server cannot be reached or the URL is bad.
    """
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"cannot open store {hide_password(url)!r}: not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_has_schema(parsed.database)
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return inspect(conn).has_table("sends")
    except DBAPIError as exc:
        if exc.statement is None and "does not exist" in str(exc.orig):
            return False  # the server answers, the database was never created
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot read the store {store.safe_url}: {reason}") from None
    finally:
        store.dispose()


def _sqlite_has_schema(database: str | None) -> bool:
    if not database or database == ":memory:" or not Path(database).exists():
        return False
    # Read-only URI: no WAL switch, no journal, no file created.
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_MS / 1000)
    try:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sends'"
        ).fetchone()
        return row is not None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the store {database}: {exc}") from None
    finally:
        conn.close()
