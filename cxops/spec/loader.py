"""Survey files into `Survey` models, every problem located at file:line:column.

`read_survey` never raises for a bad file: it returns what it could build and every
`Problem` (YAML, model and cross-field checks). `load_survey` raises `SurveyError`
with all of them. Pydantic's error locations are mapped back to the YAML marks by
walking the models alongside the data, so that discriminated-union tags in `loc`
(`'csv'`, `'nps'`) are never mistaken for keys of the data.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from inspect import isclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cxops.errors import Problem, SurveyError
from cxops.spec.checks import check_survey, duplicate_id_problems
from cxops.spec.models import Survey
from cxops.spec.partial import partial_survey
from cxops.spec.yaml_marks import (
    KeyPath,
    MarkedDocument,
    format_key_path,
    has_child,
    parse_yaml_file,
)

SURVEY_SUFFIXES = frozenset({".yaml", ".yml"})


@dataclass
class SurveyResult:
    """What one survey file gave: the model when valid, and every problem found."""

    path: Path
    document: MarkedDocument
    survey: Survey | None = None
    problems: list[Problem] = field(default_factory=list)


def read_survey(path: Path, project_dir: Path, *, checks: bool = True) -> SurveyResult:
    """Parse and validate one file; problems are returned sorted, never raised.

    `project_dir` resolves relative paths (CSV sources, templates): the project's own
    directory, never the current folder's settings. `checks=False` stops after the model
    (no files read).
    """
    path = Path(path)
    document = parse_yaml_file(path)
    result = SurveyResult(path=path, document=document, problems=list(document.problems))
    if not document.parsed:
        return result
    try:
        survey = Survey.model_validate(document.data)
    except ValidationError as exc:
        result.problems.extend(validation_problems(exc, document))
        if checks:
            # Every other problem of the file too, from the parts that passed.
            partial = partial_survey(document.data, lambda error: _error_paths(error, document))
            if partial is not None:
                partial.remember_source(path)
                result.problems.extend(check_survey(partial, document, Path(project_dir).resolve()))
    else:
        survey.remember_source(path)
        if checks:
            result.problems.extend(check_survey(survey, document, Path(project_dir).resolve()))
        if not result.problems:
            result.survey = survey
    result.problems = sort_problems(result.problems)
    return result


def load_survey(path: Path, project_dir: Path) -> Survey:
    """One survey file as a model; SurveyError listing every problem."""
    result = read_survey(path, project_dir)
    if result.survey is None:
        raise SurveyError(result.problems)
    return result.survey


def survey_files(folder: Path) -> list[Path]:
    """The survey files directly in `folder` (*.yaml, *.yml), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in SURVEY_SUFFIXES)


def load_surveys(folder: Path, project_dir: Path) -> list[Survey]:
    """Every survey in `folder`; SurveyError with the problems of all files (ids unique)."""
    results = [read_survey(path, project_dir) for path in survey_files(folder)]
    problems = [p for result in results for p in result.problems]
    problems += duplicate_id_problems([result.document for result in results])
    if problems:
        raise SurveyError(sort_problems(problems))
    return [result.survey for result in results if result.survey is not None]


def sort_problems(problems: Sequence[Problem]) -> list[Problem]:
    """By file, line, column, then message; duplicates dropped."""
    unique = {
        (str(p.location.path), p.location.line, p.location.column, p.key_path, p.message): p
        for p in problems
    }
    return [unique[key] for key in sorted(unique)]


# -- pydantic errors -> problems ----------------------------------------------------------


def validation_problems(
    exc: ValidationError, document: MarkedDocument, root: type[BaseModel] = Survey
) -> list[Problem]:
    """One located Problem per pydantic error of `root` (the survey, or another file's model)."""
    return [_error_problem(error, document, root) for error in exc.errors(include_url=False)]


def _error_paths(exc: ValidationError, document: MarkedDocument) -> list[tuple[str, KeyPath]]:
    """(error type, the path in the data it is about) of each of pydantic's errors."""
    return [
        (error["type"], _walk(tuple(error["loc"]), document.data).path)
        for error in exc.errors(include_url=False)
    ]


@dataclass
class _Walk:
    path: KeyPath
    #: The model whose mapping holds the last step (for unknown-key suggestions).
    owner: type[BaseModel] | None
    at_key: bool
    #: The discriminated union met at the end of the walk, as (tag, type) pairs.
    union: list[tuple[str | None, Any]]


def _error_problem(
    error: ErrorDetails, document: MarkedDocument, root: type[BaseModel] = Survey
) -> Problem:
    loc = tuple(error["loc"])
    walk = _walk(loc, document.data, root)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        key = loc[-1]
        problem = document.problem(
            walk.path, f"expected the required key '{key}', found it missing"
        )
        return _renamed(problem, (*walk.path, key))
    if kind == "extra_forbidden":
        return document.problem(walk.path, _unknown_key_message(walk), at_key=True)
    if kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "type")).strip("'")
        target = (*walk.path, key) if document.has((*walk.path, key)) else walk.path
        return document.problem(
            target, f"expected one of {ctx.get('expected_tags')}, found {ctx.get('tag')!r}"
        )
    if kind == "union_tag_not_found":
        key = str(ctx.get("discriminator", "type")).strip("'")
        tags = ", ".join(repr(tag) for tag, _ in walk.union if tag)
        problem = document.problem(
            walk.path, f"expected the required key '{key}' (one of {tags}), found it missing"
        )
        return _renamed(problem, (*walk.path, key))
    if not loc and document.has(("kind",)):
        # The survey's own rules are all about its kind.
        return document.problem(("kind",), _message(error), at_key=True)
    return document.problem(walk.path, _message(error), at_key=walk.at_key)


def _renamed(problem: Problem, key_path: KeyPath) -> Problem:
    """`problem` about the absent `key_path` (located at its parent)."""
    return Problem(
        problem.location, format_key_path(key_path), problem.message, problem.source_line
    )


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    found = _found(error.get("input"))
    if error["type"] == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return f"expected text matching {pattern}, found {found}"
    if error["type"] == "source_kind":
        return f"{message}, found {found}"
    rewritten = re.sub(
        r"^(Input|String|List|Dictionary|Value|Object) should (be |have )?", "", message
    )
    if rewritten != message:
        return f"expected {rewritten}, found {found}"
    return f"{message}, found {found}"


def _found(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:6])
        return f"a mapping with keys {keys}" if keys else "an empty mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key_message(walk: _Walk) -> str:
    key = str(walk.path[-1]) if walk.path else "?"
    allowed = _model_keys(walk.owner) if walk.owner else []
    message = f"unknown key '{key}'"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message}: did you mean '{close[0]}'?"
    if allowed:
        return f"{message}: expected one of {', '.join(allowed)}"
    return message


def _model_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _walk(loc: tuple[Any, ...], data: Any, root: type[BaseModel] = Survey) -> _Walk:
    """Follow pydantic's `loc` through the models and the data together."""
    walk = _Walk(path=(), owner=None, at_key=False, union=[])
    current_type: Any = root
    node = data
    for segment in loc:
        members = _members(current_type)
        if len(members) > 1:
            walk.union = members
            chosen = [tp for tag, tp in members if tag == segment]
            if chosen:
                current_type = chosen[0]
                continue
            current_type = None
        elif members:
            current_type = members[0][1]
        if segment == "[key]":
            walk.at_key = True
            continue
        next_type = _child_type(current_type, segment)
        if isclass(current_type) and issubclass(current_type, BaseModel):
            walk.owner = current_type
        if has_child(node, segment):
            node = node[segment]
        else:
            current_type = next_type
            continue
        walk.path = (*walk.path, segment)
        walk.union = []
        current_type = next_type
    members = _members(current_type)
    if len(members) > 1:
        walk.union = members
    return walk


def _members(tp: Any) -> list[tuple[str | None, Any]]:
    """The (tag, type) alternatives of `tp`: one for a plain type, several for a union."""
    if tp is None:
        return []
    tag = None
    while typing.get_origin(tp) is typing.Annotated:
        for meta in tp.__metadata__:
            if type(meta).__name__ == "Tag":
                tag = meta.tag
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        out: list[tuple[str | None, Any]] = []
        for arg in typing.get_args(tp):
            if arg is not type(None):
                out.extend(_members(arg))
        return out
    return [(tag or _literal_tag(tp), tp)]


def _literal_tag(tp: Any) -> str | None:
    if isclass(tp) and issubclass(tp, BaseModel) and "type" in tp.model_fields:
        annotation = tp.model_fields["type"].annotation
        if typing.get_origin(annotation) is typing.Literal:
            return str(typing.get_args(annotation)[0])
    return None


def _child_type(tp: Any, segment: Hashable) -> Any:
    if isclass(tp) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if segment in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(tp)
    if origin is list:
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None
