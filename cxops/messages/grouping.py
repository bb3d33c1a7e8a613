"""The grouping optimiser: which recipients can share one rendering, and their markers.

Recipients whose messages differ only in values the templates output whole share a
rendering: those values become markers in it, and each recipient carries marker ->
value substitutions (see `cxops.messages.shapes` for the analysis of a template set).
`InvitationRenderer.render_groups` uses these functions; `render_one` is the reference
each group must reproduce.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import escape

from cxops.messages.env import one_line
from cxops.messages.shapes import HTML, RAW, Shape
from cxops.messages.values import Path, freeze, lookup, replaced

_SUBSTITUTE = ("\0substitute",)
_MISSING = object()
#: A memo of `freeze` by identity: id -> (value, frozen value).
FreezeMemo = dict[int, tuple[Any, Any]]


def shared_roots(contexts: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """The context entries that are one and the same object in every context."""
    first = contexts[0]
    return frozenset(
        name
        for name, value in first.items()
        if all(context.get(name, _MISSING) is value for context in contexts)
    )


def live_paths(shape: Shape, shared: frozenset[str]) -> tuple[list[Path], list[Path]]:
    """The keyed and opaque paths of `shape` that are not under a shared root."""
    return (
        [path for path in shape.keyed_paths if path[0] not in shared],
        [path for path in shape.opaque_paths if path[0] not in shared],
    )


def group_key(
    env: jinja2.Environment,
    shape: Shape,
    context: Mapping[str, Any],
    frozen: FreezeMemo | None = None,
    live: tuple[list[Path], list[Path]] | None = None,
) -> tuple[tuple[Any, ...], dict[Path, Any]]:
    """(what must be equal to share a rendering, the values that can be substituted).

    `frozen` memoizes `freeze` of containers by identity; the caller must not let the
    containers change while it uses the memo. `live` limits the keyed and opaque paths
    looked at (the others hold one value for everyone). Raises `Unfreezable`.
    """
    keyed_paths, opaque_paths = live or (shape.keyed_paths, shape.opaque_paths)
    steps = shape.steps
    parts: list[Any] = []
    for path in keyed_paths:
        value, _ = lookup(env, context, path, steps[path])
        parts.append(_freeze(value, frozen))
    in_subject = shape.opaque.get("subject", {})
    values: dict[Path, Any] = {}
    for path in opaque_paths:
        value, plain = lookup(env, context, path, steps[path])
        if not plain or (path in in_subject and not _subject_safe(value)):
            parts.append(_freeze(value, frozen))
        else:
            parts.append(_SUBSTITUTE)
            values[path] = value
    return tuple(parts), values


@dataclass(frozen=True, slots=True)
class SharedRendering:
    """One rendering for a group: per-part contexts with markers, and what replaces them."""

    prefix: str
    #: The context to render each template part with.
    contexts: dict[str, Mapping[str, Any]]
    #: Per varying path: each member's printed texts, its html and its raw marker.
    plan: list[tuple[list[tuple[str, ...]], str | None, str | None]]

    def substitutions(self, position: int) -> dict[str, str]:
        """Marker -> text for the member at `position` (in the order given to `share`)."""
        # The printed texts are in sorted mode order: (escaped, raw), (escaped,) or (raw,),
        # so the escaped text is the first and the raw text the last.
        substitutions: dict[str, str] = {}
        for printed, html_marker, raw_marker in self.plan:
            texts = printed[position]
            if html_marker is not None:
                substitutions[html_marker] = texts[0]
            if raw_marker is not None:
                substitutions[raw_marker] = texts[-1]
        return substitutions

    def intact(self, rendered: Sequence[str]) -> bool:
        """True when the prefix occurs in the shared rendering only as whole markers."""
        pattern = re.compile(re.escape(self.prefix) + r"[ht]\d+%")
        return all(text.count(self.prefix) == len(pattern.findall(text)) for text in rendered)


def share(
    shape: Shape,
    first_context: Mapping[str, Any],
    values: Sequence[Mapping[Path, Any]],
    parts: Iterable[str],
) -> SharedRendering | None:
    """How the members with substitutable `values` share a rendering (in order); None
    when every value prints alike (the first context renders for all)."""
    first_values = values[0]
    # path, its modes, and each member's printed value (in `values` order).
    varying: list[tuple[Path, tuple[str, ...], list[tuple[str, ...]]]] = []
    for path, first_value in first_values.items():
        modes = _in_order(shape.modes[path])
        if _all_print_alike(path, first_value, modes, values):
            continue
        varying.append((path, modes, [_printed(own[path], modes) for own in values]))
    if not varying:
        return None
    prefix = _marker_prefix(
        text for _, _, printed in varying for texts in printed for text in texts
    )
    markers = {
        HTML: [f"{prefix}h{i}%" for i in range(len(varying))],
        RAW: [f"{prefix}t{i}%" for i in range(len(varying))],
    }
    contexts: dict[str, Mapping[str, Any]] = {}
    for part in parts:
        context = first_context
        for index, (path, _, _) in enumerate(varying):
            mode = shape.opaque.get(part, {}).get(path)
            if mode is not None:
                context = replaced(context, path, markers[mode][index])
        contexts[part] = context
    plan = [
        (
            printed,
            markers[HTML][index] if HTML in modes else None,
            markers[RAW][index] if RAW in modes else None,
        )
        for index, (_, modes, printed) in enumerate(varying)
    ]
    return SharedRendering(prefix, contexts, plan)


def _freeze(value: Any, memo: FreezeMemo | None) -> Any:
    """`freeze(value)`, memoized by identity for lists, tuples and dicts."""
    kind = type(value)
    if kind is str:
        return value
    if memo is None or not (kind is list or kind is tuple or kind is dict):
        return freeze(value)
    known = memo.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    result = freeze(value)
    memo[id(value)] = (value, result)  # holding `value` keeps its id from being reused
    return result


def _all_print_alike(
    path: Path, first: Any, modes: tuple[str, ...], values: Sequence[Mapping[Path, Any]]
) -> bool:
    """True when every member's value at `path` prints as the first member's does."""
    printed = _printed(first, modes)
    first_is_str = type(first) is str
    for own in values:
        value = own[path]
        # The same object, or an equal plain str, prints the same: no need to print it.
        if value is first or (first_is_str and type(value) is str and value == first):
            continue
        if _printed(value, modes) != printed:
            return False
    return True


def _subject_safe(value: Any) -> bool:
    """True when one-lining the subject commutes with substituting this value."""
    text = str(value)
    return bool(text) and one_line(text) == text


def _in_order(modes: frozenset[str] | set[str]) -> tuple[str, ...]:
    """Modes in the order `_printed` prints them: (html, raw), (html,) or (raw,)."""
    return tuple(sorted(modes))


def _printed(value: Any, modes: tuple[str, ...]) -> tuple[str, ...]:
    """The value as Jinja prints it, escaped (html) and raw, for `modes` (`_in_order`)."""
    text = value if type(value) is str else str(value)
    if len(modes) == 1:
        return (str(escape(value)),) if modes[0] == HTML else (text,)
    return tuple(str(escape(value)) if mode == HTML else text for mode in modes)


def _marker_prefix(texts: Iterable[str]) -> str:
    """A random marker prefix that none of the substituted values contains."""
    # The prefix has no NUL: it is in one of the values exactly when it is in their join.
    joined = "\0".join(texts)
    while True:
        prefix = "%cx" + secrets.token_hex(4)
        if prefix not in joined:
            return prefix
