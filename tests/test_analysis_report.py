"""`cxops report`: the numbers from a real store (SQLite and PostgreSQL), suppression,
themes, closing the loop, provenance, and the self-contained HTML page."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from analysis_support import Row, seed

from cxops.analysis.intervals import nps_difference_adjusted_wald, wilson_interval
from cxops.analysis.report_model import Report
from cxops.testing import Project

SURVEY = """\
id: nps-test
name: Test relationship NPS
kind: nps
audience:
  source:
    csv: data/accounts.csv
    key: id
    columns: {mrr: float}
  segments:
    enterprise: "contact.plan == 'enterprise'"
    smb: "contact.plan == 'smb'"
questions:
  - id: score
    type: nps
    text: "How likely are you to recommend us?"
  - id: reason
    type: text
    text: "Why?"
    required: false
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
followup:
  - id: detractor
    when: "answers.score <= 6"
    task: "Call {{ contact.name }}"
    assign_to: csm@example.com
    due: 2d
    context: [plan]
themes:
  pricing: [price, expensive]
  support: [support, help desk]
report:
  revenue: mrr
  outcome: {column: status, churned: churned}
"""

ACCOUNTS = """\
id,name,email,plan,status,mrr
c1,A,c1@example.com,enterprise,active,100
c2,B,c2@example.com,enterprise,churned,100
c3,C,c3@example.com,enterprise,churned,100
c4,D,c4@example.com,enterprise,active,100
"""


def rows() -> list[Row]:
    ent, smb = "enterprise", "smb"
    w1 = [
        Row("w1", ent, "c1", {"score": 2}, task=("done", "contacted")),
        Row("w1", ent, "c2", {"score": 4}, task=("open", None)),
        Row("w1", ent, "c3", {"score": 5}, task=("done", "resolved")),
        Row("w1", ent, "c4", {"score": 1}, task=("done", "no response")),
        Row("w1", ent, "c5", {"score": 9}),
        Row("w1", ent, "c6", {"score": 10}),
    ]

    def answer(key: str, score: int, reason: str | None = None, mrr: float = 0, **kw) -> Row:
        answers = {"score": score} | ({"reason": reason} if reason else {})
        return Row("w2", ent, key, answers, contact={"mrr": mrr}, **kw)

    w2 = [
        answer("c1", 9),
        answer("c2", 3, "The help desk never answers", mrr=500),
        answer("c4", 8),
        answer("e4", 10, "Great support", mrr=2000),
        answer("e5", 10),
        answer("e6", 10),
        answer("e7", 9, "Pricey"),
        answer("e8", 7, status="partial"),
        answer("e9", 6, "Price is fine but SUPPORT is slow", mrr=250),
        answer("e10", 0, "Too expensive <b>really</b>, mail boss@corp.example", mrr=1000),
        answer("e11", 0, "expensive", suspect_reason="honeypot"),
        *[Row("w2", ent, f"n{i}", None) for i in range(10)],  # invited, no answer
        Row("w2", smb, "s1", {"score": 10}),
        Row("w2", smb, "s2", {"score": 2, "reason": "Preis zu hoch"}),
        Row("w2", smb, "s3", {"score": 5}),
        *[Row("w2", smb, f"m{i}", None) for i in range(7)],
    ]
    return w1 + w2


@pytest.fixture
def seeded(project: Project, store_url: str) -> Project:
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(store_url, "nps-test", ["w1", "w2"], rows())
    project.store_url = store_url  # type: ignore[attr-defined]
    return project


def built(project: Project, wave: str | None = None, *, min_n: int = 5) -> Report:
    """The report computed in-process (the CLI tests below run the real command)."""
    from cxops.analysis.report import build_from_store
    from cxops.spec import find_survey

    settings = project.settings(database_url=project.store_url, min_n=min_n)  # type: ignore[attr-defined]
    survey = find_survey("nps-test", settings.surveys_path, settings.project_dir)
    return build_from_store(survey, settings, wave=wave)


def report(project: Project, wave: str | None = None, *, min_n: int = 5) -> dict:
    """The report's JSON document (what `cxops report --json` prints)."""
    return json.loads(json.dumps(built(project, wave, min_n=min_n).document()))


def test_wave_figures_by_hand(seeded: Project) -> None:
    data = report(seeded, "w2")

    overall = data["overall"]
    # 13 answers counted (12 complete, 1 partial); the honeypot answer is left out.
    assert (overall["n"], overall["complete"], overall["partial"]) == (13, 12, 1)
    assert data["excluded"] == {"suspect": {"honeypot": 1}, "total": 1}
    # 6 promoters, 5 detractors of 13: NPS 7.7; adjusted-Wald by hand (6.75/16, 5.75/16).
    assert overall["questions"]["score"]["metrics"]["nps"] == {
        "value": 7.7,
        "ci": [-36.95, 49.45],
        "n": 13,
    }
    assert overall["questions"]["score"]["distribution"]["counts"] == {
        "0": 1, "1": 0, "2": 1, "3": 1, "4": 0, "5": 1, "6": 1,
        "7": 1, "8": 1, "9": 2, "10": 4,
    }  # fmt: skip
    # Response rate (AAPOR RR1-style): complete / invited; 11 + 1 + 10 invited in enterprise.
    enterprise = data["by_segment"]["enterprise"]
    assert enterprise["invited"] == 21 and enterprise["complete"] == 9
    low, high = wilson_interval(9, 21)
    assert enterprise["response_rate"] == {
        "value": round(900 / 21, 1),
        "ci": [round(100 * low, 2), round(100 * high, 2)],
        "n": 21,
    }
    # smb (3 answers) is too few; with only two segments, enterprise's figures would tell
    # smb's by subtraction from the overall ones: hidden too (complementary suppression).
    assert enterprise["suppressed"] is True and enterprise["complementary"] is True
    assert "questions" not in enterprise
    shown = report(seeded, "w2", min_n=3)["by_segment"]["enterprise"]
    assert shown["questions"]["score"]["metrics"]["nps"]["value"] == 20.0


def test_suspect_answers_are_those_of_the_waves_shown(seeded: Project) -> None:
    """`report --wave W2` said "left out as suspect 2" for two W1 answers."""
    url = seeded.store_url  # type: ignore[attr-defined]
    too_fast = [Row("w1", "smb", f"x{i}", {"score": 1}, suspect_reason="too_fast") for i in (1, 2)]
    seed(url, "nps-test", ["w1"], too_fast, first_id=300)

    assert report(seeded, "w2")["excluded"] == {"suspect": {"honeypot": 1}, "total": 1}
    assert report(seeded, "w1")["excluded"] == {"suspect": {"too_fast": 2}, "total": 2}
    assert report(seeded)["excluded"]["total"] == 3


def test_cut_by_a_contact_column_under_the_same_minimum(project: Project, store_url: str) -> None:
    """`--cut plan`: the answers by a column the ledger keeps, small groups suppressed
    and none recoverable from the overall figures."""
    answered = [r for r in rows() if r.wave == "w2" and r.answers is not None]
    plans = {row.key: "de" if i < 6 else "fr" if i < 12 else "it" for i, row in enumerate(answered)}
    cut_rows = [
        Row(row.wave, row.segment, row.key, row.answers, row.status, row.suspect_reason,
            {**row.contact, "plan": plans.get(row.key, "de")}, row.task)
        for row in rows() if row.wave == "w2"
    ]  # fmt: skip
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(store_url, "nps-test", ["w2"], cut_rows)
    project.store_url = store_url  # type: ignore[attr-defined]
    from cxops.analysis.report import ReportError, build_from_store
    from cxops.spec import find_survey

    settings = project.settings(database_url=store_url, min_n=3)
    survey = find_survey("nps-test", settings.surveys_path, settings.project_dir)
    report = build_from_store(survey, settings, cut=["plan"]).document()
    groups = report["cuts"]["plan"]
    assert sum(g["n"] for g in groups.values()) == report["overall"]["n"]
    assert sum(g["invited"] for g in groups.values()) == report["overall"]["invited"]
    hidden = [name for name, g in groups.items() if g.get("suppressed") and g["n"] > 0]
    assert len(hidden) != 1
    assert any(not g.get("suppressed") for g in groups.values())
    from cxops.analysis.html import render_html

    page = render_html(build_from_store(survey, settings, cut=["plan"]))
    assert '<h2 id="h-cut-1">By plan</h2>' in page
    with pytest.raises(ReportError, match="--cut 'nickname'"):
        build_from_store(survey, settings, cut=["nickname"])


def test_small_segments_say_too_few_answers(seeded: Project) -> None:
    smb = report(seeded, "w2")["by_segment"]["smb"]

    assert smb["suppressed"] is True and smb["n"] == 3
    assert "questions" not in smb
    assert smb["invited"] == 10 and smb["response_rate"]["value"] == 30.0


def test_change_between_waves(seeded: Project) -> None:
    data = report(seeded)

    assert data["waves"] == ["w1", "w2"]
    [change] = data["changes"]
    nps = change["questions"]["score"]["nps"]
    low, high = nps_difference_adjusted_wald(6, 5, 13, 2, 4, 6)
    # w1: 2 promoters, 4 detractors of 6 (-33.3); w2: 7.7.
    assert nps["value"] == round(100 * (1 / 13 - (-2 / 6)), 1)
    assert nps["ci"] == [round(100 * low, 2), round(100 * high, 2)]
    assert nps["verdict"] == ("no detectable change" if low < 0 < high else "up")
    assert data["by_period"]["w1"]["questions"]["score"]["metrics"]["nps"]["value"] == -33.3
    # Pooled over both waves: 19 answers.
    assert data["overall"]["n"] == 19


def test_themes_weigh_revenue_and_quote_without_addresses(seeded: Project) -> None:
    themes = report(seeded, "w2", min_n=2)["themes"]

    assert themes["answers"] == 6
    pricing, support = themes["themes"]["pricing"], themes["themes"]["support"]
    assert pricing["count"] == 2 and support["count"] == 3
    # Detractors mentioning pricing: e10 (1000) and e9 (250); support: c2 (500) and e9 (250).
    assert pricing["revenue_at_stake"] == {"value": 1250.0, "n": 2, "missing": 0}
    assert support["revenue_at_stake"] == {"value": 750.0, "n": 2, "missing": 0}
    # NPS among those who mention support: 3, 6, 10 -> 1 promoter, 2 detractors of 3.
    assert support["nps"]["value"] == -33.3
    assert any("[email]" in quote for quote in pricing["quotes"])
    assert not any("boss@corp.example" in quote for quote in pricing["quotes"])
    assert themes["untagged_count"] == 2
    assert set(themes["untagged"]) == {"Pricey", "Preis zu hoch"}


def test_closing_the_loop(seeded: Project) -> None:
    loop = report(seeded, min_n=2)["loop"]

    assert loop["negative_answers_with_tasks"] == 4
    # Closed contacted/resolved: c1 (active, then 9: rescued) and c3 (churned, no answer).
    assert loop["closed"]["n"] == 2
    assert loop["closed"]["churned"]["value"] == 50.0
    # Only c1 answered again: 1 of 1 is under the minimum of 2.
    assert loop["closed"]["rescued"] == {"suppressed": True, "n": 1}
    # Not closed that way: c2 (open task, churned, then 3) and c4 (no response, active, then 8).
    assert loop["not_closed"]["n"] == 2
    assert loop["not_closed"]["churned"]["value"] == 50.0
    assert (
        loop["not_closed"]["rescued"]["value"] == 50.0 and loop["not_closed"]["rescued"]["n"] == 2
    )
    # Pooled 2 of 3, beside not-closed's 1 of 2, would tell closed's suppressed 1 of 1.
    assert loop["rescue_rate"] == {"suppressed": True, "n": 3}
    assert loop["customers"] == 4 and loop["rescue"]["not_yet_due"] == 0
    assert loop["outcome"]["column"] == "status"


def test_churn_is_told_by_the_next_wave_when_the_ledger_knows_it(
    project: Project, store_url: str
) -> None:
    """c2 churned after the second wave: the ledger kept `status: active` when c2 was
    invited to it, so c2 had not churned *by the next wave*, whatever the source says now.
    The others fall back to the source now (no status in their snapshot, or c3: not
    invited to the next wave)."""
    later = [
        Row("w2", "enterprise", "c2", {"score": 3}, contact={"status": "active", "mrr": 0})
        if (row.wave, row.key) == ("w2", "c2")
        else row
        for row in rows()
    ]
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(store_url, "nps-test", ["w1", "w2"], later)
    project.store_url = store_url  # type: ignore[attr-defined]
    loop = report(project, min_n=1)["loop"]

    assert loop["outcome"]["as_of"] == "next wave, else source now"
    assert loop["not_closed"]["churned"]["value"] == 0.0  # c2 by the next wave, c4 now
    assert loop["not_closed"]["outcome_from"] == {"next_wave": 1, "source_now": 1}
    assert loop["closed"]["churned"]["value"] == 50.0  # c3 churned now, c1 active now
    assert loop["closed"]["outcome_from"] == {"next_wave": 0, "source_now": 2}
    assert loop["negative_answers_with_tasks"] == 4


def test_same_inputs_same_numbers_and_hash(seeded: Project) -> None:
    first, second = report(seeded), report(seeded)

    assert first == second
    assert re.fullmatch(r"[0-9a-f]{64}", first["provenance"]["inputs_sha256"])
    assert first["provenance"]["survey_file"] == "surveys/nps-test.yaml"
    assert first["provenance"]["generated_at"].startswith("2026-11-23T09:00:00")
    # Answers to another survey change nothing; one more answer to this one changes both.
    url = seeded.store_url  # type: ignore[attr-defined]
    seed(url, "other", ["w1"], [Row("w1", "smb", "x", {"score": 1})], first_id=100)
    assert report(seeded) == first
    seed(url, "nps-test", ["w2"], [Row("w2", "smb", "s9", {"score": 9})], first_id=200)
    third = report(seeded)
    assert third["provenance"]["inputs_sha256"] != first["provenance"]["inputs_sha256"]
    assert third["overall"]["n"] == first["overall"]["n"] + 1


def test_report_json_from_the_cli(seeded: Project) -> None:
    env = {"CXOPS_DATABASE_URL": seeded.store_url}  # type: ignore[attr-defined]
    data = seeded.run(["report", "nps-test", "--json", "--wave", "w2"], env=env).json

    assert data["overall"]["questions"]["score"]["metrics"]["nps"]["value"] == 7.7
    assert data["by_segment"]["smb"] == {
        "suppressed": True,
        "n": 3,
        "invited": 10,
        "complete": 3,
        "partial": 0,
        "response_rate": data["by_segment"]["smb"]["response_rate"],
        "partial_rate": data["by_segment"]["smb"]["partial_rate"],
    }


def test_unknown_wave_is_one_clear_line(seeded: Project) -> None:
    env = {"CXOPS_DATABASE_URL": seeded.store_url}  # type: ignore[attr-defined]
    result = seeded.run(["report", "nps-test", "--wave", "w9"], env=env, expect_pass=False)

    assert "no wave 'w9'" in result.stderr and "Traceback" not in result.stderr


CUSTOM = """\
id: custom-test
name: Custom questions
kind: custom
audience:
  source: {csv: data/accounts.csv, key: id}
questions:
  - {id: ease, type: rating, text: "Ease?", min: 1, max: 7}
  - {id: sat, type: csat, text: "Satisfied?"}
  - {id: area, type: single, text: "Area?", options: [Billing, Reports, Import]}
  - {id: used, type: multi, text: "Used?", options: [API, Export, Alerts]}
  - {id: note, type: text, text: "Anything?", required: false}
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
themes:
  billing: [invoice, billing]
"""


def test_every_question_type_counts_from_the_store(project: Project, store_url: str) -> None:
    project.write({"surveys/custom-test.yaml": CUSTOM, "data/accounts.csv": ACCOUNTS})
    answers = [
        {
            "ease": 7,
            "sat": 5,
            "area": "Billing",
            "used": ["API", "Export"],
            "note": "Invoice wrong",
        },
        {"ease": 5, "sat": 4, "area": "Billing", "used": ["API"]},
        {"ease": 3, "sat": 2, "area": "Reports", "used": ["Alerts", "API"]},
        {"ease": 1, "sat": 1, "area": "Import", "note": "ok"},
        {"ease": 4, "sat": 3},
    ]
    seed(
        store_url,
        "custom-test",
        ["w1"],
        [Row("w1", "other", f"k{i}", a) for i, a in enumerate(answers)],
    )
    project.store_url = store_url  # type: ignore[attr-defined]
    from cxops.analysis.report import build_from_store
    from cxops.spec import find_survey

    settings = project.settings(database_url=store_url, min_n=3)
    survey = find_survey("custom-test", settings.surveys_path, settings.project_dir)
    data = build_from_store(survey, settings).document()
    questions = data["overall"]["questions"]

    assert questions["ease"]["metrics"]["mean"]["value"] == 4.0  # (7+5+3+1+4)/5
    assert questions["ease"]["distribution"]["counts"] == {
        "1": 1, "2": 0, "3": 1, "4": 1, "5": 1, "6": 0, "7": 1
    }  # fmt: skip
    assert questions["sat"]["metrics"]["satisfied"]["value"] == 40.0
    assert questions["area"]["n"] == 4
    assert questions["area"]["metrics"]["Billing"]["value"] == 50.0
    assert questions["area"]["metrics"]["Import"]["value"] == 25.0
    # multi: shares of the 3 people who answered; they add up to more than 100.
    assert questions["used"]["n"] == 3
    assert questions["used"]["metrics"]["API"]["value"] == 100.0
    assert questions["used"]["metrics"]["Alerts"]["value"] == pytest.approx(33.3)
    assert questions["used"]["metrics"]["Export"]["value"] == pytest.approx(33.3)
    assert data["themes"]["themes"]["billing"]["count"] == 1
    # Two comments in all: under the minimum of 3, none is quoted.
    assert data["themes"]["untagged_count"] == 1 and data["themes"]["untagged"] == []
    assert data["loop"] is None
    # The minimum applies per figure: 4 answers to `area` are too few under a minimum of 5.
    strict = build_from_store(survey, project.settings(database_url=store_url)).document()
    assert strict["overall"]["questions"]["area"]["metrics"]["Billing"] == {
        "suppressed": True,
        "n": 4,
    }


def test_the_html_report_has_each_id_once_and_every_reference_resolves(
    seeded: Project,
) -> None:
    """matplotlib numbers each SVG's ids from 1 (`patch_1`, `text_1`, `xtick_1`): four
    charts inline on one page repeated them (288 duplicates in the Nu validator)."""
    from html.parser import HTMLParser

    from cxops.analysis.html import render_html

    html = render_html(built(seeded, min_n=2))
    assert html.count("<svg") == 4

    class Ids(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.ids += [value for name, value in attrs if name == "id" and value]

    parser = Ids()
    parser.feed(html)
    assert len(parser.ids) > 4
    duplicates = sorted({i for i in parser.ids if parser.ids.count(i) > 1})
    assert duplicates == []
    references = set(re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', html))
    missing = {ref for pair in references for ref in pair if ref and ref not in parser.ids}
    assert missing == set()


def test_each_wave_is_shown_with_when_it_went_out(seeded: Project) -> None:
    """A wave id is a schedule slot people read as a send date: say when it was sent."""
    from cxops.analysis.html import render_html

    data = report(seeded)

    # w1's first invitation went out at T0 + 1 min (1 Aug 2026), w2's 90 days later
    assert data["wave_labels"] == {
        "w1": "wave w1 (sent 1 Aug 2026)",
        "w2": "wave w2 (sent 30 Oct 2026)",
    }
    assert data["first_sent_at"]["w1"] == "2026-08-01T09:01:00+00:00"
    page = render_html(built(seeded, "w2"))
    assert "wave w2 (sent 30 Oct 2026)" in page  # the header
    assert ">w1 (sent 1 Aug 2026)</th>" in page  # the trend table


GOLDEN = Path(__file__).parent / "data" / "report" / "nps-test.json"


def golden_document(project: Project) -> dict:
    """The whole report of the hand-built store, as `cxops report --json` prints it, at a
    fixed instant; the cxops version (it changes with every release) is left out."""
    from datetime import UTC, datetime

    from cxops.analysis.report import build_from_store
    from cxops.spec import find_survey

    settings = project.settings(database_url=project.store_url, min_n=2)  # type: ignore[attr-defined]
    survey = find_survey("nps-test", settings.surveys_path, settings.project_dir)
    document = build_from_store(survey, settings, now=datetime(2026, 12, 1, tzinfo=UTC)).document()
    document["provenance"]["cxops_version"] = "VERSION"
    return document


def test_the_report_document_is_the_stored_golden_one(seeded: Project) -> None:
    """The JSON shape is a contract: every key, its order and every value of the report of
    a hand-built store. After a deliberate change to the report, rewrite the file with
    WRITE_GOLDEN=1 and review its diff."""
    text = json.dumps(golden_document(seeded), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
