"""How the follow-up's pages word a task for its assignee, in their language. Pure.

A task item (`cxops.followup.digest.TaskItem`) carries what was stored: question ids,
column names, the survey's internal name, values as text. These say them in a page
locale: a question by its text, a column by a readable label, a number as the
language writes it, a survey by its title, and what happened to the task (its events)
as sentences with times in the assignee's zone, the zone shown.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cxops.collect.pages import question_text
from cxops.followup.digest import Line, TaskItem, format_local
from cxops.spec.models import Survey
from cxops.spec.texts import option_value, pick

#: Words kept in capitals when a column name becomes a label (`mrr` -> `MRR`).
ACRONYMS = frozenset(
    {"id", "mrr", "arr", "acv", "nps", "csat", "ces", "csm", "crm", "sla", "url", "api", "sso"}
)
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")
#: Thousands and decimal separators per page locale (fr: a narrow no-break space).
_SEPARATORS = {"en": (",", "."), "de": (".", ","), "fr": ("\u202f", ",")}


def survey_label(survey: Survey | None, locale: str, fallback: str) -> str:
    """The survey as its people know it: its title in `locale`, else its name."""
    if survey is None:
        return fallback
    if survey.title is None:
        return survey.name
    return pick(survey.title, locale, survey.invitation.locales)


def field_label(column: str) -> str:
    """A column name as a label: `account_name` -> `Account name`, `mrr` -> `MRR`."""
    words = [word for word in re.split(r"[_\s.-]+", column.strip()) if word]
    if not words:
        return column
    shown = [word.upper() if word.lower() in ACRONYMS else word.lower() for word in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(shown)


def number_text(value: Any, locale: str) -> str | None:
    """A decimal `value` as `locale` writes it (`1625.0` -> `1,625` / `1.625` / `1 625`),
    at most two decimals; None for anything else. Whole numbers (ints, digit strings)
    stay as they are: they are as often ids, codes and years as amounts."""
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            return None
        value = float(value)
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    thousands, decimal = _SEPARATORS.get(locale, _SEPARATORS["en"])
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def field_value(value: Any, locale: str, yes_no: Mapping[str, str]) -> str:
    """A context or answer value as the page shows it: numbers in `locale`, yes/no in words."""
    if isinstance(value, bool):
        return yes_no["yes" if value else "no"]
    if isinstance(value, list | tuple):
        return ", ".join(field_value(v, locale, yes_no) for v in value)
    if value is None:
        return ""
    number = number_text(value, locale)
    return number if number is not None else str(value)


def _question_labels(
    survey: Survey, locale: str, contact: Mapping[str, Any], now: datetime
) -> dict[str, str]:
    context = {"contact": dict(contact), "segment": "", "survey": {"id": survey.id}}
    return {
        question.id: question_text(
            question.text,
            context,
            now,
            f"{survey.id}.{question.id}",
            locale=locale,
            declared=survey.invitation.locales,
        )
        for question in survey.questions
        if question.text
    }


def _option_text(survey: Survey, qid: str, value: Any, locale: str) -> Any:
    """A stored option (its first entry) in `locale`, else `value` unchanged."""
    question = next((q for q in survey.questions if q.id == qid), None)
    options = getattr(question, "options", None)
    if not options:
        return value
    by_value = {option_value(o): pick(o, locale, survey.invitation.locales) for o in options}
    if isinstance(value, list):
        return [by_value.get(v, v) if isinstance(v, str) else v for v in value]
    return by_value.get(value, value) if isinstance(value, str) else value


def page_item(
    item: TaskItem,
    survey: Survey | None,
    answers: Mapping[str, Any],
    context: Mapping[str, Any],
    contact: Mapping[str, Any],
    locale: str,
    words: Mapping[str, str],
    now: datetime,
) -> TaskItem:
    """`item` in `locale`: the survey's title, each answer under its question's text,
    options and yes/no in words, context columns as labels with numbers as `locale`
    writes them. `words` has `yes`, `no` and `q_accepted`, `q_consent`."""
    labels = _question_labels(survey, locale, contact, now) if survey else {}
    labels.update(accepted=words["q_accepted"], consent=words["q_consent"])
    answer_lines = []
    for line in item.answers:
        qid = line.label
        shown = field_value(
            _option_text(survey, qid, answers.get(qid), locale) if survey else answers.get(qid),
            locale,
            words,
        )
        label = labels.get(qid, field_label(qid))
        if line.category:
            answer_lines.append(dataclasses.replace(line, label=label, plain=shown))
        else:
            answer_lines.append(dataclasses.replace(line, label=label, value=shown))
    context_lines = tuple(
        Line(field_label(line.label), field_value(context.get(line.label), locale, words))
        for line in item.context
    )
    return dataclasses.replace(
        item,
        survey_name=survey_label(survey, locale, item.survey_name),
        answers=tuple(answer_lines),
        context=context_lines,
    )


def event_lines(
    events: Sequence[Mapping[str, Any]] | None,
    note: str | None,
    timezone: str,
    words: Mapping[str, str],
) -> list[tuple[str | None, str]]:
    """What happened to a task as (time in `timezone` with its zone, sentence), oldest
    first; a task without events (from before they were kept) shows its note as it was."""
    if events is None:
        return [(None, note)] if note else []
    lines: list[tuple[str | None, str]] = []
    for event in events:
        at = event.get("at")
        when = format_local(datetime.fromisoformat(at), timezone) if at else None
        lines.append((when, event_sentence(event, timezone, words)))
    return lines


def event_sentence(event: Mapping[str, Any], timezone: str, words: Mapping[str, str]) -> str:
    """One event in words: `Reassigned from anna@… to bob@…: on leave`."""
    kind = event.get("kind", "note")
    text = str(event.get("text") or "")
    if kind == "reassigned":
        said = words["ev_reassigned"].format(
            previous=event.get("from", ""), assignee=event.get("to", "")
        )
    elif kind == "snoozed":
        until = event.get("until")
        shown = format_local(datetime.fromisoformat(until), timezone) if until else ""
        said = words["ev_snoozed"].format(until=shown)
    elif kind == "closed":
        outcome = str(event.get("outcome", ""))
        said = words["ev_closed"].format(outcome=words.get(outcome, outcome))
    else:
        return text
    return words["ev_with_text"].format(event=said, text=text) if text else said
