"""The email environment: sandbox, autoescape by file, locale fallback, project overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from cxops.errors import TemplateError
from cxops.locales import format_date, locale_chain, resolve_locale
from cxops.messages.env import email_environment, find_template_set, one_line


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / "templates").mkdir(parents=True, exist_ok=True)
        (root / "templates" / name).write_text(text, encoding="utf-8")


def test_html_is_autoescaped_and_text_is_not(tmp_path: Path) -> None:
    _write(tmp_path, {"x.html.j2": "{{ v }}", "x.txt.j2": "{{ v }}", "x.subject.j2": "{{ v }}"})
    env = email_environment(tmp_path)
    value = '<b>Tom & "Jerry"</b>'
    assert env.get_template("x.html.j2").render(v=value) == (
        "&lt;b&gt;Tom &amp; &#34;Jerry&#34;&lt;/b&gt;"
    )
    assert env.get_template("x.txt.j2").render(v=value) == value
    assert env.get_template("x.subject.j2").render(v=value) == value


def test_undefined_values_are_errors(tmp_path: Path) -> None:
    _write(tmp_path, {"x.txt.j2": "{{ contact.missing }}"})
    with pytest.raises(UndefinedError):
        email_environment(tmp_path).get_template("x.txt.j2").render(contact={})


def test_templates_run_in_the_sandbox(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"x.txt.j2": "{{ contact.__class__.__mro__ }}", "y.txt.j2": "{{ c.update({'a': 1}) }}"},
    )
    env = email_environment(tmp_path)
    with pytest.raises((SecurityError, UndefinedError)):
        env.get_template("x.txt.j2").render(contact={})
    with pytest.raises(SecurityError):
        env.get_template("y.txt.j2").render(c={})


def test_project_templates_override_builtins_by_name(tmp_path: Path) -> None:
    env = email_environment(tmp_path)
    assert "Would you recommend" in env.get_template("nps_invite.subject.j2").render(step=0)
    _write(tmp_path, {"nps_invite.subject.j2": "Our own subject"})
    overridden = email_environment(tmp_path)
    assert overridden.get_template("nps_invite.subject.j2").render() == "Our own subject"


def test_subject_is_one_line() -> None:
    assert one_line("  Hello \n\t there  \u00a0 you\n") == "Hello there you"


@pytest.mark.parametrize(
    ("requested", "offered", "locale", "html"),
    [
        ("de-AT", ["en", "de", "fr"], "de", "nps_invite.de.html.j2"),
        ("de_at", ["en", "de", "fr"], "de", "nps_invite.de.html.j2"),
        ("pt-BR", ["en", "de", "fr"], "en", "nps_invite.html.j2"),
        ("fr", ["en", "de", "fr"], "fr", "nps_invite.fr.html.j2"),
        (None, ["en", "de", "fr"], "en", "nps_invite.html.j2"),
        ("fr", ["en", "de"], "en", "nps_invite.html.j2"),
        # Not offered: the survey's first locale, whatever it is (docs/behaviour.md, "Languages").
        ("es", ["fr", "en"], "fr", "nps_invite.fr.html.j2"),
        # Offered by the survey but no file for it: the language, then the default file.
        ("pt-BR", ["en", "pt-BR"], "pt-BR", "nps_invite.html.j2"),
        ("de-CH", ["de-CH", "en"], "de-CH", "nps_invite.de.html.j2"),
    ],
)
def test_locale_then_file_fallback(
    tmp_path: Path, requested: str | None, offered: list[str], locale: str, html: str
) -> None:
    resolved = resolve_locale(requested, offered)
    assert resolved == locale
    found = find_template_set(email_environment(tmp_path), "nps_invite", resolved)
    assert found.html == html
    assert found.txt == html.replace(".html.", ".txt.")
    assert found.subject == html.replace(".html.", ".subject.")


def test_a_project_locale_variant_is_found_first(tmp_path: Path) -> None:
    _write(tmp_path, {"nps_invite.pt.html.j2": "<p>Olá</p>"})
    found = find_template_set(email_environment(tmp_path), "nps_invite", "pt-BR")
    assert (found.html, found.txt, found.locale) == (
        "nps_invite.pt.html.j2",
        "nps_invite.txt.j2",
        "pt",
    )


def test_missing_template_names_the_files(tmp_path: Path) -> None:
    _write(tmp_path, {"mine.html.j2": "x", "mine.subject.j2": "x"})
    with pytest.raises(TemplateError, match=r"mine.*txt part.*mine\.de\.txt\.j2, mine\.txt\.j2"):
        find_template_set(email_environment(tmp_path), "mine", "de")


def test_subject_override_needs_no_subject_file(tmp_path: Path) -> None:
    _write(tmp_path, {"mine.html.j2": "x", "mine.txt.j2": "x"})
    found = find_template_set(email_environment(tmp_path), "mine", "en", subject_override=True)
    assert found.subject is None
    with pytest.raises(TemplateError, match="subject part"):
        find_template_set(email_environment(tmp_path), "mine", "en")


def test_locale_chain_and_dates() -> None:
    from datetime import date

    assert locale_chain("pt_br") == ["pt-BR", "pt"]
    assert locale_chain("") == []
    day = date(2026, 12, 7)
    assert format_date(day, "en") == "7 December 2026"
    assert format_date(day, "de-AT") == "7. Dezember 2026"
    assert format_date(day, "fr") == "7 décembre 2026"
    assert format_date(day, "pt-BR") == "2026-12-07"
