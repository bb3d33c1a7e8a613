"""Invariant: a row holding what the store cannot (a NUL byte in any value) is a bad row,
listed by `plan` and `run` and skipped, on SQLite and PostgreSQL alike: one such key
aborted a PostgreSQL wave ("cannot contain NUL (0x00) bytes", 0 of 3 invited)."""

from __future__ import annotations

import mailbox

import pytest

pytestmark = [pytest.mark.prefect]

SURVEY = """\
id: nul-test
name: NUL test
kind: nps
owner: owner@acme.example
audience:
  source: {csv: data/people.csv, key: id}
questions:
  - {id: score, type: nps, text: "How likely are you to recommend us?"}
invitation:
  template: nps_invite
  from: "Acme <research@acme.example>"
"""

PEOPLE = (
    "id,name,email\n"
    "q1,Ann,ann@x.example\n"
    "q2\x00,Bob,bob@x.example\n"
    "q3,Carol,carol@x.example\n"
    "q4,Dan\x00,dan@x.example\n"
    "q5,Eve,eve@x.example\n"
)

NUL_ROWS = [
    {
        "row": 3,
        "key": "q2\\x00",
        "reason": "column 'id' contains a NUL byte, which cannot be stored",
    },
    {"row": 5, "key": "q4", "reason": "column 'name' contains a NUL byte, which cannot be stored"},
]


def test_a_nul_byte_makes_a_bad_row_that_plan_and_run_list_and_skip(
    project, store_url, prefect_env
):
    project.write({"surveys/nul-test.yaml": SURVEY, "data/people.csv": PEOPLE})
    env = {**prefect_env, "CXOPS_DATABASE_URL": store_url}
    plan = project.run(["plan", "nul-test", "--json", "--invitees"], env=env).json
    assert plan["bad_rows"] == NUL_ROWS
    assert sorted(invitee["key"] for invitee in plan["invitees"]) == ["q1", "q3", "q5"]
    human = project.run(["plan", "nul-test"], env=env).stdout
    assert "q2\\x00" in human and "\x00" not in human

    run = project.run(["run", "nul-test", "--json"], env=env).json
    assert run["bad_rows"] == NUL_ROWS
    assert (run["sent"], run["failed"], run["in_doubt"]) == (3, 0, 0)
    recipients = {
        message["To"].split("<")[-1].rstrip(">")
        for path in sorted((project.root / "outbox").rglob("*.mbox"))
        for message in mailbox.mbox(path)
    }
    assert recipients == {"ann@x.example", "carol@x.example", "eve@x.example"}
