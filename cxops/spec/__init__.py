"""Survey files: load, validate, and the JSON Schema."""

from cxops.spec.loader import find_survey, load_survey, load_surveys
from cxops.spec.models import Survey

__all__ = ["Survey", "find_survey", "load_survey", "load_surveys"]
