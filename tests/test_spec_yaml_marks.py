"""The marked YAML loader: positions, and every bad file turned into a located Problem."""

from __future__ import annotations

from pathlib import Path

from cxops.spec.yaml_marks import (
    MAX_FILE_BYTES,
    format_key_path,
    parse_yaml_bytes,
    parse_yaml_file,
)

PATH = Path("s.yaml")


def problems(raw: bytes) -> list[str]:
    return [str(problem) for problem in parse_yaml_bytes(raw, PATH).problems]


def test_marks_keys_and_values_with_1_based_positions() -> None:
    document = parse_yaml_bytes(b"a:\n  b: 1\n  c: [x, {d: 2}]\n", PATH)

    assert document.parsed
    assert document.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert document.marks[("a", "b")].key == (2, 3)
    assert document.marks[("a", "b")].value == (2, 6)
    assert document.marks[("a", "c", 1)].value == (3, 10)
    assert document.marks[("a", "c", 1, "d")].value == (3, 14)
    # a collection under a key is pointed at by its key, a scalar by its value
    assert document.position(("a",)) == (1, 1)
    assert document.position(("a", "b")) == (2, 6)
    assert document.position(("a", "b"), at_key=True) == (2, 3)
    # an absent entry falls back to the deepest present one
    assert document.position(("a", "c", 1, "missing")) == (3, 10)


def test_key_path_format() -> None:
    assert format_key_path(("questions", 1, "id")) == "questions[1].id"
    assert format_key_path(()) == ""


def test_yaml_12_booleans_keep_no_and_on_as_text() -> None:
    document = parse_yaml_bytes(b"locales: [en, no]\nflag: on\nok: true\nbad: False\n", PATH)

    assert document.data == {"locales": ["en", "no"], "flag": "on", "ok": True, "bad": False}


def test_duplicate_key_names_the_first_line_and_keeps_going() -> None:
    document = parse_yaml_bytes(b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", PATH)

    assert [str(p) for p in document.problems] == [
        "s.yaml:4:3: b.c: expected each key once, found 'c' again (first on line 3)",
        "s.yaml:5:1: a: expected each key once, found 'a' again (first on line 1)",
    ]
    assert document.data == {"a": 1, "b": {"c": 1}}


def test_merge_keys_are_not_duplicates() -> None:
    document = parse_yaml_bytes(b"base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", PATH)

    assert document.problems == []
    assert document.data["m"] == {"x": 1, "y": 3}


def test_billion_laughs_is_refused() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")

    document = parse_yaml_bytes("\n".join(lines).encode(), PATH)

    assert document.data is None and not document.parsed
    [problem] = document.problems
    assert "YAML bomb" in problem.message
    assert problem.location.line == 5


def test_recursive_alias_and_deep_nesting_are_refused() -> None:
    assert problems(b"a: &x [*x]\n") == ["s.yaml:1:1: a: expected at most 64 levels of nesting"]
    assert problems(b"[" * 10_000) == ["s.yaml:1:1: expected at most 64 levels of nesting"]


def test_big_files_are_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_FILE_BYTES + b"\n")

    document = parse_yaml_file(big)

    assert [p.message for p in document.problems] == [
        f"expected a file of at most 1 MiB, found {MAX_FILE_BYTES + 4:,} bytes"
    ]


def test_non_utf8_reports_line_and_column_of_the_bad_byte() -> None:
    raw = "a: 1\nname: Zoë café \n".encode("latin-1")

    document = parse_yaml_bytes(raw, PATH)

    [problem] = document.problems
    assert (problem.location.line, problem.location.column) == (2, 9)
    assert problem.message == "expected UTF-8 text, found the byte 0xeb"


def test_column_after_multibyte_characters_counts_characters() -> None:
    raw = "name: Zoë \xff\n".encode().replace(b"\xc3\xbf", b"\xff")

    [problem] = parse_yaml_bytes(raw, PATH).problems

    assert (problem.location.line, problem.location.column) == (1, 11)


def test_byte_order_mark_is_accepted() -> None:
    document = parse_yaml_bytes(b"\xef\xbb\xbfid: x\n", PATH)

    assert document.data == {"id": "x"}
    assert document.marks[("id",)].key == (1, 1)


def test_tabs_in_indentation() -> None:
    assert problems(b"a:\n  b: 1\n \tc: 2\n") == [
        "s.yaml:3:2: expected spaces for indentation, found a tab"
    ]


def test_tab_inside_a_value_is_fine() -> None:
    assert parse_yaml_bytes(b'a: "x\ty"\n', PATH).data == {"a": "x\ty"}


def test_control_characters() -> None:
    assert problems(b"a: b\x01\n") == [
        "s.yaml:1:5: expected printable text, found the character '\\x01'"
    ]


def test_empty_and_non_mapping_files() -> None:
    empty = "s.yaml:1:1: expected a survey mapping (id, name, kind, ...), found an empty file"
    assert problems(b"") == [empty]
    assert problems(b"# only a comment\n\n") == [empty]
    assert problems(b"\n\n- a\n") == [
        "s.yaml:3:1: expected a survey mapping (id: ..., name: ...), found a list"
    ]
    assert problems(b"just text\n") == [
        "s.yaml:1:1: expected a survey mapping (id: ..., name: ...), found 'just text'"
    ]


def test_syntax_errors_and_several_documents() -> None:
    assert problems(b"a: [1, 2\nb: 3\n")[0].startswith("s.yaml:2:2: invalid YAML:")
    assert problems(b"a: 1\n---\nb: 2\n") == [
        "s.yaml:2:1: invalid YAML: expected a single document in the stream, "
        "but found another document"
    ]


def test_indentation_errors_are_said_in_words_at_their_line() -> None:
    """Not PyYAML's "expected <block end>, but found '<block mapping start>'"."""
    between = b"audience:\n  source:\n    csv: x\n   filter: y\n"
    assert problems(between) == [
        "s.yaml:4:4: invalid YAML: this line is indented 3 spaces, deeper than 'source' on "
        "line 2 (2 spaces) but less than line 3 (4 spaces): indent it 2 to stand beside "
        "'source' or 4 to go with line 3"
    ]
    assert problems(b"questions:\n  - id: x\n    type: nps\n     text: hi\n") == [
        "s.yaml:4:6: invalid YAML: this line is indented deeper than 'type' on line 3, which "
        "already has a value: indent it 4 spaces like that key, or move the value onto lines "
        "of its own"
    ]
    assert problems(b"a:\n  b: 1\n  - x\n")[0].startswith(
        "s.yaml:3:3: invalid YAML: a list item ('- …') among the keys of a mapping"
    )
    assert problems(b"a:\n  b: 1\n  c\n  d: 2\n") == [
        "s.yaml:3:3: invalid YAML: this line has no ':': expected 'key: value' (a text that "
        "goes on over several lines needs quotes or '|')"
    ]
    for raw in (between, b"a:\n  - x\n - y\n", b"a:\n  b: 1\n  - x\n"):
        assert "<block" not in problems(raw)[0]


def test_python_tags_are_refused() -> None:
    assert problems(b"a: !!python/object/apply:os.system [ls]\n") == [
        "s.yaml:1:4: a: unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    ]
    assert problems(b"a: !!python/name:os.system ''\n")[0].startswith(
        "s.yaml:1:4: a: unsupported value"
    )


def test_missing_file() -> None:
    document = parse_yaml_file(Path("/nonexistent/survey.yaml"))

    assert [p.message for p in document.problems] == ["cannot read: No such file or directory"]
