"""The collector's page strings in English, German and French.

Pages use the send's locale with the same fallback as emails (`resolve_locale`):
`de-AT` -> `de`, anything unknown -> `en`. Survey texts come from the survey file;
these are only the words around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cxops.locales import resolve_locale

PAGE_LOCALES: tuple[str, ...] = ("en", "de", "fr")

_EN: dict[str, str] = {
    "default_title": "Survey",
    "optional": "(optional)",
    "submit": "Send my answers",
    "saved_score": "Thank you, your answer has been saved. You can add more below.",
    "provisional_score": "We have kept your score. It counts once you tap or type on this page, or send your answers.",
    "errors_heading": "Please check these answers:",
    "errors_title": "Please check your answers",
    "thanks_title": "Thank you",
    "thanks_body": "Your answers have been saved. Thank you for taking the time.",
    "thanks_edit": "Change my answers",
    "thanks_interview_accepted": "Thank you! Please pick a time that suits you:",
    "thanks_interview_book": "Book your interview",
    "thanks_interview_declined": "Thank you for letting us know.",
    "thanks_interview_screened_out": "Thank you for your answers! This study is looking for a different profile this time, so we will not ask you for an interview now. Your answers still help us.",
    "nps_low": "0 – not at all likely",
    "nps_high": "10 – extremely likely",
    "csat_low": "1 – very dissatisfied",
    "csat_high": "5 – very satisfied",
    "ces_low": "1 – strongly disagree",
    "ces_high": "7 – strongly agree",
    "multi_hint": "Choose all that apply.",
    "text_hint": "At most {max_length} characters.",
    "yes": "Yes",
    "no": "No",
    "accept_question": "Would you like to take part in a {duration} interview?",
    "incentive": "As a thank-you: {incentive}",
    "consent_label": "I agree: {consent}",
    "unsubscribe_title": "Unsubscribe",
    "unsubscribe_body": "Stop all survey emails to {email}?",
    "unsubscribe_button": "Unsubscribe",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_body": "We will not send survey emails to {email} any more.",
    "expired_title": "This link has expired",
    "expired_body": "This link is no longer valid. Nothing has been changed. Thank you for your interest.",
    "not_found_title": "Page not found",
    "not_found_body": "This link is not valid. Please check that it was copied completely.",
    "unavailable_title": "Please try again in a moment",
    "unavailable_body": "We could not save this just now, so nothing was saved. Please go back and send it again in a moment.",
    "server_error_title": "Something went wrong",
    "server_error_body": "Something went wrong on our side. Please try again later.",
    "bad_request_title": "Something is wrong with this request",
    "bad_request_body": "The request could not be read. Please go back and try again.",
    "too_large_title": "That was too much text",
    "too_large_body": "Your answer was too long to be saved. Please shorten it and send it again.",
    "error.required": "Please answer this question.",
    "error.invalid_number": "Please choose one of the numbers.",
    "error.out_of_range": "Please choose a number from {low} to {high}.",
    "error.invalid_option": "Please choose one of the options shown.",
    "error.one_value": "Please choose only one answer.",
    "error.too_long": "Please shorten your answer to at most {max_length} characters.",
    "error.consent_required": "Please agree to take part, or answer No above.",
}

_DE: dict[str, str] = {
    "default_title": "Umfrage",
    "optional": "(optional)",
    "submit": "Antworten senden",
    "saved_score": "Danke, Ihre Antwort wurde gespeichert. Unten können Sie noch mehr ergänzen.",
    "provisional_score": "Wir haben Ihre Bewertung vorgemerkt. Sie zählt, sobald Sie auf dieser Seite tippen oder klicken oder Ihre Antworten senden.",
    "errors_heading": "Bitte prüfen Sie diese Antworten:",
    "errors_title": "Bitte prüfen Sie Ihre Antworten",
    "thanks_title": "Vielen Dank",
    "thanks_body": "Ihre Antworten wurden gespeichert. Danke, dass Sie sich die Zeit genommen haben.",
    "thanks_edit": "Meine Antworten ändern",
    "thanks_interview_accepted": "Vielen Dank! Bitte wählen Sie einen passenden Termin:",
    "thanks_interview_book": "Interview buchen",
    "thanks_interview_declined": "Danke für Ihre Rückmeldung.",
    "thanks_interview_screened_out": "Vielen Dank für Ihre Antworten! Diese Studie sucht diesmal ein anderes Profil, daher bitten wir Sie jetzt nicht um ein Interview. Ihre Antworten helfen uns trotzdem.",
    "nps_low": "0 – sehr unwahrscheinlich",
    "nps_high": "10 – äußerst wahrscheinlich",
    "csat_low": "1 – sehr unzufrieden",
    "csat_high": "5 – sehr zufrieden",
    "ces_low": "1 – stimme überhaupt nicht zu",
    "ces_high": "7 – stimme voll und ganz zu",
    "multi_hint": "Mehrfachauswahl möglich.",
    "text_hint": "Höchstens {max_length} Zeichen.",
    "yes": "Ja",
    "no": "Nein",
    "accept_question": "Möchten Sie an einem Interview ({duration}) teilnehmen?",
    "incentive": "Als Dankeschön: {incentive}",
    "consent_label": "Ich stimme zu: {consent}",
    "unsubscribe_title": "Abmelden",
    "unsubscribe_body": "Keine Umfrage-E-Mails mehr an {email} senden?",
    "unsubscribe_button": "Abmelden",
    "unsubscribed_title": "Sie sind abgemeldet",
    "unsubscribed_body": "Wir senden keine Umfrage-E-Mails mehr an {email}.",
    "expired_title": "Dieser Link ist abgelaufen",
    "expired_body": "Dieser Link ist nicht mehr gültig. Es wurde nichts geändert. Danke für Ihr Interesse.",
    "not_found_title": "Seite nicht gefunden",
    "not_found_body": "Dieser Link ist ungültig. Bitte prüfen Sie, ob er vollständig kopiert wurde.",
    "unavailable_title": "Bitte versuchen Sie es gleich noch einmal",
    "unavailable_body": "Wir konnten gerade nichts speichern, es wurde also nichts gespeichert. Bitte gehen Sie zurück und senden Sie es gleich noch einmal.",
    "server_error_title": "Etwas ist schiefgelaufen",
    "server_error_body": "Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es später noch einmal.",
    "bad_request_title": "Mit dieser Anfrage stimmt etwas nicht",
    "bad_request_body": "Die Anfrage konnte nicht gelesen werden. Bitte gehen Sie zurück und versuchen Sie es erneut.",
    "too_large_title": "Das war zu viel Text",
    "too_large_body": "Ihre Antwort war zu lang zum Speichern. Bitte kürzen Sie sie und senden Sie sie erneut.",
    "error.required": "Bitte beantworten Sie diese Frage.",
    "error.invalid_number": "Bitte wählen Sie eine der Zahlen.",
    "error.out_of_range": "Bitte wählen Sie eine Zahl von {low} bis {high}.",
    "error.invalid_option": "Bitte wählen Sie eine der angezeigten Möglichkeiten.",
    "error.one_value": "Bitte wählen Sie nur eine Antwort.",
    "error.too_long": "Bitte kürzen Sie Ihre Antwort auf höchstens {max_length} Zeichen.",
    "error.consent_required": "Bitte stimmen Sie der Teilnahme zu oder antworten Sie oben mit Nein.",
}

_FR: dict[str, str] = {
    "default_title": "Enquête",
    "optional": "(facultatif)",
    "submit": "Envoyer mes réponses",
    "saved_score": "Merci, votre réponse a été enregistrée. Vous pouvez compléter ci-dessous.",
    "provisional_score": "Nous avons noté votre note. Elle comptera dès que vous toucherez cette page ou enverrez vos réponses.",
    "errors_heading": "Veuillez vérifier ces réponses :",
    "errors_title": "Veuillez vérifier vos réponses",
    "thanks_title": "Merci",
    "thanks_body": "Vos réponses ont été enregistrées. Merci d’avoir pris le temps de répondre.",
    "thanks_edit": "Modifier mes réponses",
    "thanks_interview_accepted": "Merci ! Choisissez un créneau qui vous convient :",
    "thanks_interview_book": "Réserver l’entretien",
    "thanks_interview_declined": "Merci de nous avoir répondu.",
    "thanks_interview_screened_out": "Merci pour vos réponses ! Cette étude recherche cette fois un autre profil : nous ne vous proposerons donc pas d’entretien pour l’instant. Vos réponses nous aident quand même.",
    "nps_low": "0 – pas du tout probable",
    "nps_high": "10 – extrêmement probable",
    "csat_low": "1 – très insatisfait",
    "csat_high": "5 – très satisfait",
    "ces_low": "1 – pas du tout d’accord",
    "ces_high": "7 – tout à fait d’accord",
    "multi_hint": "Plusieurs choix possibles.",
    "text_hint": "{max_length} caractères au maximum.",
    "yes": "Oui",
    "no": "Non",
    "accept_question": "Souhaitez-vous participer à un entretien de {duration} ?",
    "incentive": "En remerciement : {incentive}",
    "consent_label": "J’accepte : {consent}",
    "unsubscribe_title": "Se désabonner",
    "unsubscribe_body": "Ne plus envoyer d’enquêtes à {email} ?",
    "unsubscribe_button": "Se désabonner",
    "unsubscribed_title": "Vous êtes désabonné",
    "unsubscribed_body": "Nous n’enverrons plus d’enquêtes à {email}.",
    "expired_title": "Ce lien a expiré",
    "expired_body": "Ce lien n’est plus valable. Rien n’a été modifié. Merci de votre intérêt.",
    "not_found_title": "Page introuvable",
    "not_found_body": "Ce lien n’est pas valable. Vérifiez qu’il a été copié en entier.",
    "unavailable_title": "Veuillez réessayer dans un instant",
    "unavailable_body": "Nous n’avons pas pu enregistrer pour le moment : rien n’a été enregistré. Revenez en arrière et renvoyez dans un instant.",
    "server_error_title": "Une erreur est survenue",
    "server_error_body": "Une erreur est survenue de notre côté. Veuillez réessayer plus tard.",
    "bad_request_title": "Cette requête est incorrecte",
    "bad_request_body": "La requête n’a pas pu être lue. Revenez en arrière et réessayez.",
    "too_large_title": "Le texte est trop long",
    "too_large_body": "Votre réponse était trop longue pour être enregistrée. Raccourcissez-la et renvoyez-la.",
    "error.required": "Veuillez répondre à cette question.",
    "error.invalid_number": "Veuillez choisir l’un des nombres.",
    "error.out_of_range": "Veuillez choisir un nombre de {low} à {high}.",
    "error.invalid_option": "Veuillez choisir l’une des options proposées.",
    "error.one_value": "Veuillez choisir une seule réponse.",
    "error.too_long": "Veuillez raccourcir votre réponse à {max_length} caractères au maximum.",
    "error.consent_required": "Veuillez accepter de participer, ou répondez Non ci-dessus.",
}

_STRINGS: dict[str, Mapping[str, str]] = {
    "en": MappingProxyType(_EN),
    "de": MappingProxyType(_DE),
    "fr": MappingProxyType(_FR),
}


def page_locale(requested: str | None) -> str:
    """The page locale for a contact's locale: exact, language, else `en`."""
    return resolve_locale(requested, PAGE_LOCALES)


def strings(locale: str) -> Mapping[str, str]:
    """Every page string of `locale` (a page locale; unknown ones fall back to `en`)."""
    return _STRINGS.get(page_locale(locale), _STRINGS["en"])


def message(locale: str, key: str, **params: Any) -> str:
    """One string of `locale`, with `{name}` placeholders filled from `params`."""
    text = strings(locale).get(key) or _STRINGS["en"][key]
    return text.format(**params) if params else text
