"""Survey files: load, validate, look up (by path or id), and the JSON Schema.

Owns the survey format (`models`), YAML with line marks, the checks, and the one survey
lookup (`lookup`). May import only the leaves (`errors`, `settings`, `expr`, `durations`,
`locales`, `template_files`); never Prefect or SQLAlchemy (`cxops validate` starts fast).
"""

from cxops.spec.loader import (
    SurveyResult,
    load_survey,
    load_surveys,
    read_survey,
    survey_files,
)
from cxops.spec.lookup import ProjectSurveys, find_survey, project_surveys
from cxops.spec.models import Survey
from cxops.spec.schema import survey_json_schema
from cxops.spec.validate import ValidationReport, validate_paths

__all__ = [
    "ProjectSurveys",
    "Survey",
    "SurveyResult",
    "ValidationReport",
    "find_survey",
    "load_survey",
    "load_surveys",
    "project_surveys",
    "read_survey",
    "survey_files",
    "survey_json_schema",
    "validate_paths",
]
