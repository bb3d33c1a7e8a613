"""Periods (`--by`): which waves a period holds, the default, the headline period, and
pooled figures whose intervals account for people who answered more than once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from analysis_support import CSAT_SURVEY, Row, seed

from cxops.analysis.clusters import Clustered
from cxops.analysis.metrics import nps
from cxops.analysis.periods import default_by, group_waves, period_label, period_of
from cxops.analysis.report_model import Report
from cxops.testing import Project

SURVEY = CSAT_SURVEY + 'schedule: {cron: "0 9 1 * *", timezone: Europe/Berlin}\n'
NPS = SURVEY.replace("csat-test", "nps-test").replace("csat", "nps")
ACCOUNTS = "id,name,email\nc1,A,c1@example.com\n"


def test_periods_are_weeks_months_quarters_in_the_survey_zone() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 1 Jan 2027 in Berlin
    assert period_of("month", late, "Europe/Berlin") == "2027-01"
    assert period_of("month", late, "UTC") == "2026-12"
    assert period_of("quarter", late, "Europe/Berlin") == "2027-Q1"
    assert period_of("week", datetime(2026, 12, 7, 12, tzinfo=UTC), "UTC") == "2026-W50"
    assert period_label("week", "2026-W50") == "week of 7 Dec 2026"
    assert period_label("month", "2026-12") == "Dec 2026"
    assert period_label("quarter", "2026-Q4") == "Q4 2026"


def test_the_default_is_waves_when_they_are_a_week_apart_else_months() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert default_by([start, start + timedelta(days=7), start + timedelta(days=30)]) == "wave"
    assert default_by([start, start + timedelta(days=30), start + timedelta(hours=30)]) == "month"
    assert default_by([start]) == "wave"
    hourly = [f"2026-12-08T{h:02d}00" for h in range(10, 14)]
    sent = {w: datetime(2026, 12, 8, 10 + i, tzinfo=UTC) for i, w in enumerate(hourly)}
    periods = group_waves(hourly, sent, {}, None, "UTC")
    assert periods.by == "month" and periods.order == ("2026-12",)
    assert periods.waves["2026-12"] == tuple(hourly)


def built(project: Project, url: str, survey_id: str, **kw: object) -> Report:
    from cxops.analysis.report import build_from_store
    from cxops.spec import find_survey

    settings = project.settings(database_url=url, min_n=5)
    survey = find_survey(survey_id, settings.surveys_path, settings.project_dir)
    return build_from_store(survey, settings, **kw)  # type: ignore[arg-type]


def test_hourly_waves_read_by_month_and_the_headline_is_never_an_empty_period(
    project: Project, store_url: str
) -> None:
    """The CSAT report of an hourly survey led with "change 2026-12-08T1500 →
    2026-12-09T1000: too few answers n=0": the latest wave had no answers yet."""
    project.write({"surveys/csat-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    waves = [f"w{i}" for i in range(6)]
    rows = [Row(w, "all", f"{w}-{k}", {"score": 5 - k % 3}) for w in waves[:5] for k in range(4)]
    rows += [Row("w5", "all", "late", None)]  # the newest wave: invited, nobody answered
    seed(store_url, "csat-test", waves, rows, spacing=timedelta(days=10))
    # waves 10 days apart from 1 Aug: w0..w3 in Aug, w4 and w5 in Sep (Berlin)
    by_month = built(project, store_url, "csat-test")
    assert by_month.by == "wave"  # 10 days apart: wave by wave by default
    assert by_month.headline is not None and by_month.headline.period == "w4"
    assert by_month.changes[-1].to == "w4" and by_month.changes[-1].from_ == "w3"

    months = built(project, store_url, "csat-test", by="month")
    assert months.periods == ["2026-08", "2026-09"]
    assert months.period_waves["2026-09"] == ["w4", "w5"]
    assert months.headline is not None and months.headline.label == "Sep 2026"
    assert months.headline.group.n == 4
    assert [(c.from_, c.to) for c in months.changes] == [("2026-08", "2026-09")]


def test_the_headline_is_the_latest_wave_and_the_pooled_figure_is_clustered(
    project: Project, store_url: str
) -> None:
    """W1 at one NPS, W2 at another, most people in both: the big number pooled both waves
    as if 2n answers were independent. Now the headline is the latest wave, and the pooled
    figure says it is pooled, with an interval clustered by person."""
    project.write({"surveys/nps-test.yaml": NPS, "data/accounts.csv": ACCOUNTS})
    scores = [0, 3, 6, 7, 8, 9, 10, 10, 2, 9] * 3
    rows = [Row("w1", "all", f"c{i}", {"score": s}) for i, s in enumerate(scores)]
    # the same 30 people again, each answering as before (perfectly alike), plus 5 new
    rows += [Row("w2", "all", f"c{i}", {"score": s}) for i, s in enumerate(scores)]
    rows += [Row("w2", "all", f"n{i}", {"score": 10}) for i in range(5)]
    seed(store_url, "nps-test", ["w1", "w2"], rows)
    report = built(project, store_url, "nps-test")

    assert report.headline is not None and report.headline.period == "w2"
    latest = report.headline.group.headline_figure("score", "nps")
    assert latest.n == 35
    pooled = report.overall
    assert pooled.pooled is not None
    assert (pooled.pooled.waves, pooled.pooled.respondents) == (2, 35)
    assert pooled.pooled.answers_more_than_once and "cluster" in pooled.pooled.method
    figure = pooled.headline_figure("score", "nps")
    assert figure.n == 65 and figure.ci is not None
    naive = nps({s: scores.count(s) * 2 for s in set(scores)} | {10: scores.count(10) * 2 + 5})
    assert naive.ci is not None and naive.n == 65
    width = float(figure.ci[1] or 0) - float(figure.ci[0] or 0)
    naive_width = naive.ci[1] - naive.ci[0]
    assert width > naive_width * 1.25  # 30 of 35 people twice, alike: much wider


def test_the_clustered_variance_is_the_sandwich_over_answers() -> None:
    """An independent computation from the answers one by one: Var = G/(G-1) Σ_c
    (Σ_i∈c (y_i - ȳ))² / N²; its ratio to the simple variance is the design effect."""
    people = {"a": [10, 9], "b": [0, 3], "c": [8], "d": [10, 10, 6], "e": [5]}
    answers = [(who, s) for who, given in people.items() for s in given]
    y = {who: [(s >= 9) - (s <= 6) for s in given] for who, given in people.items()}
    big_n, g = len(answers), len(people)
    mean = sum(sum(v) for v in y.values()) / big_n
    sandwich = g / (g - 1) * sum(sum(v_i - mean for v_i in v) ** 2 for v in y.values()) / big_n**2
    from collections import Counter

    shapes: Counter[tuple[int, int, int, int, int]] = Counter()
    for given in people.values():
        shapes[
            (len(given), sum(s >= 9 for s in given), sum(s <= 6 for s in given), 0, sum(given))
        ] += 1
    squares = sum(v_i * v_i for v in y.values() for v_i in v)
    found_mean, var_cluster, var_srs = Clustered.of(shapes).variances("nps", squares)
    assert found_mean == pytest.approx(mean)
    assert var_cluster == pytest.approx(sandwich)
    assert var_srs == pytest.approx((squares / big_n - mean**2) / big_n)
    # A mean: ȳ ± t_{G-1}·SE; shares and NPS keep their method at n / deff.
    tally = Counter(s for _, s in answers)
    plain = nps(tally)
    clustered = Clustered.of(shapes).metric("nps", plain, squares)
    assert clustered.value == plain.value and clustered.ci != plain.ci
    assert clustered.ci is not None and plain.ci is not None
    assert clustered.ci[1] - clustered.ci[0] > plain.ci[1] - plain.ci[0]
    assert math.isfinite(clustered.ci[0])


def test_a_trend_axis_stays_readable_at_any_count() -> None:
    """An hourly survey's trend had one overlapping label per wave."""
    from cxops.analysis.charts import MAX_TICKS, axis_ticks
    from cxops.analysis.report_model import Figure

    rows = [(f"2026-12-08T{h:04d}", Figure(value=1.0, ci=(0.0, 2.0), n=9)) for h in range(40)]
    ticks, names = axis_ticks(rows)
    assert len(ticks) <= MAX_TICKS and ticks[-1] == 39
    assert names[-1] == "2026-12-08T0039"
    few = axis_ticks(rows[:3])
    assert few == ([0, 1, 2], [f"2026-12-08T{h:04d} (n=9)" for h in range(3)])
