"""The task page and the assignee's list in German and French: no English heading, label,
button or status left (the rule's and the survey's own texts aside), checked against the
pages' English strings, which the English page is shown to contain."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from cxops.followup.apply import apply_rules
from cxops.followup.collector import create_collector
from cxops.followup.links import my_tasks_link, task_link
from cxops.followup.pages.my_tasks import STRINGS
from cxops.followup.pages.task_strings import CATEGORY_WORDS, TASK_STRINGS
from cxops.followup.tasks import close_task
from cxops.spec.lookup import project_surveys
from cxops.store import tasks as q
from cxops.store.db import open_store
from cxops.testing.collect import client_for
from cxops.testing.followup import add_response, at, write_survey

AUGUST = "2026-08-17T09:00:00+00:00"
NOW = "2026-11-23T09:00:00+00:00"
ANNA = "csm.anna@acme.example"
#: Elements whose words are the page's own (a task's title in the task page's h1 is the rule's).
WORDED = {"title", "h2", "h3", "legend", "th", "caption", "button", "label", "option", "p", "li"}


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in WORDED:
            self.open.append(tag)
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open:
            self.texts[-1] += data


def page_texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return [" ".join(text.split()) for text in parser.texts if text.strip()]


def english_left(html: str, strings: dict[str, dict[str, str]], lang: str) -> set[str]:
    """English strings of the page (the words before any placeholder) found in `html`'s
    texts, except those the language writes the same way."""
    phrases = set()
    for key, english in strings["en"].items():
        if strings[lang][key] == english:
            continue
        phrase = english.split("{")[0].strip(" :·(")
        if len(phrase) >= 4:
            phrases.add(phrase)
    found = set()
    for text in page_texts(html):
        found |= {p for p in phrases if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)}
    return found


@pytest.fixture
def pages(empty_project, tmp_path):
    """(HTTP client, the task page's path, Anna's list path): a task with a playbook and
    history (an earlier answer, its task closed), under the real collector."""
    project = empty_project
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    write_survey(
        project.root, notify="{url: 'https://hooks.example/x'}\n    steps: [Step A, Step B]"
    )
    surveys = project_surveys(project.settings().surveys_path, project.root).surveys
    ada = {"name": "Ada Lovelace"}
    add_response(store, "ada", {"score": 9}, when=at(AUGUST), wave="2026-08", contact=ada)
    apply_rules(project.settings(now=at(AUGUST)), store, surveys["nps-test"])
    with store.session() as session:
        [august] = q.all_tasks(session)
    close_task(store, august.task.id, "resolved", None, at(AUGUST))
    add_response(store, "ada", {"score": 3, "reason": "Slow"}, when=at(NOW), contact=ada)
    settings = project.settings(now=at(NOW))
    apply_rules(settings, store, surveys["nps-test"])
    with store.session() as session:
        view = next(v for v in q.all_tasks(session) if v.task.status == "open")
    task_path = task_link(settings, view.key, at(NOW)).removeprefix(settings.public_url)
    list_path = my_tasks_link(settings, ANNA, at(NOW)).removeprefix(settings.public_url)
    yield client_for(create_collector(settings, store=store)), task_path, list_path
    store.dispose()


def test_the_english_pages_hold_the_words_the_check_looks_for(pages):
    http, task_path, list_path = pages
    task_page = http.get(f"{task_path}?lang=en").text
    assert {"Playbook", "History", "Outcome", "Snooze the task"} <= english_left(
        task_page, TASK_STRINGS, "de"
    )
    assert {"Survey", "Priority", "Close the task"} <= english_left(
        http.get(f"{list_path}?lang=en&status=all").text, STRINGS, "fr"
    )


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_no_english_is_left_on_the_task_page(pages, lang):
    http, task_path, _ = pages
    html = http.get(task_path, headers={"Accept-Language": lang}).text
    assert f'<html lang="{lang}">' in html
    assert english_left(html, TASK_STRINGS, lang) == set()
    # The score's category too, in the answer and in the history (a detractor's 3, a 9).
    words = CATEGORY_WORDS[lang]
    assert f"3 ({words['detractor']})" in html and f"9 ({words['promoter']})" in html
    assert "(detractor)" not in html and "(promoter)" not in html
    refused = http.post(task_path, data={"action": "close", "outcome": "resolved", "lang": lang})
    assert refused.status_code == 422
    assert english_left(refused.text, TASK_STRINGS, lang) == set()


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_no_english_is_left_on_the_list(pages, lang):
    http, _, list_path = pages
    html = http.get(f"{list_path}?lang={lang}&status=all").text
    assert f'<html lang="{lang}">' in html
    assert english_left(html, STRINGS, lang) == set()
    assert f"({CATEGORY_WORDS[lang]['detractor']})" in html and "(detractor)" not in html


@pytest.fixture
def worded(empty_project, store):
    """A survey with a German title and question texts, a task with context columns
    (a decimal amount), reassigned, snoozed and noted on a task page: (client, path, settings)."""
    from cxops.testing.followup import task_path, tasks_for

    settings, [view] = tasks_for(
        empty_project,
        store,
        {"c1": {"score": 3, "reason": "Slow"}},
        NOW,
        contact={"name": "Ada", "plan": "pro", "mrr": "1625.0"},
    )
    survey_file = empty_project.root / "surveys" / "nps-test.yaml"
    text = survey_file.read_text(encoding="utf-8")
    text = text.replace(
        "kind: nps\n", "kind: nps\ntitle: {en: Relationship NPS, de: Beziehungs-NPS}\n"
    )
    text = text.replace(
        'text: "How likely are you to recommend us?"',
        'text: {en: "How likely are you to recommend us?", de: "Wie wahrscheinlich empfehlen Sie uns?"}',
    )
    text = text.replace('text: "Why?"', 'text: {en: "Why?", de: "Warum?"}')
    survey_file.write_text(text, encoding="utf-8")
    http = client_for(create_collector(settings, store=store))
    path = task_path(settings, view, NOW)
    assert http.post(path, data={"action": "note", "note": "Mailbox voll"}).status_code == 200
    snoozed = http.post(path, data={"action": "snooze", "until": "2026-12-01", "note": "Urlaub"})
    assert snoozed.status_code == 200
    return http, path, settings, view


def test_the_task_page_says_what_happened_in_the_page_language_and_the_zone(worded, store):
    from cxops.testing.followup import task_path

    http, path, settings, view = worded
    html = http.get(path, headers={"Accept-Language": "de"}).text
    notes = html[html.index('id="notes"') : html.index("</ul>", html.index('id="notes"'))]
    notes = re.sub(r"<[^>]+>", "", notes)
    # Times in the survey's zone (Europe/Berlin), the zone shown; the words in German.
    assert "2026-11-23 10:00 CET – Mailbox voll" in notes
    assert "Zurückgestellt bis 2026-12-01 00:00 CET: Urlaub" in notes
    assert "Mailbox voll" in notes
    assert "snoozed until" not in notes
    with store.session() as session:
        events = q.get_task(session, view.task.id).task.events
    assert [event["kind"] for event in events] == ["note", "snoozed"]
    assert events[1]["until"] == "2026-11-30T23:00:00+00:00"
    # A reassignment: the new assignee's page says it, in French, with the zone.
    moved = http.post(path, data={"action": "reassign", "assignee": "bob@acme.example"})
    assert moved.status_code == 200
    with store.session() as session:
        bobs = task_path(settings, q.get_task(session, view.task.id), NOW)
    html = re.sub(r"<[^>]+>", "", http.get(bobs, headers={"Accept-Language": "fr"}).text)
    assert f"2026-11-23 10:00 CET – Réattribuée de {ANNA} à bob@acme.example" in html
    assert "Reportée jusqu’au 2026-12-01 00:00 CET : Urlaub" in html


def test_answers_under_their_question_and_the_survey_by_its_title(worded):
    http, path, _, _ = worded
    html = http.get(path, headers={"Accept-Language": "de"}).text
    answers = html[
        html.index('class="answers"') : html.index("</dl>", html.index('class="answers"'))
    ]
    assert "<dt>Wie wahrscheinlich empfehlen Sie uns?</dt>" in answers
    assert "<dt>Warum?</dt>" in answers
    assert "<dt>score</dt>" not in answers and "<dt>reason</dt>" not in answers
    assert "Beziehungs-NPS" in html and "NPS test" not in html
    # Context columns as labels, a decimal as German writes it.
    assert "<dt>Plan</dt><dd>pro</dd>" in html
    assert "<dt>MRR</dt><dd>1.625</dd>" in html
    english = http.get(path, headers={"Accept-Language": "en"}).text
    assert "<dt>How likely are you to recommend us?</dt>" in english
    assert "<dt>MRR</dt><dd>1,625</dd>" in english and "Relationship NPS" in english


@pytest.mark.parametrize(
    ("lang", "one", "two"),
    [("en", "1 task", "2 tasks"), ("de", "1 Aufgabe", "2 Aufgaben"), ("fr", "1 tâche", "2 tâches")],
)
def test_the_list_counts_in_the_singular_and_the_plural(lang, one, two):
    from cxops.followup.pages.my_tasks import count_text

    assert count_text(STRINGS[lang], lang, 1) == one
    assert count_text(STRINGS[lang], lang, 2) == two


def test_the_list_shows_one_task_in_the_singular(worded):
    http, _, settings, _ = worded
    path = my_tasks_link(settings, ANNA, at(NOW)).removeprefix(settings.public_url)
    html = http.get(f"{path}?lang=de&status=all").text
    assert '<p class="status" role="status">1 Aufgabe</p>' in html
    assert "Beziehungs-NPS" in html and "<dt>MRR</dt><dd>1.625</dd>" in html
