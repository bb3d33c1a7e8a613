"""Reading contacts from a survey's source, one row at a time.

`read_source` streams `Contact | BadRow` from a CSV file, a SQL query or a Parquet
file: nothing but the set of keys seen so far is held in memory. Whole-source
problems (missing file, missing column, unreachable database) raise `SourceError`;
a problem with one row becomes a `BadRow` and reading goes on.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cxops.audience.contacts import BadRow, Contact, SeenIndex, coerce, normalize_email
from cxops.errors import SourceError
from cxops.spec.models import CsvSource, ParquetSource, SqlSource
from cxops.spec.trigger import EventSource

AnySource = CsvSource | SqlSource | ParquetSource | EventSource

SNIFF_BYTES = 16 * 1024
SQL_BATCH = 1000
#: Column names a missing-column error lists (a header may have 100,000).
_NAMES_SHOWN = 50
PARQUET_BATCH = 1000
_SURROGATE = re.compile("[\udc80-\udcff]")
#: What neither store can hold in text: PostgreSQL refuses NUL, and a lone surrogate
#: (from a SQL or Parquet source) is not UTF-8 for either.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_source(source: AnySource, project_dir: Path) -> Iterator[Contact | BadRow]:
    """Every row of `source` as a Contact, or a BadRow saying why it cannot be one.

    A source that cannot work is a SourceError, not a list of bad rows: a required
    column missing from the header, or the key or email column empty on every row.
    """
    if isinstance(source, CsvSource):
        where = str(_resolve(source.csv, project_dir))
        rows = _read_csv(source, _resolve(source.csv, project_dir))
    elif isinstance(source, ParquetSource):
        where = str(_resolve(source.parquet, project_dir))
        rows = _read_parquet(source, _resolve(source.parquet, project_dir))
    elif isinstance(source, SqlSource):
        where, rows = "audience.source.sql", _read_sql(source)
    elif isinstance(source, EventSource):
        raise SourceError(
            "audience.source",
            "has no rows to read: the survey's contacts come from events "
            "(see `cxops plan SURVEY --event FILE.json`)",
        )
    else:
        raise TypeError(f"expected a CsvSource, SqlSource or ParquetSource, found {source!r}")
    return _refuse_unusable(rows, source, where)


def _refuse_unusable(
    rows: Iterator[Contact | BadRow], source: AnySource, where: str
) -> Iterator[Contact | BadRow]:
    """`rows`, then a SourceError if none was a contact because a required column is empty."""
    empty = {f"missing key (column {source.key!r})", f"missing email (column {source.email!r})"}
    unusable = 0
    usable = False
    for row in rows:
        if isinstance(row, Contact):
            usable = True
        elif not usable and row.reason in empty:
            unusable += 1
        yield row
    if not usable and unusable:
        raise SourceError(
            where,
            f"expected a key ({source.key!r}) and an email ({source.email!r}) on some row, "
            f"found them empty on all {unusable} rows",
        )


def _resolve(path: str, project_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_dir / candidate


class RowBuilder:
    """Turns raw records (column -> value) into Contacts or BadRows; remembers keys."""

    def __init__(self, source: AnySource):
        self.key_column = source.key
        self.email_column = source.email
        self.columns = dict(source.columns)
        #: key -> the row it was first seen on (the only state that grows with the source).
        self._first_row = SeenIndex()

    def required_columns(self) -> list[str]:
        return list(dict.fromkeys([self.key_column, self.email_column, *self.columns]))

    def check_header(self, names: Iterable[str], where: str) -> None:
        """SourceError naming every required column the source lacks."""
        listed = list(names)
        unstorable = [name for name in listed if _UNSTORABLE.search(name)]
        if unstorable:
            shown = ", ".join(_printable(name) for name in unstorable[:_NAMES_SHOWN])
            raise SourceError(where, f"expected column names without NUL bytes, found {shown}")
        present = set(listed)
        missing = [name for name in self.required_columns() if name not in present]
        if missing:
            roles = {self.key_column: "key", self.email_column: "email"}
            wanted = ", ".join(f"{name!r} ({roles.get(name, 'in columns:')})" for name in missing)
            found = ", ".join(repr(name) for name in listed[:_NAMES_SHOWN]) or "none"
            if len(listed) > _NAMES_SHOWN:
                found += f" and {len(listed) - _NAMES_SHOWN:,} more"
            raise SourceError(where, f"expected column(s) {wanted}; found {found}")

    def build(self, row: int, record: Mapping[str, Any]) -> Contact | BadRow:
        raw_key = record.get(self.key_column)
        key = "" if raw_key is None else str(raw_key).strip()
        if not key:
            return BadRow(row, None, f"missing key (column {self.key_column!r})")
        unstorable = _unstorable(record)
        if unstorable is not None:
            return BadRow(row, _printable(key), unstorable)
        first = self._first_row.first_row(key, row)
        if first != row:
            return BadRow(row, key, f"duplicate key {key!r} (first on row {first})")
        raw_email = record.get(self.email_column)
        if raw_email is None or not str(raw_email).strip():
            return BadRow(row, key, f"missing email (column {self.email_column!r})")
        email = normalize_email(raw_email)
        if email is None:
            return BadRow(row, key, f"invalid email {_shorten(str(raw_email))!r}")
        fields: dict[str, Any] = {}
        for name, value in record.items():
            kind = self.columns.get(name)
            try:
                fields[name] = coerce(value, kind) if kind else _blank_to_none(value)
            except ValueError:
                found = _shorten(str(value))
                return BadRow(row, key, f"column {name!r}: expected {kind}, found {found!r}")
        fields[self.email_column] = email
        return Contact(key=key, email=email, row=row, fields=fields)


def _unstorable(record: Mapping[str, Any]) -> str | None:
    """Why a text value of `record` cannot be stored (a NUL byte, say), or None.

    One search over all the row's text: the per-value search runs only on a bad row.
    """
    texts = [value for value in record.values() if isinstance(value, str)]
    if not _UNSTORABLE.search("".join(texts)):
        return None
    for name, value in record.items():
        found = _UNSTORABLE.search(value) if isinstance(value, str) else None
        if found is not None:
            char = found[0]
            what = "a NUL byte" if char == "\x00" else f"the lone surrogate U+{ord(char):04X}"
            return f"column {name!r} contains {what}, which cannot be stored"
    return None


def _printable(key: str) -> str:
    """`key` with what cannot be stored or shown written as escapes (`q2\\x00`)."""
    return _UNSTORABLE.sub(
        lambda match: match[0].encode("unicode_escape", "backslashreplace").decode(), key
    )


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and value == "" else value


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- CSV ------------------------------------------------------------------------------


def sniff_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter and quote character of `sample` (excel when unsure).

    Only the delimiter and quote char are taken from the Sniffer: doubled quotes
    inside quoted fields stay allowed even when the sample shows none.
    """
    cut = sample.rfind("\n")
    text = sample[: cut + 1] if cut > 0 else sample
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=",;\t|")
    except csv.Error:
        return csv.excel

    class Sniffed(csv.excel):
        delimiter = sniffed.delimiter
        quotechar = sniffed.quotechar or '"'

    return Sniffed


def _read_csv(source: CsvSource, path: Path) -> Iterator[Contact | BadRow]:
    if not path.is_file():
        raise SourceError(str(path), f"expected a CSV file (audience.source.csv {source.csv!r})")
    return _csv_rows(source, path)


def _csv_rows(source: CsvSource, path: Path) -> Iterator[Contact | BadRow]:
    where = str(path)
    builder = RowBuilder(source)
    # surrogateescape keeps bytes that are not UTF-8 as lone surrogates: found per row.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        dialect = sniff_dialect(handle.read(SNIFF_BYTES))
        handle.seek(0)
        # Strict: text after a closing quote is an error, so a quote left open stops at
        # the next quoted field instead of swallowing rows into one field unnoticed.
        reader = csv.reader(handle, dialect, strict=True)
        header = _header(reader, where)
        builder.check_header(header, where)
        width = len(header)
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if reader.line_num < start:
                    raise SourceError(where, f"line {start}: {exc}") from None
                yield BadRow(start, None, _unreadable(str(exc), start, reader.line_num))
                continue
            if not values:
                continue
            if reader.line_num > start and _holds_rows(values, dialect.delimiter, width):
                key = _guess_key(builder, header, values)
                lines = f"lines {start}–{reader.line_num}"
                yield BadRow(start, key, f"a quote left open? one field of {lines} holds rows")
                continue
            yield _csv_record(builder, start, header, width, values)


def _unreadable(error: str, start: int, end: int) -> str:
    """The reason of a record the reader could not read, naming the lines it spans."""
    if error == "unexpected end of data":
        lines = f"line {start}" if start == end else f"lines {start}–{end}"
        return f"unterminated quote: {lines} to the end of the file are one field"
    if start == end:
        return f"unreadable CSV record: {error}"
    return f"unreadable CSV record over lines {start}–{end} (a quote left open?): {error}"


def _holds_rows(values: list[str], delimiter: str, width: int) -> bool:
    """Whether a field spanning lines has a later line that looks like a whole record.

    A quote left open and closed by chance further down (`5 inch",`) merges the rows
    between into one field; a real multi-line field (an address, a note) rarely has
    as many delimiters on one line as the file has columns less one.
    """
    if width < 3:
        return False
    for value in values:
        if "\n" in value or "\r" in value:
            for line in value.splitlines()[1:]:
                if line.count(delimiter) >= width - 1:
                    return True
    return False


def _header(reader: Any, where: str) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(where, "expected a header row, found an empty file") from None
    except csv.Error as exc:
        raise SourceError(where, f"unreadable header row: {exc}") from None
    names = [name.strip() for name in header]
    if any(_SURROGATE.search(name) for name in names):
        raise SourceError(where, "expected a UTF-8 header row, found bytes that are not UTF-8")
    # Counted once per header, not per column: a 100,000-column header is not quadratic.
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise SourceError(where, f"expected unique column names, found {duplicates} twice")
    return names


def _csv_record(
    builder: RowBuilder, row: int, header: list[str], width: int, values: list[str]
) -> Contact | BadRow:
    if any(_SURROGATE.search(value) for value in values):
        key = _guess_key(builder, header, values)
        return BadRow(row, key, "row contains bytes that are not UTF-8")
    if len(values) != width:
        key = _guess_key(builder, header, values)
        return BadRow(row, key, f"expected {width} fields, found {len(values)}")
    return builder.build(row, dict(zip(header, values, strict=True)))


def _guess_key(builder: RowBuilder, header: list[str], values: list[str]) -> str | None:
    """The key of a row that cannot be read, for the bad-row list (None if unclear)."""
    index = header.index(builder.key_column)
    if index >= len(values):
        return None
    key = _SURROGATE.sub("\ufffd", values[index]).strip()
    return key or None


# -- SQL ------------------------------------------------------------------------------


def expand_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every `${VAR}` replaced from the environment; SourceError if unset."""
    env = os.environ if environ is None else environ
    missing = [name for name in _ENV_VAR.findall(text) if name not in env]
    if missing:
        names = ", ".join(repr(name) for name in dict.fromkeys(missing))
        raise SourceError("audience.source.url", f"environment variable {names} is not set")
    return _ENV_VAR.sub(lambda match: env[match[1]], text)


def _read_sql(source: SqlSource) -> Iterator[Contact | BadRow]:
    url = expand_env(source.url)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        where = f"sql source {make_url(url).render_as_string(hide_password=True)}"
    except (ArgumentError, ValueError):  # say so without echoing a secret in the URL
        raise SourceError(
            "audience.source.url", "expected a SQLAlchemy URL like 'postgresql+psycopg://…'"
        ) from None
    return _sql_rows(source, url, where)


def _sql_rows(source: SqlSource, url: str, where: str) -> Iterator[Contact | BadRow]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    builder = RowBuilder(source)
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SourceError(where, _first_line(exc)) from None
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=SQL_BATCH).execute(
                text(source.sql)
            )
            builder.check_header(list(result.keys()), where)
            for number, record in enumerate(result.mappings(), start=1):
                yield builder.build(number, dict(record))
    except SQLAlchemyError as exc:
        raise SourceError(where, _first_line(exc)) from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- Parquet --------------------------------------------------------------------------


def _read_parquet(source: ParquetSource, path: Path) -> Iterator[Contact | BadRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SourceError(
            str(path), "reading Parquet needs pyarrow: pip install 'cxops[parquet]'"
        ) from None
    if not path.is_file():
        raise SourceError(
            str(path), f"expected a Parquet file (audience.source.parquet {source.parquet!r})"
        )
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise SourceError(str(path), f"expected a Parquet file: {_first_line(exc)}") from None
    builder = RowBuilder(source)
    builder.check_header(parquet.schema_arrow.names, str(path))
    return _parquet_rows(builder, parquet)


def _parquet_rows(builder: RowBuilder, parquet: Any) -> Iterator[Contact | BadRow]:
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
            for record in batch.to_pylist():
                number += 1
                yield builder.build(number, record)
    finally:
        parquet.close()
