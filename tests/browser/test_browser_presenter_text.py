"""Presenter mode on every page at 1280×800, 1024×768 and 150% zoom: no text is cut (an element narrower than its
text that hides the rest: an ellipsis, or overflow hidden on one line) and no chart text is under 18 px. Text and
Vector search are opened up first (a generation; a started loop), so their charts and metrics are checked too. One
app server serves every page; a screenshot of each page at 1024×768 lands in test-results/ for a person to look at."""

from __future__ import annotations

import pytest

from app import NAVIGATION
from tests.helpers.paths import REPO
from ui.presenter import ROOT_FONT_PX

PAGES = [pytest.param(e.url_path, id=e.title) for entries in NAVIGATION.values() for e in entries]
VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 1024, "height": 768}]
# Chromium's own 150% zoom on the 1024×768 screen: a 683×512 CSS-pixel viewport at a device pixel ratio of 1.5
ZOOMED = {"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5}
MIN_CHART_PX = 18  # the projector's floor for chart text

# Every visible element of the main area whose text is wider than its box and is hidden (an ellipsis, or overflow
# hidden or clipped on one line), and every visible plotly text below the floor. Charts, tables and code blocks are
# left out of the first check: a plotly label is SVG, a table scrolls, a code block scrolls sideways on purpose.
FIND_CUTS = """(minPx) => {
  const visible = el => el.checkVisibility({visibilityProperty: true});
  const main = document.querySelector('[data-testid="stMain"]');
  const cut = [];
  for (const el of main.querySelectorAll("*")) {
    if (el.closest('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stCode"], pre, iframe'))
      continue;
    const text = (el.innerText || "").trim();
    if (!text || !visible(el)) continue;
    const style = getComputedStyle(el);
    const hides = style.textOverflow === "ellipsis"
      || (["hidden", "clip"].includes(style.overflowX) && style.whiteSpace.startsWith("nowrap"));
    if (hides && el.scrollWidth > el.clientWidth + 1)
      cut.push(`${text.slice(0, 40)} (${el.scrollWidth} px of text in ${el.clientWidth} px)`);
  }
  const small = [];
  for (const t of main.querySelectorAll('[data-testid="stPlotlyChart"] svg text')) {
    // a heatmap's cell labels (Text's activations: one character per 9 px cell) are sized by plotly to their cell
    if (!t.textContent.trim() || !visible(t) || t.closest(".heatmap-label, g.heatmaplayer")) continue;
    const px = parseFloat(getComputedStyle(t).fontSize);
    if (px < minPx - 0.05) small.push(`${t.textContent.slice(0, 30)} (${px} px)`);
  }
  return {cut, small};
}"""
# Every shown chart has been drawn within its column's current width (plotly redraws a little after a resize; a
# chart in a closed expander keeps its old width until it is opened).
CHARTS_FIT = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(box => {
  const outer = box.getBoundingClientRect();
  const svg = box.querySelector(".main-svg");
  return !box.checkVisibility() || (svg && svg.getBoundingClientRect().width <= outer.width + 2);
})"""


def wait_presenting(page) -> None:
    """Wait until the page has run, drawn every widget and chart, and wears presenter mode's type."""
    from playwright.sync_api import expect

    expect(page.locator("h1").first).to_be_visible(timeout=120_000)
    expect(page.locator("html")).to_have_css("font-size", f"{ROOT_FONT_PX}px", timeout=60_000)
    wait_settled(page)


def wait_settled(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=120_000)
    expect(page.locator('[data-testid^="stSkeleton"]')).to_have_count(0, timeout=60_000)
    charts = page.get_by_test_id("stPlotlyChart")
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_attached(timeout=60_000)
    page.wait_for_function(CHARTS_FIT, timeout=60_000)


def open_up(page, path: str) -> None:
    """What a page shows only after a press: Text's samples and step-through, Vector search's labelling loop."""
    from playwright.sync_api import expect

    if path == "Text":
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Step through: what did it consider at each character?")).to_be_visible(timeout=120_000)
    elif path == "Vector_search":
        size = page.get_by_label("Colours in the pool", exact=True)
        size.fill("256")  # indexing the default 4,096 in the on-disk store would dominate the test
        size.press("Enter")
        expect(page.get_by_text("256 colors · embedding", exact=False)).to_be_visible(timeout=120_000)
        page.get_by_role("button", name="Start from this head").click()
        expect(page.get_by_role("button", name="Train step")).to_be_visible(timeout=120_000)
    wait_settled(page)


def assert_nothing_cut(page, where: str) -> None:
    found = page.evaluate(FIND_CUTS, MIN_CHART_PX)
    assert not found["cut"], f"{where}: cut text: {found['cut']}"
    assert not found["small"], f"{where}: chart text under {MIN_CHART_PX} px: {found['small'][:10]}"


@pytest.mark.parametrize("path", PAGES)
def test_presenter_mode_cuts_no_text_and_keeps_chart_text_large(browser, app_url, path):
    context = browser.new_context(viewport=VIEWPORTS[0])
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{app_url}/{path}?present=1")
        wait_presenting(page)
        open_up(page, path)
        for viewport in VIEWPORTS:  # one session, resized: the layout reflows without running the page again
            page.set_viewport_size(viewport)
            wait_settled(page)
            assert_nothing_cut(page, f"/{path} at {viewport['width']}×{viewport['height']}")
        out = REPO / "test-results"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / f"presenter_{path or 'Home'}_1024.png"))
    finally:
        context.close()

    zoomed = browser.new_context(**ZOOMED)
    try:
        page = zoomed.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{app_url}/{path}?present=1")
        wait_presenting(page)
        assert page.evaluate("[window.innerWidth, window.devicePixelRatio]") == [683, 1.5]
        open_up(page, path)
        assert_nothing_cut(page, f"/{path} at 150% zoom")
    finally:
        zoomed.close()
