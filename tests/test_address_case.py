"""Invariant: one person is one address, whatever its case or domain form: the audience
dedupes `ann@x.example` and `ANN@X.EXAMPLE`, a suppression of either holds for both, and
internationalised domains are accepted."""

from __future__ import annotations

from datetime import UTC, datetime

from cxops.store.db import open_store
from cxops.store.suppressions import suppress, suppression_reason

SURVEY = """\
id: case-test
name: Case test
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

PEOPLE = """\
id,name,email
1,Ann,ann@x.example
2,Ann again,ANN@X.EXAMPLE
3,Anna,anna@müller.example
4,Anna again,Anna@MÜLLER.example
5,Bad,"quoted local"@x.example
6,Local,root@localhost
"""


def test_case_and_domain_form_never_make_two_invitations(project):
    project.write({"surveys/case-test.yaml": SURVEY, "data/people.csv": PEOPLE})
    summary = project.run(["plan", "case-test", "--json"]).json
    assert summary["eligible"] == 2
    assert summary["excluded"].get("duplicate_email") == 2
    assert {row["row"] for row in summary["bad_rows"]} == {6, 7}


def test_a_suppression_holds_for_every_case(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with store.session(write=True) as session:
            assert suppress(session, "ANN@X.Example", "unsubscribed", source="test", now=now)
            assert not suppress(session, "ann@x.example", "bounced", source="test", now=now)
        with store.session() as session:
            assert suppression_reason(session, "Ann@X.EXAMPLE") == "unsubscribed"
    finally:
        store.dispose()
