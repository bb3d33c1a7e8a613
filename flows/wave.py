"""Deployment entrypoint: one invitation wave of a survey, by id (see prefect.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from cxops.settings import get_settings
from cxops.spec import find_survey
from cxops.wave.flow import compile_survey


@flow(name="survey-wave")
def survey_wave(
    survey: str,
    wave: str | None = None,
    project_dir: str | None = None,
    resend_in_doubt: bool = False,
) -> dict[str, Any]:
    """Run the wave of `survey` (an id in surveys/, or a file) due now."""
    settings = get_settings(project_dir=Path(project_dir) if project_dir else None)
    spec = find_survey(survey, settings.surveys_path)
    wave_flow = compile_survey(spec, settings)
    summary = wave_flow(
        project_dir=str(settings.project_dir), wave=wave, resend_in_doubt=resend_in_doubt
    )
    return summary.as_dict()
