"""Expressions (`filter`, `segments`, `when`) and text fields, run in Jinja's sandbox.

Expressions see `contact`, `segment`, `answers`, `category`, `survey` and the
helpers below. Durations and business days live in `cxops.durations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
)
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cxops.durations import business_days_between, parse_duration
from cxops.errors import ExpressionError
from cxops.sandbox import BoundedSandbox, LimitError

#: Names an expression may use besides the helpers.
CONTEXT_NAMES = frozenset({"contact", "segment", "answers", "category", "survey"})
HELPER_NAMES = frozenset(
    {"days_since", "hours_since", "business_days_since", "now", "today", "duration_days"}
)


#: What evaluating an expression for one contact may raise: it fails for that contact.
_RUNTIME_ERRORS = (
    TemplateRuntimeError,  # UndefinedError, SecurityError and LimitError among them
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RecursionError,
)


def _environment() -> ImmutableSandboxedEnvironment:
    env = BoundedSandbox(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    env.globals.update({"true": True, "false": False, "none": None})
    return env


_ENV = _environment()


def check_expression_syntax(source: str) -> None:
    """Raise ValueError with Jinja's message when `source` is not a valid expression,
    or when a part of it that reads no variable cannot run within the sandbox's bounds."""
    try:
        _ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid expression: {exc.message}") from None
    problem = _bounds_problem(source, expression=True)
    if problem:
        raise ValueError(problem)


def check_template_syntax(source: str) -> None:
    """Raise ValueError with Jinja's message when `source` is not a valid text template,
    or when it (reading no variable) or a part of it reading none cannot run within the
    sandbox's bounds."""
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid template text (line {exc.lineno}): {exc.message}") from None
    problem = _bounds_problem(source, expression=False)
    if problem:
        raise ValueError(problem)


#: What a constant part is made of when its source alone bounds its size: no need to run it.
_LITERALS = (nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair)


@lru_cache(maxsize=1024)
def _bounds_problem(source: str, *, expression: bool) -> str | None:
    """Why `source` cannot run within the sandbox's bounds whatever it is given, or None.

    What reads no variable gives the same result for every contact, so it runs here
    once, in the sandbox: a text template reading none is rendered whole, and every
    largest part of an expression or template reading none is evaluated (`[S] * 99999`
    with S a literal is refused at `validate`, not once per contact at `plan`).
    """
    if not expression and "{" not in source:
        return None  # plain text
    tree = _ENV.parse("{{ (" + source + ") }}" if expression else source)
    try:
        if not expression and not _outside_names(tree):
            _ENV.from_string(tree).render()
            return None
        for part in _constant_parts(tree):
            program = nodes.Template([nodes.Assign(nodes.Name("result", "store"), part)])
            program.set_lineno(part.lineno or 1)
            program.set_environment(_ENV)
            _ENV.from_string(program).render()
    except LimitError as exc:
        return f"cannot run within the sandbox's bounds: {exc}"
    except (*_RUNTIME_ERRORS, TemplateError):
        return None  # an error, not a bound: the evaluation reports it for each contact
    return None


def _constant_parts(node: nodes.Node) -> Iterator[nodes.Expr]:
    """The largest expressions under `node` that read no name, except plain literals."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Expr) and not any(child.find_all(nodes.Name)):
            if not all(isinstance(n, _LITERALS) for n in (child, *child.find_all(nodes.Node))):
                yield child
        else:
            yield from _constant_parts(child)


def _outside_names(tree: nodes.Template) -> set[str]:
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - local


@dataclass(frozen=True, slots=True)
class References:
    """What an expression or text template reads."""

    names: frozenset[str]
    #: (object, attribute) pairs such as ("contact", "seats") or ("answers", "score").
    fields: frozenset[tuple[str, str]]


def references(source: str, *, expression: bool = True) -> References:
    """The top-level names and `name.field` / `name['field']` reads in `source`."""
    tree = _ENV.parse("{{ (" + source + ") }}" if expression else source)
    local: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            local.add(node.name)
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - local
    fields: set[tuple[str, str]] = set()
    for read in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(read, nodes.Getattr | nodes.Getitem)
        target = read.node
        if not isinstance(target, nodes.Name) or target.name in local:
            continue
        if isinstance(read, nodes.Getattr):
            fields.add((target.name, read.attr))
        elif (
            isinstance(read, nodes.Getitem)
            and isinstance(read.arg, nodes.Const)
            and isinstance(read.arg.value, str)
        ):
            fields.add((target.name, read.arg.value))
    return References(frozenset(names), frozenset(fields))


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return _as_datetime(datetime.fromisoformat(value))
    raise TypeError(f"expected a date or datetime, found {value!r}")


def helpers(now: datetime, holidays: str | None = None) -> dict[str, Callable[..., Any]]:
    """The functions expressions may call, bound to the clock `now`."""

    def days_since(value: Any) -> int:
        if value is None:
            raise TypeError("days_since() of an empty value")
        return (now - _as_datetime(value)).days

    def hours_since(value: Any) -> float:
        if value is None:
            raise TypeError("hours_since() of an empty value")
        return (now - _as_datetime(value)).total_seconds() / 3600

    def business_days_since(value: Any) -> int:
        if value is None:
            raise TypeError("business_days_since() of an empty value")
        return business_days_between(_as_datetime(value), now, holidays)

    def duration_days(text: str) -> float:
        return parse_duration(text).approx_timedelta().total_seconds() / 86400

    return {
        "days_since": days_since,
        "hours_since": hours_since,
        "business_days_since": business_days_since,
        "duration_days": duration_days,
        "now": lambda: now,
        "today": lambda: now.date(),
    }


@lru_cache(maxsize=1024)
def _compiled_expression(source: str) -> Callable[..., Any]:
    try:
        return _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ExpressionError(source, f"invalid expression: {exc.message}") from None


@lru_cache(maxsize=1024)
def _compiled_template(source: str) -> Template:
    try:
        return _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(source, f"invalid template text: {exc.message}") from None


class Scope:
    """Expressions evaluated over one set of variables (one contact, say).

    jinja2's TemplateExpression builds a new context (copying the environment's
    globals) on every call. Expressions read no globals (true/false/none are
    literals) and assign only `result`, so the expressions of one scope share a
    single context built from the variables: the same values at a fraction of the
    cost per contact.
    """

    __slots__ = ("_context", "_variables")

    def __init__(self, variables: dict[str, Any]):
        self._variables = variables
        self._context: Any = None

    def evaluate(self, source: str, where: str = "") -> Any:
        """The value of expression `source`; ExpressionError when it fails.

        An undefined result (a missing field, an unsafe attribute such as
        `contact.__class__`) is an error, never a silent value.
        """
        try:
            function = _compiled_expression(source)
        except ExpressionError as exc:
            raise ExpressionError(source, str(exc).removeprefix(f"{source!r}: "), where) from None
        template = function._template  # type: ignore[attr-defined]  # Jinja's compiled expression
        if self._context is None:
            self._context = template.new_context(self._variables, shared=True)
        context = self._context
        try:
            # No budget scope: an expression has no loops or macros, so each operation's
            # own bound (checked by the sandbox) bounds the whole; text templates go
            # through `BoundedTemplate.render`, which holds one budget for the render.
            for _ in template.root_render_func(context):
                pass
            value = context.vars.pop("result")
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
            return value
        except _RUNTIME_ERRORS as exc:
            context.vars.pop("result", None)
            raise ExpressionError(source, _reason(exc), where) from None

    def test(self, source: str, where: str = "") -> bool:
        """`evaluate` as a truth value; undefined values are errors, not False."""
        value = self.evaluate(source, where)
        try:
            return bool(value)
        except _RUNTIME_ERRORS as exc:
            raise ExpressionError(source, _reason(exc), where) from None


class Evaluator:
    """Evaluates expressions and text templates with one clock and holiday calendar."""

    def __init__(self, now: datetime, holidays: str | None = None):
        self.now = now
        self.holidays = holidays
        self._helpers = helpers(now, holidays)

    def scope(self, context: Mapping[str, Any]) -> Scope:
        """A scope for evaluating several expressions over the same `context`."""
        return Scope({**self._helpers, **context})

    def evaluate(self, source: str, context: Mapping[str, Any], where: str = "") -> Any:
        """The value of expression `source` over `context` (see `Scope.evaluate`)."""
        return self.scope(context).evaluate(source, where)

    def test(self, source: str, context: Mapping[str, Any], where: str = "") -> bool:
        """`evaluate` as a truth value; undefined values are errors, not False."""
        return self.scope(context).test(source, where)

    def render(self, source: str, context: Mapping[str, Any], where: str = "") -> str:
        """Text template `source` rendered as plain text (no HTML escaping)."""
        try:
            template = _compiled_template(source)
        except ExpressionError as exc:
            raise ExpressionError(source, str(exc).removeprefix(f"{source!r}: "), where) from None
        try:
            return str(template.render(**self._helpers, **context))
        except _RUNTIME_ERRORS as exc:
            raise ExpressionError(source, _reason(exc), where) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, UndefinedError):
        return f"undefined value: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    return f"{type(exc).__name__}: {exc}"
