"""Reading contacts from CSV, SQL (SQLite and PostgreSQL) and Parquet sources."""

from __future__ import annotations

import csv
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cxops.audience import BadRow, Contact, read_source
from cxops.audience.sources import expand_env, sniff_dialect
from cxops.errors import SourceError
from cxops.spec.models import CsvSource, ParquetSource, SqlSource

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_sample_data import (
    CUSTOMER_COLUMNS,
    generate_customers,
    make_sample_data,
)

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def read_csv(tmp_path: Path, content: str | bytes, **source: object) -> list[Contact | BadRow]:
    path = tmp_path / "contacts.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    spec = CsvSource.model_validate({"csv": "contacts.csv", "key": "id", **source})
    return list(read_source(spec, tmp_path))


def bad(rows: list[Contact | BadRow]) -> list[tuple[int, str | None, str]]:
    return [(r.row, r.key, r.reason) for r in rows if isinstance(r, BadRow)]


def good(rows: list[Contact | BadRow]) -> list[Contact]:
    return [r for r in rows if isinstance(r, Contact)]


# -- CSV ------------------------------------------------------------------------------


def test_csv_types_columns_and_turns_empty_cells_into_none(tmp_path: Path) -> None:
    rows = read_csv(
        tmp_path,
        "id,email,seats,mrr,signup_date,seen_at,vip,name,locale\n"
        "c-1,a@x.example,10,99.5,2026-01-02,2026-11-20T10:00:00,yes,Ann,de\n"
        "c-2,b@x.example,,,,2026-11-20T10:00:00+01:00,0,,\n",
        columns={
            "seats": "int",
            "mrr": "float",
            "signup_date": "date",
            "seen_at": "datetime",
            "vip": "bool",
        },
    )
    first, second = good(rows)
    assert first.fields == {
        "id": "c-1",
        "email": "a@x.example",
        "seats": 10,
        "mrr": 99.5,
        "signup_date": date(2026, 1, 2),
        "seen_at": datetime(2026, 11, 20, 10, tzinfo=UTC),
        "vip": True,
        "name": "Ann",
        "locale": "de",
    }
    assert first.locale == "de"
    assert (first.key, first.row) == ("c-1", 2)
    assert second.fields["seats"] is None and second.fields["name"] is None
    assert second.fields["seen_at"] == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert second.fields["vip"] is False
    assert second.locale is None


def test_csv_reads_a_bom_and_sniffs_semicolons(tmp_path: Path) -> None:
    content = "id;email;seats\nc-1;a@x.example;5\nc-2;b@x.example;7\n"
    rows = read_csv(tmp_path, b"\xef\xbb\xbf" + content.encode(), columns={"seats": "int"})
    assert [(c.key, c.fields["seats"]) for c in good(rows)] == [("c-1", 5), ("c-2", 7)]
    assert bad(rows) == []


def test_sniffer_keeps_doubled_quotes_and_falls_back_to_excel() -> None:
    dialect = sniff_dialect("a\tb\n1\t2\n")
    assert dialect.delimiter == "\t" and dialect.doublequote
    assert sniff_dialect("") is csv.excel


def test_csv_row_is_the_line_a_record_starts_on(tmp_path: Path) -> None:
    rows = read_csv(
        tmp_path,
        'id,email,company\nc-1,a@x.example,"Smith, Jones\nand Sons"\nc-2,b@x.example,Acme\n',
    )
    assert [(c.key, c.row) for c in good(rows)] == [("c-1", 2), ("c-2", 4)]
    assert good(rows)[0].fields["company"] == "Smith, Jones\nand Sons"


def test_csv_bad_rows_say_what_is_wrong(tmp_path: Path) -> None:
    rows = read_csv(
        tmp_path,
        "id,email,seats\n"
        "c-1,a@x.example,1\n"  # 2 ok
        "c-2,,1\n"  # 3 missing email
        "c-3,not-an-email,1\n"  # 4 invalid email
        "c-1,z@x.example,1\n"  # 5 duplicate key
        ",k@x.example,1\n"  # 6 missing key
        "c-4,d@x.example,ten\n"  # 7 unparsable
        "c-5,e@x.example\n"  # 8 too few fields
        "c-6,  Mixed.Case@EXAMPLE.Com  ,3\n",  # 9 ok, normalized
        columns={"seats": "int"},
    )
    assert bad(rows) == [
        (3, "c-2", "missing email (column 'email')"),
        (4, "c-3", "invalid email 'not-an-email'"),
        (5, "c-1", "duplicate key 'c-1' (first on row 2)"),
        (6, None, "missing key (column 'id')"),
        (7, "c-4", "column 'seats': expected int, found 'ten'"),
        (8, "c-5", "expected 3 fields, found 2"),
    ]
    last = good(rows)[-1]
    assert last.email == "mixed.case@example.com"
    assert last.fields["email"] == "mixed.case@example.com"


def test_csv_bytes_that_are_not_utf8_spoil_only_their_row(tmp_path: Path) -> None:
    content = b"id,email,name\nc-1,a@x.example,Ann\nc-2,b@x.example,M\xfcller\nc-3,c@x.example,Zo\xc3\xab\n"
    rows = read_csv(tmp_path, content)
    assert bad(rows) == [(3, "c-2", "row contains bytes that are not UTF-8")]
    assert [c.fields["name"] for c in good(rows)] == ["Ann", "Zoë"]


def test_csv_a_nul_byte_anywhere_in_a_row_makes_it_a_bad_row(tmp_path: Path) -> None:
    """PostgreSQL text cannot hold NUL: one such key aborted a whole wave."""
    rows = read_csv(
        tmp_path,
        "id,email,name\nq1,a@x.example,Ann\nq2\x00,b@x.example,Bob\nq3,c@x.example,C\x00\n"
        "q4,d@x.example,Dee\n",
    )
    assert bad(rows) == [
        (3, "q2\\x00", "column 'id' contains a NUL byte, which cannot be stored"),
        (4, "q3", "column 'name' contains a NUL byte, which cannot be stored"),
    ]
    assert [c.key for c in good(rows)] == ["q1", "q4"]
    with pytest.raises(SourceError, match=r"expected column names without NUL bytes, found"):
        read_csv(tmp_path, "id,email,na\x00me\nq1,a@x.example,Ann\n")


def test_sql_and_parquet_values_that_cannot_be_stored_are_bad_rows() -> None:
    from cxops.audience.sources import RowBuilder

    builder = RowBuilder(SqlSource(url="sqlite://", sql="select 1", key="id"))
    row = builder.build(1, {"id": "k1", "email": "a@x.example", "note": "\ud800"})
    assert row == BadRow(
        1, "k1", "column 'note' contains the lone surrogate U+D800, which cannot be stored"
    )


def test_csv_an_unterminated_quote_is_a_bad_row_naming_the_lines_it_swallowed(
    tmp_path: Path,
) -> None:
    """A quote left open merged the next rows into one field, silently: the rule is that
    text after a closing quote is an error (csv strict mode), a field left open at the end
    of the file is one, and so is a multi-line field holding a line with as many
    delimiters as a whole record."""
    rows = read_csv(
        tmp_path,
        "id,name,email\n"
        "c-1,Ann,a@x.example\n"  # 2
        'c-2,"Bob,b@x.example\n'  # 3: the quote is never closed
        "c-3,Carol,c@x.example\n"  # 4: swallowed
        'c-4,"Dan",d@x.example\n'  # 5: its quote closes Bob's, then "Dan" is an error
        "c-5,Eve,e@x.example\n"  # 6
        'c-6,"12 inch\n'  # 7: closed by chance below
        "c-7,Fay,f@x.example\n"  # 8: swallowed
        'c-8,5",g@x.example\n'  # 9
        'c-9,"Gus\n',  # 10: open at the end of the file
    )
    assert bad(rows) == [
        (
            3,
            None,
            "unreadable CSV record over lines 3–5 (a quote left open?): ',' expected after '\"'",
        ),
        (7, "c-6", "a quote left open? one field of lines 7–9 holds rows"),
        (10, None, "unterminated quote: line 10 to the end of the file are one field"),
    ]
    assert [c.key for c in good(rows)] == ["c-1", "c-5"]


@pytest.mark.parametrize(
    ("header", "source", "expected"),
    [
        ("email,name", {}, "'id' (key)"),
        ("id,mail", {}, "'email' (email)"),
        ("id,email", {"columns": {"seats": "int"}}, "'seats' (in columns:)"),
    ],
)
def test_csv_missing_columns_are_source_errors(
    tmp_path: Path, header: str, source: dict, expected: str
) -> None:
    with pytest.raises(SourceError) as caught:
        read_csv(tmp_path, header + "\nx,y\n", **source)
    assert "contacts.csv" in str(caught.value)
    assert f"expected column(s) {expected}" in str(caught.value)


def test_csv_missing_file_and_empty_file_are_source_errors(tmp_path: Path) -> None:
    spec = CsvSource(csv="nope/missing.csv", key="id")
    with pytest.raises(SourceError, match=r"missing\.csv: expected a CSV file"):
        read_source(spec, tmp_path)
    with pytest.raises(SourceError, match="expected a header row"):
        read_csv(tmp_path, "")


def _wide_csv_read_seconds(folder: Path, columns: int) -> float:
    """The best of three reads of a CSV of `columns` extra columns and three rows."""
    path = folder / f"wide{columns}.csv"
    names = ["id", "email", *(f"c{index}" for index in range(columns))]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(names) + "\n")
        for row in range(3):
            handle.write(",".join([f"k{row}", f"p{row}@example.com", *["v"] * columns]) + "\n")
    spec = CsvSource(csv=path.name, key="id")
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        rows = list(read_source(spec, folder))
        best = min(best, time.process_time() - started)
    assert len(good(rows)) == 3 and len(good(rows)[0].fields) == columns + 2
    return best


def test_a_wide_csv_header_is_read_in_time_linear_in_its_width(tmp_path: Path) -> None:
    """A 100,000-column header took minutes (each column's name counted in the whole
    header): 10 times the columns must cost about 10 times a 10,000-column read, not
    100 times. CPU time of this process (another process's load does not count), best of
    three; the margin (3 x) absorbs a busy machine's caches, quadratic work is 3 x over."""
    baseline = _wide_csv_read_seconds(tmp_path, 10_000)
    wide = _wide_csv_read_seconds(tmp_path, 100_000)
    assert wide < 3 * 10 * baseline, (
        f"{wide:.2f} s for 100,000 columns, {baseline:.4f} s for 10,000"
    )


def test_a_missing_column_of_a_wide_header_lists_a_few_names(tmp_path: Path) -> None:
    header = ",".join(["email", *(f"c{index}" for index in range(1_000))])
    with pytest.raises(SourceError) as caught:
        read_csv(tmp_path, header + "\n")
    assert "'c47', 'c48' and 951 more" in str(caught.value)
    assert len(str(caught.value)) < 2_000


@pytest.mark.slow
def test_csv_streams_without_holding_the_file_in_memory(tmp_path: Path) -> None:
    rows = 60_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUSTOMER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(generate_customers(rows, NOW, 1, edge_cases=False))
    size = path.stat().st_size
    assert size > 6_000_000
    spec = CsvSource(csv="big.csv", key="id", columns={"seats": "int", "signup_date": "date"})
    tracemalloc.start()
    try:
        count = sum(1 for row in read_source(spec, tmp_path) if isinstance(row, Contact))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    # The keys seen so far (for duplicates) are the only state that grows, about 80 bytes
    # a row: below the file's own size, which holding its text alone would reach.
    assert peak < size, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


# -- SQL ------------------------------------------------------------------------------


def make_sqlite(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, email TEXT, seats TEXT, since TEXT)")
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?)",
            [
                (1, "a@X.example", "5", "2026-01-02"),
                (2, "bad", "5", None),
                (3, "c@x.example", "many", None),
                (1, "d@x.example", "1", None),
            ],
        )
    conn.close()


def test_sql_source_reads_sqlite_with_env_in_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_sqlite(tmp_path / "crm.db")
    monkeypatch.setenv("CRM_DIR", str(tmp_path))
    spec = SqlSource(
        sql="SELECT id, email, seats, since FROM customers ORDER BY rowid",
        url="sqlite:///${CRM_DIR}/crm.db",
        key="id",
        columns={"seats": "int", "since": "date"},
    )
    rows = list(read_source(spec, tmp_path))
    assert [(c.key, c.row, c.email, c.fields["since"]) for c in good(rows)] == [
        ("1", 1, "a@x.example", date(2026, 1, 2))
    ]
    assert bad(rows) == [
        (2, "2", "invalid email 'bad'"),
        (3, "3", "column 'seats': expected int, found 'many'"),
        (4, "1", "duplicate key '1' (first on row 1)"),
    ]


def test_sql_source_errors_name_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_sqlite(tmp_path / "crm.db")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    spec = SqlSource(sql="SELECT 1", url="postgresql://u:${NOT_SET_ANYWHERE}@h/db", key="id")
    with pytest.raises(SourceError, match="environment variable 'NOT_SET_ANYWHERE' is not set"):
        read_source(spec, tmp_path)
    url = f"sqlite:///{tmp_path}/crm.db"
    no_email = SqlSource(sql="SELECT id FROM customers", url=url, key="id")
    with pytest.raises(SourceError, match=r"expected column\(s\) 'email' \(email\)"):
        list(read_source(no_email, tmp_path))
    bad_query = SqlSource(sql="SELECT * FROM nowhere", url=url, key="id")
    with pytest.raises(SourceError, match="no such table: nowhere"):
        list(read_source(bad_query, tmp_path))


def test_expand_env_replaces_every_variable() -> None:
    assert expand_env("a${X}b${Y}", {"X": "1", "Y": "2"}) == "a1b2"
    with pytest.raises(SourceError, match="'Y'"):
        expand_env("${X}${Y}", {"X": "1"})


@pytest.mark.postgres
def test_sql_source_streams_from_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE crm (id text, email text, seats int, joined timestamptz, vip bool)")
        )
        conn.execute(
            text(
                "INSERT INTO crm SELECT 'c-' || n, 'p' || n || '@Crm.Example', n, "
                "timestamptz '2026-01-01 00:00:00+00' + n * interval '1 hour', n % 2 = 0 "
                "FROM generate_series(1, 2500) AS n"
            )
        )
    engine.dispose()
    monkeypatch.setenv("PG_URL", postgres_url)
    spec = SqlSource(
        sql="SELECT * FROM crm ORDER BY seats",
        url="${PG_URL}",
        key="id",
        columns={"seats": "int", "joined": "datetime", "vip": "bool"},
    )
    rows = list(read_source(spec, tmp_path))
    assert len(good(rows)) == 2500 and bad(rows) == []
    last = rows[-1]
    assert isinstance(last, Contact)
    assert (last.key, last.row, last.email) == ("c-2500", 2500, "p2500@crm.example")
    assert last.fields["joined"] == datetime(2026, 4, 15, 4, tzinfo=UTC)
    assert last.fields["vip"] is True


# -- Parquet --------------------------------------------------------------------------


def test_parquet_source_reads_record_batches(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": [f"c-{n}" for n in range(2500)],
            "email": [f"p{n}@x.example" if n != 7 else None for n in range(2500)],
            "seats": [n for n in range(2500)],
        }
    )
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=700)
    spec = ParquetSource(parquet="c.parquet", key="id", columns={"seats": "int"})
    rows = list(read_source(spec, tmp_path))
    assert len(good(rows)) == 2499
    assert bad(rows) == [(8, "c-7", "missing email (column 'email')")]
    assert good(rows)[-1].fields["seats"] == 2499
    wrong = ParquetSource(parquet="c.parquet", key="account")
    with pytest.raises(SourceError, match=r"'account' \(key\)"):
        read_source(wrong, tmp_path)


# -- the sample data ------------------------------------------------------------------


def test_committed_sample_data_is_what_the_script_writes(tmp_path: Path) -> None:
    written = make_sample_data(tmp_path, 600, NOW, 2026)
    for path in written:
        assert path.read_bytes() == (REPO_ROOT / "data" / path.name).read_bytes(), path.name
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")


def test_sample_customers_have_the_edge_cases_the_readme_lists() -> None:
    spec = CsvSource(csv="data/customers.csv", key="id", columns={"seats": "int"})
    rows = list(read_source(spec, REPO_ROOT))
    assert len(rows) == 600
    reasons = [b[2] for b in bad(rows)]
    assert sum("missing email" in r for r in reasons) == 2
    assert sum("invalid email" in r for r in reasons) == 3
    assert sum("duplicate key" in r for r in reasons) == 2
    assert sum("column 'seats'" in r for r in reasons) == 2
    by_key = {c.key: c for c in good(rows)}
    assert by_key["c-00065"].email == "anna.schmidt@northwind.example"
    assert by_key["c-00173"].fields["name"] == "<script>alert(1)</script>"
    assert by_key["c-00185"].fields["name"].startswith("=HYPERLINK(")
    assert by_key["c-00221"].fields["name"] == "渡辺 健"
    assert by_key["c-00233"].fields["company"] == "Smith, Jones & Co\nHoldings Ltd"
    assert by_key["c-00234"].row == 236  # one line further down after the line break
    assert by_key["c-00137"].fields["csm_email"] is None


def test_importing_the_audience_package_stays_light() -> None:
    import subprocess

    code = (
        "import sys, cxops.audience; "
        "print(sorted(m for m in ('sqlalchemy', 'prefect', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
