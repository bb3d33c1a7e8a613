"""Alembic environment of the cxops store.

Run through `cxops.store.db` (`Store.upgrade()`, `cxops db upgrade`), which hands
over an open connection in a transaction it commits itself. For autogenerating a
new revision, `alembic_config()` with `sqlalchemy.url` set works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from cxops.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("cxops migrations run online only: use `cxops db upgrade`")
run_migrations_online()
