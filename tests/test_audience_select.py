"""Filter, segments, exclusions and the tally of `select_audience`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cxops.audience import (
    BadRow,
    Contact,
    Invitee,
    NoHistory,
    Tally,
    rank,
    select_audience,
)
from cxops.expr import Evaluator
from cxops.spec.models import Survey

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def survey(**audience: Any) -> Survey:
    return Survey.model_validate(
        {
            "id": "nps",
            "name": "NPS",
            "kind": "nps",
            "audience": {"source": {"csv": "c.csv", "key": "id"}, **audience},
            "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
            "invitation": {"template": "nps_invite", "from": "r@acme.example"},
        }
    )


def contact(n: int, email: str | None = None, **fields: Any) -> Contact:
    address = email or f"p{n}@x.example"
    return Contact(f"c-{n}", address, n + 1, {"id": f"c-{n}", "email": address, **fields})


class FakeHistory:
    available = True

    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons

    def exclusion(self, email: str) -> str | None:
        return self.reasons.get(email)


def run(
    s: Survey, rows: list[Contact | BadRow], history: Any = None
) -> tuple[list[Invitee], Tally]:
    tally = Tally()
    invitees = list(
        select_audience(
            s, rows, evaluator=Evaluator(NOW), history=history or NoHistory(), tally=tally
        )
    )
    return invitees, tally


def test_filter_segments_and_tally() -> None:
    s = survey(
        filter="contact.status == 'active' and contact.seats >= 5",
        segments={"big": "contact.seats >= 100", "mid": "contact.seats >= 20"},
    )
    rows: list[Contact | BadRow] = [
        contact(1, status="active", seats=150),
        contact(2, status="active", seats=30),
        contact(3, status="active", seats=6),
        contact(4, status="churned", seats=500),
        contact(5, status="active", seats=2),
        BadRow(7, "c-6", "missing email (column 'email')"),
    ]
    invitees, tally = run(s, rows)
    assert [(i.contact.key, i.segment) for i in invitees] == [
        ("c-1", "big"),
        ("c-2", "mid"),
        ("c-3", "other"),
    ]
    assert tally.as_dict() == {
        "audience": 6,
        "filtered_out": 2,
        "excluded": {},
        "eligible": 3,
        "sampled": 3,
        "by_segment": {
            "big": {"eligible": 1, "sampled": 1},
            "mid": {"eligible": 1, "sampled": 1},
            "other": {"eligible": 1, "sampled": 1},
        },
        "bad_rows": [{"row": 7, "key": "c-6", "reason": "missing email (column 'email')"}],
        "history_available": False,
    }


def test_expressions_see_the_survey_and_helpers() -> None:
    s = survey(filter="survey.kind == 'nps' and days_since(contact.signup) <= 30")
    rows: list[Contact | BadRow] = [
        contact(1, signup=date(2026, 11, 1)),
        contact(2, signup=date(2026, 9, 1)),
    ]
    invitees, tally = run(s, rows)
    assert [i.contact.key for i in invitees] == ["c-1"]
    assert tally.filtered_out == 1


def test_a_failing_expression_makes_a_bad_row_not_a_crash() -> None:
    s = survey(filter="contact.seats >= 5", segments={"vip": "contact.tier == 'gold'"})
    rows: list[Contact | BadRow] = [
        contact(1, seats=None),
        contact(2, seats=9),  # no `tier` field: the segment expression fails
        contact(3, seats=9, tier="gold"),
    ]
    invitees, tally = run(s, rows)
    assert [i.contact.key for i in invitees] == ["c-3"]
    first, second = tally.bad_rows
    assert (first.row, first.key) == (2, "c-1")
    assert first.reason.startswith("filter 'contact.seats >= 5' failed: TypeError: '>='")
    assert second.reason.startswith("segment 'vip' \"contact.tier == 'gold'\" failed: undefined")
    assert (tally.audience, tally.eligible, tally.filtered_out) == (3, 1, 0)


def test_exclusions_count_each_person_under_the_strongest_reason() -> None:
    history = FakeHistory({"a@x.example": "surveyed_within", "b@x.example": "unsubscribed"})
    rows: list[Contact | BadRow] = [
        contact(1, "a@x.example"),
        contact(2, "b@x.example"),
        contact(3, "b@x.example"),  # duplicate and unsubscribed: unsubscribed wins
        contact(4, "c@x.example"),
        contact(5, "c@x.example"),  # duplicate only
        contact(6, "d@x.example"),
    ]
    invitees, tally = run(survey(), rows, history)
    assert [i.contact.key for i in invitees] == ["c-4", "c-6"]
    assert tally.excluded == {"surveyed_within": 1, "unsubscribed": 2, "duplicate_email": 1}
    assert tally.history_available is True
    assert tally.eligible == 2


def test_duplicate_emails_only_count_among_people_the_filter_kept() -> None:
    s = survey(filter="contact.seats >= 5")
    rows: list[Contact | BadRow] = [
        contact(1, "a@x.example", seats=1),
        contact(2, "a@x.example", seats=9),
    ]
    invitees, tally = run(s, rows)
    assert [i.contact.key for i in invitees] == ["c-2"]
    assert tally.excluded == {}


def test_without_a_sample_invitees_stream_as_they_come() -> None:
    def rows():
        yield contact(1)
        raise AssertionError("read past the first row before yielding it")

    tally = Tally()
    stream = select_audience(
        survey(), rows(), evaluator=Evaluator(NOW), history=NoHistory(), tally=tally
    )
    assert next(stream).contact.key == "c-1"
    assert tally.sampled == 1


def test_with_a_sample_invitees_come_at_the_end_in_source_order() -> None:
    s = survey(
        segments={"even": "contact.num % 2 == 0"},
        sample={"size": 10, "stratify": "segment", "seed": 3},
    )
    rows: list[Contact | BadRow] = [contact(n, num=n) for n in range(1, 41)]
    invitees, tally = run(s, rows)
    assert len(invitees) == 10
    assert [i.contact.row for i in invitees] == sorted(i.contact.row for i in invitees)
    assert tally.by_segment == {
        "even": {"eligible": 20, "sampled": 5},
        "other": {"eligible": 20, "sampled": 5},
    }
    assert (tally.eligible, tally.sampled) == (40, 10)


def test_sample_stratified_by_a_column() -> None:
    s = survey(sample={"size": 4, "stratify": "plan", "seed": 1})
    plans = ["a"] * 6 + ["b"] * 2
    rows: list[Contact | BadRow] = [contact(n, plan=p) for n, p in enumerate(plans)]
    invitees, _ = run(s, rows)
    assert sorted(i.contact.fields["plan"] for i in invitees) == ["a", "a", "a", "b"]


@pytest.mark.parametrize("size", [40, 400])
def test_a_sample_as_large_as_the_audience_takes_everyone(size: int) -> None:
    s = survey(sample={"size": size, "seed": 1})
    invitees, tally = run(s, [contact(n) for n in range(40)])
    assert len(invitees) == 40 == tally.sampled


def test_quota_rounds_cut_each_segment_in_the_seeded_order_and_invite_nobody_twice() -> None:
    s = survey(
        segments={"even": "contact.num % 2 == 0"},
        sample={"seed": 5},
        quota={"per_segment": 100, "rounds": {"size": 7, "every": "2d"}},
    )
    rows: list[Contact | BadRow] = [contact(n, num=n) for n in range(1, 42)]  # 20 even, 21 other
    invitees, tally = run(s, rows)
    keys = [i.contact.key for i in invitees]
    assert len(keys) == len(set(keys)) == 41  # everyone eligible, each in one round only
    assert [i.round for i in invitees] == sorted(i.round for i in invitees)
    for segment, rounds in (("even", 3), ("other", 3)):
        mine = [i for i in invitees if i.segment == segment]
        sizes = [sum(1 for i in mine if i.round == k) for k in range(1, rounds + 1)]
        assert sizes[:-1] == [7] * (rounds - 1) and 0 < sizes[-1] <= 7
        # Round k holds lower ranks than round k + 1: the seeded order, cut in rounds.
        by_rank = sorted(mine, key=lambda i: rank(5, i.contact.key))
        assert [i.round for i in by_rank] == sorted(i.round for i in mine)
        assert tally.by_segment[segment]["rounds"] == rounds
    assert (tally.eligible, tally.sampled) == (41, 41)
    # The same seed gives the same rounds whatever the row order.
    again, _ = run(s, list(reversed(rows)))
    assert {(i.contact.key, i.round) for i in again} == {(i.contact.key, i.round) for i in invitees}
