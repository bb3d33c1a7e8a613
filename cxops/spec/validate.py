"""`cxops validate`: every problem of every survey file named, sorted by place.

Imports neither Prefect nor SQLAlchemy and opens no database, so it is quick
enough for editors and pre-commit hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxops.errors import Location, Problem
from cxops.spec.checks import duplicate_id_problems
from cxops.spec.loader import SURVEY_SUFFIXES, read_survey, sort_problems, survey_files
from cxops.spec.models import Survey
from cxops.spec.template_checks import template_problems
from cxops.spec.text_checks import locale_warnings
from cxops.spec.yaml_marks import MarkedDocument


@dataclass
class ValidationReport:
    """The outcome of validating some survey files."""

    files: list[Path] = field(default_factory=list)
    surveys: list[Survey] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: The project's own template files, checked alongside (`cxops.spec.template_checks`).
    templates: list[Path] = field(default_factory=list)
    #: Printed, never failing: e.g. a text lacking a declared locale.
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def collect_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """The survey files named by `paths` (files, or folders of *.yaml / *.yml)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = survey_files(path)
            if not found:
                problems.append(
                    Problem(Location(path), "", "expected survey files (*.yaml), found none")
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(Location(path), "", "no such file or folder"))
    unique = list(dict.fromkeys(files))
    return unique, problems


#: A check of a valid survey that needs more than the spec layer (rendering its templates).
SurveyCheck = Callable[[Survey, MarkedDocument], list[Problem]]


def validate_paths(
    paths: Sequence[Path], project_dir: Path, *, survey_check: SurveyCheck | None = None
) -> ValidationReport:
    """Validate every survey file under `paths`; survey ids must be unique across them.

    `survey_check` runs on each survey that has no problem of its own.
    """
    files, problems = collect_files([Path(p) for p in paths])
    report = ValidationReport(files=files, problems=problems)
    documents = []
    for path in files:
        if path.suffix not in SURVEY_SUFFIXES:
            report.problems.append(
                Problem(Location(path), "", f"expected a .yaml or .yml file, found {path.name}")
            )
            continue
        result = read_survey(path, project_dir)
        documents.append(result.document)
        report.problems.extend(result.problems)
        if result.survey is not None:
            report.surveys.append(result.survey)
            report.warnings.extend(locale_warnings(result.survey, result.document))
            if survey_check is not None:
                report.problems.extend(survey_check(result.survey, result.document))
    report.problems.extend(duplicate_id_problems(documents))
    report.templates, template_issues = template_problems(project_dir)
    report.problems.extend(template_issues)
    report.problems = sort_problems(report.problems)
    report.warnings = sort_problems(report.warnings)
    return report


def problem_as_dict(problem: Problem, *, warning: bool = False) -> dict[str, Any]:
    """The `--json` shape of one problem; a warning also has `"severity": "warning"`."""
    return {
        **({"severity": "warning"} if warning else {}),
        "file": str(problem.location.path),
        "line": problem.location.line,
        "column": problem.location.column,
        "key_path": problem.key_path,
        "message": problem.message,
    }
