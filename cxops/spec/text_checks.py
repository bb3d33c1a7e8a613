"""`validate` warnings about languages: a customer-facing text that lacks a locale the
survey declares in `invitation.locales` (docs/survey-format.md, "Languages").

Warnings print but do not fail validation: the contact then reads the text in the
survey's first locale (`cxops.spec.texts.pick`). A plain string is one text for every
language, written so on purpose, and gets no warning.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

from cxops.errors import Problem
from cxops.spec.models import Survey
from cxops.spec.texts import Text, missing_locales
from cxops.spec.yaml_marks import MarkedDocument

KeyPath = tuple[Hashable, ...]


def customer_texts(survey: Survey) -> Iterator[tuple[KeyPath, Text]]:
    """(key path, text) of every customer-facing text of `survey`."""
    if survey.title is not None:
        yield ("title",), survey.title
    for index, question in enumerate(survey.questions):
        yield ("questions", index, "text"), question.text
        for position, option in enumerate(getattr(question, "options", None) or ()):
            yield ("questions", index, "options", position), option
        for number, label in (getattr(question, "labels", None) or {}).items():
            yield ("questions", index, "labels", number), label
    if survey.interview is not None:
        yield ("interview", "consent"), survey.interview.consent
        if survey.interview.incentive is not None:
            yield ("interview", "incentive"), survey.interview.incentive


def locale_warnings(survey: Survey, document: MarkedDocument) -> list[Problem]:
    """A warning, at the text's file:line:column, for each text lacking a declared locale."""
    declared = survey.invitation.locales
    warnings: list[Problem] = []
    for key_path, text in customer_texts(survey):
        message = _lacking(text, declared)
        if message is not None:
            warnings.append(document.problem(_located(document, key_path), message))
    return warnings


def _lacking(text: Text, declared: Sequence[str]) -> str | None:
    """A plain string is one text for every language, on purpose: no warning."""
    lacking = missing_locales(text, declared)
    if not lacking:
        return None
    fallback = declared[0] if declared[0] in text else next(iter(text))
    names = ", ".join(f"'{locale}'" for locale in lacking)
    return (
        f"warning: no {names} text (invitation.locales declares {', '.join(declared)}); "
        f"those contacts read the '{fallback}' one"
    )


def _located(document: MarkedDocument, key_path: KeyPath) -> Sequence[Hashable]:
    path = key_path
    while path and not document.has(path):
        path = path[:-1]
    return path or key_path
