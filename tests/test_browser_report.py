"""The HTML report in Chromium: self-contained (nothing fetched, no script), escaped,
readable, and printable on A4. Leaves a screenshot in tests/artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from analysis_support import seed
from test_analysis_report import ACCOUNTS, SURVEY, rows

from cxops.testing import Project

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.mark.browser
def test_the_report_page_in_chromium(project: Project, tmp_path: Path, browser) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(url, "nps-test", ["w1", "w2"], rows())
    env = {"CXOPS_DATABASE_URL": url, "CXOPS_MIN_N": "2"}
    result = project.run(["report", "nps-test", "--out", "report.html"], env=env)
    assert "NPS" in result.stdout and "report.html" in result.stdout
    html = project.path("report.html").read_text(encoding="utf-8")

    assert "<script" not in html.lower()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    ).replace("http://www.w3.org/1999/xlink", "")
    assert "&lt;b&gt;really&lt;/b&gt;" in html and "<b>really</b>" not in html
    assert "boss@corp.example" not in html
    assert html.count("<svg") == 4

    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.on("request", lambda request: requests.append(request.url))
    page.goto(project.path("report.html").as_uri())
    assert requests == [project.path("report.html").as_uri()]  # nothing else fetched
    assert page.locator("h1").inner_text() == "Test relationship NPS"
    quotes = page.locator("blockquote").all_inner_texts()
    assert any("<b>really</b>" in quote and "[email]" in quote for quote in quotes)
    assert page.get_by_text("no detectable change").count() >= 1
    # every chart has a name for screen readers and fits the page
    for chart in page.locator("svg").all():
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        assert chart.bounding_box()["width"] <= 960
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pdf.startswith(b"%PDF") and 1 <= pages <= 6  # the whole report on a few A4 pages
    page.close()


@pytest.mark.browser
def test_a_small_survey_shows_too_few_answers(project: Project, tmp_path: Path, browser) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    project.write({"surveys/nps-test.yaml": SURVEY, "data/accounts.csv": ACCOUNTS})
    seed(url, "nps-test", ["w1", "w2"], rows())
    env = {"CXOPS_DATABASE_URL": url, "CXOPS_MIN_N": "50"}
    project.run(["report", "nps-test", "--out", "small.html"], env=env)

    page = browser.new_page()
    page.goto(project.path("small.html").as_uri())
    text = page.locator("body").inner_text()
    assert "too few answers" in text
    assert "+7.7" not in text and "-33.3" not in text
    page.close()
