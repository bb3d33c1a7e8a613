"""YAML that remembers where every key and value came from.

Just over 400 lines: one loader (node graph to data with marks, and its limits).

`parse_yaml_file` composes the YAML node graph (PyYAML's safe loader) and builds
plain Python data from it itself, so that it can:

- record the 1-based line and column of every key and value (`MarkedDocument.marks`),
- report duplicate keys at their second occurrence, naming the first,
- refuse billion-laughs bombs (a cap on the nodes built, aliases included) and files
  over `MAX_FILE_BYTES`,
- read booleans as YAML 1.2 does (only true/false; `no`, `on`, `yes` stay text, so a
  Norwegian locale `no` is not False),
- turn every failure (bad bytes, tabs, syntax, empty file, a top level that is not a
  mapping) into a `Problem` with line and column instead of an exception.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cxops.errors import Location, Problem
from cxops.spec.yaml_words import syntax_in_words

MAX_FILE_BYTES = 1024 * 1024
#: Values built from one file, counting every alias expansion again.
MAX_NODES = 100_000
MAX_DEPTH = 64

KeyPath = tuple[Hashable, ...]

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True, slots=True)
class Marks:
    """Where one entry is: its key (None for list items and the root) and its value."""

    key: tuple[int, int] | None
    value: tuple[int, int]


@dataclass
class MarkedDocument:
    """One parsed YAML file: its data, the marks of every entry, and what went wrong."""

    path: Path
    lines: list[str]
    data: Any = None
    marks: dict[KeyPath, Marks] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: False when the file could not be read into data at all.
    parsed: bool = False

    def position(self, key_path: Sequence[Hashable], *, at_key: bool = False) -> tuple[int, int]:
        """(line, column) of the deepest existing entry along `key_path`.

        At the key when `at_key` or when the entry is a mapping or list under a key
        (`sample:` rather than its first child); at the value otherwise.
        """
        path = tuple(key_path)
        while path and path not in self.marks:
            path = path[:-1]
        marks = self.marks.get(path)
        if marks is None:
            return (1, 1)
        if marks.key is not None and (at_key or _is_collection(self.value_at(path))):
            return marks.key
        return marks.value

    def value_at(self, key_path: Sequence[Hashable]) -> Any:
        """The data at `key_path`, or None when it is not there."""
        node = self.data
        for part in key_path:
            if has_child(node, part):
                node = node[part]
            else:
                return None
        return node

    def has(self, key_path: Sequence[Hashable]) -> bool:
        return tuple(key_path) in self.marks

    def problem(
        self, key_path: Sequence[Hashable], message: str, *, at_key: bool = False
    ) -> Problem:
        """A Problem located at `key_path` (see `position`)."""
        line, column = self.position(key_path, at_key=at_key)
        return self.problem_at(line, column, format_key_path(key_path), message)

    def problem_at(self, line: int, column: int, key_path: str, message: str) -> Problem:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Problem(Location(self.path, line, column), key_path, message, source)


def format_key_path(key_path: Sequence[Hashable]) -> str:
    """('questions', 1, 'id') -> 'questions[1].id'."""
    text = ""
    for part in key_path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _is_collection(value: Any) -> bool:
    return isinstance(value, dict | list)


def parse_yaml_file(path: Path) -> MarkedDocument:
    """Read and parse one file; never raises for bad content (see `problems`)."""
    path = Path(path)
    document = MarkedDocument(path=path, lines=[])
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            document.problems.append(
                document.problem_at(
                    1, 1, "", f"expected a file of at most 1 MiB, found {size:,} bytes"
                )
            )
            return document
        raw = path.read_bytes()
    except OSError as exc:
        document.problems.append(document.problem_at(0, 0, "", f"cannot read: {exc.strerror}"))
        return document
    return parse_yaml_bytes(raw, path)


def parse_yaml_bytes(raw: bytes, path: Path) -> MarkedDocument:
    """Parse `raw` as the content of `path` (UTF-8, optional BOM)."""
    document = MarkedDocument(path=Path(path), lines=[])
    if len(raw) > MAX_FILE_BYTES:
        document.problems.append(
            document.problem_at(
                1, 1, "", f"expected a file of at most 1 MiB, found {len(raw):,} bytes"
            )
        )
        return document
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        document.problems.append(_decode_problem(document, raw, exc))
        return document
    document.lines = text.splitlines()
    if not text.strip() or all(_is_comment(line) for line in document.lines):
        document.problems.append(
            document.problem_at(
                1, 1, "", "expected a survey mapping (id, name, kind, ...), found an empty file"
            )
        )
        return document
    root = _compose(document, text)
    if root is None:
        return document
    if not isinstance(root, MappingNode):
        line, column = _position(root.start_mark)
        found = "a list" if isinstance(root, SequenceNode) else f"{root.value!r}"
        document.problems.append(
            document.problem_at(
                line, column, "", f"expected a survey mapping (id: ..., name: ...), found {found}"
            )
        )
        return document
    builder = _Builder(document)
    try:
        document.data = builder.build(root, (), 0)
    except _Refused as refused:
        document.problems.append(refused.problem)
        document.data = None
        document.marks.clear()
        return document
    document.marks[()] = Marks(None, _position(root.start_mark))
    document.parsed = True
    return document


def _is_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _position(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _decode_problem(document: MarkedDocument, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    start = exc.start
    line_start = raw.rfind(b"\n", 0, start) + 1
    line = raw.count(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
    line_end = raw.find(b"\n", start)
    source = raw[line_start : line_end if line_end >= 0 else len(raw)]
    return Problem(
        Location(document.path, line, column),
        "",
        f"expected UTF-8 text, found the byte 0x{raw[start]:02x}",
        source.decode("utf-8", errors="replace"),
    )


def _compose(document: MarkedDocument, text: str) -> Node | None:
    loader = None
    try:
        loader = _Loader(text)
        return loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        line, column = _offset_position(text, exc.position)
        found = exc.character if isinstance(exc.character, str) else chr(exc.character)
        document.problems.append(
            document.problem_at(
                line, column, "", f"expected printable text, found the character {found!r}"
            )
        )
    except yaml.MarkedYAMLError as exc:
        document.problems.append(_syntax_problem(document, exc))
    except RecursionError:
        document.problems.append(
            document.problem_at(1, 1, "", f"expected at most {MAX_DEPTH} levels of nesting")
        )
    finally:
        if loader is not None:
            loader.dispose()
    return None


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _syntax_problem(document: MarkedDocument, exc: yaml.MarkedYAMLError) -> Problem:
    tab = _first_indentation_tab(document.lines)
    if tab is not None:
        return document.problem_at(
            tab[0], tab[1], "", "expected spaces for indentation, found a tab"
        )
    said = syntax_in_words(document.lines, exc)
    if said is not None:
        return document.problem_at(said.line, said.column, "", f"invalid YAML: {said.message}")
    mark = exc.problem_mark or exc.context_mark
    line, column = _position(mark) if mark else (1, 1)
    message = exc.problem or "invalid YAML"
    if exc.context:
        message = f"{exc.context}, {message}"
    return document.problem_at(line, column, "", f"invalid YAML: {message}")


def _first_indentation_tab(lines: list[str]) -> tuple[int, int] | None:
    for number, line in enumerate(lines, start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return number, indent.index("\t") + 1
    return None


class _Refused(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


class _Builder:
    """Builds Python data from composed nodes, recording marks and counting nodes."""

    def __init__(self, document: MarkedDocument):
        self.document = document
        self.constructor = SafeConstructor()
        self.count = 0
        #: Mapping nodes being built now: merging one into itself never ends.
        self.active: set[int] = set()

    def build(self, node: Node, path: KeyPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Refused(
                self._problem(
                    node,
                    path,
                    f"expected at most {MAX_NODES:,} values after expanding aliases "
                    "(a YAML bomb?), found more",
                )
            )
        if depth > MAX_DEPTH:
            raise _Refused(
                self._problem(node, path, f"expected at most {MAX_DEPTH} levels of nesting")
            )
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in _PLAIN_TAGS:
            raise _Refused(self._problem(node, path, f"unsupported tag {node.tag!r}"))
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.document.marks[(*path, index)] = Marks(None, _position(item.start_mark))
                items.append(self.build(item, (*path, index), depth + 1))
            return items
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise _Refused(self._problem(node, path, f"unsupported value: {exc.problem}")) from None

    def _mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[Any, Any]:
        if id(node) in self.active:
            raise _Refused(
                self._problem(
                    node, path, "expected a mapping that does not merge itself ('<<: *alias')"
                )
            )
        if depth > MAX_DEPTH:
            raise _Refused(
                self._problem(node, path, f"expected at most {MAX_DEPTH} levels of nesting")
            )
        self.active.add(id(node))
        try:
            return self._build_mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def _build_mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        explicit = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise _Refused(
                            self._problem(source, path, "expected a mapping to merge with '<<'")
                        )
                    for key, value in self._mapping(source, path, depth + 1).items():
                        result.setdefault(key, value)
            else:
                explicit.append((key_node, value_node))
        first_seen: dict[Any, int] = {}
        for key_node, value_node in explicit:
            key = self._key(key_node, path)
            key_path = (*path, key)
            if key in first_seen:
                line, column = _position(key_node.start_mark)
                self.document.problems.append(
                    self.document.problem_at(
                        line,
                        column,
                        format_key_path(key_path),
                        f"expected each key once, found '{key}' again "
                        f"(first on line {first_seen[key]})",
                    )
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.document.marks[key_path] = Marks(
                _position(key_node.start_mark), _position(value_node.start_mark)
            )
            result[key] = self.build(value_node, key_path, depth + 1)
        return result

    def _key(self, node: Node, path: KeyPath) -> Hashable:
        if not isinstance(node, ScalarNode):
            raise _Refused(self._problem(node, path, "expected a plain key, found a collection"))
        self.count += 1
        try:
            key = self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise _Refused(self._problem(node, path, f"unsupported key: {exc.problem}")) from None
        if not isinstance(key, Hashable):
            raise _Refused(self._problem(node, path, "expected a plain key"))
        return key

    def _problem(self, node: Node, path: KeyPath, message: str) -> Problem:
        """At the top-level key being built when deep inside aliases, else at the node."""
        top = self.document.marks.get(path[:1])
        if len(path) > 3 and top is not None and top.key is not None:
            line, column = top.key
            path = path[:1]
        else:
            line, column = _position(node.start_mark)
        return self.document.problem_at(line, column, format_key_path(path), message)


def has_child(node: Any, part: Hashable) -> bool:
    """Whether `node[part]` is an entry of a mapping or list."""
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
