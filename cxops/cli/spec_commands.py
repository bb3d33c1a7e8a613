"""Commands about survey files: `cxops validate` and `cxops schema`.

Both import only the spec package (no Prefect, no SQLAlchemy) so they start fast;
`cxops schema report` imports the report's model alone (pydantic).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context
from cxops.errors import Location, Problem

if TYPE_CHECKING:
    from cxops.spec.validate import ValidationReport


@app.command("validate")
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Survey files or folders (default: the project's surveys/)."),
    ] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check survey files; print every problem as file:line:column, exit 1 on any."""
    from cxops.messages.sample_render import render_problems
    from cxops.policy.load import policy_files
    from cxops.policy.survey import check_cap_exempt
    from cxops.spec.loader import sort_problems
    from cxops.spec.validate import problem_as_dict, validate_paths

    settings = project_context(ctx, project_dir).settings
    check_cap_exempt(settings.contact_cap_exempt)  # a bad setting: one line, exit 1
    named = paths or [settings.surveys_path]
    policies, named = policy_files(named, settings.project_dir, default=paths is None)
    report = (
        validate_paths(
            named,
            settings.project_dir,
            survey_check=lambda survey, document: render_problems(survey, document, settings),
        )
        if named
        else _empty_report()
    )
    for policy in policies:
        report.files.append(policy.path)
        report.problems.extend(policy.problems)
    problems = [_relative(problem) for problem in report.problems]
    warnings = [_relative(warning) for warning in report.warnings]
    if as_json:
        print_json(
            [problem_as_dict(problem) for problem in problems]
            + [problem_as_dict(warning, warning=True) for warning in warnings]
        )
    else:
        for problem in sort_problems([*problems, *warnings]):
            sys.stdout.write(problem.with_context() + "\n")
        if report.ok:
            count = len(report.surveys)
            checked = [f"{count} survey{'s' if count != 1 else ''}"] if named else []
            checked += [policy.path.name for policy in policies]
            sys.stdout.write(f"{' and '.join(checked)} OK\n")
        else:
            bad_paths = {p.location.path for p in problems}
            # Survey files, and the project's template files that have a problem.
            templates = {
                _relative(Problem(Location(t), "", "")).location.path for t in report.templates
            }
            looked_at = len(report.files) + len(bad_paths & templates)
            sys.stderr.write(
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} "
                f"in {len(bad_paths)} of {looked_at} files\n"
            )
    if not report.ok:
        raise typer.Exit(1)


class SchemaOf(StrEnum):
    """What `cxops schema` describes."""

    SURVEY = "survey"
    REPORT = "report"


@app.command("schema")
def schema(
    what: Annotated[
        SchemaOf,
        typer.Argument(help="survey: survey files (the default); report: `cxops report --json`."),
    ] = SchemaOf.SURVEY,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of survey files (for editor completion and checks), or of
    the report document."""
    if what is SchemaOf.REPORT:
        from cxops.analysis.report_model import report_json_schema_text

        text = report_json_schema_text()
    else:
        from cxops.spec.schema import survey_json_schema_text

        text = survey_json_schema_text()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _empty_report() -> ValidationReport:
    from cxops.spec.validate import ValidationReport

    return ValidationReport()


def _relative(problem: Problem) -> Problem:
    """The problem with its path relative to the working directory when below it."""
    path = problem.location.path
    try:
        shown = Path(os.path.relpath(path))
    except ValueError:
        return problem
    if shown.parts and shown.parts[0] == "..":
        return problem
    location = Location(shown, problem.location.line, problem.location.column)
    return Problem(location, problem.key_path, problem.message, problem.source_line)
