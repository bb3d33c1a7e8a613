"""The staff emails' words (digest, assignment, escalation) in English, German and French.

The same catalog mechanism as the task page (`cxops.followup.pages.task_strings`): one
mapping per page locale, picked by `page_locale` (`de-AT` -> `de`, unknown -> `en`);
outcomes, priorities and score categories come from the page's catalog. A count is a
pair of keys, `NAME_one` and `NAME_other`, chosen by the locale's plural rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from cxops.collect.i18n import page_locale
from cxops.followup.pages.task_strings import CATEGORY_WORDS, STORED_WORDS

PluralForm = Literal["one", "other"]

_EN: dict[str, str] = {
    "field": "{label}: {value}",
    "tasks_one": "{n} task",
    "tasks_other": "{n} tasks",
    "open_tasks_one": "{n} open follow-up task",
    "open_tasks_other": "{n} open follow-up tasks",
    "overdue_count_one": "{n} overdue",
    "overdue_count_other": "{n} overdue",
    "overdue_tasks_one": "{n} overdue follow-up task",
    "overdue_tasks_other": "{n} overdue follow-up tasks",
    "digest_title": "Your follow-up tasks",
    "digest_heading": "Your open follow-up tasks on {day}",
    "all_tasks": "All your tasks, with filters",
    "overdue_badge": "OVERDUE",
    "priority": "Priority {priority}",
    "due": "due {due}",
    "was_due": "was due {due}",
    "customer": "Customer",
    "survey": "Survey",
    "open_and_close": "Open and close this task",
    "close_hint": "Close each task with an outcome ({outcomes}) from its page.",
    "assigned_title": "Follow-up task for you",
    "assigned_subject": "Follow-up task for you: {title}",
    "assigned_heading": "{previous} gave you a follow-up task",
    "open_task": "Open the task",
    "escalation_title": "Overdue follow-up tasks",
    "escalation_one_subject": "Overdue follow-up: {title}",
    "escalation_why": "Not closed by their due date. You get this as the escalation "
    "contact of their surveys; each task is escalated to you once per step.",
    "assigned_to": "Assigned to {assignee}",
    "overdue_by": "overdue by {duration}",
    "escalation_step": "escalation {step}",
    "duration_days": "{days}d {hours}h",
    "duration_hours": "{hours}h",
    "accepted": "Takes part",
    "consent": "Consent",
    "yes": "yes",
    "no": "no",
}

_DE: dict[str, str] = {
    "field": "{label}: {value}",
    "tasks_one": "{n} Aufgabe",
    "tasks_other": "{n} Aufgaben",
    "open_tasks_one": "{n} offene Folgeaufgabe",
    "open_tasks_other": "{n} offene Folgeaufgaben",
    "overdue_count_one": "{n} überfällig",
    "overdue_count_other": "{n} überfällig",
    "overdue_tasks_one": "{n} überfällige Folgeaufgabe",
    "overdue_tasks_other": "{n} überfällige Folgeaufgaben",
    "digest_title": "Ihre Folgeaufgaben",
    "digest_heading": "Ihre offenen Folgeaufgaben am {day}",
    "all_tasks": "Alle Ihre Aufgaben, mit Filtern",
    "overdue_badge": "ÜBERFÄLLIG",
    "priority": "Priorität {priority}",
    "due": "fällig {due}",
    "was_due": "war fällig {due}",
    "customer": "Kunde",
    "survey": "Umfrage",
    "open_and_close": "Aufgabe öffnen und abschließen",
    "close_hint": "Schließen Sie jede Aufgabe auf ihrer Seite mit einem Ergebnis ab ({outcomes}).",
    "assigned_title": "Eine Folgeaufgabe für Sie",
    "assigned_subject": "Eine Folgeaufgabe für Sie: {title}",
    "assigned_heading": "{previous} hat Ihnen eine Folgeaufgabe gegeben",
    "open_task": "Aufgabe öffnen",
    "escalation_title": "Überfällige Folgeaufgaben",
    "escalation_one_subject": "Überfällige Folgeaufgabe: {title}",
    "escalation_why": "Bis zum Fälligkeitsdatum nicht abgeschlossen. Sie erhalten dies als "
    "Eskalationskontakt ihrer Umfragen; jede Aufgabe wird Ihnen je Stufe einmal gemeldet.",
    "assigned_to": "Zugewiesen an {assignee}",
    "overdue_by": "seit {duration} überfällig",
    "escalation_step": "Eskalation {step}",
    "duration_days": "{days} T. {hours} Std.",
    "duration_hours": "{hours} Std.",
    "accepted": "Nimmt teil",
    "consent": "Einwilligung",
    "yes": "ja",
    "no": "nein",
}

_FR: dict[str, str] = {
    "field": "{label} : {value}",
    "tasks_one": "{n} tâche",
    "tasks_other": "{n} tâches",
    "open_tasks_one": "{n} tâche de suivi ouverte",
    "open_tasks_other": "{n} tâches de suivi ouvertes",
    "overdue_count_one": "{n} en retard",
    "overdue_count_other": "{n} en retard",
    "overdue_tasks_one": "{n} tâche de suivi en retard",
    "overdue_tasks_other": "{n} tâches de suivi en retard",
    "digest_title": "Vos tâches de suivi",
    "digest_heading": "Vos tâches de suivi ouvertes au {day}",
    "all_tasks": "Toutes vos tâches, avec filtres",
    "overdue_badge": "EN RETARD",
    "priority": "Priorité {priority}",
    "due": "échéance {due}",
    "was_due": "échéance {due}",
    "customer": "Client",
    "survey": "Enquête",
    "open_and_close": "Ouvrir et clore cette tâche",
    "close_hint": "Clôturez chaque tâche depuis sa page avec un résultat ({outcomes}).",
    "assigned_title": "Une tâche de suivi pour vous",
    "assigned_subject": "Une tâche de suivi pour vous : {title}",
    "assigned_heading": "{previous} vous a confié une tâche de suivi",
    "open_task": "Ouvrir la tâche",
    "escalation_title": "Tâches de suivi en retard",
    "escalation_one_subject": "Tâche de suivi en retard : {title}",
    "escalation_why": "Non closes à leur échéance. Vous recevez ce message comme contact "
    "d’escalade de leurs enquêtes ; chaque tâche vous est signalée une fois par étape.",
    "assigned_to": "Confiée à {assignee}",
    "overdue_by": "en retard de {duration}",
    "escalation_step": "escalade {step}",
    "duration_days": "{days} j {hours} h",
    "duration_hours": "{hours} h",
    "accepted": "Participe",
    "consent": "Consentement",
    "yes": "oui",
    "no": "non",
}

MAIL_STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "de": MappingProxyType(_DE), "fr": MappingProxyType(_FR)}
)

#: The outcomes a task closes with, in the order the emails list them.
OUTCOMES = ("contacted", "resolved", "no response", "not needed")


def plural_form(locale: str, n: int) -> PluralForm:
    """CLDR's cardinal rule for integers: French counts 0 and 1 as one, English and
    German only 1."""
    if locale == "fr":
        return "one" if n in (0, 1) else "other"
    return "one" if n == 1 else "other"


@dataclass(frozen=True, slots=True)
class MailWords:
    """The words of one staff email in one page locale, as the templates call them."""

    locale: str

    @classmethod
    def of(cls, locale: str | None) -> MailWords:
        return cls(page_locale(locale))

    def say(self, key: str, **values: Any) -> str:
        """String `key` with its `{name}` placeholders filled."""
        text = self._string(key)
        try:
            return text.format(**values)
        except KeyError as exc:
            raise ValueError(f"staff email word {key!r} needs {exc.args[0]}=…") from None

    def count(self, key: str, n: int) -> str:
        """`n` with the singular or plural of counted string `key` (`tasks`: "1 task")."""
        return self._string(f"{key}_{plural_form(self.locale, n)}").format(n=n)

    def _string(self, key: str) -> str:
        found = MAIL_STRINGS[self.locale].get(key)
        if found is None:  # a project's template asked for a word there is none of
            raise ValueError(f"no staff email word {key!r}; known: {', '.join(sorted(_EN))}")
        return found

    def word(self, stored: str) -> str:
        """An outcome, priority or score category stored in English, in this locale."""
        words = STORED_WORDS[self.locale]
        return words.get(stored) or CATEGORY_WORDS[self.locale].get(stored, stored)

    def duration(self, hours: int) -> str:
        """`3d 4h` or `5h` in this locale's units."""
        if hours >= 24:
            return self.say("duration_days", days=hours // 24, hours=hours % 24)
        return self.say("duration_hours", hours=hours)

    def template_context(self) -> dict[str, Any]:
        """What every staff email template gets: `lang`, `say`, `count`, `word`."""
        outcomes = ", ".join(self.word(outcome) for outcome in OUTCOMES)
        return {
            "lang": self.locale,
            "say": self.say,
            "count": self.count,
            "word": self.word,
            "outcomes": outcomes,
        }
