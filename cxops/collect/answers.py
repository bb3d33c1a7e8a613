"""Reading answers from a submitted form, checked against the survey's questions. Pure.

A survey's questions become `FormQuestion`s (an interview adds `accepted` and
`consent`). `parse_answers` turns the posted fields (a field name may repeat, as a
`multi` question's does) into typed values and per-field errors:

- a *final* submit checks every question: a missing required answer is an error;
- a *partial* submit (the page's script saving the score chosen in the email)
  reads only the fields present and never asks for the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from cxops.spec.models import Survey, question_scale
from cxops.spec.texts import Text, option_value

FormKind = Literal["scale", "single", "multi", "text", "accept", "consent"]

#: A point of a scale as the form sends it: ASCII digits, a minus sign for scales below 0.
_SCALE_NUMBER = re.compile(r"-?[0-9]{1,4}")
_TRUE = frozenset({"yes", "true", "1", "on"})
_FALSE = frozenset({"no", "false", "0", "off"})


@dataclass(frozen=True, slots=True)
class FormQuestion:
    """One question as the page shows it and the form posts it."""

    id: str
    kind: FormKind
    #: The survey's question type (`nps`, `rating`, …; `accept`/`consent` for interviews).
    type: str
    #: The question text as written in the survey (a text template, or one per locale).
    text: Text
    required: bool
    low: int | None = None
    high: int | None = None
    #: The values answers store (an option's first text), in order.
    options: tuple[str, ...] = ()
    #: The options as written (a text, or one per locale), parallel to `options`.
    option_texts: tuple[Text, ...] = ()
    labels: Mapping[int, Text] = field(default_factory=lambda: MappingProxyType({}))
    max_length: int | None = None
    #: Interview screener questions apply only to people who accept.
    only_if_accepted: bool = False


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why one answer was refused: a message code (see `cxops.collect.i18n`) and its values."""

    code: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ParsedAnswers:
    """Valid answers by question id, and the errors of the others."""

    values: dict[str, Any]
    errors: dict[str, FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


def form_questions(survey: Survey) -> list[FormQuestion]:
    """The questions of `survey` in page order, interviews starting with accept/consent."""
    screener = survey.kind == "interview"
    questions: list[FormQuestion] = []
    if screener and survey.interview is not None:
        questions.append(
            FormQuestion(id="accepted", kind="accept", type="accept", text="", required=True)
        )
        questions.append(
            FormQuestion(
                id="consent",
                kind="consent",
                type="consent",
                text=survey.interview.consent,
                required=True,
                only_if_accepted=True,
            )
        )
    for question in survey.questions:
        questions.append(_form_question(question, screener))
    return questions


def _form_question(question: Any, screener: bool) -> FormQuestion:
    common = {
        "id": question.id,
        "type": question.type,
        "text": question.text,
        "required": question.required,
        "only_if_accepted": screener,
    }
    scale = question_scale(question)
    if scale is not None:
        labels = getattr(question, "labels", None) or {}
        return FormQuestion(
            kind="scale",
            low=scale[0],
            high=scale[1],
            labels=MappingProxyType(dict(labels)),
            **common,
        )
    if question.type in ("single", "multi"):
        return FormQuestion(
            kind=question.type,
            options=tuple(option_value(option) for option in question.options),
            option_texts=tuple(question.options),
            **common,
        )
    return FormQuestion(kind="text", max_length=question.max_length, **common)


def parse_answers(
    questions: Sequence[FormQuestion],
    form: Mapping[str, Sequence[str]],
    *,
    partial: bool = False,
) -> ParsedAnswers:
    """Typed answers and errors from posted `form` fields (name -> every value posted).

    Unknown field names are ignored. With `partial`, absent questions are left alone;
    otherwise an absent required question is an error (screener questions of an
    interview only when the person accepted).
    """
    values: dict[str, Any] = {}
    errors: dict[str, FieldError] = {}
    for question in questions:
        raw = [value for value in form.get(question.id, ()) if value.strip()]
        if not raw:
            continue
        value, error = _parse_one(question, raw)
        if error is not None:
            errors[question.id] = error
        elif value is not None:
            values[question.id] = value
    if not partial:
        _check_required(questions, values, errors)
    return ParsedAnswers(values, errors)


def _check_required(
    questions: Sequence[FormQuestion], values: dict[str, Any], errors: dict[str, FieldError]
) -> None:
    accepted = values.get("accepted")
    for question in questions:
        if question.id in values or question.id in errors:
            continue
        if question.kind == "consent":
            if accepted is True:
                errors[question.id] = FieldError("consent_required")
            elif "accepted" in values:
                values[question.id] = False
            continue
        if question.only_if_accepted and accepted is not True:
            continue
        if question.required:
            errors[question.id] = FieldError("required")


def _parse_one(question: FormQuestion, raw: list[str]) -> tuple[Any, FieldError | None]:
    if question.kind == "multi":
        return _parse_multi(question, raw)
    if len(set(raw)) > 1:
        return None, FieldError("one_value")
    text = raw[0]
    if question.kind == "scale":
        return _parse_scale(question, text.strip())
    if question.kind == "single":
        choice = text.strip()
        if choice not in question.options:
            return None, FieldError("invalid_option")
        return choice, None
    if question.kind in ("accept", "consent"):
        word = text.strip().lower()
        if word in _TRUE:
            return True, None
        if word in _FALSE:
            return False, None
        return None, FieldError("invalid_option")
    return _parse_text(question, text)


def _parse_scale(question: FormQuestion, text: str) -> tuple[Any, FieldError | None]:
    assert question.low is not None and question.high is not None
    # int() would also take '1_0', '+5', ' 7' and digits of other scripts ('١٠')
    if not _SCALE_NUMBER.fullmatch(text):
        return None, FieldError("invalid_number")
    number = int(text)
    if not question.low <= number <= question.high:
        return None, FieldError(
            "out_of_range", MappingProxyType({"low": question.low, "high": question.high})
        )
    return number, None


def _parse_multi(question: FormQuestion, raw: Iterable[str]) -> tuple[Any, FieldError | None]:
    chosen = {value.strip() for value in raw}
    if not chosen <= set(question.options):
        return None, FieldError("invalid_option")
    return [option for option in question.options if option in chosen], None


def _parse_text(question: FormQuestion, text: str) -> tuple[Any, FieldError | None]:
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not cleaned:
        return None, None
    limit = question.max_length or 2000
    if len(cleaned) > limit:
        return None, FieldError("too_long", MappingProxyType({"max_length": limit}))
    return cleaned, None


def form_values(answers: Mapping[str, Any]) -> dict[str, list[str]]:
    """Stored answers back as form values (to prefill the page): name -> posted strings."""
    shown: dict[str, list[str]] = {}
    for key, value in answers.items():
        if isinstance(value, bool):
            shown[key] = ["yes" if value else "no"]
        elif isinstance(value, list):
            shown[key] = [str(item) for item in value]
        elif value is not None:
            shown[key] = [str(value)]
    return shown
