"""What a message template does with its context: the analysis behind group rendering.

A context value is *opaque* when every use of it, in every file the template pulls in
(`extends`, `include`, `import` of static names), is a whole `{{ path }}` output
with no filter, test, comparison, condition, loop, call or assignment around it.
Such a value can be rendered as a marker and substituted afterwards. Every other
value the template reads is *keyed*: messages are only shared between recipients
whose keyed values are equal. A template the analysis does not understand (dynamic
includes, macros, `self`/`super`, autoescape blocks, a variable shadowing a context
name, ...) is *unsafe*: each recipient then gets a rendering of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from jinja2 import Environment, TemplateNotFound, TemplateSyntaxError, nodes

from cxops.messages.values import Path, Step, Steps, plain_steps

HTML = "html"
RAW = "raw"

#: Names that reach the rendering machinery rather than data: never analysed.
_UNSAFE_NAMES = frozenset({"self", "super", "caller", "varargs", "kwargs"})

_EXPRESSIONS = (
    nodes.Const,
    nodes.TemplateData,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Getitem,
    nodes.Getattr,
    nodes.Slice,
    nodes.Concat,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Name,
    nodes.MarkSafe,
    nodes.MarkSafeIfAutoescape,
)
_PASSIVE_STATEMENTS = (nodes.Continue, nodes.Break)


class UnsafeTemplate(Exception):
    """The analysis cannot prove that substitution reproduces the rendering."""


@dataclass(frozen=True)
class Shape:
    """How a set of template parts uses the context."""

    safe: bool
    reason: str = ""
    #: Paths whose values must be equal for two recipients to share a rendering.
    keyed: frozenset[Path] = frozenset()
    #: part -> {path: mode}: paths only ever output whole in that part, and how (html/raw).
    opaque: Mapping[str, Mapping[Path, str]] = field(default_factory=dict)

    @cached_property
    def keyed_paths(self) -> list[Path]:
        """The keyed paths in a stable order."""
        return sorted(self.keyed, key=repr)

    @cached_property
    def opaque_paths(self) -> list[Path]:
        """Every opaque path of any part, in a stable order."""
        seen: dict[Path, None] = {}
        for part_paths in self.opaque.values():
            for path in part_paths:
                seen.setdefault(path, None)
        return list(seen)

    @cached_property
    def modes(self) -> dict[Path, frozenset[str]]:
        """Opaque path -> the modes (html/raw) it is output in, over all parts."""
        return {
            path: frozenset(part[path] for part in self.opaque.values() if path in part)
            for path in self.opaque_paths
        }

    @cached_property
    def steps(self) -> dict[Path, Steps]:
        """Every keyed and opaque path -> its steps as `lookup` walks them."""
        return {path: plain_steps(path) for path in (*self.keyed_paths, *self.opaque_paths)}


def static_path(node: nodes.Node) -> Path | None:
    """`contact.name` / `links['answer']` as a path; None for anything else."""
    steps: list[Step] = []
    while True:
        if isinstance(node, nodes.Getattr) and node.ctx == "load":
            steps.append((".", node.attr))
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and node.ctx == "load"
            and isinstance(node.arg, nodes.Const)
            and type(node.arg.value) in (str, int)
        ):
            steps.append(("[]", node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            return (node.name, *reversed(steps))
        else:
            return None


@dataclass
class _Part:
    """What one part (subject, html or txt) does, before the parts are merged."""

    keyed: set[Path] = field(default_factory=set)
    opaque: dict[Path, set[str]] = field(default_factory=dict)


class _Analyzer:
    def __init__(self, env: Environment, roots: frozenset[str]):
        self.env = env
        self.roots = roots
        self.trees: dict[str | None, nodes.Template] = {}
        self.locals: set[str] = set()
        self.part = _Part()
        self.visited: set[tuple[str, bool]] = set()

    # -- loading ----------------------------------------------------------------------

    def tree(self, name: str) -> nodes.Template:
        if name not in self.trees:
            try:
                source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
                self.trees[name] = self.env.parse(source, name)
            except (TemplateNotFound, TemplateSyntaxError) as exc:
                raise UnsafeTemplate(f"cannot load {name!r}: {exc}") from None
            self.collect_locals(self.trees[name])
        return self.trees[name]

    def collect_locals(self, tree: nodes.Template) -> None:
        for node in tree.find_all((nodes.Name, nodes.Import, nodes.FromImport)):
            if isinstance(node, nodes.Name) and node.ctx in ("store", "param"):
                self.locals.add(node.name)
            elif isinstance(node, nodes.Import):
                self.locals.add(node.target)
            elif isinstance(node, nodes.FromImport):
                for item in node.names:
                    self.locals.add(item[1] if isinstance(item, tuple) else item)
        clash = self.locals & self.roots
        if clash:
            raise UnsafeTemplate(f"a template assigns context name(s) {sorted(clash)}")

    def static_names(self, node: nodes.Node) -> list[str]:
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, nodes.List | nodes.Tuple):
            return [name for item in node.items for name in self.static_names(item)]
        raise UnsafeTemplate("a template name is computed at render time")

    # -- walking ----------------------------------------------------------------------

    def file(self, name: str, capture: bool) -> None:
        if (name, capture) in self.visited:
            return
        self.visited.add((name, capture))
        tree = self.tree(name)
        mode = HTML if self.env.autoescape(name) else RAW  # type: ignore[operator]
        self.statements(tree.body, mode, capture)

    def statements(self, body: Iterable[nodes.Node], mode: str, capture: bool) -> None:
        for node in body:
            self.statement(node, mode, capture)

    def statement(self, node: nodes.Node, mode: str, capture: bool) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                self.output(child, mode, capture)
        elif isinstance(node, nodes.If):
            self.expression(node.test)
            self.statements(node.body, mode, capture)
            self.statements(node.elif_, mode, capture)
            self.statements(node.else_, mode, capture)
        elif isinstance(node, nodes.For):
            if node.recursive:
                raise UnsafeTemplate("recursive loops are not analysed")
            self.expression(node.iter)
            if node.test is not None:
                self.expression(node.test)
            self.statements(node.body, mode, capture)
            self.statements(node.else_, mode, capture)
        elif isinstance(node, nodes.Assign):
            self.expression(node.node)
        elif isinstance(node, nodes.AssignBlock):
            if node.filter is not None:
                self.expression(node.filter)
            self.statements(node.body, mode, True)
        elif isinstance(node, nodes.FilterBlock):
            self.expression(node.filter)
            self.statements(node.body, mode, True)
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expression(value)
            self.statements(node.body, mode, capture)
        elif isinstance(node, nodes.Block):
            self.statements(node.body, mode, capture)
        elif isinstance(node, nodes.Extends):
            for name in self.static_names(node.template):
                self.file(name, capture)
        elif isinstance(node, nodes.Include):
            if not node.with_context:
                raise UnsafeTemplate("includes without context are not analysed")
            for name in self.static_names(node.template):
                if node.ignore_missing and not self.exists(name):
                    continue
                self.file(name, capture)
        elif isinstance(node, nodes.Import | nodes.FromImport):
            for name in self.static_names(node.template):
                self.file(name, True)
        elif isinstance(node, nodes.ExprStmt):
            self.expression(node.node)
        elif not isinstance(node, _PASSIVE_STATEMENTS):
            raise UnsafeTemplate(f"{type(node).__name__} statements are not analysed")

    def exists(self, name: str) -> bool:
        try:
            self.tree(name)
        except UnsafeTemplate:
            return False
        return True

    def output(self, node: nodes.Node, mode: str, capture: bool) -> None:
        if isinstance(node, nodes.TemplateData):
            return
        path = static_path(node)
        if path is not None and not capture and self.is_context(path[0]):
            self.part.opaque.setdefault(path, set()).add(mode)
            return
        self.expression(node)

    def is_context(self, name: str) -> bool:
        if name in _UNSAFE_NAMES:
            raise UnsafeTemplate(f"{name!r} is not analysed")
        return name in self.roots and name not in self.locals

    def expression(self, node: nodes.Node) -> None:
        if not isinstance(node, _EXPRESSIONS):
            raise UnsafeTemplate(f"{type(node).__name__} expressions are not analysed")
        path = static_path(node)
        if path is not None:
            if self.is_context(path[0]):
                self.part.keyed.add(path)
            return
        if isinstance(node, nodes.Name):  # a store/param name: a local, not data
            return
        for child in node.iter_child_nodes():
            self.expression(child)


def _covered(path: Path, keyed: Iterable[Path]) -> bool:
    """True when `path` or one of its prefixes is keyed."""
    return any(path[: len(prefix)] == prefix for prefix in keyed)


def analyse(
    env: Environment,
    parts: Mapping[str, str | tuple[str, str]],
    roots: Iterable[str],
) -> Shape:
    """The shape of `parts`: part -> template file name, or ("source", text) for inline text.

    `roots` are the context's top-level names; everything else a template reads
    (locals, loop variables, globals) is the same for every recipient.
    """
    analyzer = _Analyzer(env, frozenset(roots))
    found: dict[str, _Part] = {}
    try:
        for part, target in parts.items():
            analyzer.part = _Part()
            analyzer.visited = set()
            if isinstance(target, tuple):
                try:
                    tree = env.parse(target[1])
                except TemplateSyntaxError as exc:
                    raise UnsafeTemplate(f"inline {part}: {exc}") from None
                analyzer.collect_locals(tree)
                analyzer.statements(tree.body, RAW, False)
            else:
                analyzer.file(target, False)
            found[part] = analyzer.part
    except UnsafeTemplate as exc:
        return Shape(safe=False, reason=str(exc))
    return _merge(found)


def _merge(found: Mapping[str, _Part]) -> Shape:
    keyed: set[Path] = set()
    for part in found.values():
        keyed |= part.keyed
        # A value output both escaped and raw in one rendering cannot have one marker.
        keyed |= {path for path, modes in part.opaque.items() if len(modes) > 1}
    opaque_all = {path for part in found.values() for path in part.opaque}
    # A whole value that is also read deeper (contact and contact.name) is keyed.
    for path in opaque_all:
        if any(other != path and other[: len(path)] == path for other in opaque_all | keyed):
            keyed.add(path)
    opaque = {
        name: {
            path: next(iter(modes))
            for path, modes in sorted(part.opaque.items(), key=lambda item: repr(item[0]))
            if not _covered(path, keyed)
        }
        for name, part in found.items()
    }
    return Shape(safe=True, keyed=frozenset(keyed), opaque=opaque)
