"""The JSON Schema is generated from the models and accepts the example surveys."""

from __future__ import annotations

import typing
from inspect import isclass
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, Field

from cxops.spec import models
from cxops.spec.schema import SCHEMA_DIALECT, survey_json_schema

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "surveys").glob("*.yaml"))


def _all_models() -> list[type[BaseModel]]:
    return [
        value
        for value in vars(models).values()
        if isclass(value)
        and issubclass(value, models.Strict)
        and value is not models.Strict
        and not value.__name__.startswith("_")
    ]


def test_schema_header() -> None:
    schema = survey_json_schema()

    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["title"] == "cxops survey"
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_surveys_match_the_schema(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), survey_json_schema())


def test_schema_rejects_unknown_keys_and_bad_enums() -> None:
    data = yaml.safe_load(EXAMPLES[0].read_text())
    validator = jsonschema.Draft202012Validator(survey_json_schema())

    assert not list(validator.iter_errors(data))
    assert list(validator.iter_errors({**data, "scheduel": {}}))
    assert list(validator.iter_errors({**data, "kind": "npx"}))


def test_every_model_field_is_in_the_schema() -> None:
    schema = survey_json_schema()
    definitions = schema["$defs"]
    for model in _all_models():
        definition = schema if model is models.Survey else definitions[model.__name__]
        keys = {info.alias or name for name, info in model.model_fields.items()}
        assert set(definition["properties"]) == keys, model.__name__


def test_a_key_added_to_a_model_shows_up(monkeypatch: pytest.MonkeyPatch) -> None:
    class Extended(models.Survey):
        language_hint: str | None = Field(default=None, description="A new key.")

    monkeypatch.setattr(models, "Survey", Extended)
    from cxops.spec import schema as schema_module

    monkeypatch.setattr(schema_module, "Survey", Extended)

    assert "language_hint" in survey_json_schema()["properties"]


def test_expressions_accept_booleans_like_the_model() -> None:
    validator = jsonschema.Draft202012Validator(survey_json_schema())
    data = yaml.safe_load(EXAMPLES[0].read_text())
    data["audience"]["segments"] = {"everyone": True}

    assert not list(validator.iter_errors(data))
    assert typing.get_args(models.Kind) == tuple(survey_json_schema()["properties"]["kind"]["enum"])
