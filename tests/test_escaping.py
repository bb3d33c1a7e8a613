"""Invariant: names and answers are data, never markup or formulas — a contact named
`<script>…`, `=HYPERLINK(…)`, `+cmd`, `@SUM(…)`, or with RTL and emoji characters is
shown as text in emails, task pages, digests and exports (CSV and JSONL)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json

import httpx
import pytest
from markupsafe import escape

from cxops.followup.pages.task import router
from cxops.store.db import open_store
from cxops.testing.followup import add_response, at, one_task, serving, write_survey

HOSTILE_NAMES = [
    "<script>alert('x')</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "\u202eevil\u202c Ünïcödé",
    "Zoë 😀 <b>bold</b> & co",
]
NOW = "2026-11-23T09:00:00+00:00"


def _escaped(text: str) -> str:
    """`text` as Jinja's autoescape writes it (markupsafe: `'` becomes `&#39;`)."""
    return str(escape(text))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_is_text_in_invitation_emails(project, name):
    data = project.root / "data" / "customers.csv"
    lines = data.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    first = next(csv.reader([lines[1]]))
    first[header.index("name")] = name
    buffer = io.StringIO()
    csv.writer(buffer).writerow(first)
    data.write_text("\n".join([lines[0], buffer.getvalue().strip(), *lines[2:]]) + "\n")
    out = project.root / "preview-out"
    project.run(["preview", "nps-quarterly", "--contact", first[0], "--out", str(out)])
    (eml,) = list(out.rglob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html_part = message.get_body(("html",)).get_content()
    text_part = message.get_body(("plain",)).get_content()
    if name in text_part:
        assert _escaped(name) in html_part
    assert "<script>" not in html_part and "<b>bold</b>" not in html_part
    (recipient,) = message["To"].addresses
    assert recipient.addr_spec == first[header.index("email")].strip().lower()
    assert recipient.display_name == name, "a valid display name, kept as text"


def task_app(settings, store):
    from fastapi import FastAPI

    app = FastAPI()
    app.state.settings = settings
    app.state.store = store
    app.include_router(router)
    return app


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_is_text_on_the_task_page(empty_project, tmp_path, name):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        settings, path, _ = one_task(empty_project, store, {"score": 2, "reason": name}, name, NOW)
        with serving(task_app(settings, store)) as base:
            page = httpx.get(base + path).text
    finally:
        store.dispose()
    assert _escaped(name) in page
    assert "<script>alert" not in page and "<b>bold</b>" not in page


@pytest.mark.slow
@pytest.mark.prefect
def test_hostile_names_are_text_in_digests_and_exports(empty_project, prefect_env):
    write_survey(empty_project.root)
    store = open_store(empty_project.settings().store_url)
    try:
        for index, name in enumerate(HOSTILE_NAMES):
            add_response(
                store,
                f"c{index}",
                {"score": 2, "reason": name},
                when=at(NOW),
                contact={"name": name},
            )
    finally:
        store.dispose()
    empty_project.run(["followups"], env=prefect_env)
    empty_project.run(["digest"], env=prefect_env)
    folder = empty_project.root / "outbox" / "_digests"
    digests = [p.read_bytes() for p in folder.rglob("*.mbox")]
    assert digests
    for raw in digests:
        for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
            if part.get_content_type() == "text/html":
                body = part.get_content()
                assert "<script>alert" not in body and "<b>bold</b>" not in body

    for kind in ("responses", "tasks"):
        rows = list(
            csv.reader(
                io.StringIO(
                    empty_project.run(["export", kind, "nps-test", "--format", "csv"]).stdout
                )
            )
        )
        cells = [cell for row in rows[1:] for cell in row]
        assert cells and not any(cell and cell[0] in "=+-@" for cell in cells), cells
        jsonl = empty_project.run(["export", kind, "nps-test", "--format", "jsonl"]).stdout
        text = json.dumps([json.loads(line) for line in jsonl.splitlines() if line.strip()])
        for name in HOSTILE_NAMES:
            assert json.dumps(name)[1:-1] in text, (kind, name)
