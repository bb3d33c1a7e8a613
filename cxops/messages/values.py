"""Values in a template context: looked up as Jinja does, replaced, frozen for comparison.

`lookup` follows a path (contact.name, links['answer']) through a context the way a
template reads it; `replaced` swaps one value for a marker without copying the rest;
`freeze` turns a value into something hashable that tells apart what prints differently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Environment
from jinja2.runtime import Undefined

#: ("." or "[]", attribute or key) — one step of a path like contact.name or links['answer'].
Step = tuple[str, str | int]
#: (root name, step, step, ...)
Path = tuple[Any, ...]


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()


def resolve(env: Environment, context: Mapping[str, Any], path: Path) -> Any:
    """The value a template reads at `path`, looked up as Jinja does; UNDEFINED if none."""
    if path[0] not in context:
        return UNDEFINED
    value = context[path[0]]
    for kind, key in path[1:]:
        value = env.getattr(value, key) if kind == "." else env.getitem(value, key)
        if isinstance(value, Undefined):
            return UNDEFINED
    return value


#: (key, may be read as a dict entry) for each step of a path; see `plain_steps`.
Steps = tuple[tuple[Any, bool], ...]


def plain_steps(path: Path) -> Steps:
    """The steps of `path` as `lookup` walks them.

    A `.key` step never reads a dict entry when dicts have an attribute of that
    name (`contact.items` is `dict.items`): Jinja's getattr finds the attribute first.
    """
    return tuple((key, not (kind == "." and hasattr({}, key))) for kind, key in path[1:])


def lookup(
    env: Environment, context: Mapping[str, Any], path: Path, steps: Steps | None = None
) -> tuple[Any, bool]:
    """`(resolve(env, context, path), substitutable(context, path))` in one walk.

    The flag is False whenever the value is UNDEFINED. Plain dict entries (the
    common case) are read directly, which is what Jinja's lookups do for them;
    anything else is left to `resolve`. `steps` is `plain_steps(path)`, if known.
    """
    root = path[0]
    if root not in context:
        return UNDEFINED, False
    value = context[root]
    for key, plain in plain_steps(path) if steps is None else steps:
        if plain and type(value) is dict and key in value:
            value = value[key]
            if isinstance(value, Undefined):
                return UNDEFINED, False
        else:
            return resolve(env, context, path), False
    return value, True


def substitutable(context: Mapping[str, Any], path: Path) -> bool:
    """True when `path` reads plain dict entries all the way, so a copy can replace it."""
    if path[0] not in context:
        return False
    value: Any = context[path[0]]
    for kind, key in path[1:]:
        if type(value) is not dict or key not in value:
            return False
        if kind == "." and hasattr(value, key):  # contact.items is dict.items, not an entry
            return False
        value = value[key]
    return True


def replaced(context: Mapping[str, Any], path: Path, new: Any) -> dict[str, Any]:
    """A copy of `context` with `path` set to `new` (dicts copied along the path only)."""
    result = dict(context)
    if len(path) == 1:
        result[path[0]] = new
        return result
    container = result[path[0]] = dict(result[path[0]])
    for _, key in path[1:-1]:
        container[key] = dict(container[key])
        container = container[key]
    container[path[-1][1]] = new
    return result


class Unfreezable(Exception):
    """A value whose equality does not prove equal rendering."""


_SCALARS = (
    type(None),
    bool,
    int,
    float,
    Decimal,
    dt.date,
    dt.datetime,
    dt.time,
    dt.timedelta,
)


def freeze(value: Any) -> Any:
    """A hashable stand-in: equal results mean a template cannot tell the values apart."""
    kind = type(value)
    if kind is str:
        return value
    if value is UNDEFINED:
        return ("undefined",)
    if kind in _SCALARS:
        # repr tells 1 from True, 0.0 from -0.0, and time zones of equal instants apart.
        return (kind, repr(value))
    if kind is list or kind is tuple:
        return (kind, tuple(freeze(item) for item in value))
    if kind is dict:
        return (kind, tuple((freeze(k), freeze(v)) for k, v in value.items()))
    owner = getattr(value, "__self__", None)
    if owner is not None and type(value).__name__ == "builtin_function_or_method":
        return ("method", freeze(owner), value.__name__)
    raise Unfreezable(kind.__name__)
