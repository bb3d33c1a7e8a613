"""Rendering invitations with the built-in templates, one recipient at a time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cxops.messages.render import InvitationRenderer, SendView
from cxops.messages.tokens import read_token
from cxops.settings import Settings, get_settings
from cxops.spec.models import Survey

EXPIRES = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
QUESTIONS = {
    "nps": {
        "id": "score",
        "type": "nps",
        "text": "How likely is {{ contact.name }} to recommend Acme?",
    },
    "csat": {
        "id": "csat",
        "type": "csat",
        "text": "How satisfied were you with ticket #{{ contact.ticket }}?",
    },
    "ces": {"id": "effort", "type": "ces", "text": "Acme made it easy for me to get set up."},
}
INTERVIEW = {
    "goal": 8,
    "batch": 20,
    "duration": "30m",
    "incentive": "A $50 gift card",
    "booking_url": "https://calendar.acme.example/research",
    "consent": "We record the call & delete it after 90 days.",
}
#: (kind, locale) -> words that only that language's variant contains.
LANGUAGE_MARKS = {
    ("nps", "en"): ["Would you recommend us?", "Not at all likely", "Extremely likely"],
    ("nps", "de"): [
        "Würden Sie uns weiterempfehlen?",
        "Äußerst unwahrscheinlich",
        "Äußerst wahrscheinlich",
    ],
    ("nps", "fr"): ["Nous recommanderiez-vous", "Pas du tout probable", "Extrêmement probable"],
    ("csat", "en"): ["How did we do?", "Very dissatisfied", "Very satisfied"],
    ("csat", "de"): ["Wie zufrieden waren Sie", "Sehr unzufrieden", "Sehr zufrieden"],
    ("csat", "fr"): ["Êtes-vous satisfait", "Très insatisfait", "Très satisfait"],
    ("ces", "en"): ["How easy was it", "Strongly disagree", "Strongly agree"],
    ("ces", "de"): ["Wie einfach war es", "Stimme überhaupt nicht zu", "Stimme voll und ganz zu"],
    ("ces", "fr"): ["Était-ce simple", "Pas du tout d’accord", "Tout à fait d’accord"],
    ("interview", "en"): ["Could we talk for 30 minutes?", "Yes, I’m in", "No, thanks"],
    ("interview", "de"): ["Hätten Sie 30 Minuten", "Ja, ich mache mit", "Nein, danke"],
    ("interview", "fr"): ["Auriez-vous 30 minutes", "Oui, avec plaisir", "Non, merci"],
}
SCALES = {"nps": range(0, 11), "csat": range(1, 6), "ces": range(1, 8)}


def make_survey(kind: str, **invitation: Any) -> Survey:
    data: dict[str, Any] = {
        "id": f"{kind}-test",
        "name": f"{kind.upper()} test",
        "kind": kind,
        "audience": {"source": {"csv": "data/customers.csv", "key": "id"}},
        "invitation": {
            "template": f"{kind}_invite",
            "from": "Acme Research <research@acme.example>",
            "locales": ["en", "de", "fr"],
            **invitation,
        },
    }
    if kind == "interview":
        data["interview"] = INTERVIEW
    else:
        data["questions"] = [QUESTIONS[kind]]
    return Survey.model_validate(data)


def view(
    send_id: str = "send-1",
    *,
    locale: str | None = None,
    step: int = 0,
    fields: dict[str, Any] | None = None,
    **contact: Any,
) -> SendView:
    fields = {"name": "Jane Doe", "ticket": 4711, **(fields or {}), **contact}
    return SendView(
        send_id=send_id,
        email=f"{send_id}@example.com",
        contact_key=send_id,
        segment="smb",
        locale=locale,
        contact=fields,
        step=step,
        expires_at=EXPIRES,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings(project_dir=tmp_path, public_url="https://cx.acme.example")


@pytest.mark.parametrize(("kind", "locale"), sorted(LANGUAGE_MARKS))
def test_builtin_templates_speak_the_language_and_offer_every_answer(
    settings: Settings, kind: str, locale: str
) -> None:
    renderer = InvitationRenderer(make_survey(kind), settings)
    message = renderer.render_one(view(locale=locale))
    assert f'<html lang="{locale}"' in message.html
    for mark in LANGUAGE_MARKS[(kind, locale)]:
        plain = mark.replace("?", "").strip()
        assert plain in message.subject + message.html.replace("&nbsp;", " ") + message.text, mark
    for (other_kind, other_locale), marks in LANGUAGE_MARKS.items():
        if other_kind == kind and other_locale != locale:
            assert marks[1] not in message.html and marks[1] not in message.text
    answer = re.escape("https://cx.acme.example/a/") + r"[A-Za-z0-9_-]+"
    if kind == "interview":
        expected = {"accepted=yes", "accepted=no"}
    else:
        question_id = QUESTIONS[kind]["id"]
        expected = {f"{question_id}={n}" for n in SCALES[kind]}
    for part in (message.html, message.text):
        found = set(re.findall(answer + r"\?([a-z_]+=[a-z0-9]+)", part))
        assert found == expected


def test_links_carry_tokens_for_this_send(settings: Settings) -> None:
    renderer = InvitationRenderer(make_survey("nps"), settings, wave_id="2026-Q4")
    message = renderer.render_one(view("send-42"))
    key, now = settings.signing_key(), settings.clock()
    answers = set(re.findall(r"https://cx\.acme\.example/a/([A-Za-z0-9_-]+)\?score=", message.html))
    assert len(answers) == 1
    assert read_token(key, "answer", answers.pop(), now=now) == "send-42"
    honeypot = re.search(
        r'<a href="https://cx\.acme\.example/h/([A-Za-z0-9_-]+)"([^>]*)></a>', message.html
    )
    assert honeypot is not None
    assert read_token(key, "honeypot", honeypot[1], now=now) == "send-42"
    assert 'aria-hidden="true"' in honeypot[2] and 'tabindex="-1"' in honeypot[2]
    assert "display:none" in honeypot[2]
    assert "/h/" not in message.text
    unsubscribe = message.headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://cx.acme.example/u/") and unsubscribe.endswith(">")
    assert unsubscribe[1:-1] in message.html and unsubscribe[1:-1] in message.text
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.custom_args == {"survey": "nps-test", "wave": "2026-Q4", "send_id": "send-42"}
    assert (message.to_email, message.to_name) == ("send-42@example.com", "Jane Doe")
    assert message.from_header == "Acme Research <research@acme.example>"


def test_names_are_text_not_markup(settings: Settings) -> None:
    renderer = InvitationRenderer(make_survey("nps"), settings)
    name = '<script>alert("x")</script> & Co'
    message = renderer.render_one(view(name=name))
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in message.html
    assert name in message.text
    [group] = renderer.render_groups([view(name=name), view("send-2", name="Bob")])
    html = {m.send_id: m.html for m in group.expand()}
    assert "<script>" not in html["send-1"]
    assert html["send-1"] == message.html


@pytest.mark.parametrize(
    ("requested", "lang"), [("pt-BR", "en"), ("de-AT", "de"), ("fr_CA", "fr"), (None, "en")]
)
def test_contact_locale_picks_the_variant(
    settings: Settings, requested: str | None, lang: str
) -> None:
    renderer = InvitationRenderer(make_survey("csat"), settings)
    by_argument = renderer.render_one(view(locale=requested))
    by_field = renderer.render_one(view(fields={"locale": requested}))
    for message in (by_argument, by_field):
        assert f'<html lang="{lang}"' in message.html
    assert renderer.locale_for(view(locale=requested)) == lang


def test_reminders_say_so(settings: Settings) -> None:
    renderer = InvitationRenderer(make_survey("ces"), settings)
    assert renderer.render_one(view(step=1)).subject.startswith("Reminder: ")
    assert renderer.render_one(view(step=1, locale="de")).subject.startswith("Erinnerung: ")
    assert not renderer.render_one(view(step=0)).subject.startswith("Reminder")


def test_interview_shows_its_terms(settings: Settings) -> None:
    renderer = InvitationRenderer(make_survey("interview"), settings)
    message = renderer.render_one(view())
    assert "A $50 gift card" in message.html and "A $50 gift card" in message.text
    assert "We record the call &amp; delete it after 90 days." in message.html
    assert "We record the call & delete it after 90 days." in message.text
    assert "7 December 2026" in message.text


def test_subject_override_and_empty_name(settings: Settings) -> None:
    survey = make_survey("nps", subject="  {{ contact.company }}:\n a question ")
    renderer = InvitationRenderer(survey, settings)
    message = renderer.render_one(view(company="Acme & Sons", name=""))
    assert message.subject == "Acme & Sons: a question"
    assert message.to_name is None


#: SpamAssassin's `__FONT_INVIS` (rulesrc/sandbox/jhardin/20_misc_testing.cf), the body
#: half of FONT_INVIS_MSGID: a tag whose attributes set a font size of 0-1 px (or
#: color:transparent), followed by text.
FONT_INVIS = re.compile(
    r"<(?!style)[a-z]+\s[^>]{1,80}(?:font(?:-size)?\s*:\s*(?:0*[01](?:\.\d+)?"
    r"(?:px|pt|Q|vw|vh|vmin)|0+(?:\.\d+)?(?:cm|mm|pc|ch|rem|lh|vmax|%)|0+(?:\.0\d*)"
    r"(?:em|ex|in))(?:\s[a-z]|\s*[;'])|['\"\s;]color\s*:\s*transparent\s*[;'])"
    r"[^>]{0,80}>[a-z0-9]",
    re.IGNORECASE,
)


@pytest.mark.parametrize(("kind", "locale"), sorted(LANGUAGE_MARKS))
@pytest.mark.parametrize("step", [0, 1])
def test_the_preheader_is_hidden_without_text_spamassassin_scores_as_invisible(
    settings: Settings, kind: str, locale: str, step: int
) -> None:
    html = InvitationRenderer(make_survey(kind), settings).render_one(view(locale=locale)).html
    assert FONT_INVIS.search(html) is None, FONT_INVIS.search(html)
    preheader = re.search(r'<div style="([^"]*)">([^<]+)</div>', html)
    assert preheader is not None and preheader.group(2).strip()
    style = preheader.group(1)
    for rule in ("display:none", "max-height:0", "overflow:hidden", "mso-hide:all"):
        assert rule in style
    assert "font-size" not in style and "color" not in style


def test_the_rule_the_preheader_avoids_is_the_one_spamassassin_applies() -> None:
    """The pattern above matches the preheader this template had (1 px font)."""
    old = '<div style="display:none;mso-hide:all;font-size:1px;line-height:1px;">One click'
    assert FONT_INVIS.search(old) is not None


@pytest.mark.parametrize(
    ("kind", "points", "per_row"), [("nps", 11, 6), ("ces", 7, 4), ("csat", 5, None)]
)
def test_a_long_scale_wraps_onto_two_rows_of_44_px_buttons_below_600_px(
    settings: Settings, kind: str, points: int, per_row: int | None
) -> None:
    html = InvitationRenderer(make_survey(kind), settings).render_one(view(locale="en")).html
    style = re.search(r"<style>\s*(@media.*?)</style>", html, re.S)  # not Outlook's
    assert style is not None
    narrow = re.search(r"@media screen and \(max-width:599px\)\{(.*?)\n\}", style.group(1), re.S)
    assert narrow is not None, "no media query for narrow screens"
    rules = dict(re.findall(r"\.(cx-[a-z0-9-]+)\{([^}]*)\}", narrow.group(1)))
    assert "display:inline-block !important" in rules["cx-wrap"]
    cells = re.findall(r'<td align="center" class="([^"]*)" width="([0-9.]+)%"', html)
    assert len(cells) == points
    # no white space between the cells: as inline blocks it would add a gap to each row
    assert re.search(r"</td>\s+<td align=\"center\" class=\"cx-point", html) is None
    card = 320 - 2 * 8  # the card's content at 320 px (its narrow padding)
    for classes, share in cells:
        padding = 2 * 2
        if per_row is None:
            assert classes == "cx-point"
            assert card * float(share) / 100 - padding >= 44
            continue
        assert classes.split() == ["cx-point", "cx-wrap", f"cx-row-{per_row}"]
        width = re.fullmatch(r"width:([0-9.]+)% !important;", rules[f"cx-row-{per_row}"])
        assert width is not None and float(width.group(1)) * per_row <= 100
        assert card * float(width.group(1)) / 100 - padding >= 44
        # without media queries: one row, each button at least 24 px (WCAG 2.5.8)
        assert card * float(share) / 100 - 2 * 1 >= 24
