"""Data minimisation: the send ledger keeps only the contact columns something reads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.models import Send
from cxops.wave.ids import WaveContext
from cxops.wave.minimise import contact_fields, kept_columns
from cxops.wave.prepare import prepare_wave


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        ("contact.plan == 'enterprise' and contact['mrr'] > 3", {"plan", "mrr"}),
        ("Hello {{ contact.name | default('there') }}", {"name"}),
        ("{{ contact.get('seats', 0) }}", {"seats"}),
        ("Please contact us", set()),
        ("{{ contact }}", None),
        ("{% for key, value in contact.items() %}{{ value }}{% endfor %}", None),
        ("{{ contact[column] }}", None),
    ],
)
def test_what_a_text_reads_of_contact(source: str, fields: set[str] | None) -> None:
    assert contact_fields(source) == fields


def _stored_columns(store, survey_id: str) -> set[str]:
    with store.session() as session:
        snapshots = session.scalars(select(Send.contact).where(Send.survey_id == survey_id))
        return {name for snapshot in snapshots for name in snapshot}


def test_the_ledger_keeps_what_templates_rules_and_reports_read(project, store_url):
    settings = project.settings(database_url=store_url)
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    kept = kept_columns(survey, settings)
    assert kept is not None
    # follow-up rules read name, company and csm_email; the digest the name
    assert {"name", "company", "csm_email"} <= kept
    store = open_store(settings.store_url)
    try:
        planned = prepare_wave(store, WaveContext.begin(survey, settings))
        stored = _stored_columns(store, survey.id)
    finally:
        store.dispose()
    assert planned.sampled == 300
    assert {"name", "company", "csm_email", "locale"} <= stored <= kept
    # filter, segments and sampling ran at planning time: their columns stay in the source
    assert not stored & {"mrr", "seats", "signup_date", "status", "plan", "weekly_active_days"}


def test_a_template_that_reads_contact_whole_keeps_every_column(project, store_url):
    project.write({"templates/nps_invite.txt.j2": "{{ contact }} {{ links.answer }}"})
    settings = project.settings(database_url=store_url)
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    assert kept_columns(survey, settings) is None
    store = open_store(settings.store_url)
    try:
        prepare_wave(store, WaveContext.begin(survey, settings))
        stored = _stored_columns(store, survey.id)
    finally:
        store.dispose()
    assert {"mrr", "seats", "plan", "signup_date"} <= stored
