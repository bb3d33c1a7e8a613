"""Rendering the collector's pages: the Jinja environment and the answer page's view model.

Page templates live in `templates/pages/` (a project's `templates/pages/` overrides
them by name) and extend `pages/base.html.j2` (blocks `title`, `content`,
`scripts`). The stylesheet is inlined from `pages/collector.css` and allowed by its
hash in the Content-Security-Policy, so a page needs nothing from anywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cxops.collect.answers import FieldError, FormQuestion
from cxops.collect.i18n import message, page_locale, strings
from cxops.errors import ExpressionError
from cxops.expr import Evaluator
from cxops.spec.texts import Text, pick
from cxops.template_files import template_search_path

log = logging.getLogger("cxops.collect")

CSS_TEMPLATE = "pages/collector.css"
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class Pages:
    """Renders page templates in a locale, with `t` (the locale's strings) in every page."""

    def __init__(self, project_dir: Path):
        self.search_path = template_search_path(project_dir)
        self.env = Environment(
            loader=FileSystemLoader([str(path) for path in self.search_path]),
            autoescape=select_autoescape(["j2", "html"], default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        css = self.env.loader.get_source(self.env, CSS_TEMPLATE)[0].strip()
        self.style_hash = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        self.env.globals["page_css"] = Markup(css)

    def render(self, template: str, locale: str | None, **context: Any) -> str:
        """The page `template` (e.g. `pages/thanks.html.j2`) in the best page locale."""
        lang = page_locale(locale)
        return self.env.get_template(template).render(lang=lang, t=strings(lang), **context)


@dataclass(frozen=True, slots=True)
class ChoiceView:
    id: str
    value: str
    label: str
    description: str | None
    checked: bool


@dataclass(frozen=True, slots=True)
class QuestionView:
    """One question ready for the template."""

    id: str
    kind: str
    type: str
    text: str
    required: bool
    choices: tuple[ChoiceView, ...]
    value: str
    max_length: int | None
    anchors: tuple[str, str] | None
    hint: str | None
    error: str | None

    @property
    def described_by(self) -> str:
        ids = []
        if self.anchors:
            ids.append(f"{self.id}-anchors")
        if self.hint:
            ids.append(f"{self.id}-hint")
        if self.error:
            ids.append(f"{self.id}-error")
        return " ".join(ids)


def question_text(
    source: Text,
    context: Mapping[str, Any],
    now: datetime,
    where: str = "",
    *,
    locale: str = "en",
    declared: Sequence[str] = (),
) -> str:
    """A question's text template, in `locale`, rendered for one contact (placeholders
    dropped on error)."""
    source = pick(source, locale, declared)
    if "{" not in source:
        return source
    try:
        return Evaluator(now).render(source, context, where)
    except ExpressionError as exc:
        log.warning("question text shown without its placeholders: %s", exc)
        return re.sub(r"\s{2,}", " ", _PLACEHOLDER.sub("", source)).strip()


def question_views(
    questions: Sequence[FormQuestion],
    values: Mapping[str, Sequence[str]],
    errors: Mapping[str, FieldError],
    *,
    locale: str,
    texts: Mapping[str, str],
    interview: Any | None = None,
    declared: Sequence[str] = (),
) -> list[QuestionView]:
    """View models of `questions` with posted or stored `values` and `errors` shown."""
    views = []
    for question in questions:
        chosen = set(values.get(question.id, ()))
        error = errors.get(question.id)
        views.append(
            QuestionView(
                id=question.id,
                kind=question.kind,
                type=question.type,
                text=_text(question, texts, locale, interview, declared),
                required=question.required,
                choices=_choices(question, chosen, locale, declared),
                value=next(iter(values.get(question.id, ())), "")
                if question.kind == "text"
                else "",
                max_length=question.max_length,
                anchors=_anchors(question, locale, declared),
                hint=_hint(question, locale, interview, declared),
                error=message(locale, f"error.{error.code}", **error.params) if error else None,
            )
        )
    return views


def _text(
    question: FormQuestion,
    texts: Mapping[str, str],
    locale: str,
    interview: Any,
    declared: Sequence[str],
) -> str:
    if question.kind == "accept" and interview is not None:
        minutes = int(interview.duration.approx_timedelta().total_seconds() // 60)
        return message(locale, "accept_question", duration=f"{minutes} min")
    fallback = pick(question.text, locale, declared) if question.text else ""
    if question.kind == "consent":
        return message(locale, "consent_label", consent=texts.get(question.id, fallback))
    return texts.get(question.id, fallback)


def _choices(
    question: FormQuestion, chosen: set[str], locale: str, declared: Sequence[str] = ()
) -> tuple[ChoiceView, ...]:
    if question.kind == "scale":
        assert question.low is not None and question.high is not None
        return tuple(
            ChoiceView(
                id=f"{question.id}-{number}",
                value=str(number),
                label=str(number),
                description=_label(question, number, locale, declared),
                checked=str(number) in chosen,
            )
            for number in range(question.low, question.high + 1)
        )
    if question.kind in ("single", "multi"):
        texts = question.option_texts or question.options
        return tuple(
            ChoiceView(
                id=f"{question.id}-{index}",
                value=option,
                label=pick(text, locale, declared),
                description=None,
                checked=option in chosen,
            )
            for index, (option, text) in enumerate(zip(question.options, texts, strict=True))
        )
    if question.kind == "accept":
        return tuple(
            ChoiceView(
                id=f"{question.id}-{word}",
                value=word,
                label=message(locale, word),
                description=None,
                checked=word in chosen,
            )
            for word in ("yes", "no")
        )
    if question.kind == "consent":
        return (
            ChoiceView(
                id=f"{question.id}-yes",
                value="yes",
                label="",
                description=None,
                checked="yes" in chosen,
            ),
        )
    return ()


def _label(question: FormQuestion, number: int, locale: str, declared: Sequence[str]) -> str | None:
    label = question.labels.get(number)
    return pick(label, locale, declared) if label is not None else None


def _anchors(
    question: FormQuestion, locale: str, declared: Sequence[str] = ()
) -> tuple[str, str] | None:
    if question.type in ("nps", "csat", "ces"):
        return message(locale, f"{question.type}_low"), message(locale, f"{question.type}_high")
    if question.kind == "scale" and question.low is not None and question.high is not None:
        low = _label(question, question.low, locale, declared)
        high = _label(question, question.high, locale, declared)
        if low and high:
            return f"{question.low} – {low}", f"{question.high} – {high}"
    return None


def _hint(
    question: FormQuestion, locale: str, interview: Any, declared: Sequence[str] = ()
) -> str | None:
    if question.kind == "multi":
        return message(locale, "multi_hint")
    if question.kind == "text" and question.max_length:
        return message(locale, "text_hint", max_length=question.max_length)
    if question.kind == "accept" and interview is not None and interview.incentive:
        incentive = pick(interview.incentive, locale, declared)
        return message(locale, "incentive", incentive=incentive)
    return None


def mask_email(email: str) -> str:
    """`jane.doe@example.com` -> `j•••@example.com`: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"
