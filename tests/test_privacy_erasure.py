"""An erased person is never contacted again, on SQLite and PostgreSQL:

- `plan --invitees` and the next wave leave them out (their row comes back from the
  next source export), as `erased`; a wave planned before the erasure sends them nothing;
- reminders of a wave they were invited to skip them;
- their open task is withdrawn (`person erased`), and a replay of the rules neither
  reopens it nor makes a new one;
- `why` and `export person` say they were erased and are never contacted again; a
  preview of them is refused;
- the store recognises them by a keyed hash only: no address of theirs is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cxops.channels import make_channel
from cxops.followup.apply import apply_rules
from cxops.gates.base import Gates
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store import claims
from cxops.store.db import open_store
from cxops.store.models import Response, Send, Task
from cxops.testing.followup import read_mbox
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.remind import plan_step
from cxops.wave.send import send_one_batch

SURVEY = "pulse"
PERSON = "anna.mueller@nordlicht.example"
OTHER = "ben.ito@nordlicht.example"
#: Erased too, without having answered (reminders would be due to them).
SILENT = "carla.diaz@nordlicht.example"
START = datetime.fromisoformat("2026-11-02T09:00:00+00:00")

SURVEY_YAML = f"""\
id: {SURVEY}
name: Pulse
kind: nps
owner: research@acme.example
schedule: {{cron: "0 9 * * MON", timezone: UTC}}
audience:
  source: {{csv: data/people.csv, key: id}}
questions:
  - {{id: score, type: nps, text: "How likely are you to recommend us?"}}
invitation:
  template: nps_invite
  from: "Acme Research <research@acme.example>"
  reminder: {{after: 1d, max: 1}}
  expires_after: 14d
followup:
  - id: detractor
    when: "answers.score <= 6"
    task: "Call {{{{ contact.name }}}}"
    assign_to: "{{{{ contact.csm_email }}}}"
    fallback: leads@acme.example
    due: 1d
"""

PEOPLE_CSV = f"""\
id,name,email,csm_email
p1,Anna Müller,{PERSON},csm.lena@acme.example
p2,Ben Ito,{OTHER},csm.lena@acme.example
p3,Carla Díaz,{SILENT},csm.lena@acme.example
"""


def _project(project: Any) -> None:
    for old in (project.root / "surveys").glob("*.yaml"):
        old.unlink()
    (project.root / "surveys" / f"{SURVEY}.yaml").write_text(SURVEY_YAML, encoding="utf-8")
    (project.root / "data" / "people.csv").write_text(PEOPLE_CSV, encoding="utf-8")


def _wave(project: Any, store_url: str, wave_id: str, now: datetime, *, send: bool) -> None:
    """Plan wave `wave_id` into the ledger (and send it) in process, at `now`."""
    settings = project.settings(now=now, database_url=store_url, contact_cap="off")
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, wave_id)
    store = open_store(store_url)
    channel = make_channel(settings)
    try:
        prepare_wave(store, wave)
        if send:
            renderer = InvitationRenderer(survey, settings, wave_id=wave_id)
            claim_id = claims.new_claim_id()
            while send_one_batch(store, wave, channel, renderer, claim_id).claimed:
                pass
    finally:
        channel.close()
        store.dispose()


def _recipients(project: Any, wave_id: str) -> list[str]:
    return sorted(str(m["To"]) for m in read_mbox(project.root / "outbox" / SURVEY / wave_id))


def _detractor_task(project: Any, store_url: str) -> int:
    """PERSON answers 3 in wave w1; the rules make their task (open)."""
    store = open_store(store_url)
    try:
        with store.session(write=True) as session:
            send = session.scalars(
                select(Send).where(Send.email == PERSON, Send.wave_id == "w1")
            ).one()
            session.add(
                Response(
                    send_id=send.send_id,
                    survey_id=SURVEY,
                    wave_id="w1",
                    contact_key=send.contact_key,
                    segment=send.segment,
                    status="complete",
                    answers={"score": 3},
                    first_answered_at=START,
                    submitted_at=START,
                    updated_at=START,
                    confirmed_at=START,
                )
            )
        _apply_rules(project, store_url, replay=False)
        with store.session() as session:
            return session.scalars(select(Task.id).where(Task.status == "open")).one()
    finally:
        store.dispose()


def _apply_rules(project: Any, store_url: str, *, replay: bool) -> None:
    settings = project.settings(now=START + timedelta(hours=1), database_url=store_url)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    store = open_store(store_url)
    try:
        apply_rules(settings, store, survey, replay=replay)
    finally:
        store.dispose()


def test_an_erased_person_is_never_contacted_again(project: Any, store_url: str):
    _project(project)
    env = {
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_NOW": START.isoformat(),
        "CXOPS_CONTACT_CAP": "off",
    }
    _wave(project, store_url, "w1", START, send=True)
    invited = _recipients(project, "w1")
    assert len(invited) == 3 and any(PERSON in to for to in invited)
    task_id = _detractor_task(project, store_url)
    _wave(project, store_url, "w2", START, send=False)  # planned, not yet sent

    forgot = project.run(["forget", PERSON, "--json"], env=env).json
    assert forgot["erased"]["tasks_withdrawn"] == 1
    assert forgot["erased"]["pending_sends_skipped"] == 1
    project.run(["forget", SILENT], env=env)

    # The next export brings their row back: plan and every later wave leave them out.
    later = (START + timedelta(days=7)).isoformat()
    plan_env = {**env, "CXOPS_NOW": later}
    plan = project.run(["plan", SURVEY, "--json", "--invitees", "--wave", "w3"], env=plan_env).json
    assert [i["email"] for i in plan["invitees"]] == [OTHER]
    assert plan["excluded"] == {"erased": 2}
    _wave(project, store_url, "w3", START + timedelta(days=7), send=True)
    assert [PERSON in to for to in _recipients(project, "w3")] == [False]
    _wave(project, store_url, "w2", START + timedelta(days=7), send=True)  # planned before
    assert len(_recipients(project, "w2")) == 1 and PERSON not in _recipients(project, "w2")[0]

    # Reminders of the wave they were invited to skip them.
    settings = project.settings(now=START + timedelta(days=2), database_url=store_url)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    store = open_store(store_url)
    try:
        wave = WaveContext(survey, settings, "w1", settings.clock(), 1)
        step = plan_step(store, wave, Gates())
        assert step.skipped == {"erased": 1, "answered": 1}
        assert [r["email"] for r in step.rows] == [OTHER]
        with store.session() as session:
            task = session.get(Task, task_id)
            assert task is not None
            assert (task.status, task.outcome, task.note) == (
                "withdrawn",
                "withdrawn",
                "person erased",
            )
    finally:
        store.dispose()
    _apply_rules(project, store_url, replay=True)
    store = open_store(store_url)
    try:
        with store.session() as session:
            statuses = session.scalars(select(Task.status)).all()
    finally:
        store.dispose()
    assert statuses == ["withdrawn"], "a replay neither reopens their task nor makes one"

    why = project.run(["why", PERSON, "--json"], env=plan_env).json
    assert why["erased_at"] is not None
    assert [s["eligible"] for s in why["surveys"]] == [False]
    assert why["surveys"][0]["holds"][0]["reason"] == "erased"
    said = project.run(["why", PERSON], env=plan_env).stdout
    assert "never contacted again" in said
    refused = project.run(["preview", SURVEY, "--contact", "p1"], env=env, expect_pass=False)
    assert "'p1' was erased on request" in refused.stderr and "Traceback" not in refused.output
    exported = project.run(["export", "person", PERSON], env=plan_env).json
    assert exported["erased"] is True and "never contacted again" in exported["contact"]
    other = project.run(["export", "person", OTHER], env=plan_env).json
    assert other["erased"] is False and "contact" not in other
