"""Hand-compiled statements of the send ledger's hot paths, and `IN` over many values.

`FastInsert` and `ResultUpdate` are compiled once per dialect; their callers hand the
DBAPI's executemany ready-made parameters, because SQLAlchemy's per-row processing
would cost most of the time of inserting or recording a million rows on SQLite.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, any_, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cxops.store.db import Store
from cxops.store.models import Send

#: A bind processor of a column type (None: the value goes to the driver as it is).
Processor = Callable[[Any], Any] | None


def dialect_insert(store: Store, model: type[Any]) -> Any:
    """`INSERT` for `model` with the dialect's `ON CONFLICT` support."""
    return _insert_in(store.dialect, model)


def session_insert(session: Session, model: Any) -> Any:
    """`INSERT` for `model` (a mapped class or a table) with `ON CONFLICT` support, in the
    dialect of the session's database."""
    return _insert_in(session.get_bind().dialect.name, model)


def _insert_in(dialect: str, model: Any) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


def in_values(store: Store, column: Column[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)`: one array parameter on PostgreSQL rather than one per value."""
    if store.dialect == "postgresql":
        array = postgresql.ARRAY(column.type)
        return column == any_(bindparam(f"{column.name}_values", list(values), type_=array))
    return column.in_(values)


class FastInsert:
    """`INSERT … ON CONFLICT DO NOTHING` into sends, compiled once, values bound by hand."""

    COLUMNS = (
        "send_id", "survey_id", "wave_id", "step", "contact_key", "email",
        "segment", "locale", "contact", "status", "batch", "created_at", "not_before", "held",
        "variant",
    )  # fmt: skip

    def __init__(self, dialect: Dialect):
        statement = (
            (postgresql if dialect.name == "postgresql" else sqlite)
            .insert(Send)
            .values({name: bindparam(name) for name in self.COLUMNS})
            .on_conflict_do_nothing(index_elements=["survey_id", "wave_id", "contact_key", "step"])
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = dialect.positional
        if self.positional and tuple(compiled.positiontup or ()) != self.COLUMNS:
            raise AssertionError(f"unexpected parameter order {compiled.positiontup}")
        table = Send.__table__
        self.processors: dict[str, Processor] = {
            name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in ("created_at", "contact", "not_before")
        }

    def bind(self, name: str, value: Any) -> Any:
        processor = self.processors[name]
        return value if processor is None else processor(value)

    def row(self, values: tuple[Any, ...]) -> Any:
        return values if self.positional else dict(zip(self.COLUMNS, values, strict=True))


@functools.lru_cache(maxsize=16)
def fast_insert(dialect: Dialect) -> FastInsert:
    """The compiled insert of a dialect (an engine's dialect lives as long as the engine)."""
    return FastInsert(dialect)


class ResultUpdate:
    """`UPDATE sends SET … WHERE send_id = ? AND claim_id = ? AND status IN (sending,
    in_doubt)` for one delivery status, compiled once, values bound by hand."""

    #: Columns set from each delivery (the rest are the status's constants).
    PER_ROW: Mapping[str, tuple[str, ...]] = {
        "sent": ("provider_id",),
        "failed": ("error",),
        "retry": ("error",),
        "in_doubt": ("provider_id", "error"),
    }
    CONSTANTS: Mapping[str, tuple[str, ...]] = {
        "sent": ("status", "sent_at", "channel", "error"),
        "failed": ("status", "channel"),
        "retry": ("status", "claim_id", "claimed_at"),
        "in_doubt": ("status", "channel"),
    }

    def __init__(self, dialect: Dialect, status: str):
        table = Send.__table__
        # Every parameter is named: c_* constants of the call, r_* values of a delivery.
        sets = {
            name: bindparam(f"c_{name}", type_=table.c[name].type)
            for name in self.CONSTANTS[status]
        }
        sets.update(
            {
                name: bindparam(f"r_{name}", type_=table.c[name].type)
                for name in self.PER_ROW[status]
            }
        )
        statement = (
            update(Send)
            .where(
                Send.send_id == bindparam("r_send_id", type_=table.c.send_id.type),
                Send.claim_id == bindparam("w_claim_id", type_=table.c.claim_id.type),
                or_(
                    Send.status == bindparam("w_sending", type_=table.c.status.type),
                    Send.status == bindparam("w_in_doubt", type_=table.c.status.type),
                ),
            )
            .values(sets)
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.constants = self.CONSTANTS[status]
        #: Parameters in the order `params` assembles them: call constants, then a row's.
        self.names = (
            "w_claim_id", "w_sending", "w_in_doubt",
            *(f"c_{name}" for name in self.constants),
            "r_send_id", *(f"r_{name}" for name in self.PER_ROW[status]),
        )  # fmt: skip
        processors: list[Processor] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        self.positional = dialect.positional
        order = tuple(compiled.positiontup or ()) if self.positional else self.names
        if sorted(order) != sorted(self.names):
            raise AssertionError(f"unexpected parameters {order}")
        #: The parameters in the statement's order, from call constants + a row's values.
        self.pick = operator.itemgetter(*(self.names.index(name) for name in order))
        first_row = 3 + len(self.constants)
        self.fixed_processors = processors[:first_row]
        self.row_processors = processors[first_row:]
        #: A row's values from a delivery's (send_id, provider_id, error).
        used = [0] + [
            index
            for index, name in ((1, "provider_id"), (2, "error"))
            if name in self.PER_ROW[status]
        ]
        self.take = operator.itemgetter(*used)

    def params(
        self,
        claim_id: str,
        constants: Mapping[str, Any],
        rows: Sequence[tuple[str, str | None, str | None]],
    ) -> list[Any]:
        """The executemany parameters: one set per (send_id, provider_id, error)."""
        fixed = tuple(
            value if process is None else process(value)
            for value, process in zip(
                (claim_id, "sending", "in_doubt", *(constants[name] for name in self.constants)),
                self.fixed_processors,
                strict=True,
            )
        )
        take, pick, names = self.take, self.pick, self.names
        row_processors = self.row_processors if any(self.row_processors) else None
        result = []
        for row in rows:
            values = take(row)
            if row_processors is not None:
                values = tuple(
                    value if process is None else process(value)
                    for value, process in zip(values, row_processors, strict=True)
                )
            combined = fixed + values
            result.append(
                pick(combined) if self.positional else dict(zip(names, combined, strict=True))
            )
        return result


@functools.lru_cache(maxsize=64)
def result_update(dialect: Dialect, status: str) -> ResultUpdate:
    return ResultUpdate(dialect, status)
