"""A staff email's reader: their language and time zone, and the task as they read it.

An assignee's locale and time zone come from the `staff` setting (per address), else
`staff_locale` and `staff_timezone`; a time is shown in the reader's zone, else the
survey's, always with the zone. The task item (`cxops.followup.digest.task_item`) is
rewritten for them: answer labels are the questions' texts in their locale, the survey
is its public title, a score's category is in their words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxops.errors import ExpressionError
from cxops.expr import Evaluator, references
from cxops.followup.digest import Line, TaskItem, format_local, task_item
from cxops.followup.mail_words import MailWords
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.spec.texts import pick, title_for

if TYPE_CHECKING:
    from cxops.store.tasks import TaskView


@dataclass(frozen=True, slots=True)
class StaffReader:
    """Who reads a staff email: their words and, when set, their time zone."""

    email: str
    words: MailWords
    timezone: str | None = None

    def zone_for(self, survey: Survey | None) -> str:
        return self.timezone or (survey.timezone if survey else "UTC")


def staff_reader(settings: Settings, email: str) -> StaffReader:
    member = settings.staff.get(email.strip().lower())
    locale = (member.locale if member else None) or settings.staff_locale
    timezone = (member.timezone if member else None) or settings.staff_timezone
    return StaffReader(email, MailWords.of(locale), timezone)


def staff_item(
    view: TaskView, survey: Survey | None, now: datetime, link: str, reader: StaffReader
) -> TaskItem:
    """`view` as `reader` reads it in an email."""
    item = task_item(view, survey, now, link)
    if survey is None:
        return replace(item, due=format_local(view.task.due_at, reader.zone_for(None)))
    locale = reader.words.locale
    return replace(
        item,
        survey_name=title_for(survey.title, survey.kind, locale, survey.invitation.locales),
        due=format_local(view.task.due_at, reader.zone_for(survey)),
        answers=tuple(_answer_line(line, survey, view, now, reader.words) for line in item.answers),
    )


def _answer_line(
    line: Line, survey: Survey, view: TaskView, now: datetime, words: MailWords
) -> Line:
    value = line.value
    raw = view.answers.get(line.label)
    if line.category:
        value = f"{line.plain} ({words.word(line.category)})"
    elif isinstance(raw, bool):
        value = words.say("yes" if raw else "no")
    return replace(
        line, label=question_label(survey, line.label, view.contact, now, words), value=value
    )


def question_label(
    survey: Survey, qid: str, contact: Mapping[str, Any], now: datetime, words: MailWords
) -> str:
    """Question `qid`'s text in the reader's locale (its placeholders filled from the
    contact); the id when there is no such question or its text cannot render."""
    if qid in ("accepted", "consent") and survey.kind == "interview":
        return words.say(qid)
    question = next((q for q in survey.questions if q.id == qid), None)
    if question is None:
        return qid
    text = pick(question.text, words.locale, survey.invitation.locales)
    if not references(text, expression=False).names:
        return text
    try:
        return Evaluator(now).render(text, {"contact": dict(contact)})
    except ExpressionError:
        return qid
