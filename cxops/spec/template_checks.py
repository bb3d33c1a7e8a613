"""`cxops validate` on the project's `templates/`: what can be known without rendering.

Each template file is parsed in the bounded sandbox (syntax errors at file:line), and
two kinds of endless recursion are found from the syntax tree:

- templates that include, extend or import each other in a cycle where no step is
  conditional (`a` includes `b` includes `a`, or a file extending itself);
- a macro that calls itself (directly or through other macros of the file) with no
  `if`, loop or conditional expression on the way.

Recursion behind a condition may well end, and is left to the sandbox's depth limit
at render time (which fails that one message clearly).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError, nodes

from cxops.errors import Location, Problem
from cxops.sandbox import BoundedSandbox
from cxops.template_files import template_search_path

_CONDITIONAL = (nodes.If, nodes.For, nodes.CondExpr, nodes.Macro, nodes.CallBlock)
_LOADS = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


@dataclass(frozen=True, slots=True)
class _Edge:
    target: str
    line: int


def template_problems(project_dir: Path) -> tuple[list[Path], list[Problem]]:
    """The project's own template files, and their problems sorted by file and line."""
    folder = project_dir / "templates"
    if not folder.is_dir():
        return [], []
    env = BoundedSandbox()
    search = template_search_path(project_dir)
    problems: list[Problem] = []
    trees: dict[str, tuple[Path, nodes.Template]] = {}
    files = sorted(folder.rglob("*.j2"))
    for path in files:
        name = path.relative_to(folder).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
            trees[name] = (path, env.parse(source, name, str(path)))
        except TemplateSyntaxError as exc:
            where = Location(path, exc.lineno or 0, 1 if exc.lineno else 0)
            problems.append(Problem(where, "", f"template syntax: {exc.message}"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Location(path), "", f"cannot read the template: {exc}"))
    for path, tree in trees.values():
        problems.extend(_macro_recursion(path, tree))
    graph = {name: list(_unconditional_loads(tree)) for name, (_, tree) in trees.items()}
    for name in _builtin_names(search, set(trees)):
        graph.setdefault(name, [])
    problems.extend(_load_cycles(graph, trees))
    return files, sorted(problems, key=lambda p: (str(p.location.path), p.location.line))


def _builtin_names(search: list[Path], known: set[str]) -> Iterator[str]:
    for folder in search:
        for path in folder.rglob("*.j2"):
            name = path.relative_to(folder).as_posix()
            if name not in known:
                yield name


def _unconditional(node: nodes.Node, kinds: tuple[type[nodes.Node], ...]) -> Iterator[nodes.Node]:
    """Nodes of `kinds` under `node` that are not below an if, a loop or a macro."""
    for child in node.iter_child_nodes():
        if isinstance(child, kinds):
            yield child
        if not isinstance(child, _CONDITIONAL):
            yield from _unconditional(child, kinds)


def _unconditional_loads(tree: nodes.Template) -> Iterator[_Edge]:
    for node in _unconditional(tree, _LOADS):
        target = getattr(node, "template", None)
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            yield _Edge(target.value, node.lineno)


def _load_cycles(
    graph: dict[str, list[_Edge]], trees: dict[str, tuple[Path, nodes.Template]]
) -> Iterator[Problem]:
    reported: set[frozenset[str]] = set()
    for start in sorted(trees):
        path = _cycle_from(start, graph)
        if path is None or frozenset(path) in reported:
            continue
        reported.add(frozenset(path))
        edge = next(e for e in graph[start] if e.target == (path[1] if len(path) > 1 else start))
        chain = " → ".join([*path, start])
        yield Problem(
            Location(trees[start][0], edge.line, 1),
            "",
            f"templates include, extend or import each other for ever: {chain} "
            "(expected a chain that ends, or an {% if %} around the step)",
        )


def _cycle_from(start: str, graph: dict[str, list[_Edge]]) -> list[str] | None:
    """The names of a cycle back to `start` along unconditional loads, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for edge in graph.get(name, []):
            if edge.target == start:
                return path
            if edge.target not in seen:
                seen.add(edge.target)
                stack.append((edge.target, [*path, edge.target]))
    return None


def _macro_recursion(path: Path, tree: nodes.Template) -> Iterator[Problem]:
    macros = {macro.name: macro for macro in tree.find_all(nodes.Macro)}
    calls: dict[str, list[tuple[str, int]]] = {}
    for name, macro in macros.items():
        found = []
        for statement in macro.body:
            if isinstance(statement, _CONDITIONAL):
                continue
            for call in _calls(statement):
                if isinstance(call.node, nodes.Name) and call.node.name in macros:
                    found.append((call.node.name, call.lineno))
        calls[name] = found
    for name in sorted(macros):
        chain = _macro_cycle(name, calls)
        if chain is None:
            continue
        line = next(line for callee, line in calls[name] if callee == chain[1 % len(chain)])
        yield Problem(
            Location(path, line, 1),
            "",
            f"macro {name!r} calls itself for ever ({' → '.join([*chain, name])}): expected an "
            "{% if %} that ends the recursion",
        )


def _calls(node: nodes.Node) -> Iterator[nodes.Call]:
    if isinstance(node, nodes.Call):
        yield node
    for child in node.iter_child_nodes():
        if not isinstance(child, _CONDITIONAL):
            yield from _calls(child)


def _macro_cycle(start: str, calls: dict[str, list[tuple[str, int]]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, chain = stack.pop()
        for callee, _line in calls.get(name, []):
            if callee == start:
                return chain
            if callee not in seen:
                seen.add(callee)
                stack.append((callee, [*chain, callee]))
    return None
