"""The sandboxed expression evaluator: values, errors, sandbox, helpers, references."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cxops.errors import ExpressionError
from cxops.expr import (
    Evaluator,
    check_expression_syntax,
    check_template_syntax,
    references,
)

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday


@pytest.fixture
def ev() -> Evaluator:
    return Evaluator(NOW)


def test_evaluate_and_test_see_the_context(ev: Evaluator) -> None:
    context = {"contact": {"plan": "team", "seats": 12}, "segment": "smb"}
    assert ev.evaluate("contact.seats * 2", context) == 24
    assert ev.test("contact.plan in ['starter', 'team'] and segment == 'smb'", context)
    assert not ev.test("contact['seats'] < 5", context)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("contact.__class__", "not allowed: access to attribute '__class__'"),
        ("contact.__class__.__mro__", "not allowed"),
        ("days_since.__globals__", "not allowed: access to attribute '__globals__'"),
        ("contact.missing", "undefined value: 'dict object' has no attribute 'missing'"),
        ("contact.seats >= 5", "TypeError: '>=' not supported"),
        ("'x' * 10 ** 9", "not allowed"),
        ("2 ** 100000", "not allowed: exponent"),
        ("1 / 0", "ZeroDivisionError"),
        ("contact.pop('seats')", "not allowed"),
    ],
)
def test_failures_are_expression_errors_naming_where(
    ev: Evaluator, source: str, message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        ev.evaluate(source, {"contact": {"seats": None}}, where="filter")
    assert str(caught.value).startswith(f"filter: {source!r}: ")
    assert message in str(caught.value)


def test_the_sandbox_keeps_context_immutable(ev: Evaluator) -> None:
    contact = {"tags": ["a"]}
    with pytest.raises(ExpressionError, match="not allowed"):
        ev.evaluate("contact.tags.append('b')", {"contact": contact})
    assert contact == {"tags": ["a"]}


def test_a_syntax_error_is_an_expression_error(ev: Evaluator) -> None:
    with pytest.raises(ExpressionError, match=r"^segments\.vip: 'contact\.seats >=': invalid"):
        ev.evaluate("contact.seats >=", {"contact": {}}, where="segments.vip")
    with pytest.raises(ValueError, match="invalid expression"):
        check_expression_syntax("a ==")
    with pytest.raises(ValueError, match="invalid template text"):
        check_template_syntax("{{ a ")


def test_render_is_plain_text_with_helpers(ev: Evaluator) -> None:
    text = ev.render(
        "Hi {{ contact.name }}, {{ days_since(contact.d) }}d",
        {"contact": {"name": "<b>", "d": "2026-11-20"}},
    )
    assert text == "Hi <b>, 3d"
    with pytest.raises(ExpressionError, match="undefined value"):
        ev.render("{{ contact.nope }}", {"contact": {}})


def test_time_helpers_use_the_evaluators_clock(ev: Evaluator) -> None:
    context = {
        "contact": {
            "day": date(2026, 11, 9),
            "naive": datetime(2026, 11, 22, 9),
            "text": "2026-11-20T09:00:00+00:00",
            "none": None,
        }
    }
    assert ev.evaluate("days_since(contact.day)", context) == 14
    assert ev.evaluate("hours_since(contact.naive)", context) == 24.0
    assert ev.evaluate("days_since(contact.text)", context) == 3
    assert ev.evaluate("today()", context) == date(2026, 11, 23)
    assert ev.evaluate("now()", context) == NOW
    assert ev.evaluate("duration_days('36h')", context) == 1.5
    with pytest.raises(ExpressionError, match="days_since\\(\\) of an empty value"):
        ev.evaluate("days_since(contact.none)", context)
    with pytest.raises(ExpressionError, match="ValueError"):
        ev.evaluate("days_since('last tuesday')", context)


def test_business_days_since_skips_weekends_and_holidays() -> None:
    friday = {"contact": {"at": datetime(2026, 11, 20, 9, tzinfo=UTC)}}
    assert Evaluator(NOW).evaluate("business_days_since(contact.at)", friday) == 1
    after_christmas = datetime(2026, 12, 28, 9, tzinfo=UTC)
    christmas_eve = {"contact": {"at": datetime(2026, 12, 23, 9, tzinfo=UTC)}}
    assert (
        Evaluator(after_christmas).evaluate("business_days_since(contact.at)", christmas_eve) == 3
    )
    german = Evaluator(after_christmas, holidays="DE")
    assert german.evaluate("business_days_since(contact.at)", christmas_eve) == 2


def test_references_lists_names_and_fields() -> None:
    found = references("contact.seats >= 5 and days_since(contact['signup_date']) < 30")
    assert found.names == {"contact", "days_since"}
    assert found.fields == {("contact", "seats"), ("contact", "signup_date")}
    text = references(
        "{% for t in contact.tags %}{{ t.name }}{% endfor %} {{ answers.score }}",
        expression=False,
    )
    assert text.names == {"contact", "answers"}
    assert text.fields == {("contact", "tags"), ("answers", "score")}


def test_a_scope_evaluates_many_expressions_as_separate_calls_would(ev: Evaluator) -> None:
    context = {"contact": {"plan": "team", "seats": 12}, "segment": "smb"}
    sources = ["contact.seats * 2", "contact.plan", "segment == 'smb'", "days_since('2026-11-20')"]
    scope = ev.scope(context)
    assert [scope.evaluate(source) for source in sources] == [
        ev.evaluate(source, context) for source in sources
    ]


def test_a_failed_expression_leaves_nothing_behind_in_its_scope(ev: Evaluator) -> None:
    scope = ev.scope({"contact": {"seats": None}})
    assert scope.evaluate("1 + 1") == 2
    with pytest.raises(ExpressionError, match="TypeError"):
        scope.evaluate("contact.seats + 1", where="filter")
    # No earlier value shows through as `result`: that name is as undefined as any other.
    with pytest.raises(ExpressionError, match="undefined value"):
        scope.evaluate("result")
    assert scope.test("contact.seats is none")
