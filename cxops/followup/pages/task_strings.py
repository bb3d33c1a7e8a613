"""The task page's words in English, German and French (the rule's texts stay as written).

The page picks its locale like the assignee's list: `?lang=`, else the browser's
`Accept-Language`, else English. Outcomes, statuses and priorities are stored in English
and shown through these strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cxops.collect.i18n import page_locale

#: Outcomes and priorities (stored in English), as the task page and the list show them.
STORED_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "contacted": "contacted",
        "resolved": "resolved",
        "no response": "no response",
        "not needed": "not needed",
        "urgent": "urgent",
        "high": "high",
        "normal": "normal",
        "low": "low",
    },
    "de": {
        "contacted": "kontaktiert",
        "resolved": "gelöst",
        "no response": "keine Antwort",
        "not needed": "nicht nötig",
        "urgent": "dringend",
        "high": "hoch",
        "normal": "normal",
        "low": "niedrig",
    },
    "fr": {
        "contacted": "contacté",
        "resolved": "résolu",
        "no response": "pas de réponse",
        "not needed": "pas nécessaire",
        "urgent": "urgente",
        "high": "haute",
        "normal": "normale",
        "low": "basse",
    },
}

_EN: dict[str, str] = {
    "title": "Task: {title}",
    "overdue": "Overdue",
    "state_open": "Open",
    "state_done": "Closed: {outcome}",
    "state_withdrawn": "Withdrawn",
    "snoozed": "Snoozed until {until}",
    "priority": "priority {priority}",
    "due": "due {due}",
    "customer": "Customer",
    "name": "Name",
    "email": "Email",
    "key": "Key",
    "segment": "Segment",
    "answer": "Answer",
    "history": "History",
    "answers_of": "Answers of {customer}",
    "date": "Date",
    "survey": "Survey",
    "score": "Score",
    "comment": "Comment",
    "this_answer": "(this answer)",
    "notes": "Notes",
    "playbook": "Playbook",
    "playbook_hint": "“resolved” needs every step ticked, or a note that says why not.",
    "outcome": "Outcome",
    "note": "Note",
    "close": "Close the task",
    "keep_open": "Save the note, keep it open",
    "reassign_legend": "Give this task to someone else",
    "reassign_to": "Their email address",
    "reason": "Why (optional, kept with the task)",
    "reassign": "Reassign the task",
    "snooze_legend": "Snooze the task",
    "snooze_until": "Until (a date in {timezone})",
    "snooze_hint": "Out of the digest and no escalation until the start of that day.",
    "snooze": "Snooze",
    "saved_closed": "The task is closed. Thank you!",
    "saved_note": "Your note is saved; the task stays open.",
    "saved_snoozed": "The task is snoozed until {until}.",
    "reassigned": "The task is now with {assignee}.",
    "told_sent": "They were told by email.",
    "told_already_sent": "They had already been told by email.",
    "told_other": "The email to them was not sent ({status}).",
    "told_in_doubt": "Whether the email to them left is not known; it is not sent again on its own.",
    "told_being_sent": "Another run is sending them the email.",
    "link_dead": "This link no longer closes the task; theirs does.",
    "too_long": "The note is longer than {max} characters.",
    "note_first": "Write a note first.",
    "choose": "Choose an outcome: {outcomes}.",
    "unknown_action": "Unknown action.",
    "already": "This task is already {status}; nothing was changed.",
    "moved": "This task was given to someone else meanwhile; nothing was changed.",
    "steps_open": "Before “resolved”, tick every step or say in the note why not (open: {steps}).",
    "bad_email": "“{value}” is not an email address; nothing was changed.",
    "same_assignee": "The task is already with {value}; nothing was changed.",
    "bad_date": "Enter a date as YYYY-MM-DD; nothing was changed.",
    "past_date": "Choose a date after today ({today}); nothing was changed.",
    "open": "open",
    "done": "closed",
    "withdrawn": "withdrawn",
    **STORED_WORDS["en"],
}

_DE: dict[str, str] = {
    "title": "Aufgabe: {title}",
    "overdue": "Überfällig",
    "state_open": "Offen",
    "state_done": "Abgeschlossen: {outcome}",
    "state_withdrawn": "Zurückgezogen",
    "snoozed": "Zurückgestellt bis {until}",
    "priority": "Priorität {priority}",
    "due": "fällig {due}",
    "customer": "Kunde",
    "name": "Name",
    "email": "E-Mail",
    "key": "Schlüssel",
    "segment": "Segment",
    "answer": "Antwort",
    "history": "Verlauf",
    "answers_of": "Antworten von {customer}",
    "date": "Datum",
    "survey": "Umfrage",
    "score": "Bewertung",
    "comment": "Kommentar",
    "this_answer": "(diese Antwort)",
    "notes": "Notizen",
    "playbook": "Checkliste",
    "playbook_hint": "„gelöst“ setzt voraus, dass jeder Schritt abgehakt ist – oder eine Notiz, warum nicht.",
    "outcome": "Ergebnis",
    "note": "Notiz",
    "close": "Aufgabe abschließen",
    "keep_open": "Notiz speichern, offen lassen",
    "reassign_legend": "Aufgabe jemand anderem geben",
    "reassign_to": "Deren E-Mail-Adresse",
    "reason": "Warum (optional, wird bei der Aufgabe gespeichert)",
    "reassign": "Aufgabe übergeben",
    "snooze_legend": "Aufgabe zurückstellen",
    "snooze_until": "Bis (ein Datum in {timezone})",
    "snooze_hint": "Bis zum Beginn dieses Tages nicht in der Übersicht und keine Eskalation.",
    "snooze": "Zurückstellen",
    "saved_closed": "Die Aufgabe ist abgeschlossen. Danke!",
    "saved_note": "Ihre Notiz ist gespeichert; die Aufgabe bleibt offen.",
    "saved_snoozed": "Die Aufgabe ist zurückgestellt bis {until}.",
    "reassigned": "Die Aufgabe liegt jetzt bei {assignee}.",
    "told_sent": "Sie wurden per E-Mail benachrichtigt.",
    "told_already_sent": "Sie waren bereits per E-Mail benachrichtigt.",
    "told_other": "Die E-Mail an sie wurde nicht gesendet ({status}).",
    "told_in_doubt": "Ob die E-Mail an sie hinausging, ist nicht bekannt; sie wird nicht von selbst erneut gesendet.",
    "told_being_sent": "Ein anderer Lauf sendet ihnen die E-Mail gerade.",
    "link_dead": "Dieser Link schließt die Aufgabe nicht mehr ab; deren Link schon.",
    "too_long": "Die Notiz ist länger als {max} Zeichen.",
    "note_first": "Bitte schreiben Sie zuerst eine Notiz.",
    "choose": "Bitte wählen Sie ein Ergebnis: {outcomes}.",
    "unknown_action": "Unbekannte Aktion.",
    "already": "Diese Aufgabe ist bereits {status}; nichts wurde geändert.",
    "moved": "Diese Aufgabe wurde inzwischen jemand anderem gegeben; nichts wurde geändert.",
    "steps_open": "Haken Sie vor „gelöst“ jeden Schritt ab oder schreiben Sie in die Notiz, warum nicht (offen: {steps}).",
    "bad_email": "„{value}“ ist keine E-Mail-Adresse; nichts wurde geändert.",
    "same_assignee": "Die Aufgabe liegt bereits bei {value}; nichts wurde geändert.",
    "bad_date": "Bitte geben Sie ein Datum als JJJJ-MM-TT ein; nichts wurde geändert.",
    "past_date": "Bitte wählen Sie ein Datum nach heute ({today}); nichts wurde geändert.",
    "open": "offen",
    "done": "abgeschlossen",
    "withdrawn": "zurückgezogen",
    **STORED_WORDS["de"],
}

_FR: dict[str, str] = {
    "title": "Tâche : {title}",
    "overdue": "En retard",
    "state_open": "Ouverte",
    "state_done": "Close : {outcome}",
    "state_withdrawn": "Retirée",
    "snoozed": "Reportée jusqu’au {until}",
    "priority": "priorité {priority}",
    "due": "échéance {due}",
    "customer": "Client",
    "name": "Nom",
    "email": "E-mail",
    "key": "Clé",
    "segment": "Segment",
    "answer": "Réponse",
    "history": "Historique",
    "answers_of": "Réponses de {customer}",
    "date": "Date",
    "survey": "Enquête",
    "score": "Note",
    "comment": "Commentaire",
    "this_answer": "(cette réponse)",
    "notes": "Notes",
    "playbook": "Liste de contrôle",
    "playbook_hint": "« résolu » demande que chaque étape soit cochée, ou une note qui dit pourquoi pas.",
    "outcome": "Résultat",
    "note": "Note",
    "close": "Clore la tâche",
    "keep_open": "Enregistrer la note, laisser ouverte",
    "reassign_legend": "Confier cette tâche à quelqu’un d’autre",
    "reassign_to": "Son adresse e-mail",
    "reason": "Pourquoi (facultatif, gardé avec la tâche)",
    "reassign": "Réattribuer la tâche",
    "snooze_legend": "Reporter la tâche",
    "snooze_until": "Jusqu’au (une date en {timezone})",
    "snooze_hint": "Hors du récapitulatif et sans escalade jusqu’au début de ce jour.",
    "snooze": "Reporter",
    "saved_closed": "La tâche est close. Merci !",
    "saved_note": "Votre note est enregistrée ; la tâche reste ouverte.",
    "saved_snoozed": "La tâche est reportée jusqu’au {until}.",
    "reassigned": "La tâche est maintenant confiée à {assignee}.",
    "told_sent": "Cette personne a été prévenue par e-mail.",
    "told_already_sent": "Cette personne avait déjà été prévenue par e-mail.",
    "told_other": "L’e-mail ne lui a pas été envoyé ({status}).",
    "told_in_doubt": "On ne sait pas si l’e-mail lui est parti ; il n’est pas renvoyé de lui-même.",
    "told_being_sent": "Un autre traitement lui envoie l’e-mail en ce moment.",
    "link_dead": "Ce lien ne permet plus de clore la tâche ; le sien, oui.",
    "too_long": "La note dépasse {max} caractères.",
    "note_first": "Écrivez d’abord une note.",
    "choose": "Choisissez un résultat : {outcomes}.",
    "unknown_action": "Action inconnue.",
    "already": "Cette tâche est déjà {status} ; rien n’a été modifié.",
    "moved": "Cette tâche a entre-temps été confiée à quelqu’un d’autre ; rien n’a été modifié.",
    "steps_open": "Cochez chaque étape avant « résolu », ou dites dans la note pourquoi pas (ouvertes : {steps}).",
    "bad_email": "« {value} » n’est pas une adresse e-mail ; rien n’a été modifié.",
    "same_assignee": "La tâche est déjà confiée à {value} ; rien n’a été modifié.",
    "bad_date": "Saisissez une date au format AAAA-MM-JJ ; rien n’a été modifié.",
    "past_date": "Choisissez une date après aujourd’hui ({today}) ; rien n’a été modifié.",
    "open": "ouverte",
    "done": "close",
    "withdrawn": "retirée",
    **STORED_WORDS["fr"],
}

#: A score's category as the pages show it beside the score (`3 (Kritiker)`).
CATEGORY_WORDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(
            {
                "promoter": "promoter",
                "passive": "passive",
                "detractor": "detractor",
                "satisfied": "satisfied",
                "neutral": "neutral",
                "dissatisfied": "dissatisfied",
            }
        ),
        "de": MappingProxyType(
            {
                "promoter": "Promotor",
                "passive": "passiv",
                "detractor": "Kritiker",
                "satisfied": "zufrieden",
                "neutral": "neutral",
                "dissatisfied": "unzufrieden",
            }
        ),
        "fr": MappingProxyType(
            {
                "promoter": "promoteur",
                "passive": "passif",
                "detractor": "détracteur",
                "satisfied": "satisfait",
                "neutral": "neutre",
                "dissatisfied": "insatisfait",
            }
        ),
    }
)

TASK_STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "de": MappingProxyType(_DE), "fr": MappingProxyType(_FR)}
)


def task_strings(locale: str | None) -> Mapping[str, str]:
    """The task page's strings in the best page locale."""
    return TASK_STRINGS[page_locale(locale)]


def category_words(locale: str | None) -> Mapping[str, str]:
    """Score categories in the best page locale."""
    return CATEGORY_WORDS[page_locale(locale)]
