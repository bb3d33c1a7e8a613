"""Group rendering must equal per-recipient rendering, byte for byte, for any template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cxops.errors import TemplateError
from cxops.messages.render import InvitationRenderer, SendView
from cxops.messages.types import MessageGroup
from cxops.settings import Settings, get_settings
from cxops.spec.models import Survey

EXPIRES = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

NASTY_NAMES: list[Any] = [
    "Jane Doe",
    "<script>alert('x')</script>",
    "Tom & Jerry",
    "\"quoted\" 'single'",
    "%cx1%",
    "%cx%",
    "%cx0a1b2c3dh0%",
    "&amp; already escaped",
    "Zoë 日本語 🎉",
    None,
    42,
    4.50,
    True,
    "",
    "  spaced   out  ",
    "tab\there\nnewline",
    "\u00a0nbsp\u2003em",
    "{{ contact.name }}",
    "Jane Doe",
]
PLANS = ["enterprise", "growth", None, "starter", "enterprise"]
LOCALES = ["de", "fr", "pt-BR", "de-AT", None, "EN", "fr"]
SEGMENTS = ["enterprise", "smb", "other"]


def nasty_views(count: int) -> list[SendView]:
    views = []
    for index in range(count):
        name = NASTY_NAMES[index % len(NASTY_NAMES)]
        contact = {
            "name": name,
            "company": NASTY_NAMES[(index // 3) % len(NASTY_NAMES)],
            "plan": PLANS[index % len(PLANS)],
            "seats": [5, 12, 0, 5.0, None, True, 1][index % 7],
            "mrr": [99.5, 0.0, -0.0, 1200, 12][(index // 5) % 5],
            "tags": [["a", "<b>"], [], ["%cx1%"], ["a", "<b>"]][index % 4],
            "signup": dt.date(2025, 1 + index % 12, 1),
            "ticket": index,
        }
        views.append(
            SendView(
                send_id=f"send-{index:04d}",
                email=f"p{index}@example.com",
                contact_key=str(index),
                segment=SEGMENTS[index % len(SEGMENTS)],
                locale=LOCALES[index % len(LOCALES)],
                contact=contact,
                step=index % 2,
                expires_at=EXPIRES,
            )
        )
    return views


TRICKY: dict[str, dict[str, str]] = {
    "conditions": {
        "subject": "{% if contact.plan == 'enterprise' %}VIP {% endif %}{{ contact.name }} at {{ contact.company }}",
        "html": "<p>{% if contact.plan == 'enterprise' %}<b>{{ contact.name }}</b>{% else %}"
        "Hi {{ contact.name }}{% endif %} ({{ segment }}, {{ locale }})</p>"
        '<a href="{{ links.answer }}?score=9">9</a><a href="{{ links.honeypot }}"></a>',
        "txt": "{{ contact.name }} / {{ contact.seats }} / {{ contact.mrr }} / {{ expires_at }} "
        "{% if segment == 'smb' %}small{% endif %} {{ links.unsubscribe }}",
    },
    "filters": {
        "subject": "{{ contact.name|upper }} {{ contact.company }}",
        "html": "{{ contact.name|e }}|{{ contact.name|safe }}|{{ contact.company }}|"
        "{{ contact.name|string|length }}|{{ contact['name'] }}|{{ contact.seats }}",
        "txt": "{{ contact.name|default('friend') }} {{ contact.signup }} {{ contact.signup.year }} "
        "{{ question.text|trim }} {{ contact.mrr }}",
    },
    "loops": {
        "subject": "{{ contact.tags|length }} tags for {{ contact.name }}",
        "html": "<ul>{% for tag in contact.tags %}<li>{{ tag }} {{ contact.name }}</li>{% endfor %}</ul>"
        "{% for key, value in contact.items() %}{{ key }}={{ value }};{% endfor %}",
        "txt": "{% for n in range(question.min, question.max + 1) %}{{ links.answer }}?score={{ n }}\n"
        "{% endfor %}{% set who %}{{ contact.name }}{% endset %}{{ who|trim }}",
    },
    "includes": {
        "subject": "{% include 'tricky_sub.txt.j2' %}",
        "html": "{% extends 'tricky_layout.html.j2' %}{% block body %}[{{ contact.name }}]"
        "{% include 'tricky_part.txt.j2' %}{% include 'tricky_part.html.j2' %}{% endblock %}",
        "txt": "{% with who = contact.company %}{{ who }}{% endwith %} {% include 'tricky_part.txt.j2' %}",
    },
    "captures": {
        "subject": "{{ contact.company }}",
        "html": "{% set who %}{{ contact.name }}{% endset %}<i>{{ who|trim }}</i>"
        "{% filter upper %}{{ contact.company }}{% endfilter %}{{ contact.name }}",
        "txt": "{% set ns = namespace(n=contact.company) %}{{ ns.n|lower }} {{ contact.name }}",
    },
    "numbers": {
        "subject": "{% if contact.seats %}{{ contact.seats }} seats{% endif %}",
        "html": "{% if contact.mrr is number %}{{ contact.mrr }}{% endif %} {{ contact.mrr == 0 }}",
        "txt": "{{ [contact.seats, contact.mrr]|join(',') }} {{ contact.name }}",
    },
    "unsafe_macro": {
        "subject": "Hello {{ contact.name }}",
        "html": "{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b(contact.name) }} {{ links.answer }}",
        "txt": "{{ contact.name }}",
    },
    "unsafe_dynamic": {
        "subject": "Hello",
        "html": "{% include contact.part %} {{ links.answer }}",
        "txt": "{% set name = contact.name %}{{ name }}",
    },
    "whole_values": {
        "subject": "{{ contact.name }}{{ contact.company }}",
        "html": "{{ contact }} {{ contact.name }} {{ question }} {{ links }}",
        "txt": "{{ contact.tags }} {{ contact.tags[0] if contact.tags else '' }} {{ survey.name }}",
    },
}
SHARED_FILES = {
    "tricky_layout.html.j2": '<html lang="{{ locale }}">{% block body %}{% endblock %}'
    '<a href="{{ links.unsubscribe }}">{{ contact.company }}</a></html>',
    "tricky_part.txt.j2": "raw:{{ contact.name }}",
    "tricky_part.html.j2": "esc:{{ contact.company }}",
    "tricky_sub.txt.j2": "{{ contact.company }} asks {{ contact.name }}",
    "tricky_sub.de.txt.j2": "unused",
    "dyn.html.j2": "dynamic {{ contact.name }}",
}


def make_survey(template: str, locales: list[str], subject: str | None = None) -> Survey:
    invitation: dict[str, Any] = {
        "template": template,
        "from": "Acme <research@acme.example>",
        "locales": locales,
    }
    if subject is not None:
        invitation["subject"] = subject
    return Survey.model_validate(
        {
            "id": "groups",
            "name": "Groups & <friends>",
            "kind": "nps",
            "audience": {"source": {"csv": "x.csv", "key": "id"}},
            "questions": [
                {"id": "score", "type": "nps", "text": "Would {{ contact.company }} recommend us?"}
            ],
            "invitation": invitation,
        }
    )


def project(tmp_path: Path) -> Settings:
    folder = tmp_path / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    for name, parts in TRICKY.items():
        for part, text in parts.items():
            (folder / f"{name}.{part}.j2").write_text(text, encoding="utf-8")
        # A German variant of the html part, so two template sets are in play.
        (folder / f"{name}.de.html.j2").write_text("DE " + parts["html"], encoding="utf-8")
    for file_name, text in SHARED_FILES.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return get_settings(project_dir=tmp_path, secret_key="groups-test-key-" + "k" * 32)


def assert_groups_match(renderer: InvitationRenderer, views: list[SendView]) -> list[MessageGroup]:
    groups = renderer.render_groups(views)
    expanded = {message.send_id: message for group in groups for message in group.expand()}
    assert sorted(expanded) == sorted(view.send_id for view in views)
    for view in views:
        reference = renderer.render_one(view)
        got = expanded[view.send_id]
        assert got.subject == reference.subject, view
        assert got.html == reference.html, view
        assert got.text == reference.text, view
        assert (got.headers, got.custom_args, got.to_name, got.to_email) == (
            reference.headers,
            reference.custom_args,
            reference.to_name,
            reference.to_email,
        )
    for group in groups:
        for recipient in group.recipients:
            for marker in recipient.substitutions:
                assert marker in group.subject + group.html + group.text
    return groups


def _views_for(template: str) -> list[SendView]:
    views = nasty_views(120)
    if template == "unsafe_dynamic":
        views = [_with_part(view) for view in views]
    return views


def _with_part(view: SendView) -> SendView:
    return SendView(
        send_id=view.send_id,
        email=view.email,
        contact_key=view.contact_key,
        segment=view.segment,
        locale=view.locale,
        contact={**view.contact, "part": "dyn.html.j2"},
        step=view.step,
        expires_at=view.expires_at,
    )


@pytest.mark.parametrize("template", sorted(TRICKY))
def test_tricky_templates_group_exactly(tmp_path: Path, template: str) -> None:
    settings = project(tmp_path)
    renderer = InvitationRenderer(make_survey(template, ["en", "de", "fr"]), settings, wave_id="w")
    views = _views_for(template)
    groups = assert_groups_match(renderer, views)
    safe = renderer.shape(renderer.template_set("en")).safe
    assert safe == (not template.startswith("unsafe")), template
    if not safe:
        assert len(groups) == len(views)


@pytest.mark.parametrize(
    "template", ["nps_invite", "csat_invite", "ces_invite", "interview_invite"]
)
def test_builtin_templates_group_exactly(tmp_path: Path, template: str) -> None:
    settings = project(tmp_path)
    survey = make_survey(template, ["en", "de", "fr"])
    if template != "nps_invite":
        kind = template.split("_")[0]
        data = survey.model_dump(by_alias=True)
        data["kind"] = kind
        if kind == "interview":
            data["questions"] = []
            data["interview"] = {
                "goal": 3,
                "batch": 5,
                "duration": "45m",
                "incentive": "A <gift> & thanks",
                "booking_url": "https://book.example",
                "consent": "We record & delete.",
            }
        else:
            data["questions"] = [
                {"id": kind, "type": kind, "text": "How was it, {{ contact.name }}?"}
            ]
        survey = Survey.model_validate(data)
    renderer = InvitationRenderer(survey, settings)
    assert_groups_match(renderer, nasty_views(60))


def test_subject_override_with_whitespace_values(tmp_path: Path) -> None:
    settings = project(tmp_path)
    survey = make_survey(
        "conditions", ["en", "de"], subject="  Hi {{ contact.name }}\n({{ segment }}) "
    )
    renderer = InvitationRenderer(survey, settings)
    assert_groups_match(renderer, nasty_views(80))


def test_builtin_templates_render_once_per_locale(tmp_path: Path) -> None:
    settings = get_settings(project_dir=tmp_path, secret_key="groups-test-key-" + "k" * 32)
    survey = make_survey("nps_invite", ["en", "de", "fr"])
    views = [
        SendView(
            send_id=f"send-{index:05d}",
            email=f"p{index}@example.com",
            contact_key=str(index),
            segment=SEGMENTS[index % 3],
            locale=["en", "de", "fr", "de-AT", "pt-BR", None][index % 6],
            contact={"name": NASTY_NAMES[index % len(NASTY_NAMES)], "company": f"Company {index}"},
            step=0,
            expires_at=EXPIRES,
        )
        for index in range(1000)
    ]
    renderer = InvitationRenderer(survey, settings)
    groups = assert_groups_match(renderer, views)
    assert len(groups) <= 3
    assert sum(len(group.recipients) for group in groups) == 1000


def test_a_failing_template_fails_in_both_paths(tmp_path: Path) -> None:
    settings = project(tmp_path)
    (tmp_path / "templates" / "broken.html.j2").write_text("{{ contact.seats + 1 }}")
    (tmp_path / "templates" / "broken.txt.j2").write_text("x")
    (tmp_path / "templates" / "broken.subject.j2").write_text("x")
    renderer = InvitationRenderer(make_survey("broken", ["en"]), settings)
    views = nasty_views(5)  # one of them has seats=None
    with pytest.raises(TemplateError, match=r"broken\.html\.j2"):
        renderer.render_groups(views)
    with pytest.raises(TemplateError, match=r"broken\.html\.j2"):
        renderer.render_one(views[4])


def test_shared_context_entries_are_neither_keyed_nor_substituted(tmp_path: Path) -> None:
    """A fixed question, one expiry object and one step: only the per-person parts vary."""
    settings = project(tmp_path)
    survey = make_survey("nps_invite", ["en"])
    data = survey.model_dump(by_alias=True)
    data["questions"][0]["text"] = "How likely are you to recommend us?"
    renderer = InvitationRenderer(Survey.model_validate(data), settings)
    views = [
        SendView(
            send_id=f"send-{index:03d}",
            email=f"p{index}@example.com",
            contact_key=str(index),
            segment="smb",
            locale="en",
            contact={"name": NASTY_NAMES[index % len(NASTY_NAMES)]},
            step=0,
            expires_at=EXPIRES,
        )
        for index in range(50)
    ]
    [group] = assert_groups_match(renderer, views)
    # Only the three signed links differ between recipients (html and raw where printed both).
    markers = {marker for recipient in group.recipients for marker in recipient.substitutions}
    assert len(markers) == len(group.recipients[0].substitutions) <= 6
    assert all(
        value.startswith(settings.public_url.rstrip("/"))
        for recipient in group.recipients
        for value in recipient.substitutions.values()
    )


def test_equal_but_distinct_expiry_objects_still_render_exactly(tmp_path: Path) -> None:
    settings = project(tmp_path)
    renderer = InvitationRenderer(make_survey("conditions", ["en", "de"]), settings)
    views = [
        SendView(
            send_id=view.send_id,
            email=view.email,
            contact_key=view.contact_key,
            segment=view.segment,
            locale=view.locale,
            contact=view.contact,
            step=view.step,
            # equal instants, different objects (one of them in another zone)
            expires_at=EXPIRES.astimezone(dt.timezone(dt.timedelta(hours=index % 3))),
        )
        for index, view in enumerate(nasty_views(40))
    ]
    assert_groups_match(renderer, views)
