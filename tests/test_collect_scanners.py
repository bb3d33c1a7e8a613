"""Link scanners never answer and never flag a person (docs/behaviour.md, "Link scanners don't
answer surveys"), over HTTP on SQLite and PostgreSQL.

A corporate scanner (Safe Links, Proofpoint, Mimecast) fetches every link of a message
when it arrives, the hidden honeypot link included. Its fetches must leave no counted
answer, and the person's own answer an hour later must be neither suspect nor lost.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cxops.collect import create_app
from cxops.followup.apply import apply_rules
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.models import Response, Send, Task
from cxops.testing.collect import client_for, invite

JSON = {"Accept": "application/json"}
#: What tells clients apart at the collector (with the address): their User-Agent.
PERSON = "Mozilla/5.0 (Macintosh) a person's browser"
SCANNER = "Mozilla/5.0 (Windows NT 10.0) HeadlessChrome/124 a link scanner"
CONTACT = {"name": "Quinn Garcia", "company": "Corp", "csm_email": "csm@acme.example"}


class Clocked:
    """The collector at a moment of our choosing, over one shared store."""

    def __init__(self, project, store_url):
        self.project = project
        self.store_url = store_url
        self.store = open_store(store_url)
        self.base = project.settings(database_url=store_url).clock()
        self.survey = find_survey("nps-quarterly", project.root / "surveys", project.root)

    def client(self, at, agent=PERSON):
        settings = self.project.settings(database_url=self.store_url, now=at)
        return client_for(create_app(settings, store=self.store), headers={"User-Agent": agent})

    def response(self, send_id):
        with self.store.session() as session:
            return session.scalar(select(Response).where(Response.send_id == send_id))

    def followups(self, at):
        settings = self.project.settings(database_url=self.store_url, now=at)
        apply_rules(settings, self.store, self.survey, now=at)
        with self.store.session() as session:
            return list(session.scalars(select(Task)))


@pytest.fixture
def clocked(project, store_url):
    made = Clocked(project, store_url)
    yield made
    made.store.dispose()


def test_a_scanner_fetching_every_link_at_delivery_leaves_the_persons_answer_alone(clocked):
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-scan",
        email="quinn@corp.example",
        sent_at=delivered - timedelta(seconds=1),
        contact=CONTACT,
    )
    scanner = clocked.client(delivered, SCANNER)
    # every link of the invitation, as it arrives: the eleven scores, the hidden link
    # (GET and HEAD), the unsubscribe page
    for score in range(11):
        assert scanner.get(f"{inv.answer_path}?score={score}").status_code == 200
    assert scanner.get(inv.honeypot_path).status_code == 200
    assert scanner.head(inv.honeypot_path).status_code == 200
    assert scanner.get(inv.unsubscribe_path).status_code == 200
    assert clocked.response(inv.send_id) is None
    assert clocked.followups(delivered + timedelta(minutes=1)) == []

    # the person, an hour later, from the page's form (no script needed)
    person = clocked.client(delivered + timedelta(hours=1))
    done = person.post(inv.answer_path, data={"score": "3", "reason": "Too slow"})
    assert done.status_code == 200
    stored = clocked.response(inv.send_id)
    assert (stored.suspect, stored.suspect_reason) == (False, None)
    assert stored.confirmed_at == delivered + timedelta(hours=1)
    [task] = clocked.followups(delivered + timedelta(hours=1, minutes=5))
    assert (task.contact_key, task.priority) == ("c-scan", "high")


def test_a_script_running_scanner_leaves_a_provisional_score_that_counts_nowhere(clocked):
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-js",
        email="js@corp.example",
        sent_at=delivered - timedelta(seconds=2),
        contact=CONTACT,
    )
    scanner = clocked.client(delivered, SCANNER)
    # what the page's script does on load, for each of the eleven links
    for score in range(11):
        page = scanner.get(f"{inv.answer_path}?score={score}")
        assert 'data-confirmed="no"' in page.text
        saved = scanner.post(
            inv.answer_path, data={"score": str(score), "_partial": "1"}, headers=JSON
        )
        assert saved.json()["confirmed"] is False
    stored = clocked.response(inv.send_id)
    assert stored.answers == {"score": 10} and stored.confirmed_at is None
    assert stored.suspect_reason == "too_fast"
    assert clocked.followups(delivered + timedelta(minutes=1)) == []

    # the person opens the page later: it says the score is kept but not yet counted
    person = clocked.client(delivered + timedelta(hours=2))
    page = person.get(inv.answer_path)
    assert '"polite" data-saved' in page.text
    assert '">We have kept your score' in page.text
    # a real key or pointer event makes the page's script post the confirmation
    confirmed = person.post(
        inv.answer_path, data={"score": "2", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert confirmed.json()["confirmed"] is True
    stored = clocked.response(inv.send_id)
    assert stored.answers == {"score": 2}
    assert (stored.suspect, stored.confirmed_at) == (False, delivered + timedelta(hours=2))
    [task] = clocked.followups(delivered + timedelta(hours=2, minutes=1))
    assert task.contact_key == "c-js"
    page = person.get(inv.answer_path)
    assert 'data-confirmed="yes"' in page.text and '">We have kept your score' not in page.text


def test_confirming_the_same_score_again_changes_only_the_confirmation(clocked):
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-same",
        email="same@corp.example",
        sent_at=delivered - timedelta(hours=1),
    )
    client = clocked.client(delivered)
    client.post(inv.answer_path, data={"score": "9", "_partial": "1"}, headers=JSON)
    before = clocked.response(inv.send_id)
    client.post(
        inv.answer_path, data={"score": "9", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    after = clocked.response(inv.send_id)
    assert (before.confirmed_at, after.confirmed_at) == (None, delivered)
    assert after.revision == before.revision + 1
    again = client.post(
        inv.answer_path, data={"score": "9", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert again.json()["revision"] == after.revision  # nothing new to store


def test_a_scanner_reloading_a_link_later_never_changes_a_confirmed_answer(clocked):
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-later",
        email="later@corp.example",
        sent_at=delivered - timedelta(hours=1),
        contact=CONTACT,
    )
    person = clocked.client(delivered)
    person.post(inv.answer_path, data={"score": "9", "reason": "Fast support"})
    # days later a scanner (or the person) opens the email's "2" link again
    later = clocked.client(delivered + timedelta(days=3))
    page = later.get(f"{inv.answer_path}?score=2")
    assert 'data-autosave=""' in page.text  # the page's script saves nothing on load
    assert 'data-confirmed="no"' in page.text  # a person's tap still changes it
    stale = later.post(inv.answer_path, data={"score": "2", "_partial": "1"}, headers=JSON)
    assert stale.json()["answers"] == {"score": 9, "reason": "Fast support"}
    assert clocked.response(inv.send_id).answers == {"score": 9, "reason": "Fast support"}
    assert clocked.followups(delivered + timedelta(days=3)) == []
    tapped = later.post(
        inv.answer_path, data={"score": "2", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert tapped.json()["answers"] == {"score": 2, "reason": "Fast support"}


def _key(clocked, at):
    app = create_app(clocked.project.settings(database_url=clocked.store_url, now=at))
    return app.state.collector.signing_key


def _scan_every_link(scanner, inv):
    """What a scanner does as the message arrives: every score link, the hidden link."""
    for score in range(11):
        assert scanner.get(f"{inv.answer_path}?score={score}").status_code == 200
    assert scanner.get(inv.honeypot_path).status_code == 200


def test_a_fast_person_after_a_delivery_scan_is_believed(clocked):
    """The person answers 19 s after a scanner fetched every link (the hidden one too):
    another client than the fetcher, so a person's answer — confirmed, not suspect,
    and a detractor's task made."""
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-fast",
        email="fast@corp.example",
        sent_at=delivered - timedelta(seconds=1),
        contact=CONTACT,
    )
    _scan_every_link(clocked.client(delivered, SCANNER), inv)
    answered = delivered + timedelta(seconds=19)
    person = clocked.client(answered)
    done = person.post(inv.answer_path, data={"score": "4", "reason": "Slow support"})
    assert done.status_code == 200
    stored = clocked.response(inv.send_id)
    assert (stored.suspect, stored.suspect_reason) == (False, None)
    assert stored.confirmed_at == answered
    [task] = clocked.followups(answered + timedelta(minutes=1))
    assert task.contact_key == "c-fast"


def test_a_clicking_scanner_confirms_nothing_and_the_person_after_it_is_believed(clocked):
    """A headless browser that fetched the hidden link, then loads the one-click page,
    moves the pointer and clicks (the page posts its confirmation) and submits the form:
    nothing of it is a person's. The person's own answer from their browser is."""
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-click",
        email="click@corp.example",
        sent_at=delivered - timedelta(seconds=1),
        contact=CONTACT,
    )
    scanner = clocked.client(delivered + timedelta(seconds=1), SCANNER)
    _scan_every_link(scanner, inv)
    clicked = scanner.post(
        inv.answer_path, data={"score": "0", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert clicked.json()["confirmed"] is False
    scanner.post(inv.answer_path, data={"score": "0"})
    stored = clocked.response(inv.send_id)
    assert (stored.suspect_reason, stored.confirmed_at) == ("honeypot", None)
    assert clocked.followups(delivered + timedelta(minutes=1)) == []

    # the person, from their own browser, confirms the same score
    person = clocked.client(delivered + timedelta(minutes=5))
    confirmed = person.post(
        inv.answer_path, data={"score": "0", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert confirmed.json()["confirmed"] is True
    stored = clocked.response(inv.send_id)
    assert (stored.suspect, stored.confirmed_at) == (False, delivered + timedelta(minutes=5))
    [task] = clocked.followups(delivered + timedelta(minutes=6))
    assert task.contact_key == "c-click"


def test_a_click_within_seconds_of_delivery_is_suspect_without_a_hidden_fetch(clocked):
    """A headless browser that skips the hidden link but clicks 1 s after delivery: no
    person has read the message by then, pointer events or not; no task."""
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-quick",
        email="quick@corp.example",
        sent_at=delivered - timedelta(seconds=1),
        contact=CONTACT,
    )
    scanner = clocked.client(delivered, SCANNER)
    scanner.post(
        inv.answer_path, data={"score": "1", "_partial": "1", "_confirm": "1"}, headers=JSON
    )
    assert clocked.response(inv.send_id).suspect_reason == "too_fast"
    assert clocked.followups(delivered + timedelta(minutes=1)) == []


def test_a_persons_confirmed_answer_outlasts_a_later_scanner(clocked):
    """A scanner that fetches the hidden link after the person confirmed, and then posts
    a score of its own, changes nothing: not the answer, not the confirmation."""
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-late",
        email="late@corp.example",
        sent_at=delivered - timedelta(hours=1),
        contact=CONTACT,
    )
    person = clocked.client(delivered)
    assert person.post(inv.answer_path, data={"score": "8"}).status_code == 200
    later = delivered + timedelta(days=2)  # a re-scan, e.g. when the message is forwarded
    scanner = clocked.client(later, SCANNER)
    _scan_every_link(scanner, inv)
    scanner.post(inv.answer_path, data={"score": "0", "_partial": "1", "_confirm": "1"})
    stored = clocked.response(inv.send_id)
    assert stored.answers == {"score": 8}
    assert (stored.suspect, stored.confirmed_at) == (False, delivered)


def test_forget_erases_the_client_hashes(clocked):
    """The keyed hashes of a person's address and browser go with `cxops forget`."""
    delivered = clocked.base
    inv = invite(
        clocked.store,
        _key(clocked, delivered),
        survey_id="nps-quarterly",
        contact_key="c-gone",
        email="gone@corp.example",
        sent_at=delivered - timedelta(hours=1),
        contact=CONTACT,
    )
    _scan_every_link(clocked.client(delivered, SCANNER), inv)
    clocked.client(delivered).post(inv.answer_path, data={"score": "6"})
    with clocked.store.session() as session:
        send = session.scalar(select(Send).where(Send.send_id == inv.send_id))
        assert send.honeypot_clients and clocked.response(inv.send_id).client
    env = {"CXOPS_DATABASE_URL": clocked.store_url}
    clocked.project.run(["forget", "gone@corp.example"], env=env)
    with clocked.store.session() as session:
        send = session.scalar(select(Send).where(Send.send_id == inv.send_id))
        assert send.honeypot_clients is None
    assert clocked.response(inv.send_id).client is None
