"""Jinja's immutable sandbox, bounded in time, size, memory and recursion.

Over 400 lines on purpose: one environment class and the bounds it enforces, which
only make sense together (each bound closes a hole the others leave open).

Every expression (`filter`, `segments`, `when`), text field and template file runs in
a `BoundedSandbox`. Jinja's own sandbox keeps templates away from Python internals
(`__class__`, `__globals__`, …) but lets them build a gigabyte string or loop for
ever. Here:

- `*`, `**`, `%`, `+` are intercepted (which also stops Jinja from folding them at
  compile time), string methods and filters that grow a string are checked before they
  run, and every string or sequence built is checked after;
- every value built (by an operator, a filter, a call, or a list, tuple or dict literal
  holding names) is measured as the length of its printed form, shared items counted
  each time they appear (`value_size`, linear in the distinct objects): `[S] * 99999`
  holds one list 99,999 times, and printing, comparing, hashing or serialising it
  would walk every copy in C, past any deadline. Repetition is measured before it
  builds; `sum` of lists adds in one pass; `str.format` checks each field's width
  after its nested fields are filled in; `tojson` is streamed and cut off;
- every `{% for %}` iterates through a counter, every call and every nested template
  ticks a wall-clock deadline, macro calls and nested templates (include, extends,
  import) have a depth limit;
- every join of output (a template, a macro, a block) is length-capped;
- a constant expression Jinja cannot fold at compile time without an error (an unsafe
  attribute made into text, say) is left unfolded, to fail when rendered, naming its
  file and line, like every other error.

Going past a bound raises `LimitError` naming the template file and line.
`cxops.expr` runs at validate time what reads no variable, so what can never run
within these bounds is refused there.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from functools import update_wrapper, wraps
from itertools import chain
from pathlib import PurePath
from types import FrameType
from typing import Any, cast

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.environment import Environment, Template
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace, pass_context, pass_environment
from jinja2.visitor import NodeTransformer
from markupsafe import EscapeFormatter, Markup

#: The longest string one operation may build (characters), and the largest output.
MAX_STRING = 1_000_000
#: The longest list or tuple `*` or `+` may build.
MAX_ITEMS = 100_000
#: The largest integer an operation may build, in bits (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
#: The largest exponent of `**`.
MAX_EXPONENT = 1_000
#: Loop iterations in one evaluation or render.
MAX_ITERATIONS = 1_000_000
#: Nested macro calls, and nested templates (include / extends / import).
MAX_DEPTH = 40
#: The largest indent of `tojson` (each nested line repeats it).
MAX_JSON_INDENT = 100
#: The largest value (list, tuple, dict, set, nested or sharing items) any operation may
#: build, as the length of its printed form: `[S] * 99999` holds one list 99,999 times,
#: and printing, comparing, hashing or serialising it walks every copy.
MAX_VALUE_SIZE = 2 * MAX_STRING
#: The printed size of the values one render's size cache keeps alive.
MAX_CACHED_SIZE = 2 * MAX_VALUE_SIZE
#: The largest value `pprint` formats (it walks the value in Python, not in C).
MAX_PPRINT_SIZE = MAX_STRING // 10
#: A word `wordwrap` breaks is copied once per piece: its length squared over the width.
MAX_WRAP_COPIES = 10**9
#: Wall-clock seconds one evaluation or render may take.
DEADLINE_SECONDS = 10.0

_ITER_FILTER = "_cxops_bounded_iter"
_SIZE_FILTER = "_cxops_bounded_size"


class LimitError(SecurityError):
    """An expression or template went past a bound (size, time, depth)."""


@dataclass(slots=True)
class Budget:
    """What one evaluation or render may still spend."""

    deadline: float
    iterations: int = 0
    depth: int = 0
    #: Sizes of the values this render measured (by id, the value held so the id stays
    #: its own): a loop nesting `[x]` in `x` measures only the new level each time.
    sizes: dict[int, tuple[Any, int]] = field(default_factory=dict)
    #: The printed size the cache holds alive, up to MAX_CACHED_SIZE.
    cached: int = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _limit(f"took longer than {DEADLINE_SECONDS:g} s")


_BUDGET: ContextVar[Budget | None] = ContextVar("cxops_sandbox_budget", default=None)


def _budget() -> Budget:
    """The budget of the evaluation running now (a fresh one outside any)."""
    return _BUDGET.get() or Budget(time.monotonic() + DEADLINE_SECONDS)


class budget_scope:
    """Start a budget for one evaluation unless one is already running (nested renders)."""

    __slots__ = ("_token",)

    def __enter__(self) -> Budget:
        current = _BUDGET.get()
        if current is not None:
            self._token = None
            return current
        budget = Budget(time.monotonic() + DEADLINE_SECONDS)
        self._token = _BUDGET.set(budget)
        return budget

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _BUDGET.reset(self._token)


# -- where: the template file and line running now --------------------------------------


def template_location(frame: FrameType | None = None) -> str:
    """`template 'x.html.j2' line 3` of the innermost template file on the stack, or ''.

    Inline texts (expressions, a survey's text fields) have no file: their callers
    name the field.
    """
    frame = frame or sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if isinstance(template, Template) and template.name:
            line = template.get_corresponding_lineno(frame.f_lineno)
            return f"template {template.name!r} line {line}"
        frame = frame.f_back
    return ""


def error_location(exc: BaseException) -> str:
    """`template 'x.html.j2' line 3` where a rendering error was raised, or ''.

    Jinja rewrites the traceback of an error raised in template code into frames
    at the template's own file and line; the innermost such frame is the place.
    """
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        # Inline texts ("<template>") have no file: their callers name the field.
        if "__jinja_exception__" in tb.tb_frame.f_globals and not filename.startswith("<"):
            found = f"template {PurePath(filename).name!r} line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _limit(reason: str) -> LimitError:
    where = template_location(sys._getframe(1))
    return LimitError(f"{where}: {reason}" if where else reason)


def _template_depth() -> int:
    frame: FrameType | None = sys._getframe(1)
    depth = 0
    while frame is not None:
        if frame.f_code.co_name == "root" and "__jinja_template__" in frame.f_globals:
            depth += 1
        frame = frame.f_back
    return depth


# -- size checks ------------------------------------------------------------------------


def check_size(value: Any) -> Any:
    """`value`, unless it is a string, sequence, integer or nested value past its bound."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_STRING:
            raise _limit(f"text longer than {MAX_STRING:,} characters")
    elif isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise _limit(f"number larger than {MAX_INT_BITS:,} bits")
    elif type(value) in _ATOMS:
        pass
    else:
        if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
            raise _limit(f"list longer than {MAX_ITEMS:,} items")
        value_size(value, MAX_VALUE_SIZE)
    return value


# -- value sizes: what printing, comparing or hashing a value walks --------------------

#: Values printed in at most about 24 characters, whatever they hold.
_ATOMS = frozenset({float, bool, type(None), complex, date, datetime, clock_time, Decimal})
_ATOM_SIZE = 24
_CONTAINERS = (list, tuple, set, frozenset, Mapping, MappingView, Namespace)
_PLAIN = _ATOMS | {str, bytes, int, Markup}
#: Printed length of an item beside its own: the separator `, ` (or a dict's `: `).
_SEPARATOR = 2


def value_size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """About the length of `value` printed (`str`, `repr`, JSON), every shared item
    counted each time it appears; LimitError as soon as it passes `limit`.

    Linear in the distinct objects: a shared item is measured once (by id; the value
    holds them all alive meanwhile), so `[S] * 99999` costs S once, not 99,999 times.
    An object that is not a container counts its attributes (`__dict__`).
    """
    if not _is_nested(value):
        return _atom_size(value, limit)
    budget = _BUDGET.get()
    sizes: dict[int, int] = {}
    expanding: set[int] = set()
    # A node's items, read once, stay referenced until the end: no id is reused
    # meanwhile (an items view makes new tuples each time it is read).
    stack: list[tuple[Any, list[Any] | None]] = [(value, None)]
    read: list[list[Any]] = []
    while stack:
        node, measured_items = stack.pop()
        key = id(node)
        if measured_items is not None:
            total = 2 + _SEPARATOR * len(measured_items)
            for item in measured_items:
                # an item still being measured is a cycle: printed as `[...]`
                total += sizes.get(id(item), 5) if _is_nested(item) else _atom_size(item, limit)
            sizes[key] = _within(total, limit)
            if budget is not None and type(node) in _IMMUTABLE_HERE:
                _remember(budget, node, total)
            continue
        if key in sizes or key in expanding:
            continue  # measured, or met again through a cycle
        known = budget.sizes.get(key) if budget is not None else None
        if known is not None and known[0] is node:
            sizes[key] = _within(known[1], limit)
            continue
        items = _items_of(node)
        read.append(items)
        flat = _flat_size(items, limit)
        if flat is not None:
            sizes[key] = flat
            continue
        expanding.add(key)
        stack.append((node, items))
        stack.extend(
            (item, None)
            for item in items
            if _is_nested(item) and id(item) not in sizes and id(item) not in expanding
        )
    return sizes[id(value)]


#: Containers a template cannot change (the sandbox refuses `append`, `update`, …);
#: a namespace's attributes are set by `{% set ns.x %}`.
_IMMUTABLE_HERE = frozenset({list, tuple, dict, set, frozenset})


def _remember(budget: Budget, node: Any, size: int) -> None:
    if budget.cached + size <= MAX_CACHED_SIZE:
        budget.sizes[id(node)] = (node, size)
        budget.cached += size


def _is_nested(value: Any) -> bool:
    if type(value) in _PLAIN:
        return False  # the common case first: this runs on every value printed
    if isinstance(value, _CONTAINERS):
        return True
    if isinstance(value, str | bytes | int) or callable(value):
        return False
    return hasattr(value, "__dict__")


def _items_of(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [*value.keys(), *value.values()]
    if isinstance(value, Namespace):
        return list(value._Namespace__attrs.values())
    if isinstance(value, list | tuple | set | frozenset | MappingView):
        return list(cast(Iterable[Any], value))
    return list(vars(value).values())


def _flat_size(items: list[Any], limit: int) -> int | None:
    """The printed size of a container of `items` when none is nested (else None),
    summed in C for the common shapes: all text, all integers, all short atoms."""
    kinds = set(map(type, items))
    count = len(items)
    if kinds <= {str}:
        total = 2 + (2 + _SEPARATOR) * count + sum(map(len, items))
    elif kinds <= {int}:
        total = 2 + (1 + _SEPARATOR) * count + sum(map(int.bit_length, items)) * 3 // 10
    elif kinds <= _ATOMS:
        total = 2 + (_ATOM_SIZE + _SEPARATOR) * count
    elif not any(_is_nested(item) for item in items):
        total = 2 + _SEPARATOR * count + sum(_atom_size(item, limit) for item in items)
    else:
        return None
    return _within(total, limit)


def _atom_size(value: Any, limit: int) -> int:
    if isinstance(value, str | bytes):
        return _within(len(value) + 2, limit)
    if isinstance(value, int):
        return _within(value.bit_length() * 3 // 10 + 1, limit)
    return _ATOM_SIZE


def _within(size: int, limit: int) -> int:
    if size > limit:
        raise _limit(f"value larger than {limit:,} characters printed")
    return size


def _width(value: Any, what: str) -> None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return
    if number > MAX_STRING:
        raise _limit(f"{what} {number:,} is larger than {MAX_STRING:,}")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent_format(template: str, arguments: Any) -> None:
    """Refuse `'%1000000000s' % x`, `'%*s' % (10**9, x)` and many wide fields whose sum
    is too long (`'%999999s' * 100`) before they allocate."""
    values = arguments if isinstance(arguments, tuple) else (arguments,)
    stars = iter(value for value in values if isinstance(value, int))
    total = len(template)
    for match in _PERCENT_SPEC.finditer(template):
        widest = 0
        for group in match.groups():
            if group == "*":
                group = next(stars, 0)
            if group:
                _width(group, "format width")
                widest = max(widest, int(group))
        total += widest
    _estimate(total)


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` in the sandbox, each field's width and precision checked after the
    nested fields of its spec are filled in (`'{:{}}'.format('a', '900000000')`), and
    the fields' total kept under the bound before each is formatted."""

    def __init__(self, env: Environment, template: str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._total = len(template)

    def format_field(self, value: Any, format_spec: str) -> Any:
        for digits in re.findall(r"\d+", format_spec):
            _width(digits, "format width")
            _estimate(self._total + int(digits))
        text = check_size(super().format_field(value, format_spec))
        self._total += len(text)
        _estimate(self._total)
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


def _check_str_method(
    method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Check a call of a growing str/bytes method before it runs; the args to call with."""
    name = getattr(method, "__name__", "")
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    if name in {"ljust", "rjust", "center", "zfill"} and args:
        _width(args[0], f"{name}() width")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            _estimate(len(owner) + tabs * size)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            count = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            _estimate(len(owner) + count * max(len(new) - len(old), 0))
    elif name == "join" and args:
        items = list(args[0])
        total = len(owner) * max(len(items) - 1, 0)
        total += sum(len(item) for item in items if isinstance(item, str | bytes))
        _estimate(total)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1)
        _estimate(len(owner) * longest)
    return args


def _estimate(length: int) -> None:
    if length > MAX_STRING:
        raise _limit(f"text longer than {MAX_STRING:,} characters")


# -- filters ----------------------------------------------------------------------------


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` with its growing arguments checked before and its result after."""
    if name == "sum":
        function = _linear_sum

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        plain = [a for a in args if not isinstance(a, Context | EvalContext | Environment)]
        checked = _check_filter_arguments(name, plain, kwargs)
        if checked is not None:  # an iterable argument, read once into a list
            args = tuple(checked if a is plain[0] else a for a in args)
        return check_size(function(*args, **kwargs))

    return bounded


def _argument(plain: list[Any], kwargs: Mapping[str, Any], index: int, key: str) -> Any:
    return plain[index] if len(plain) > index else kwargs.get(key)


def _check_filter_arguments(
    name: str, plain: list[Any], kwargs: Mapping[str, Any]
) -> list[Any] | None:
    """Refuse a filter call whose result or work would pass a bound; the first argument
    as a list when it had to be read to tell."""
    value = plain[0] if plain else None
    if name in {"center", "indent"}:
        width = _argument(plain, kwargs, 1, "width")
        _width(width, f"{name} width")
        if name == "indent" and isinstance(value, str) and isinstance(width, int):
            _estimate(len(value) + (value.count("\n") + 1) * width)
    elif name == "tojson":
        indent = _argument(plain, kwargs, 1, "indent")
        if isinstance(indent, int) and indent > MAX_JSON_INDENT:
            raise _limit(f"tojson indent {indent:,} is larger than {MAX_JSON_INDENT}")
    elif name == "format" and isinstance(value, str):
        check_percent_format(value, tuple(plain[1:]) or tuple(kwargs.values()))
    elif name == "replace" and len(plain) >= 3:
        text, old, new = (str(p) for p in plain[:3])
        count = text.count(old) if old else len(text) + 1
        _estimate(len(text) + count * max(len(new) - len(old), 0))
    elif name == "join" and plain:
        items = list(cast(Iterable[Any], value))
        separator = str(_argument(plain, kwargs, 1, "d") or "")
        total = len(separator) * max(len(items) - 1, 0)
        _estimate(total + sum(_printed(item) for item in items))
        return items
    elif name in {"string", "pprint"} and _is_nested(value):
        _within(value_size(value), MAX_STRING if name == "string" else MAX_PPRINT_SIZE)
    elif name in {"slice", "batch"}:
        count = _argument(plain, kwargs, 1, "slices" if name == "slice" else "linecount")
        if _is_int(count) and count > MAX_ITEMS:
            raise _limit(f"{name} into more than {MAX_ITEMS:,}")
    elif name == "wordwrap" and isinstance(value, str):
        width = _argument(plain, kwargs, 1, "width") or 79
        longest = max(map(len, value.split()), default=0)
        if _is_int(width) and width > 0 and longest * longest // width > MAX_WRAP_COPIES:
            raise _limit(f"wordwrap would cut a word of {longest:,} characters {width} wide")
    return None


def _printed(item: Any) -> int:
    """How long `item` is as text (a join, an output)."""
    return len(item) if isinstance(item, str) else value_size(item)


@pass_environment
def _linear_sum(
    environment: Environment, iterable: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    """Jinja's `sum`, adding lists and tuples in one pass: `sum(..., start=[])` copies
    the growing list once per item (quadratic), and checks nothing until the end."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    if not isinstance(start, list | tuple):
        return sum(iterable, start)
    parts = [start, *iterable]
    for part in parts:
        if type(part) is not type(start):
            raise TypeError(
                f"can only concatenate {type(start).__name__} "
                f"(not {type(part).__name__!r}) to {type(start).__name__}"
            )
    _items(sum(map(len, parts)))
    _within(sum(value_size(part) for part in parts), MAX_VALUE_SIZE)
    return type(start)(chain.from_iterable(parts))


def _bounded_json_dumps(value: Any, **options: Any) -> str:
    """`json.dumps` for `tojson`, streamed and cut off at the output bound: indenting a
    nested value repeats the indent on every line, beyond what its own size says."""
    budget = _budget()
    total = 0
    chunks = []
    for count, chunk in enumerate(json.JSONEncoder(**options).iterencode(value), start=1):
        total += len(chunk)
        if total > MAX_STRING:
            raise _limit(f"tojson longer than {MAX_STRING:,} characters")
        if count % 4096 == 0:
            budget.tick()
        chunks.append(chunk)
    return "".join(chunks)


def _finalize(value: Any) -> Any:
    """What `{{ value }}` prints, refused before printing when too long."""
    if _is_nested(value):
        _within(value_size(value), MAX_STRING)
    return value


@pass_context
def _bounded_iter(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: counts iterations and ticks the deadline."""
    budget = _budget()
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > MAX_ITERATIONS:
            raise _limit(f"loops ran more than {MAX_ITERATIONS:,} times")
        budget.tick()
        yield item


def _bounded_concat(parts: Iterable[str]) -> str:
    """`"".join` for output: a template, a macro or a block; length-capped."""
    total = 0
    chunks = []
    for part in parts:
        total += len(part)
        if total > MAX_STRING:
            reason = f"output longer than {MAX_STRING:,} characters"
            where = template_location(getattr(parts, "gi_frame", None) or sys._getframe())
            raise LimitError(f"{where}: {reason}" if where else reason)
        chunks.append(part)
    return "".join(chunks)


@pass_context
def _bounded_size(context: Context, value: Any) -> Any:
    """What every `a ~ b` passes through: the concatenation, unless it is too long."""
    _budget().tick()
    return check_size(value)


#: Nodes of a literal whose size its source text bounds.
_LITERAL_NODES = (nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair)


class _Bounding(NodeTransformer):
    """`{% for x in ITER %}` iterates `ITER|_cxops_bounded_iter`; `a ~ b` is size-checked,
    and so is a list, tuple or dict literal holding names or operations (`[S, S]`:
    nested, each doubles what printing or comparing it walks)."""

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        if node.name in {_ITER_FILTER, _SIZE_FILTER}:
            return node  # bounded already: a tree made of parsed parts
        self.generic_visit(node)
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._literal(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._literal(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._literal(node)

    def _literal(self, node: nodes.List | nodes.Tuple | nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load" or all(
            isinstance(child, _LITERAL_NODES) for child in node.find_all(nodes.Node)
        ):
            return node
        return nodes.Filter(node, _SIZE_FILTER, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _ITER_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, _SIZE_FILTER, [], [], None, None, lineno=node.lineno)


class _FoldingWhatCan(Optimizer):
    """Jinja's constant folding, minus the folds that raise: `(1).__class__ ~ 'x'`
    raised SecurityError while compiling, a traceback with no file or line."""

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> nodes.Node:
        try:
            return super().generic_visit(node, *args, **kwargs)
        except Exception:  # whatever folding raised: the render raises it again, placed
            return node


class _Generator(CodeGenerator):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.optimizer is not None:
            self.optimizer = _FoldingWhatCan(self.environment)


class BoundedTemplate(Template):
    """A template whose render runs within one budget (shared by nested renders)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with budget_scope():
            try:
                return super().render(*args, **kwargs)
            except RecursionError:
                raise LimitError(f"template {self.name!r}: recursion too deep") from None


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every evaluation bounded (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    template_class = BoundedTemplate
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.concat = _bounded_concat  # type: ignore[method-assign]
        self.finalize = self.finalize or _finalize
        self.policies["json.dumps_function"] = _bounded_json_dumps
        self.globals.pop("lipsum", None)
        for name, function in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, function)
        self.filters[_ITER_FILTER] = _bounded_iter
        self.filters[_SIZE_FILTER] = _bounded_size

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Bounding().visit(super()._parse(source, name, filename))
        return cast(nodes.Template, tree)

    def compile(self, source: Any, *args: Any, **kwargs: Any) -> Any:
        """Compile text (bounded by `_parse`) or a syntax tree, bounded here: Jinja's
        `compile_expression` builds its tree without `_parse`."""
        if isinstance(source, nodes.Template):
            source = _Bounding().visit(source)
        return super().compile(source, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        if operator == "**":
            return check_size(_power(left, right))
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            if _is_int(left) and _is_int(right):
                _bits(left.bit_length() + right.bit_length())
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left, right)
        elif operator == "+" and isinstance(left, str | list | tuple) and type(left) is type(right):
            length = len(left) + len(right)
            _estimate(length) if isinstance(left, str) else _items(length)
        return check_size(self.binop_table[operator](left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if isinstance(__obj, Macro):
            if budget.depth >= MAX_DEPTH:
                raise _limit(f"macros call each other more than {MAX_DEPTH} deep")
            budget.depth += 1
            try:
                return super().call(__context, __obj, *args, **kwargs)
            except RecursionError:
                raise _limit("recursion too deep") from None
            finally:
                budget.depth -= 1
        args = _check_str_method(__obj, args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is None:
            return None
        template: str = value.__self__
        format_map = value.__name__ == "format_map"
        kind = type(template)

        def bounded(*args: Any, **kwargs: Any) -> str:
            _budget().tick()
            if format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                kwargs = args[0]
                args = ()
            formatter = (
                _BoundedEscapeFormatter(self, template, escape=template.escape)
                if isinstance(template, Markup)
                else _BoundedFormatter(self, template)
            )
            return kind(check_size(formatter.vformat(template, args, kwargs)))

        return update_wrapper(bounded, value)

    def _load_template(self, name: str, globals: Any) -> Template:
        _budget().tick()
        if _template_depth() >= MAX_DEPTH:
            raise _limit(
                f"templates include, extend or import each other more than {MAX_DEPTH} deep"
            )
        return super()._load_template(name, globals)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise _limit(f"number larger than {MAX_INT_BITS:,} bits")


def _items(length: int) -> None:
    if length > MAX_ITEMS:
        raise _limit(f"list longer than {MAX_ITEMS:,} items")


def _check_repeat(sequence: Any, times: Any) -> None:
    """Refuse `seq * n` whose result would pass a bound, before it is built: its length,
    and for a list or tuple its size, which counts each repeated item's whole size."""
    if isinstance(sequence, str | bytes | list | tuple) and _is_int(times):
        limit = MAX_STRING if isinstance(sequence, str | bytes) else MAX_ITEMS
        if len(sequence) * times > limit:
            raise _limit(f"result longer than {limit:,} items")
        if isinstance(sequence, list | tuple) and times > 1:
            _within(value_size(sequence) * times, MAX_VALUE_SIZE)


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise _limit(f"exponent {exponent!r} is larger than {MAX_EXPONENT}")
    if _is_int(base) and _is_int(exponent) and exponent > 0:
        _bits(max(abs(base).bit_length() - 1, 0) * exponent)
    return base**exponent
