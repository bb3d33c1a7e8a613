"""The JSON Schema of survey files, generated from the models (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from cxops.spec.models import Survey

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "cxops survey"


def survey_json_schema() -> dict[str, Any]:
    """The schema editors use for completion and checks of `surveys/*.yaml`."""
    generated = Survey.model_json_schema(by_alias=True)
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "title": SCHEMA_TITLE}
    schema.update({key: value for key, value in generated.items() if key != "title"})
    schema["description"] = (
        "A cxops survey file: who to invite, what to ask, and what to do with the answers."
    )
    return schema


def survey_json_schema_text() -> str:
    """`survey_json_schema()` as indented JSON, ending with a newline."""
    return json.dumps(survey_json_schema(), indent=2, ensure_ascii=False) + "\n"
