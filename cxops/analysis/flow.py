"""The scheduled report flow: the report's figures as Prefect artifacts, and the HTML file.

Thin: it builds the report document (`cxops.analysis.report`) and publishes it as
a Markdown artifact plus table artifacts (segments, waves, themes) keyed
`report-SURVEY[-segments|-waves|-themes]`; with `out`, it also writes the HTML page.
`cxops deploy` writes one deployment of it per survey (entrypoint
`cxops.schedule.entrypoints:report_flow`, Mondays 07:00 in the survey's time zone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from cxops.analysis.artifacts import (
    artifact_key,
    report_markdown,
    segment_rows,
    theme_rows,
    wave_rows,
)
from cxops.analysis.report import build_from_store
from cxops.analysis.report_model import Report
from cxops.settings import Settings, get_settings
from cxops.spec import find_survey
from cxops.spec.models import Survey
from cxops.wave.contact_free import contact_free_errors


@task(name="build-report", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def build_task(survey: Survey, settings: Settings, wave: str | None) -> Report:
    return build_from_store(survey, settings, wave=wave)


@task(name="publish-report-artifacts", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def publish_task(report: Report) -> list[str]:
    key = artifact_key(report.survey.id)
    name = report.survey.name
    create_markdown_artifact(key=key, markdown=report_markdown(report), description=name)
    tables = {
        f"{key}-segments": segment_rows(report),
        f"{key}-waves": wave_rows(report),
        f"{key}-themes": theme_rows(report),
    }
    for table_key, rows in tables.items():
        create_table_artifact(key=table_key, table=rows, description=f"{name}: {table_key}")
    return [key, *tables]


@flow(name="survey-report", persist_result=False)
@contact_free_errors
def report_flow(
    survey: str,
    wave: str | None = None,
    project_dir: str | None = None,
    out: str | None = None,
) -> dict[str, Any]:
    """Compute the report of `survey` (an id in surveys/, or a file), publish its figures
    as artifacts, and write the HTML page to `out` (relative to the project) when given."""
    settings = get_settings(project_dir=Path(project_dir) if project_dir else None)
    spec = find_survey(survey, settings.surveys_path, settings.project_dir)
    report = build_task(spec, settings, wave)
    keys = publish_task(report)
    written = None
    if out:
        from cxops.analysis.html import render_html

        path = Path(out) if Path(out).is_absolute() else settings.project_dir / out
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(report), encoding="utf-8")
        written = str(path)
    return {"survey": spec.id, "wave": wave, "artifacts": keys, "html": written}
