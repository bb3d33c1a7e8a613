"""Shared set-up of the follow-up tests: a survey with rules, and answers in the store.

Rows are inserted directly (Send + Response), as the collector would leave them.
"""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from cxops.store.db import Store
from cxops.store.models import Response
from cxops.store.notifications import Claimer
from cxops.testing.collect import add_send

SURVEY_ID = "nps-test"
OWNER = "owner@acme.example"
FALLBACK = "cs-leads@acme.example"


def survey_yaml(
    *,
    notify_url: str | None = None,
    notify: str | None = None,
    detractor_when: str = "answers.score <= 6",
    extra_rule: str = "",
    timezone: str = "Europe/Berlin",
) -> str:
    if notify is not None:  # the rule's whole notify: mapping, as YAML flow text
        notify = f"\n    notify: {notify}"
    elif notify_url:
        notify = f"\n    notify: {{url: '{notify_url}', secret_env: CXOPS_TEST_HOOK_SECRET}}"
    else:
        notify = ""
    return f"""\
id: {SURVEY_ID}
name: NPS test
kind: nps
owner: {OWNER}
schedule: {{cron: "0 9 * * MON", timezone: {timezone}}}
audience:
  source: {{csv: data/customers.csv, key: id}}
questions:
  - {{id: score, type: nps, text: "How likely are you to recommend us?"}}
  - {{id: reason, type: text, text: "Why?", required: false}}
invitation:
  template: nps_invite
  from: "Acme Research <research@acme.example>"
followup:
  - id: detractor
    when: "{detractor_when}"
    task: "Call {{{{ contact.name }}}} about their score of {{{{ answers.score }}}}"
    assign_to: "{{{{ contact.csm_email }}}}"
    fallback: {FALLBACK}
    due: 2 business days
    priority: high
    context: [plan, mrr]{notify}
  - id: promoter
    when: "answers.score >= 9"
    task: "Ask {{{{ contact.name }}}} for a reference"
    assign_to: "{{{{ contact.csm_email }}}}"
    due: 7d
{extra_rule}"""


#: The invitation the test survey names (validation wants its files to exist).
INVITE_TEMPLATE = {
    "subject": "How are we doing?",
    "html": "<p>How likely are you to recommend us?</p>",
    "txt": "How likely are you to recommend us?",
}


def write_survey(root: Path, **kwargs: Any) -> None:
    folder = root / "surveys"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    (folder / f"{SURVEY_ID}.yaml").write_text(survey_yaml(**kwargs), encoding="utf-8")
    templates = root / "templates"
    templates.mkdir(exist_ok=True)
    for part, text in INVITE_TEMPLATE.items():
        path = templates / f"nps_invite.{part}.j2"
        if not path.exists():
            path.write_text(text, encoding="utf-8")


def read_mbox(folder: Path) -> list[EmailMessage]:
    """Every message of every mbox file under `folder` (the outbox), in file order."""
    messages = []
    for path in sorted(folder.rglob("*.mbox")):
        for raw in mailbox.mbox(str(path)):
            parsed = BytesParser(policy=policy.default).parsebytes(raw.as_bytes())
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
    return messages


def body(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def add_response(
    store: Store,
    key: str,
    answers: dict[str, Any],
    *,
    when: datetime,
    contact: dict[str, Any] | None = None,
    status: str = "complete",
    wave: str = "2026-11",
    segment: str = "smb",
    suspect: bool = False,
    survey_id: str = SURVEY_ID,
) -> int:
    """One invitation and its response; the response id."""
    fields = {
        "name": f"Customer {key}",
        "csm_email": "csm.anna@acme.example",
        "plan": "team",
        "mrr": 120.5,
    }
    fields.update(contact or {})
    send_id = add_send(
        store,
        survey_id=survey_id,
        contact_key=key,
        email=f"{key}@customer.example",
        sent_at=when,
        segment=segment,
        wave_id=wave,
        contact=fields,
    )
    with store.session(write=True) as session:
        response = Response(
            send_id=send_id,
            survey_id=survey_id,
            wave_id=wave,
            contact_key=key,
            segment=segment,
            status=status,
            answers=answers,
            suspect=suspect,
            first_answered_at=when,
            submitted_at=when if status == "complete" else None,
            updated_at=when,
            revision=1,
            confirmed_at=when,
        )
        session.add(response)
        session.flush()
        return response.id


def edit_response(
    store: Store,
    response_id: int,
    answers: dict[str, Any],
    when: datetime,
    *,
    suspect: bool | None = None,
) -> None:
    with store.session(write=True) as session:
        response = session.get(Response, response_id)
        if response is None:
            raise LookupError(f"no response {response_id}")
        response.answers = answers
        response.updated_at = when
        response.submitted_at = when
        response.status = "complete"
        response.revision += 1
        if suspect is not None:
            response.suspect = suspect


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free local port in a thread; its base URL."""
    import uvicorn

    from cxops.schedule.processes import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tasks_for(
    project: Any,
    store: Store,
    answers: dict[str, dict[str, Any]],
    now: str,
    *,
    contact: dict[str, Any] | None = None,
    **survey: Any,
) -> tuple[Any, list[Any]]:
    """A project with the test survey (`survey`: `write_survey`'s options), one answer
    per contact key in `answers`, and the tasks the rules made of them:
    (settings at `now`, the task views in id order)."""
    from cxops.followup.apply import apply_rules
    from cxops.spec.lookup import find_survey
    from cxops.store import tasks as task_queries

    write_survey(project.root, **survey)
    settings = project.settings(now=at(now))
    for key, answer in answers.items():
        add_response(store, key, answer, when=at(now), contact=contact)
    apply_rules(
        settings, store, find_survey(SURVEY_ID, settings.surveys_path, settings.project_dir)
    )
    with store.session() as session:
        return settings, task_queries.all_tasks(session)


def task_path(settings: Any, view: Any, now: str) -> str:
    """The signed task page of `view`, as a path on the collector."""
    from cxops.followup.links import task_link

    return task_link(settings, view.key, at(now)).removeprefix(settings.public_url)


def one_task(
    project: Any, store: Store, answers: dict[str, Any], name: str, now: str
) -> tuple[Any, str, Any]:
    """A project with the test survey, one answer that needs a call, and its task:
    (settings, the task page's path, the task view)."""
    settings, views = tasks_for(project, store, {"c1": answers}, now, contact={"name": name})
    return settings, task_path(settings, views[0], now), views[0]


def dead_claimer(lease_seconds: int = 900) -> Claimer:
    """A notification claimer whose process, on this machine, has ended (a run that died)."""
    import socket
    import subprocess

    ended = subprocess.Popen(["true"])
    ended.wait()
    return Claimer(f"{socket.gethostname()}:{ended.pid}:gone", lease_seconds)
