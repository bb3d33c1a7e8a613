"""Parsing posted answers against a survey's questions (pure)."""

from __future__ import annotations

import pytest

from cxops.collect.answers import form_questions, form_values, parse_answers
from cxops.spec.models import Survey

BASE = {
    "name": "All types",
    "audience": {"source": {"csv": "data/customers.csv", "key": "id"}},
    "invitation": {"template": "t", "from": "Research <r@acme.example>"},
}


def survey(**fields) -> Survey:
    return Survey.model_validate({**BASE, **fields})


ALL_TYPES = survey(
    id="all-types",
    kind="custom",
    questions=[
        {"id": "score", "type": "nps", "text": "Recommend?"},
        {"id": "csat", "type": "csat", "text": "Satisfied?", "required": False},
        {"id": "effort", "type": "ces", "text": "Easy?", "required": False},
        {"id": "stars", "type": "rating", "text": "Stars?", "min": 1, "max": 4, "required": False},
        {"id": "plan", "type": "single", "text": "Plan?", "options": ["a", "b"], "required": False},
        {
            "id": "uses",
            "type": "multi",
            "text": "Uses?",
            "options": ["x", "y", "z"],
            "required": False,
        },
        {"id": "why", "type": "text", "text": "Why?", "max_length": 10, "required": False},
    ],
)
INTERVIEW = survey(
    id="talk",
    kind="interview",
    interview={
        "goal": 2,
        "batch": 5,
        "duration": "30m",
        "booking_url": "https://book.example/x",
        "consent": "We record the call.",
    },
    questions=[{"id": "role", "type": "single", "text": "Role?", "options": ["dev", "pm"]}],
)


def parse(form, *, partial=False, questions=None):
    return parse_answers(questions or form_questions(ALL_TYPES), form, partial=partial)


def test_every_type_parses_to_typed_values():
    parsed = parse(
        {
            "score": ["9"],
            "csat": ["5"],
            "effort": ["1"],
            "stars": ["4"],
            "plan": ["b"],
            "uses": ["z", "x"],
            "why": [" fast\r\nand c "],
        }
    )
    assert parsed.ok, parsed.errors
    assert parsed.values == {
        "score": 9,
        "csat": 5,
        "effort": 1,
        "stars": 4,
        "plan": "b",
        "uses": ["x", "z"],
        "why": "fast\nand c",
    }


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("score", "11", "out_of_range"),
        ("score", "-1", "out_of_range"),
        ("score", "7.5", "invalid_number"),
        ("score", "1_0", "invalid_number"),  # int() reads 10
        ("score", "+5", "invalid_number"),
        ("score", "\N{ARABIC-INDIC DIGIT SEVEN}", "invalid_number"),  # int() reads 7
        ("score", "\N{FULLWIDTH DIGIT ONE}\N{FULLWIDTH DIGIT ZERO}", "invalid_number"),
        ("csat", "0", "out_of_range"),
        ("effort", "8", "out_of_range"),
        ("stars", "5", "out_of_range"),
        ("plan", "c", "invalid_option"),
        ("uses", "w", "invalid_option"),
        ("why", "x" * 11, "too_long"),
    ],
)
def test_bad_values_are_errors_naming_the_field(field, value, code):
    parsed = parse({"score": ["5"], field: [value]})
    assert parsed.errors[field].code == code
    assert field not in parsed.values


def test_a_scale_below_zero_takes_a_minus_sign():
    below = survey(
        id="below",
        kind="custom",
        questions=[{"id": "mood", "type": "rating", "text": "Mood?", "min": -2, "max": 2}],
    )
    questions = form_questions(below)
    assert parse({"mood": ["-2"]}, questions=questions).values == {"mood": -2}
    assert parse({"mood": ["-\N{ARABIC-INDIC DIGIT ONE}"]}, questions=questions).errors


def test_range_error_carries_the_bounds():
    error = parse({"score": ["12"]}).errors["score"]
    assert dict(error.params) == {"low": 0, "high": 10}


def test_required_missing_is_an_error_on_final_submit_only():
    assert parse({}).errors["score"].code == "required"
    assert parse({"score": ["  "]}).errors["score"].code == "required"
    assert parse({}, partial=True).ok
    assert parse({}, partial=True).values == {}


def test_partial_reads_only_present_fields():
    parsed = parse({"score": ["7"], "_partial": ["1"]}, partial=True)
    assert parsed.ok
    assert parsed.values == {"score": 7}


def test_two_different_values_for_one_choice_are_refused():
    assert parse({"score": ["7", "8"]}).errors["score"].code == "one_value"
    assert parse({"score": ["7", "7"]}).values["score"] == 7


def test_text_is_stripped_and_limited_after_newline_normalisation():
    assert parse({"score": ["1"], "why": ["a\r\nb\x00"]}).values["why"] == "a\nb"
    assert parse({"score": ["1"], "why": ["0123456789"]}).ok
    assert not parse({"score": ["1"], "why": ["0123456789a"]}).ok


def test_interview_accept_needs_consent_and_screener():
    questions = form_questions(INTERVIEW)
    assert [q.id for q in questions] == ["accepted", "consent", "role"]
    accepted = parse({"accepted": ["yes"]}, questions=questions)
    assert set(accepted.errors) == {"consent", "role"}
    assert accepted.errors["consent"].code == "consent_required"
    full = parse({"accepted": ["yes"], "consent": ["yes"], "role": ["pm"]}, questions=questions)
    assert full.ok
    assert full.values == {"accepted": True, "consent": True, "role": "pm"}


def test_interview_decline_needs_nothing_else():
    parsed = parse({"accepted": ["no"]}, questions=form_questions(INTERVIEW))
    assert parsed.ok
    assert parsed.values == {"accepted": False, "consent": False}


def test_interview_accept_must_be_yes_or_no():
    parsed = parse({"accepted": ["maybe"]}, questions=form_questions(INTERVIEW), partial=True)
    assert parsed.errors["accepted"].code == "invalid_option"


def test_unknown_fields_are_ignored():
    assert parse({"score": ["3"], "admin": ["1"]}).values == {"score": 3}


def test_form_values_round_trip():
    values = {"score": 9, "uses": ["x", "z"], "accepted": True, "why": "ok"}
    shown = form_values(values)
    assert shown == {"score": ["9"], "uses": ["x", "z"], "accepted": ["yes"], "why": ["ok"]}
    questions = form_questions(ALL_TYPES) + form_questions(INTERVIEW)[:1]
    assert parse_answers(questions, shown, partial=True).values == values
