"""Outlook and small phones: the answer page keeps the 0–10 scale on one row down to
320 px with every target at least 24 px wide (WCAG 2.5.8); the built-in invitation
keeps it on one row when wide and wraps it onto two (0–5, 6–10) below 600 px, every
button at least 44 px wide and high. Measured in real chromium; the email is
bulletproof for Outlook (table-cell buttons, a 600 px ghost table). Screenshots at
320/375/800 px land in tests/artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from cxops.collect import create_app
from cxops.messages.render import InvitationRenderer, SendView
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.testing import Project
from cxops.testing.collect import invite

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTHS = (320, 375, 800)
#: WCAG 2.2 SC 2.5.8 Target Size (Minimum): 24 by 24 CSS pixels.
MIN_TARGET = 24
#: A comfortable tap target (WCAG 2.5.5, Apple's and Google's guidelines): the email's.
TAP_TARGET = 44


def _email_html(project: Project, locale: str = "en") -> str:
    settings = project.settings(public_url="https://cx.acme.example")
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    renderer = InvitationRenderer(survey, settings)
    message = renderer.render_one(
        SendView(
            send_id="layout-1",
            email="quinn@corp.example",
            contact_key="c1",
            segment="smb",
            locale=locale,
            contact={"name": "Quinn"},
            step=0,
            expires_at=settings.clock() + timedelta(days=14),
        )
    )
    return message.html


def _boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })",
    )


def _assert_one_row_of_big_targets(boxes: list[dict], width: int, count: int = 11) -> None:
    assert len(boxes) == count
    tops = {round(box["y"]) for box in boxes}
    assert len(tops) == 1, f"the scale wraps at {width} px: rows at {sorted(tops)}"
    for box in boxes:
        assert box["width"] >= MIN_TARGET, f"{box['width']:.1f} px wide at {width} px"
        assert box["height"] >= MIN_TARGET, f"{box['height']:.1f} px high at {width} px"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, "a target is off screen"
    assert boxes == sorted(boxes, key=lambda box: box["x"]), "0–10 out of order"


def test_the_email_source_is_bulletproof_for_outlook(project: Project) -> None:
    html = _email_html(project)
    assert '<meta name="x-apple-disable-message-reformatting" content="">' in html
    ghost = re.search(r"<!--\[if mso\]><table [^>]*width=\"600\"", html)
    assert ghost is not None, "no 600 px ghost table for Outlook"
    assert html.count("<!--[if mso]>") == html.count("<![endif]-->")
    # every score button is a coloured table cell with its padding for Outlook
    cells = re.findall(r'<td [^>]*bgcolor="#1e40af"[^>]*mso-padding-alt:12px 0;[^>]*>\s*<a ', html)
    assert len(cells) == 11


def _assert_rows_of_tap_targets(boxes: list[dict], width: int, rows: list[int]) -> None:
    """`boxes` (in 0–10 order) lie in rows of `rows` targets each, each row left to
    right, every target at least TAP_TARGET square and on screen."""
    assert len(boxes) == sum(rows)
    tops = sorted({round(box["y"]) for box in boxes})
    assert len(tops) == len(rows), f"rows at {tops} at {width} px, expected {rows}"
    start = 0
    for top, count in zip(tops, rows, strict=True):
        row = boxes[start : start + count]
        assert {round(box["y"]) for box in row} == {top}, f"0–10 out of order at {width} px"
        assert row == sorted(row, key=lambda box: box["x"]), "0–10 out of order"
        start += count
    for box in boxes:
        assert box["width"] >= TAP_TARGET, f"{box['width']:.1f} px wide at {width} px"
        assert box["height"] >= TAP_TARGET, f"{box['height']:.1f} px high at {width} px"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, "a target is off screen"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_scale_has_44_px_targets_on_one_row_or_two(
    project: Project, browser, width: int
) -> None:
    html = _email_html(project)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_content(html)
    boxes = _boxes(page, "a[href*='?score=']")
    _assert_rows_of_tap_targets(boxes, width, [11] if width >= 600 else [6, 5])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"email-nps-{width}px.png"), full_page=True)
    context.close()


@pytest.fixture
def served(project: Project):
    import threading
    import time

    import uvicorn

    settings = project.settings()
    store = open_store(settings.store_url)
    app = create_app(settings, store=store)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    key = app.state.collector.signing_key
    try:
        yield f"http://127.0.0.1:{port}", store, key, settings.clock()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.dispose()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_answer_page_keeps_0_to_10_on_one_row(served, browser, width: int) -> None:
    base, store, key, now = served
    inv = invite(
        store,
        key,
        survey_id="nps-quarterly",
        contact_key=f"w{width}",
        email=f"w{width}@example.com",
        sent_at=now - timedelta(hours=1),
    )
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base}{inv.answer_path}?score=7")
    boxes = _boxes(page, ".scale label")
    _assert_one_row_of_big_targets(boxes, width)
    # the end labels sit under the ends of the scale
    anchors = _boxes(page, ".anchors span")
    assert abs(anchors[0]["x"] - boxes[0]["x"]) <= 1
    assert abs(anchors[1]["x"] + anchors[1]["width"] - boxes[-1]["x"] - boxes[-1]["width"]) <= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"answer-nps-{width}px.png"), full_page=True)
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    context.close()


def test_without_media_queries_the_email_keeps_0_to_10_readable_on_one_row(
    project: Project, browser
) -> None:
    """A client that drops the <style> block sees the inline layout: one row, in order,
    on screen, every number whole (the 44 px targets need the media query)."""
    html = re.sub(r"<style>.*?</style>", "", _email_html(project), flags=re.S)
    context = browser.new_context(viewport={"width": 320, "height": 900})
    page = context.new_page()
    page.set_content(html)
    boxes = _boxes(page, "a[href*='?score=']")
    assert len(boxes) == 11 and len({round(box["y"]) for box in boxes}) == 1
    assert boxes == sorted(boxes, key=lambda box: box["x"]), "0–10 out of order"
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= 320 for box in boxes)
    clipped = page.eval_on_selector_all(
        "a[href*='?score=']", "els => els.filter(e => e.scrollWidth > e.clientWidth).length"
    )
    assert clipped == 0, "a number does not fit its button"
    context.close()
