"""The one survey lookup: by file path or by id, for every command, flow and the collector.

- `find_survey(name, surveys_dir, project_dir)`: `name` is a path when it ends in
  .yaml/.yml or is an existing file, else an id among the files of the surveys folder.
  An unknown survey is `NotFoundError` naming it and the ids there are; an id that two
  files carry is `AmbiguousSurveyError` naming both (never the first file by name).
- `project_surveys(folder, project_dir)`: every survey of a project that loads, by id;
  a file that does not load, and every file of an ambiguous id, is skipped and named.
- `SurveyLookup`: both, bound to one project (`SurveyLookup.of(settings)`), so that
  sources and templates are always checked against that project's directory.

Looking up by id parses only the YAML of the other files, so a broken unrelated
survey does not stop this one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cxops.errors import AmbiguousSurveyError, NotFoundError, SurveyError
from cxops.spec.loader import SURVEY_SUFFIXES, read_survey, survey_files
from cxops.spec.models import Survey
from cxops.spec.yaml_marks import parse_yaml_file

if TYPE_CHECKING:
    from cxops.settings import Settings


@dataclass(frozen=True)
class ProjectSurveys:
    """The surveys of a project that load, by id, and the files skipped (file → why)."""

    surveys: dict[str, Survey]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SurveyLookup:
    """The surveys of one project: its surveys folder, read against its directory."""

    surveys_dir: Path
    project_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> SurveyLookup:
        return cls(settings.surveys_path, settings.project_dir)

    def find(self, name: str | Path, *, checks: bool = True) -> Survey:
        """`find_survey` in this project."""
        return find_survey(name, self.surveys_dir, self.project_dir, checks=checks)

    def surveys(self, *, checks: bool = True) -> ProjectSurveys:
        """`project_surveys` of this project: every survey that loads, the others named."""
        return project_surveys(self.surveys_dir, self.project_dir, checks=checks)


def find_survey(
    name: str | Path, surveys_dir: Path, project_dir: Path, *, checks: bool = True
) -> Survey:
    """A survey by file path, or by id among the files in `surveys_dir`.

    `checks=False` validates the model only (no templates or source files read), as the
    collector and the exports need; SurveyError lists every problem of the file.
    """
    path = Path(name)
    if path.suffix in SURVEY_SUFFIXES or path.is_file():
        if not path.is_file():
            raise NotFoundError(f"no survey file {name}")
        return _load(path, project_dir, checks)
    folder = Path(surveys_dir)
    matches = _files_by_id(folder).get(str(name), [])
    if len(matches) > 1:
        raise AmbiguousSurveyError(str(name), matches)
    if not matches:
        known = ", ".join(sorted(_files_by_id(folder))) or "none"
        raise NotFoundError(f"no survey with id {str(name)!r} in {folder} (ids there: {known})")
    return _load(matches[0], project_dir, checks)


def project_surveys(folder: Path, project_dir: Path, *, checks: bool = True) -> ProjectSurveys:
    """Every survey in `folder` that loads, by id; the others named in `skipped`."""
    found = ProjectSurveys({})
    if not Path(folder).is_dir():
        return found
    by_id: dict[str, list[Survey]] = defaultdict(list)
    for path in survey_files(folder):
        result = read_survey(path, project_dir, checks=checks)
        if result.survey is None:
            found.skipped[str(path)] = str(SurveyError(result.problems))
            continue
        by_id[result.survey.id].append(result.survey)
    for survey_id, surveys in by_id.items():
        if len(surveys) == 1:
            found.surveys[survey_id] = surveys[0]
            continue
        paths = [s.source_path for s in surveys if s.source_path is not None]
        for path in paths:
            found.skipped[str(path)] = str(AmbiguousSurveyError(survey_id, paths))
    return found


def _files_by_id(folder: Path) -> dict[str, list[Path]]:
    """The `id:` of every survey file in `folder` (its YAML only), with its files."""
    found: dict[str, list[Path]] = defaultdict(list)
    for candidate in survey_files(folder) if folder.is_dir() else []:
        data = parse_yaml_file(candidate).data
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            found[data["id"]].append(candidate)
    return found


def _load(path: Path, project_dir: Path, checks: bool) -> Survey:
    result = read_survey(path, project_dir, checks=checks)
    if result.survey is None:
        raise SurveyError(result.problems)
    return result.survey
