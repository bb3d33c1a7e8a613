"""The parts of a survey that passed their model, for the checks that need a model.

A survey file with schema errors still gets the cross-field checks on everything
else, so that `cxops validate` reports every problem of the file in one run. Each
part pydantic refused is left out (its section falls back to its default) and the
rest is validated again, until the survey builds or a part it cannot do without
(its kind, audience, invitation, or a rule of the whole survey) is refused.

A refused question becomes a stand-in with the same id and no text, and a refused
follow-up rule one that never matches, so that the positions of the others (which
locate their problems) and the answers they name stay as written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Hashable
from typing import Any

from pydantic import ValidationError

from cxops.spec.models import IDENT, Survey
from cxops.spec.yaml_marks import has_child

KeyPath = tuple[Hashable, ...]
#: (pydantic's error type, the path in the data it is about) of each error.
Locate = Callable[[ValidationError], list[tuple[str, KeyPath]]]

#: Top-level keys whose loss leaves nothing worth checking.
_ESSENTIAL = frozenset({"kind", "audience", "invitation"})
_STAND_INS = {"id": "unnamed", "name": "unnamed"}
_PLAIN_QUESTION_TYPES = frozenset({"nps", "csat", "ces", "rating", "text"})
#: Enough rounds for errors revealed by removing others; each is one model validation.
_MAX_ROUNDS = 40


def partial_survey(data: Any, locate: Locate) -> Survey | None:
    """`data` as a Survey without the parts its model refuses, or None when too little is left."""
    if not isinstance(data, dict):
        return None
    pruned = copy.deepcopy(data)
    for _ in range(_MAX_ROUNDS):
        try:
            return Survey.model_validate(pruned)
        except ValidationError as exc:
            errors = locate(exc)
        if not errors or not all(_leave_out(pruned, kind, path) for kind, path in errors):
            return None
    return None


def _leave_out(data: dict[Any, Any], kind: str, path: KeyPath) -> bool:
    """Remove (or stand in for) what `path` names; False when the survey cannot do without."""
    if not path:
        return False
    if len(path) == 1 and path[0] in _STAND_INS and kind != "extra_forbidden":
        data[path[0]] = _STAND_INS[str(path[0])]
        return True
    if len(path) == 1 and path[0] in _ESSENTIAL and kind != "extra_forbidden":
        return False
    parent = _node(data, path[:-1])
    last = path[-1]
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        return _stand_in_item(data, path, parent, last)
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    return False


def _stand_in_item(data: dict[Any, Any], path: KeyPath, items: list[Any], index: int) -> bool:
    if path[:-1] == ("questions",):
        items[index] = _question_stand_in(items[index], index)
        return True
    if path[:-1] == ("followup",):
        items[index] = {"when": "false", "task": "-", "due": "1d", "fallback": "x@left.out"}
        return True
    # Any other list goes whole: its section falls back to its default.
    return _leave_out(data, "", path[:-1])


def _question_stand_in(question: Any, index: int) -> dict[str, Any]:
    given = question if isinstance(question, dict) else {}
    question_id = given.get("id")
    if not (isinstance(question_id, str) and re.match(IDENT, question_id)):
        question_id = f"left_out_{index}"
    kind = given.get("type")
    if kind not in _PLAIN_QUESTION_TYPES:
        kind = "text"
    return {"id": question_id, "type": kind, "text": "-"}


def _node(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        if not has_child(node, part):
            return None
        node = node[part]
    return node
