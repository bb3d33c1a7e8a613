"""The report document's JSON Schema: generated from the model (`cxops schema report`),
kept current in docs/report.schema.json, and true of the stored golden document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
from test_analysis_report import GOLDEN

from cxops.analysis import report_model
from cxops.analysis.report_model import Report, report_json_schema, report_json_schema_text
from cxops.testing import Project

STORED = Path(__file__).parents[1] / "docs" / "report.schema.json"


def test_the_stored_schema_is_the_generated_one() -> None:
    """After a change to the report's model, rewrite it with WRITE_GOLDEN=1."""
    if os.environ.get("WRITE_GOLDEN"):
        STORED.write_text(report_json_schema_text(), encoding="utf-8")
    assert STORED.read_text(encoding="utf-8") == report_json_schema_text()


def test_the_golden_document_matches_the_schema_and_reads_back() -> None:
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))
    schema = report_json_schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema)
    assert Report.model_validate(document).document() == document


def test_the_schema_refuses_unknown_keys_and_nulls_for_absent_parts() -> None:
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(report_json_schema())

    unknown = {**document, "overall": {**document["overall"], "nps": 1}}
    assert any("additional" in e.message.lower() for e in validator.iter_errors(unknown))
    # A part the report does not have is left out, never null.
    nulled = {**document, "overall": {**document["overall"], "questions": None}}
    assert not validator.is_valid(nulled)


def test_every_model_field_is_in_the_schema() -> None:
    definitions = report_json_schema()["$defs"]
    for name in dir(report_model):
        model = getattr(report_model, name)
        if not (isinstance(model, type) and issubclass(model, report_model._Part)):
            continue
        if model is report_model._Part:
            continue
        shown = report_json_schema() if model is Report else definitions[model.__name__]
        keys = {field.alias or key for key, field in model.model_fields.items()}
        assert keys == set(shown["properties"]), model.__name__


def test_schema_report_prints_it_and_schema_alone_the_survey_schema(
    empty_project: Project,
) -> None:
    from cxops.spec.schema import survey_json_schema

    assert json.loads(empty_project.run(["schema", "report"]).stdout) == report_json_schema()
    assert json.loads(empty_project.run(["schema"]).stdout) == survey_json_schema()
    empty_project.run(["schema", "report", "--out", "report.schema.json"])
    written = empty_project.path("report.schema.json").read_text(encoding="utf-8")
    assert written == report_json_schema_text()
