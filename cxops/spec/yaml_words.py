"""PyYAML's syntax errors about indentation, said in words at the line they are about.

PyYAML reports what its parser expected (`expected <block end>, but found '<block
mapping start>'`); a survey author needs to hear which line is indented how, against
which key above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True, slots=True)
class Said:
    """A syntax problem in words: 1-based line and column, and the message."""

    line: int
    column: int
    message: str


def syntax_in_words(lines: list[str], exc: yaml.MarkedYAMLError) -> Said | None:
    """The indentation problem `exc` means, or None when it is not one of those."""
    problem = exc.problem or ""
    mark = exc.problem_mark
    if mark is None:
        return None
    line = mark.line + 1
    if problem.startswith("expected <block end>, but found '<block"):
        return _between_levels(lines, line)
    if problem == "expected <block end>, but found '-'":
        return Said(
            line,
            mark.column + 1,
            "a list item ('- …') among the keys of a mapping: indent it under the key whose "
            "list it is, or write it as 'key: value'",
        )
    if problem == "mapping values are not allowed here":
        return _colon_in_value(lines, line, mark.column + 1)
    if problem == "could not find expected ':'" and exc.context_mark is not None:
        start = exc.context_mark.line + 1
        return Said(
            start,
            _indent(lines[start - 1]) + 1,
            "this line has no ':': expected 'key: value' (a text that goes on over several "
            "lines needs quotes or '|')",
        )
    return None


def _between_levels(lines: list[str], line: int) -> Said:
    """A line indented deeper than a key above it but less than the line before it."""
    indent = _indent(lines[line - 1])
    above = _content_lines_before(lines, line)
    message = f"this line is indented {_spaces(indent)}"
    parent = next((n for n in above if _indent(lines[n - 1]) < indent), None)
    fixes = []
    if parent is not None:
        parent_indent = _indent(lines[parent - 1])
        message += (
            f", deeper than {_key(lines[parent - 1])} on line {parent} ({_spaces(parent_indent)})"
        )
        fixes.append(f"{parent_indent} to stand beside {_key(lines[parent - 1])}")
    if above and _indent(lines[above[0] - 1]) > indent:
        previous_indent = _indent(lines[above[0] - 1])
        message += f" but less than line {above[0]} ({_spaces(previous_indent)})"
        fixes.append(f"{previous_indent} to go with line {above[0]}")
    if not fixes:
        return Said(line, indent + 1, f"{message}: expected the indentation of a key above it")
    return Said(line, indent + 1, f"{message}: indent it {' or '.join(fixes)}")


def _spaces(count: int) -> str:
    return f"{count} space{'s' if count != 1 else ''}"


def _colon_in_value(lines: list[str], line: int, column: int) -> Said:
    text = lines[line - 1]
    above = _content_lines_before(lines, line)
    if above and column > len(text) - len(text.lstrip()) + 1 and text.count(": ") < 2:
        previous = above[0]
        if _indent(lines[previous - 1]) < _indent(text) and _has_value(lines[previous - 1]):
            return Said(
                line,
                _indent(text) + 1,
                f"this line is indented deeper than {_key(lines[previous - 1])} on line "
                f"{previous}, which already has a value: indent it "
                f"{_indent(lines[previous - 1])} spaces like that key, or move the value "
                "onto lines of its own",
            )
    return Said(
        line,
        column,
        "a second ': ' on one line: quote the value (\"a: b\") or put the key on a line of its own",
    )


def _content_lines_before(lines: list[str], line: int) -> list[int]:
    """1-based numbers of the non-blank, non-comment lines before `line`, nearest first."""
    return [
        number
        for number in range(line - 1, 0, -1)
        if lines[number - 1].strip() and not lines[number - 1].lstrip().startswith("#")
    ]


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _key(text: str) -> str:
    key = text.strip().removeprefix("- ").split(":", 1)[0].strip()
    return f"'{key}'" if key else "the line"


def _has_value(text: str) -> bool:
    stripped = text.split("#", 1)[0].rstrip()
    return ":" in stripped and not stripped.endswith(":")
