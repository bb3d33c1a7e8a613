"""The template analysis: which context values are opaque, keyed, or not analysable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cxops.messages.env import make_environment
from cxops.messages.render import CONTEXT_NAMES
from cxops.messages.shapes import HTML, RAW, Shape, analyse
from cxops.messages.values import UNDEFINED, Unfreezable, freeze, replaced, resolve, substitutable

NAME = ("contact", (".", "name"))
PLAN = ("contact", (".", "plan"))
ANSWER = ("links", (".", "answer"))


def shape_of(tmp_path: Path, html: str, txt: str = "", **files: str) -> Shape:
    for file_name, text in {"t.html.j2": html, "t.txt.j2": txt, **files}.items():
        (tmp_path / file_name.replace("__", ".")).write_text(text, encoding="utf-8")
    env = make_environment([tmp_path])
    return analyse(env, {"html": "t.html.j2", "txt": "t.txt.j2"}, CONTEXT_NAMES)


def test_whole_outputs_are_opaque_with_their_mode(tmp_path: Path) -> None:
    shape = shape_of(
        tmp_path, "{{ contact.name }} {{ links.answer }}?score=1", "{{ contact.name }}"
    )
    assert shape.safe
    assert shape.opaque["html"] == {NAME: HTML, ANSWER: HTML}
    assert shape.opaque["txt"] == {NAME: RAW}
    assert shape.keyed == frozenset()


@pytest.mark.parametrize(
    "html",
    [
        "{% if contact.plan == 'x' %}a{% endif %}",
        "{{ contact.plan|upper }}",
        "{{ contact.plan is none }}",
        "{% for c in contact.plan %}{{ c }}{% endfor %}",
        "{% set p = contact.plan %}{{ p }}",
        "{{ 'x' ~ contact.plan }}",
        "{{ range(contact.plan) }}",
        "{% set p %}{{ contact.plan }}{% endset %}{{ p }}",
        "{% filter upper %}{{ contact.plan }}{% endfilter %}",
        "{% with p = contact.plan %}{{ p }}{% endwith %}",
        "{{ contact['plan'] if true else '' }}",
    ],
)
def test_any_other_use_is_keyed(tmp_path: Path, html: str) -> None:
    shape = shape_of(tmp_path, html)
    assert shape.safe
    assert any(path[:2] == PLAN[:2] or path == ("contact", ("[]", "plan")) for path in shape.keyed)
    assert PLAN not in shape.opaque["html"]


def test_a_value_printed_escaped_and_raw_in_one_part_is_keyed(tmp_path: Path) -> None:
    shape = shape_of(
        tmp_path,
        "{{ contact.name }}{% include 'p.txt.j2' %}",
        **{"p__txt__j2": "{{ contact.name }}"},
    )
    assert NAME in shape.keyed


def test_a_whole_value_read_deeper_is_keyed(tmp_path: Path) -> None:
    shape = shape_of(tmp_path, "{{ contact }} {{ contact.name }}")
    assert ("contact",) in shape.keyed
    assert shape.opaque["html"] == {}


def test_includes_and_extends_are_followed(tmp_path: Path) -> None:
    shape = shape_of(
        tmp_path,
        "{% extends 'base.html.j2' %}{% block b %}{{ contact.name }}{% endblock %}",
        **{
            "base__html__j2": "{% block b %}{% endblock %}{% include ['p.html.j2'] %}",
            "p__html__j2": "{{ contact.plan|e }}",
        },
    )
    assert shape.safe and NAME in shape.opaque["html"] and PLAN in shape.keyed


@pytest.mark.parametrize(
    "html",
    [
        "{% macro m(x) %}{{ x }}{% endmacro %}{{ m(contact.name) }}",
        "{% include contact.template %}",
        "{% extends contact.layout %}",
        "{{ self.b() }}{% block b %}x{% endblock %}",
        "{% autoescape false %}{{ contact.name }}{% endautoescape %}",
        "{% for contact in [1] %}{{ contact }}{% endfor %}",
        "{% set links = 1 %}",
        "{% call foo() %}x{% endcall %}",
        "{% for x in contact.tags recursive %}{{ loop(x) }}{% endfor %}",
        "{% include 'missing.html.j2' %}",
        "{% include 'p.html.j2' without context %}",
    ],
)
def test_unanalysable_templates_are_unsafe(tmp_path: Path, html: str) -> None:
    shape = shape_of(tmp_path, html, **{"p__html__j2": "x"})
    assert not shape.safe
    assert shape.reason


def test_freeze_tells_apart_what_prints_differently() -> None:
    assert freeze(1) != freeze(True) and freeze(1) != freeze(1.0)
    assert freeze(0.0) != freeze(-0.0)
    utc = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    plus_one = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert utc == plus_one and freeze(utc) != freeze(plus_one)
    assert freeze({"a": 1, "b": 2}) != freeze({"b": 2, "a": 1})  # iteration order differs
    assert freeze(["a", {"b": None}]) == freeze(["a", {"b": None}])
    assert freeze("x") != freeze(("x",))
    assert freeze({}.items) != freeze({"a": 1}.items)
    with pytest.raises(Unfreezable):
        freeze({1, 2})
    with pytest.raises(Unfreezable):
        freeze(object())


def test_paths_resolve_and_substitute_like_jinja(tmp_path: Path) -> None:
    env = make_environment([tmp_path])
    context = {"contact": {"name": "Jo", "items": "mine", "nested": {"x": 1}}, "step": 0}
    assert resolve(env, context, NAME) == "Jo"
    assert resolve(env, context, ("contact", (".", "missing"))) is UNDEFINED
    assert resolve(env, context, ("nobody",)) is UNDEFINED
    assert callable(resolve(env, context, ("contact", (".", "items"))))
    assert resolve(env, context, ("contact", ("[]", "items"))) == "mine"
    assert substitutable(context, NAME)
    assert not substitutable(context, ("contact", (".", "items")))
    assert substitutable(context, ("contact", ("[]", "items")))
    assert not substitutable(context, ("contact", (".", "missing")))
    assert not substitutable(context, ("contact", (".", "name"), (".", "upper")))
    deep = ("contact", (".", "nested"), (".", "x"))
    changed = replaced(context, deep, "M")
    assert resolve(env, changed, deep) == "M"
    assert context["contact"]["nested"]["x"] == 1  # the original is untouched
    assert replaced(context, ("step",), "M")["step"] == "M"
