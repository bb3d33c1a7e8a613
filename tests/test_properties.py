"""Bad input, generated (hypothesis). Each property names the invariant it checks:

- survey files: whatever the bytes, `read_survey` returns problems, never raises, and
  every problem names the file with a line and column inside it;
- CSV sources: whatever the encoding, BOM, ragged rows, huge fields, NUL bytes or
  formula-looking cells, reading yields contacts and bad rows or one SourceError —
  never another exception — and a formula-looking cell stays text, unchanged;
- durations: any text parses or raises DurationSyntaxError; a parsed one round-trips;
- expressions: sandbox escapes, huge ranges and strings, deep recursion are refused
  with ExpressionError in bounded time, never another exception;
- templates in the project's `templates/`: any text renders or fails as a template
  error, in bounded time;
- tokens: a tampered, truncated or extended token is refused; an expired one is
  refused as expired; only the exact token reads back its subject.
"""

from __future__ import annotations

import contextlib
import string
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jinja2
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from cxops.audience.contacts import BadRow, Contact
from cxops.audience.sources import read_source
from cxops.durations import DurationSyntaxError, parse_duration
from cxops.errors import ExpressionError, SourceError, TokenError
from cxops.expr import Evaluator
from cxops.messages.env import make_environment
from cxops.messages.tokens import make_token, read_token
from cxops.spec.loader import read_survey
from cxops.spec.models import CsvSource

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent
VALID_SURVEY = (REPO / "surveys" / "nps-quarterly.yaml").read_text(encoding="utf-8")
function_dirs = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- survey files ------------------------------------------------------------------------

YAML_PIECES = [
    "id: x\n", "name: N\n", "kind: nps\n", "&a ", "*a", "<<: *a\n", "{", "}", "[", "]",
    ": ", "- ", "\t", "  ", "\n", "'", '"', "!!python/object:os.system ", "!!binary ",
    "? ", "---\n", "...\n", "%YAML 1.1\n", "&b {<<: *b}\n", "\x00", "\ufeff", "é", "#",
    "audience:\n  source: {csv: x.csv, key: id}\n", "questions: [{id: q, type: nps}]\n",
]  # fmt: skip


@st.composite
def mutated_surveys(draw: st.DrawFn) -> bytes:
    """A valid survey with pieces inserted, lines deleted or bytes replaced."""
    text = VALID_SURVEY
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        position = draw(st.integers(0, len(text)))
        if action == "insert":
            text = text[:position] + draw(st.sampled_from(YAML_PIECES)) + text[position:]
        elif action == "delete":
            end = text.find("\n", position)
            text = text[:position] + (text[end:] if end >= 0 else "")
        else:
            text = text[:position] + draw(st.text(max_size=3)) + text[position + 3 :]
    raw = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        raw = raw.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n"])))
    return raw


@function_dirs
@given(st.one_of(mutated_surveys(), st.binary(max_size=300)))
@example(b"x: &a {<<: *a, k: 1}\n")
@example(b"a: &a [*a]\n")
@example("id: \udcff\n".encode("utf-8", errors="surrogatepass"))
def test_a_survey_file_never_raises_and_every_problem_has_a_place(
    tmp_path: Path, raw: bytes
) -> None:
    path = tmp_path / "surveys" / "s.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    result = read_survey(path, tmp_path)
    assert result.survey is not None or result.problems
    lines = max(raw.count(b"\n") + raw.count(b"\r") + 1, 1)
    for problem in result.problems:
        assert problem.location.path == path
        assert 1 <= problem.location.line <= lines + 1, str(problem)
        assert problem.location.column >= 1, str(problem)


# -- CSV sources ---------------------------------------------------------------------------

CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3",
            "\x00", "a\x00b", '"', '""', "\r\n", ",", ";", "\t", "x" * 70_000, "\ufeffid",
            "anna@müller.example", "ANN@X.EXAMPLE", "\u202eevil\u202c", "😀",
        ]
    ),
)  # fmt: skip
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(
        st.sampled_from(
            [["id", "email", "name"], ["email", "id"], ["id", "name"], ["id", "id", "email"]]
        )
    )
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))

    def quote(cell: str) -> str:
        if draw(st.booleans()):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    lines = [delimiter.join(header)] + [delimiter.join(quote(c) for c in row) for row in rows]
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


@function_dirs
@given(csv_files())
def test_any_csv_gives_contacts_and_bad_rows_or_one_source_error(
    tmp_path: Path, raw: bytes
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(raw)
    source = CsvSource(csv=str(path), key="id")
    try:
        rows = list(read_source(source, tmp_path))
    except SourceError as exc:
        assert str(path) in str(exc)
        return
    for row in rows:
        assert isinstance(row, Contact | BadRow)
        if isinstance(row, Contact):
            assert row.email == row.email.strip().lower() and "@" in row.email
            # No column is typed here: every value stays text (formulas are never evaluated).
            assert all(value is None or isinstance(value, str) for value in row.fields.values())


def test_formula_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    formula = '=HYPERLINK("http://evil","x")'
    path.write_text(f'id,email,name\n1,a@x.example,"{formula.replace(chr(34), 2 * chr(34))}"\n')
    (contact,) = list(read_source(CsvSource(csv=str(path), key="id"), tmp_path))
    assert isinstance(contact, Contact) and contact.fields["name"] == formula


# -- durations -----------------------------------------------------------------------------


@given(
    st.one_of(
        st.text(max_size=20),
        st.builds(
            lambda n, u: f"{n}{u}",
            st.integers(-5, 10**12),
            st.sampled_from(["d", "h", "m", "w", "s", "mo", "y", " business days", "x", ""]),
        ),
    )
)
@example("9" * 5000 + "d")
@example("1e309d")
@example("\x00")
def test_a_duration_parses_or_is_a_duration_error(text: str) -> None:
    try:
        duration = parse_duration(text)
    except DurationSyntaxError:
        return
    assert parse_duration(str(duration)) == duration


# -- expressions ---------------------------------------------------------------------------

HOSTILE_PIECES = [
    "contact.__class__", "contact.__class__.__mro__", "days_since.__globals__",
    "''.__class__.__mro__[1].__subclasses__()", "contact.__init__", "(1).__class__",
    "'a' * 10**9", "'a'|center(10**9)", "'a'.ljust(10**9)", "9**999**999", "[1] * 10**8",
    "range(10**9)", "'%0999999999d' % 1", "'{:>999999999}'.format(1)", "'x'.join(['y'*9**9])",
    "contact.pop('x')", "lipsum(10**9)", "cycler", "namespace", "self", "contact.items()",
    "contact", "1", "'a'", "contact.seats", "now()", "today()",
]  # fmt: skip
JOINERS = [" + ", " * ", " ~ ", " ** ", " % ", " and ", " or ", "|join", "|list", "|length"]


@given(
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=3),
    st.lists(st.sampled_from(JOINERS), min_size=2, max_size=2),
)
def test_a_hostile_expression_is_refused_in_bounded_time(pieces: list[str], joins: list[str]):
    source = pieces[0]
    for piece, join in zip(pieces[1:], joins, strict=False):
        source = f"({source}){join}" if join.startswith("|") else f"({source}){join}({piece})"
    evaluator = Evaluator(NOW)
    started = time.monotonic()
    with contextlib.suppress(ExpressionError):
        evaluator.evaluate(source, {"contact": {"seats": 3}})
    assert time.monotonic() - started < 15


# -- project templates ---------------------------------------------------------------------

TEMPLATE_PIECES = [
    "{{ x }}", "{% for a in 'x'.ljust(100000) %}", "{% endfor %}", "{% if x %}", "{% endif %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{% include 't.j2' %}",
    "{% extends 't.j2' %}", "{{ 'a' * 10**9 }}", "{{ 9**999**999 }}", "{% set s = s ~ s %}",
    "{{ range(10**9)|list }}", "{% raw %}", "{% endraw %}", "{{", "}}", "{#", "text",
    "{{ x.__class__ }}", "{% import 't.j2' as me %}",
]  # fmt: skip


@function_dirs
@given(st.lists(st.sampled_from(TEMPLATE_PIECES), min_size=1, max_size=5).map("".join))
def test_a_project_template_renders_or_fails_as_a_template_error(
    tmp_path: Path, source: str
) -> None:
    (tmp_path / "t.j2").write_text(source)
    env = make_environment([tmp_path])
    started = time.monotonic()
    with contextlib.suppress(jinja2.TemplateError, ArithmeticError, TypeError, ValueError):
        env.get_template("t.j2").render(x="<b>", s="ab")
    assert time.monotonic() - started < 15


# -- tokens --------------------------------------------------------------------------------

KEY = b"k" * 32
subjects = st.text(string.ascii_letters + string.digits, min_size=1, max_size=40)


@given(subjects, st.integers(0, 200), st.sampled_from(string.ascii_letters + "-_"))
def test_a_tampered_token_is_refused(subject: str, position: int, replacement: str) -> None:
    token = make_token(KEY, "answer", subject, NOW + timedelta(days=1))
    index = position % len(token)
    assume(token[index] != replacement)
    tampered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(TokenError):
        read_token(KEY, "answer", tampered, NOW)


@given(subjects, st.integers(1, 60))
def test_a_truncated_or_extended_token_is_refused(subject: str, cut: int) -> None:
    token = make_token(KEY, "answer", subject, NOW + timedelta(days=1))
    for changed in (token[: max(len(token) - cut, 0)], token + "A" * cut):
        with pytest.raises(TokenError):
            read_token(KEY, "answer", changed, NOW)
    assert read_token(KEY, "answer", token, NOW) == subject


@given(subjects, st.integers(1, 10**6))
def test_an_expired_token_is_refused_as_expired(subject: str, seconds: int) -> None:
    token = make_token(KEY, "answer", subject, NOW)
    with pytest.raises(TokenError) as caught:
        read_token(KEY, "answer", token, NOW + timedelta(seconds=seconds))
    assert caught.value.expired
    with pytest.raises(TokenError):
        read_token(KEY, "unsubscribe", token, NOW - timedelta(days=1))
