"""Reading `policy.yaml`: the survey loader's YAML marks, so every problem has file:line:column.

`read_policy` never raises for a bad file (it returns every problem, as
`cxops validate` prints them); `load_policy` raises `SurveyError` with all of them
and returns None when the project has no policy file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from cxops.errors import Problem, SurveyError
from cxops.expr import HELPER_NAMES
from cxops.policy.model import PolicyFile
from cxops.policy.survey import name_problem
from cxops.spec.loader import sort_problems, validation_problems
from cxops.spec.yaml_marks import MarkedDocument, parse_yaml_file

POLICY_FILE = "policy.yaml"
#: What a policy rule's `when` may name: the contact, the survey and the clock helpers.
POLICY_NAMES = frozenset({"contact", "days_until", "survey"}) | HELPER_NAMES
#: What `per` may name: a key over the contact alone (the contacts it groups were sent by
#: other surveys, so `survey` would mean a different thing for each of them).
PER_NAMES = POLICY_NAMES - {"survey"}


@dataclass
class PolicyResult:
    path: Path
    document: MarkedDocument
    policy: PolicyFile | None = None
    problems: list[Problem] = field(default_factory=list)


def policy_path(project_dir: Path) -> Path:
    return Path(project_dir) / POLICY_FILE


def read_policy(path: Path) -> PolicyResult:
    """Parse and validate one policy file; problems are returned sorted, never raised."""
    document = parse_yaml_file(Path(path))
    result = PolicyResult(Path(path), document, problems=list(document.problems))
    if not document.parsed:
        return result
    try:
        policy = PolicyFile.model_validate(document.data)
    except ValidationError as exc:
        result.problems.extend(validation_problems(exc, document, PolicyFile))
    else:
        result.problems.extend(_check(policy, document))
        if not result.problems:
            result.policy = policy
    result.problems = sort_problems(result.problems)
    return result


def load_policy(project_dir: Path) -> PolicyFile | None:
    """The project's policy, None without a `policy.yaml`; SurveyError when it is invalid."""
    path = policy_path(project_dir)
    if not path.is_file():
        return None
    result = read_policy(path)
    if result.policy is None:
        raise SurveyError(result.problems)
    return result.policy


def policy_files(
    paths: Sequence[Path], project_dir: Path, *, default: bool
) -> tuple[list[PolicyResult], list[Path]]:
    """For `cxops validate`: the policy files among `paths` (and the project's when
    `default`), read, and the other paths (survey files and folders)."""
    named = [Path(p) for p in paths]
    policies = [p for p in named if p.name == POLICY_FILE and p.is_file()]
    others = [p for p in named if p not in policies]
    project = policy_path(project_dir)
    if default and project.is_file() and project not in policies:
        policies.append(project)
    return [read_policy(path) for path in policies], others


def _check(policy: PolicyFile, document: MarkedDocument) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(policy.rules):
        if rule.name in seen:
            line = document.position(("rules", seen[rule.name], "name"))[0]
            problems.append(
                document.problem(
                    ("rules", index, "name"),
                    f"duplicate rule name {rule.name!r} (first used on line {line})",
                )
            )
        else:
            seen[rule.name] = index
        for key, source, allowed, what in (
            ("when", rule.when, POLICY_NAMES, "a policy expression"),
            ("per", rule.per, PER_NAMES, "'per' (a key over the contact)"),
        ):
            if source is None:
                continue
            problem = name_problem(source, allowed, what)
            if problem is not None:
                problems.append(document.problem(("rules", index, key), problem))
    return problems
