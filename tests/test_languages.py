"""Languages end to end (docs/survey-format.md, "Languages"): customer-facing texts as a string or a
locale mapping, a customer-facing title, `validate` warnings at file:line:column, and the
email, answer, thank-you, expired and not-found pages in the contact's resolved locale
with a truthful `lang`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pydantic import ValidationError

from cxops.collect import create_app
from cxops.messages.render import InvitationRenderer, SendView
from cxops.spec.models import Survey
from cxops.spec.texts import option_value, pick, resolve, title_for
from cxops.store.db import open_store
from cxops.testing.collect import client_for, invite

TRILINGUAL = """\
id: onboarding
name: Internal onboarding check
title: {en: "Getting started", de: "Ihr Start", fr: "Vos débuts"}
kind: ces
audience:
  source: {csv: data/customers.csv, key: id}
invitation:
  template: ces_invite
  from: "Acme <research@acme.example>"
  locales: [en, de, fr]
questions:
  - id: effort
    type: ces
    text: {en: "It was easy.", de: "Es war einfach.", fr: "C’était facile."}
  - id: hardest
    type: single
    required: false
    text: {en: "Hardest part?", de: "Am schwierigsten?"}
    options:
      - {en: Billing, de: Abrechnung, fr: Facturation}
      - {en: Importing, de: Import, fr: Import des données}
  - id: stars
    type: rating
    required: false
    min: 1
    max: 3
    text: Stars?
    labels: {1: {en: Bad, de: Schlecht, fr: Mauvais}, 3: {en: Great, de: Super, fr: Super}}
"""

NO_LOCALES = """\
id: plain
name: Plain
kind: nps
audience:
  source: {csv: data/customers.csv, key: id}
invitation:
  template: nps_invite
  from: "Acme <research@acme.example>"
questions:
  - {id: score, type: nps, text: "Would you recommend Acme?"}
"""


def test_resolution_and_picking_follow_the_design_order() -> None:
    assert resolve("pt-BR", ["en", "pt"]) == "pt"
    assert resolve("pt_br", ["pt-BR", "pt"]) == "pt-BR"
    assert resolve("es", ["fr", "en"]) == "fr"
    assert resolve(None, []) == "en"
    text = {"fr": "Bonjour", "de": "Hallo"}
    assert pick(text, "de-AT", ["en", "de"]) == "Hallo"
    assert pick(text, "es", ["fr", "de"]) == "Bonjour"
    assert pick(text, "es", ["en"]) == "Bonjour"  # neither: its first entry
    assert pick("Hi", "de", ["en", "de"]) == "Hi"
    assert option_value({"en": "Billing", "de": "Abrechnung"}) == "Billing"
    assert title_for(None, "nps", "de", ["de"]) == "Würden Sie uns weiterempfehlen?"
    assert title_for(None, "custom", "ja", ["ja"]) == "A few questions for you"


def test_a_locale_mapping_with_a_bad_key_or_an_empty_text_is_refused() -> None:
    import yaml

    data = yaml.safe_load(TRILINGUAL)
    data["questions"][0]["text"] = {"english": "Easy?"}
    with pytest.raises(ValidationError, match="expected locales like 'en'"):
        Survey.model_validate(data)
    data["questions"][0]["text"] = {"en": ""}
    with pytest.raises(ValidationError, match="expected text"):
        Survey.model_validate(data)
    data["questions"][0]["text"] = {"en": "{{ broken"}
    with pytest.raises(ValidationError):
        Survey.model_validate(data)


def test_validate_warns_at_the_text_lacking_a_declared_locale(empty_project) -> None:
    empty_project.write({"surveys/onboarding.yaml": TRILINGUAL, "data/customers.csv": "id,email\n"})
    result = empty_project.run(["validate"])
    lines = result.stdout.splitlines()
    warning = next(line for line in lines if "warning" in line)
    # questions[1].text (line 18) has no fr text
    assert warning.startswith("surveys/onboarding.yaml:18:5: questions[1].text: warning: no 'fr'")
    assert "read the 'en' one" in warning
    assert lines[-1] == "1 survey OK"
    as_json = empty_project.run(["validate", "--json"]).json
    assert [(p["severity"], p["line"], p["key_path"]) for p in as_json] == [
        ("warning", 18, "questions[1].text")
    ]


def test_a_plain_text_survey_with_several_locales_validates_clean(empty_project) -> None:
    """The docs' examples' form: one text for every language is allowed, no warning."""
    plain = TRILINGUAL.replace('{en: "Hardest part?", de: "Am schwierigsten?"}', '"Hardest part?"')
    empty_project.write({"surveys/onboarding.yaml": plain, "data/customers.csv": "id,email\n"})
    assert empty_project.run(["validate"]).stdout.strip() == "1 survey OK"


class Pages:
    def __init__(self, project, store_url):
        project.write({"surveys/onboarding.yaml": TRILINGUAL, "surveys/plain.yaml": NO_LOCALES})
        self.settings = project.settings(database_url=store_url)
        self.store = open_store(store_url)
        self.app = create_app(self.settings, store=self.store)
        self.client = client_for(self.app)
        self.key = self.app.state.collector.signing_key
        self.now = self.settings.clock()

    def invite(self, survey_id, locale, *, valid_for=timedelta(days=14), key="c1"):
        return invite(
            self.store,
            self.key,
            survey_id=survey_id,
            contact_key=f"{key}-{locale}-{survey_id}",
            email=f"{key}@example.com",
            sent_at=self.now - timedelta(hours=2),
            valid_for=valid_for,
            locale=locale,
        )


@pytest.fixture
def pages(project, store_url):
    made = Pages(project, store_url)
    yield made
    made.store.dispose()


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html)[1]


def test_a_german_contact_reads_every_text_in_german(pages) -> None:
    inv = pages.invite("onboarding", "de-AT")
    page = pages.client.get(inv.answer_path + "?effort=5")
    assert _lang(page.text) == "de"
    assert "<h1>Ihr Start</h1>" in page.text and "<title>Ihr Start</title>" in page.text
    for german in ("Es war einfach.", "Am schwierigsten?", "Abrechnung", "Schlecht", "Super"):
        assert german in page.text, german
    for english in ("It was easy.", "Hardest part?", ">Billing<", "Bad", "Internal onboarding"):
        assert english not in page.text, english
    # the option's value is the same in every language: its first text
    assert 'value="Billing"' in page.text
    done = pages.client.post(inv.answer_path, data={"effort": "6", "hardest": "Billing"})
    assert done.status_code == 200 and _lang(done.text) == "de"
    assert "Vielen Dank" in done.text and "Ihr Start" in done.text


def test_a_text_lacking_the_locale_falls_back_to_the_first_and_french_reads_french(pages):
    inv = pages.invite("onboarding", "fr")
    page = pages.client.get(inv.answer_path).text
    assert _lang(page) == "fr" and "C’était facile." in page and "Facturation" in page
    assert "Hardest part?" in page  # no fr text: the survey's first locale


def test_survey_texts_in_a_locale_without_page_strings_say_their_language(pages, project):
    portuguese = (
        NO_LOCALES.replace("id: plain", "id: plain-pt")
        .replace(
            '  from: "Acme <research@acme.example>"\n',
            '  from: "Acme <research@acme.example>"\n  locales: [pt, en]\n',
        )
        .replace('"Would you recommend Acme?"', '{pt: "Recomendaria a Acme?", en: "Recommend?"}')
    )
    project.write({"surveys/plain-pt.yaml": portuguese})
    page = pages.client.get(pages.invite("plain-pt", "pt-BR").answer_path).text
    assert _lang(page) == "en"  # the page's own words: English
    assert '<span lang="pt">Recomendaria a Acme?</span>' in page


def test_an_undeclared_locale_gets_the_surveys_first_and_no_locales_means_english(pages):
    spanish = pages.client.get(pages.invite("onboarding", "es").answer_path).text
    assert _lang(spanish) == "en" and "It was easy." in spanish
    german = pages.client.get(pages.invite("plain", "de").answer_path).text
    assert _lang(german) == "en"
    assert "Would you recommend us?" in german  # the neutral nps heading, in English
    assert "Antworten senden" not in german and "Send my answers" in german


def test_expired_and_error_pages_speak_the_contacts_language(pages) -> None:
    expired = pages.invite("onboarding", "de", valid_for=timedelta(hours=1))
    page = pages.client.get(expired.answer_path)
    assert page.status_code == 410
    assert _lang(page.text) == "de" and "Dieser Link ist abgelaufen" in page.text
    unsubscribe = pages.client.get(expired.unsubscribe_path)
    assert unsubscribe.status_code == 410 and _lang(unsubscribe.text) == "de"
    plain = pages.invite("plain", "fr", valid_for=timedelta(hours=1))
    page = pages.client.get(plain.answer_path)
    assert page.status_code == 410 and _lang(page.text) == "en"  # the survey speaks en only
    bad = pages.client.get("/a/not-a-token", headers={"Accept-Language": "fr-CH,fr;q=0.9"})
    assert bad.status_code == 404 and _lang(bad.text) == "fr"
    errors = pages.client.post(pages.invite("onboarding", "de", key="c2").answer_path, data={})
    assert errors.status_code == 422 and _lang(errors.text) == "de"
    assert "<title>Bitte prüfen Sie Ihre Antworten – Ihr Start</title>" in errors.text


def test_the_email_speaks_the_contacts_locale(project) -> None:
    import yaml

    survey = Survey.model_validate(yaml.safe_load(TRILINGUAL))
    settings = project.settings(public_url="https://cx.acme.example")
    renderer = InvitationRenderer(survey, settings)

    def message(locale):
        return renderer.render_one(
            SendView(
                send_id=f"s-{locale}",
                email="x@example.com",
                contact_key="x",
                segment="other",
                locale=locale,
                contact={},
                step=0,
                expires_at=settings.clock() + timedelta(days=3),
            )
        )

    german = message("de")
    assert '<html lang="de"' in german.html
    assert "Es war einfach." in german.html and "Es war einfach." in german.text
    assert "It was easy." not in german.html
    french = message("fr")
    assert "C’était facile." in french.html
    assert "It was easy." in message("es").html  # undeclared: the first locale


def test_french_text_emails_put_a_space_before_the_colon(project) -> None:
    import yaml

    survey = Survey.model_validate(yaml.safe_load(TRILINGUAL))
    settings = project.settings(public_url="https://cx.acme.example")
    message = InvitationRenderer(survey, settings).render_one(
        SendView(
            send_id="s-fr",
            email="x@example.com",
            contact_key="x",
            segment="other",
            locale="fr",
            contact={},
            step=0,
            expires_at=settings.clock() + timedelta(days=3),
        )
    )
    assert "Se désabonner des enquêtes par e-mail\u00a0: https://" in message.text
    assert re.search(r"\(Pas du tout d’accord\)\u00a0: https://", message.text)
    assert not re.search(r"\w: https://", message.text)


def test_placeholders_in_each_translation_are_checked(empty_project) -> None:
    broken = TRILINGUAL.replace('de: "Es war einfach."', 'de: "Es war einfach, {{ contact.nam }}."')
    empty_project.write(
        {"surveys/onboarding.yaml": broken, "data/customers.csv": "id,email,name\n"}
    )
    result = empty_project.run(["validate"], expect_pass=False)
    assert "questions[0].text.de" in result.output and "'nam'" in result.output


INTERVIEW = """\
id: talk
name: Internal talk
kind: interview
audience:
  source: {csv: data/customers.csv, key: id}
interview:
  goal: 3
  batch: 5
  duration: 30m
  incentive: {en: "A gift card", de: "Ein Gutschein"}
  booking_url: "https://book.example/slots"
  consent: {en: "We record the call.", de: "Wir zeichnen das Gespräch auf."}
invitation:
  template: interview_invite
  from: "Research <research@acme.example>"
  locales: [en, de]
"""


def test_interview_consent_and_incentive_speak_the_contacts_language(pages, project):
    project.write({"surveys/talk.yaml": INTERVIEW})
    page = pages.client.get(pages.invite("talk", "de").answer_path).text
    assert _lang(page) == "de"
    assert "Wir zeichnen das Gespräch auf." in page and "Ein Gutschein" in page
    assert "We record the call." not in page and "A gift card" not in page
    import yaml

    survey = Survey.model_validate(yaml.safe_load(INTERVIEW))
    settings = project.settings(public_url="https://cx.acme.example")
    message = InvitationRenderer(survey, settings).render_one(
        SendView(
            send_id="s-talk",
            email="x@example.com",
            contact_key="x",
            segment="other",
            locale="de",
            contact={},
            step=0,
            expires_at=settings.clock() + timedelta(days=3),
        )
    )
    assert "Ein Gutschein" in message.text and "Wir zeichnen" in message.text
