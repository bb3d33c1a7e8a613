"""Invariant: a source that cannot work (no key or email column, or one empty on every
row) is an error — in `validate` when the header is readable, and `plan` exits 1 with
one line — never "600 of 600 rows bad" and exit 0."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("edit", "column", "role"),
    [("key: id", "key: customer_id", "key"), ("key: id", "key: id\n    email: mail", "email")],
)
def test_validate_and_plan_refuse_a_source_without_the_column(project, edit, column, role):
    survey = project.root / "surveys" / "nps-quarterly.yaml"
    survey.write_text(survey.read_text().replace(edit, column, 1))
    result = project.run(["validate"], expect_pass=False)
    assert f"audience.source.{role}: expected the source to have the {role} column" in (
        result.stdout
    )
    assert "surveys/nps-quarterly.yaml:" in result.stdout
    plan = project.run(["plan", "nps-quarterly", "--json"], expect_pass=False)
    assert plan.exit_code == 1 and f"expected the source to have the {role} column" in plan.stderr
    assert "Traceback" not in plan.output


def test_plan_refuses_a_key_column_empty_on_every_row(project):
    data = project.root / "data" / "customers.csv"
    lines = data.read_text(encoding="utf-8-sig").splitlines()
    emptied = [lines[0]] + ["," + line.split(",", 1)[1] for line in lines[1:]]
    data.write_text("\n".join(emptied) + "\n", encoding="utf-8")
    plan = project.run(["plan", "nps-quarterly", "--json"], expect_pass=False)
    assert re.search(r"found them empty on all \d{3} rows", plan.stderr), plan.stderr
    assert "Traceback" not in plan.output
