"""The staff emails (digest, assignment, escalation): one escalation email per recipient and
run, and each email in its reader's language and time zone. On SQLite and PostgreSQL,
with the clock moved."""

from __future__ import annotations

import re

import pytest

from cxops.channels.outbox import OutboxChannel
from cxops.errors import TemplateError
from cxops.followup.apply import apply_rules
from cxops.followup.digest_mail import send_digests
from cxops.followup.escalation import escalate_overdue
from cxops.followup.mail_words import MailWords
from cxops.followup.tasks import assign_task
from cxops.spec.lookup import find_survey, project_surveys
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.testing.followup import (
    OWNER,
    SURVEY_ID,
    add_response,
    at,
    body,
    dead_claimer,
    read_mbox,
    survey_yaml,
    write_survey,
)

MONDAY = "2026-11-23T09:00:00+00:00"
#: The tasks made at MONDAY are due Wednesday 09:00 UTC (10:00 in Berlin + 2 business days).
PAST_DUE = "2026-11-25T10:00:00+00:00"
ANNA = "csm.anna@acme.example"
BOB = "bob@acme.example"

TITLE = '{en: "How are we doing?", de: "Wie machen wir uns?", fr: "Comment allons-nous ?"}'
QUESTION = (
    '{en: "How likely are you to recommend us?", de: "Wie wahrscheinlich empfehlen Sie uns?", '
    'fr: "Quelle est la probabilité que vous nous recommandiez ?"}'
)


def localized_survey(**options: object) -> str:
    """The test survey with a public title and its main question in en, de and fr."""
    text = survey_yaml(**options)  # type: ignore[arg-type]
    text = text.replace("kind: nps\n", f"kind: nps\ntitle: {TITLE}\n")
    return text.replace('text: "How likely are you to recommend us?"', f"text: {QUESTION}")


def make_tasks(project, store, answers: dict[str, dict], when: str, contact=None) -> None:
    write_survey(project.root)
    (project.root / "surveys" / f"{SURVEY_ID}.yaml").write_text(localized_survey())
    for key, answer in answers.items():
        add_response(store, key, answer, when=at(when), contact=contact)
    settings = project.settings(now=at(when))
    apply_rules(
        settings, store, find_survey(SURVEY_ID, settings.surveys_path, settings.project_dir)
    )


def escalate(project, store, when: str, **settings_options):
    settings = project.settings(now=at(when), **settings_options)
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
    return escalate_overdue(settings, store, surveys, channel).as_dict()


def subject_of(message) -> str:
    # Python's parser keeps the space before a subject that starts with an encoded word
    return str(message["Subject"]).strip()


def escalation_emails(project) -> list:
    """Every email in the outbox (these tests send nothing else)."""
    return read_mbox(project.root / "outbox")


def digest(project, store, when: str, **settings_options):
    settings = project.settings(now=at(when), **settings_options)
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
    return send_digests(settings, store, surveys, channel).as_dict()


# -- escalation storms -----------------------------------------------------------------


def test_fifty_overdue_tasks_of_one_lead_are_one_email_per_run(empty_project, store):
    make_tasks(empty_project, store, {f"c{i}": {"score": 2} for i in range(50)}, MONDAY)
    later = "2026-11-23T12:00:00+00:00"  # due Wednesday 12:00 UTC, after the others
    add_response(store, "late", {"score": 1}, when=at(later))
    settings = empty_project.settings(now=at(later))
    apply_rules(
        settings, store, find_survey(SURVEY_ID, settings.surveys_path, settings.project_dir)
    )

    first = escalate(empty_project, store, PAST_DUE)
    [message] = escalation_emails(empty_project)
    assert first["sent"] == 50 and first["emails"] == [{"to": OWNER, "tasks": 50, "status": "sent"}]
    assert message["To"] == OWNER and subject_of(message) == "50 overdue follow-up tasks"
    text = body(message)
    assert text.startswith("50 overdue follow-up tasks.")
    for i in range(50):
        assert text.count(f"Customer c{i} <") == 1
    assert len(re.findall(r"/t/\S+", text)) == 50
    assert "Customer late" not in text
    assert "was due 2026-11-25 10:00 CET, overdue by 1h" in text  # the survey's zone: Berlin
    assert "Assigned to csm.anna@acme.example" in text
    with store.session() as session:
        steps = {view.task.contact_key: view.task.escalation_step for view in q.all_tasks(session)}
        rows = n.notifications(session, "escalation:")
    assert steps == {**{f"c{i}": 1 for i in range(50)}, "late": 0}
    assert {row.status for row in rows} == {"sent"} and len(rows) == 50

    again = escalate(empty_project, store, "2026-11-25T11:00:00+00:00")
    assert (again["sent"], again["emails"]) == (0, [])
    assert len(escalation_emails(empty_project)) == 1

    third = escalate(empty_project, store, "2026-11-25T13:00:00+00:00")
    assert third["emails"] == [{"to": OWNER, "tasks": 1, "status": "sent"}]
    _, last = escalation_emails(empty_project)
    assert subject_of(last) == "Overdue follow-up: Call Customer late about their score of 1"
    assert "1 overdue follow-up task." in body(last) and "Customer c0" not in body(last)


def test_an_escalation_email_a_dead_run_handed_over_is_in_doubt_for_each_of_its_tasks(
    empty_project, store
):
    make_tasks(empty_project, store, {f"c{i}": {"score": 2} for i in range(3)}, MONDAY)
    gone = dead_claimer()
    with store.session() as session:
        ids = [view.task.id for view in q.all_tasks(session)]
    keys = [f"escalation:{task_id}:1" for task_id in ids]
    message = f"escalation-digest:{OWNER}:{gone.claim_id}"
    with store.session(write=True) as session:  # the dead run's message, handed to the channel
        for key in (*keys, message):
            n.claim_notification(session, key, "escalation", OWNER, at(PAST_DUE), gone)
        n.mark_sending(session, [*keys, message], gone)

    first = escalate(empty_project, store, PAST_DUE)
    assert first["sent"] == 0 and first["emails"] == []
    assert sorted(e["task"] for e in first["escalations"] if e["status"] == "in_doubt") == ids
    assert escalate(empty_project, store, "2026-11-25T11:00:00+00:00")["escalations"] == []
    assert escalation_emails(empty_project) == []  # never sent again on its own
    with store.session() as session:
        assert {view.task.escalation_step for view in q.all_tasks(session)} == {1}


class _TimesOut:
    """A channel whose request times out: the email may or may not have left."""

    name = "test"

    def send(self, groups, context):
        raise TimeoutError("read timed out")

    def close(self) -> None:
        return None


def test_an_escalation_email_the_channel_did_not_answer_for_leaves_its_tasks_in_doubt(
    empty_project, store
):
    make_tasks(empty_project, store, {f"c{i}": {"score": 2} for i in range(3)}, MONDAY)
    settings = empty_project.settings(now=at(PAST_DUE))
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    with pytest.raises(TimeoutError):
        escalate_overdue(settings, store, surveys, _TimesOut())
    with store.session() as session:
        rows = n.notifications(session, "escalation")
    assert len(rows) == 4 and {row.status for row in rows} == {"in_doubt"}  # 3 tasks, 1 email

    after = escalate(empty_project, store, "2026-11-25T11:00:00+00:00")
    assert [e["status"] for e in after["escalations"]] == ["in_doubt"] * 3
    assert after["emails"] == [] and escalation_emails(empty_project) == []
    assert escalate(empty_project, store, "2026-11-25T12:00:00+00:00")["escalations"] == []


def test_escalations_are_in_the_leads_language_and_time_zone(empty_project, store):
    make_tasks(empty_project, store, {"c1": {"score": 2}, "c2": {"score": 3}}, MONDAY)
    staff = {OWNER.upper(): {"locale": "fr-CA", "timezone": "America/Montreal"}}
    escalate(empty_project, store, "2026-11-25T12:30:00+00:00", staff=staff)
    [message] = escalation_emails(empty_project)
    assert subject_of(message) == "2 tâches de suivi en retard"
    text = body(message)
    assert text.startswith("2 tâches de suivi en retard.")
    assert "échéance 2026-11-25 04:00 EST, en retard de 3 h" in text
    assert "Quelle est la probabilité que vous nous recommandiez ? : 2 (détracteur)" in text
    assert "Enquête : Comment allons-nous ?" in text and "Client : Customer c1 <" in text
    assert 'lang="fr"' in body(message, "html") and "score:" not in text


# -- the digest in the assignee's language ---------------------------------------------


@pytest.mark.parametrize(
    ("locale", "subject", "heading", "label", "survey", "all_tasks", "due"),
    [
        (
            "en",
            "2 open follow-up tasks, 1 overdue – 2026-11-25",
            "Your open follow-up tasks on 2026-11-25: 2 open follow-up tasks (1 overdue).",
            "How likely are you to recommend us?: 2 (detractor)",
            "Priority high, due 2026-11-25 04:00 EST – How are we doing?",
            "All your tasks, with filters: ",
            "[OVERDUE] Call Customer old",
        ),
        (
            "de",
            "2 offene Folgeaufgaben, 1 überfällig – 2026-11-25",
            "Ihre offenen Folgeaufgaben am 2026-11-25: 2 offene Folgeaufgaben (1 überfällig).",
            "Wie wahrscheinlich empfehlen Sie uns?: 2 (Kritiker)",
            "Priorität hoch, fällig 2026-11-25 04:00 EST – Wie machen wir uns?",
            "Alle Ihre Aufgaben, mit Filtern: ",
            "[ÜBERFÄLLIG] Call Customer old",
        ),
        (
            "fr",
            "2 tâches de suivi ouvertes, 1 en retard – 2026-11-25",
            "Vos tâches de suivi ouvertes au 2026-11-25 : 2 tâches de suivi ouvertes (1 en retard).",
            "Quelle est la probabilité que vous nous recommandiez ? : 2 (détracteur)",
            "Priorité haute, échéance 2026-11-25 04:00 EST – Comment allons-nous ?",
            "Toutes vos tâches, avec filtres : ",
            "[EN RETARD] Call Customer old",
        ),
    ],
)
def test_a_digest_speaks_its_assignees_language_in_their_time_zone(
    empty_project, store, locale, subject, heading, label, survey, all_tasks, due
):
    make_tasks(empty_project, store, {"old": {"score": 2}}, MONDAY)
    make_tasks(empty_project, store, {"new": {"score": 4}}, "2026-11-24T09:00:00+00:00")
    staff = {ANNA: {"locale": locale, "timezone": "America/New_York"}}
    sent = digest(empty_project, store, "2026-11-25T12:00:00+00:00", staff=staff)["sent"]
    assert [entry["tasks"] for entry in sent] == [2]
    [message] = read_mbox(empty_project.root / "outbox" / "_digests")
    assert subject_of(message) == subject
    text = body(message)
    assert text.startswith(heading)
    assert label in text and survey in text and due in text
    assert "score:" not in text and "NPS test" not in text  # no raw ids, no internal name
    # the list link first, before the tasks
    assert text.index(all_tasks) < text.index("Call Customer old") < text.index("Call Customer new")
    html = body(message, "html")
    assert f'<html lang="{locale}">' in html
    assert html.index('class="all-tasks"') < html.index('class="task"')
    card = re.search(r'<div class="task" style="([^"]*)"', html)
    assert card is not None and "overflow-wrap: anywhere" in card[1]


def test_a_digest_of_one_task_says_so_in_the_singular(empty_project, store):
    make_tasks(empty_project, store, {"one": {"score": 2}}, MONDAY)
    for day, locale, subject in (
        ("2026-11-23", "en", "1 open follow-up task – 2026-11-23"),
        ("2026-11-24", "de", "1 offene Folgeaufgabe – 2026-11-24"),
        ("2026-11-25", "fr", "1 tâche de suivi ouverte, 1 en retard – 2026-11-25"),
    ):
        digest(empty_project, store, f"{day}T12:00:00+00:00", staff_locale=locale)
        [message] = read_mbox(empty_project.root / "outbox" / "_digests" / day)
        assert subject_of(message) == subject


def test_the_project_default_staff_zone_applies_without_a_per_person_setting(empty_project, store):
    make_tasks(empty_project, store, {"one": {"score": 2}}, MONDAY)
    digest(empty_project, store, "2026-11-23T12:00:00+00:00", staff_timezone="Asia/Tokyo")
    [message] = read_mbox(empty_project.root / "outbox" / "_digests")
    assert "due 2026-11-25 18:00 JST" in body(message)


def test_an_assignment_email_is_in_the_new_assignees_language(empty_project, store):
    make_tasks(empty_project, store, {"c1": {"score": 2}}, MONDAY)
    with store.session() as session:
        [view] = q.all_tasks(session)
    settings = empty_project.settings(now=at(MONDAY), staff={BOB: {"locale": "de"}})
    channel = OutboxChannel(settings.outbox_path, clock=settings.clock)
    assign_task(settings, store, channel, view.task.id, BOB, "Anna ist im Urlaub", at(MONDAY))
    [message] = read_mbox(empty_project.root / "outbox")
    assert (
        subject_of(message) == "Eine Folgeaufgabe für Sie: Call Customer c1 about their score of 2"
    )
    text = body(message)
    assert text.startswith(f"{ANNA} hat Ihnen eine Folgeaufgabe gegeben: Anna ist im Urlaub")
    assert "Priorität hoch, fällig 2026-11-25 10:00 CET – Wie machen wir uns?" in text
    assert "Wie wahrscheinlich empfehlen Sie uns?: 2 (Kritiker)" in text
    assert "Aufgabe öffnen: http" in text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", ["0 tasks", "1 task", "2 tasks"]),
        ("de", ["0 Aufgaben", "1 Aufgabe", "2 Aufgaben"]),
        ("fr", ["0 tâche", "1 tâche", "2 tâches"]),
        ("de-AT", ["0 Aufgaben", "1 Aufgabe", "2 Aufgaben"]),
        ("pt-BR", ["0 tasks", "1 task", "2 tasks"]),
    ],
)
def test_counts_take_the_locales_singular_and_plural(locale, expected):
    words = MailWords.of(locale)
    assert [words.count("tasks", n) for n in (0, 1, 2)] == expected


def test_staff_settings_come_from_pyproject_and_wrong_ones_are_refused(empty_project):
    from cxops.errors import ConfigError
    from cxops.followup.staff_mail import staff_reader
    from cxops.settings import get_settings

    empty_project.write(
        {
            "pyproject.toml": '[tool.cxops]\nstaff_locale = "fr"\n\n[tool.cxops.staff]\n'
            '"CSM.Anna@Acme.example" = {locale = "de-AT", timezone = "Europe/Vienna"}\n'
        }
    )
    settings = get_settings()
    anna, bob = staff_reader(settings, ANNA), staff_reader(settings, BOB)
    assert (anna.words.locale, anna.timezone) == ("de", "Europe/Vienna")
    assert (bob.words.locale, bob.timezone) == ("fr", None)
    with pytest.raises(ConfigError, match="Europe/Atlantis"):
        get_settings(staff={BOB: {"timezone": "Europe/Atlantis"}})
    with pytest.raises(ConfigError, match="staff_locale"):
        get_settings(staff_locale="not a locale")


@pytest.mark.browser
def test_a_digest_card_with_a_long_address_fits_a_320_px_screen(empty_project, tmp_path, browser):
    from cxops.store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    key = "customer-with-a-remarkably-long-mailbox-name-that-never-breaks"
    make_tasks(empty_project, store, {key: {"score": 2, "reason": "x" * 80}}, MONDAY)
    digest(empty_project, store, PAST_DUE, staff_locale="de")
    store.dispose()
    [message] = read_mbox(empty_project.root / "outbox" / "_digests")
    context = browser.new_context(viewport={"width": 320, "height": 800})
    page = context.new_page()
    page.set_content(body(message, "html"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    for card in page.locator(".task").all():
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    context.close()


def test_a_project_template_asking_for_a_word_there_is_none_of_fails_in_one_line(
    empty_project, store
):
    make_tasks(empty_project, store, {"c1": {"score": 2}}, MONDAY)
    (empty_project.root / "templates" / "digest.subject.j2").write_text("{{ say('nope') }}")
    with pytest.raises(
        TemplateError, match=r"digest\.subject\.j2: ValueError: no staff email word"
    ):
        digest(empty_project, store, MONDAY)
