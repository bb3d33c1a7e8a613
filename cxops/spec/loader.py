"""Loading survey files into `Survey` models (full validation lives in cxops.spec.validate)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cxops.errors import Location, NotFoundError, Problem, SurveyError
from cxops.spec.models import Survey


def load_survey(path: Path) -> Survey:
    """One survey file as a model; SurveyError listing every problem."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        survey = Survey.model_validate(data)
    except Exception as exc:
        raise SurveyError([Problem(Location(Path(path)), "", str(exc))]) from None
    survey._source_path = Path(path)
    return survey


def survey_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def load_surveys(folder: Path) -> list[Survey]:
    return [load_survey(path) for path in survey_files(folder)]


def find_survey(name: str, surveys_dir: Path) -> Survey:
    """A survey by file path, or by id among the files in `surveys_dir`."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise NotFoundError(f"no survey file {name}")
        return load_survey(path)
    for candidate in survey_files(surveys_dir):
        survey = load_survey(candidate)
        if survey.id == name:
            return survey
    raise NotFoundError(f"no survey with id {name!r} in {surveys_dir}")
