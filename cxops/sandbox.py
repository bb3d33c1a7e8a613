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
- every `{% for %}` iterates through a counter, every call and every nested template
  ticks a wall-clock deadline, macro calls and nested templates (include, extends,
  import) have a depth limit;
- every join of output (a template, a macro, a block) is length-capped;
- a constant expression Jinja cannot fold at compile time without an error (an unsafe
  attribute made into text, say) is left unfolded, to fail when rendered, naming its
  file and line, like every other error.

Going past a bound raises `LimitError` naming the template file and line.
"""

from __future__ import annotations

import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import update_wrapper, wraps
from pathlib import PurePath
from types import FrameType
from typing import Any, cast

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

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
    """`value`, unless it is a string, sequence or integer past its bound."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_STRING:
            raise _limit(f"text longer than {MAX_STRING:,} characters")
    elif isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise _limit(f"list longer than {MAX_ITEMS:,} items")
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _limit(f"number larger than {MAX_INT_BITS:,} bits")
    return value


def _width(value: Any, what: str) -> None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return
    if number > MAX_STRING:
        raise _limit(f"{what} {number:,} is larger than {MAX_STRING:,}")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent_format(template: str, arguments: Any) -> None:
    """Refuse `'%1000000000s' % x` and `'%*s' % (10**9, x)` before they allocate."""
    star = False
    for match in _PERCENT_SPEC.finditer(template):
        for group in match.groups():
            if group == "*":
                star = True
            elif group:
                _width(group, "format width")
    if star:
        values = arguments if isinstance(arguments, tuple) else (arguments,)
        for value in values:
            if isinstance(value, int):
                _width(value, "format width")


def _check_brace_format(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises the same error itself
    for _literal, _name, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            for value in (*args, *kwargs.values()):
                if isinstance(value, int):
                    _width(value, "format width")
        for digits in re.findall(r"\d+", spec):
            _width(digits, "format width")


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

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        plain = [a for a in args if not isinstance(a, Context | EvalContext)]
        if name in {"center", "indent"}:
            width = plain[1] if len(plain) > 1 else kwargs.get("width")
            _width(width, f"{name} width")
            if name == "indent" and isinstance(plain[0], str) and isinstance(width, int):
                _estimate(len(plain[0]) + (plain[0].count("\n") + 1) * width)
        elif name == "tojson":
            indent = plain[1] if len(plain) > 1 else kwargs.get("indent")
            if isinstance(indent, int) and indent > MAX_JSON_INDENT:
                raise _limit(f"tojson indent {indent:,} is larger than {MAX_JSON_INDENT}")
        elif name == "format" and plain and isinstance(plain[0], str):
            check_percent_format(plain[0], tuple(plain[1:]) or tuple(kwargs.values()))
        elif name == "replace" and len(plain) >= 3:
            value, old, new = (str(p) for p in plain[:3])
            count = value.count(old) if old else len(value) + 1
            _estimate(len(value) + count * max(len(new) - len(old), 0))
        elif name == "join" and plain:
            items = list(plain[0])
            separator = str(plain[1]) if len(plain) > 1 else str(kwargs.get("d", ""))
            total = len(separator) * max(len(items) - 1, 0)
            _estimate(total + sum(len(i) for i in items if isinstance(i, str)))
            args = tuple(items if a is plain[0] else a for a in args)
        return check_size(function(*args, **kwargs))

    return bounded


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


class _Bounding(NodeTransformer):
    """`{% for x in ITER %}` iterates `ITER|_cxops_bounded_iter`; `a ~ b` is size-checked."""

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
        self.globals.pop("lipsum", None)
        for name, function in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, function)
        self.filters[_ITER_FILTER] = _bounded_iter
        self.filters[_SIZE_FILTER] = _bounded_size

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Bounding().visit(super()._parse(source, name, filename))
        return cast(nodes.Template, tree)

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
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        template: str = value.__self__
        format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            given = args[0] if format_map and args and isinstance(args[0], Mapping) else kwargs
            _check_brace_format(template, () if format_map else args, given)
            return cast(str, check_size(wrapper(*args, **kwargs)))

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
    if isinstance(sequence, str | bytes | list | tuple) and _is_int(times):
        limit = MAX_STRING if isinstance(sequence, str | bytes) else MAX_ITEMS
        if len(sequence) * times > limit:
            raise _limit(f"result longer than {limit:,} items")


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise _limit(f"exponent {exponent!r} is larger than {MAX_EXPONENT}")
    if _is_int(base) and _is_int(exponent) and exponent > 0:
        _bits(max(abs(base).bit_length() - 1, 0) * exponent)
    return base**exponent
