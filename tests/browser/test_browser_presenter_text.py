"""Presenter mode on every page at 1280×800, 1024×768 and 150% zoom: no text is cut (an element narrower than its
text that hides the rest: an ellipsis, or overflow hidden on one line) and no chart text is under 18 px. Inside the
components' shadow roots (the Colors picker, Draw's in-browser answer, Teach's capture) no text is under 18 px either
and none spills out of its box. Text and Vector search are opened up first (a generation; a started loop), and a circle
is drawn on Draw, so their charts, metrics and bars are checked too. One app server serves every page; a screenshot of
each page at each size lands in test-results/ for a person to look at."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from app import NAVIGATION
from tests.helpers.paths import REPO
from ui.presenter import MIN_TEXT_PX, ROOT_FONT_PX

sys.path.insert(0, str(REPO / "scripts"))
from mouse_paths import draw_on_canvas, mouse_strokes  # noqa: E402

PAGES = [pytest.param(e.url_path, id=e.title) for entries in NAVIGATION.values() for e in entries]
VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 1024, "height": 768}]
# Chromium's own 150% zoom on the 1024×768 screen: a 683×512 CSS-pixel viewport at a device pixel ratio of 1.5
ZOOMED = {"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5}
MIN_CHART_PX = MIN_TEXT_PX  # the projector's floor for chart text, and for the text inside a component
CANVAS_PX = 320  # pages/2_Draw.py's canvas size in canvas pixels
# The component each page must show, measured (its root's class in the shadow root), and a text it must hold: the
# Colors picker's bars, Draw's answer to the circle drawn by open_up.
COMPONENTS = {"Colors": ("colour-live", "grey-ish"), "Draw": ("draw-live", "none of these")}

# Every visible element of the main area whose text is wider than its box and is hidden (an ellipsis, or overflow
# hidden or clipped on one line), and every visible plotly text below the floor. Charts, tables and code blocks are
# left out of the first check: a plotly label is SVG, a table scrolls, a code block scrolls sideways on purpose.
# The scan goes on into every component's (open) shadow root, where the page's style sheet does not reach: there any
# element with text of its own is held to the floor, and any text wider than its box counts as cut even when it is
# not hidden (a bar's label that spills over draws over its neighbour). `components` lists what was measured in each
# component, by its root element's class, so a test can see that the scan did reach inside.
FIND_CUTS = """(minPx) => {
  const visible = el => el.checkVisibility({visibilityProperty: true});
  const ownText = el => [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const main = document.querySelector('[data-testid="stMain"]');
  const cut = [], small = [], components = {};
  const scan = (root, component) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) {
        const top = el.shadowRoot.querySelector("div[class]");
        scan(el.shadowRoot, top ? top.classList[0] : el.tagName.toLowerCase());
      }
      if (!component
          && el.closest('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stCode"], pre, iframe'))
        continue;
      const text = (el.innerText || "").trim();
      if (!text || !visible(el)) continue;
      const style = getComputedStyle(el);
      const hides = style.textOverflow === "ellipsis"
        || (["hidden", "clip"].includes(style.overflowX) && style.whiteSpace.startsWith("nowrap"));
      const where = component ? `${component}: ` : "";
      if ((hides || component) && el.scrollWidth > el.clientWidth + 1)
        cut.push(`${where}${text.slice(0, 40)} (${el.scrollWidth} px of text in ${el.clientWidth} px)`);
      if (component && ownText(el)) {
        const px = parseFloat(style.fontSize);
        const presenting = root.querySelector(".present") !== null;
        (components[component] = components[component] || []).push([text.slice(0, 40), px, presenting]);
        if (px < minPx - 0.05) small.push(`${where}${text.slice(0, 30)} (${px} px)`);
      }
    }
  };
  scan(main, "");
  for (const t of main.querySelectorAll('[data-testid="stPlotlyChart"] svg text')) {
    // a heatmap's cell labels (Text's activations: one character per 9 px cell) are sized by plotly to their cell
    if (!t.textContent.trim() || !visible(t) || t.closest(".heatmap-label, g.heatmaplayer")) continue;
    const px = parseFloat(getComputedStyle(t).fontSize);
    if (px < minPx - 0.05) small.push(`${t.textContent.slice(0, 30)} (${px} px)`);
  }
  return {cut, small, components};
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
    elif path == "Draw":
        draw_a_circle(page)
    wait_settled(page)


def draw_a_circle(page) -> None:
    """Draw a circle, scaled to the canvas as shown, and wait for the browser's own answer (Draw's component)."""
    from playwright.sync_api import expect

    live = page.get_by_test_id("draw-live")
    expect(live).to_have_attribute("data-engine", "browser", timeout=120_000)
    canvas = page.locator("canvas.upper-canvas")
    scale = canvas.bounding_box()["width"] / CANVAS_PX
    draw_on_canvas(page, canvas, [s * scale for s in mouse_strokes("circle", np.random.default_rng(7))])
    expect(live.get_by_test_id("draw-top")).to_have_text("circle", timeout=60_000)


def assert_nothing_cut(page, path: str, where: str) -> None:
    found = page.evaluate(FIND_CUTS, MIN_CHART_PX)
    assert not found["cut"], f"{where}: cut text: {found['cut']}"
    assert not found["small"], f"{where}: chart or component text under {MIN_CHART_PX} px: {found['small'][:10]}"
    if path in COMPONENTS:  # the scan did reach inside the page's component, told it was presenting, and measured it
        name, must_hold = COMPONENTS[path]
        measured = found["components"].get(name, [])
        assert any(text == must_hold for text, _, _ in measured), f"{where}: {name} not measured: {found['components']}"
        assert all(present for _, _, present in measured), f"{where}: {name} was not told presenter mode is on"
        assert sum("%" in text for text, _, _ in measured) >= 9, f"{where}: {name}'s bar numbers: {measured}"
    if path == "Colors":  # the three-ways view (logits, softmax, divide-by-sum, temperature), below the picker
        measured = found["components"].get("three-ways", [])
        assert sum(text.startswith("softmax(") for text, _, _ in measured) >= 2, f"{where}: three-ways: {measured}"
        assert all(present for _, _, present in measured), f"{where}: three-ways was not told presenter mode is on"


def screenshot(page, path: str, size: str) -> None:
    """A screenshot for a person to look at, with the page's component (if any) scrolled into view."""
    if path in COMPONENTS:
        page.locator(f".{COMPONENTS[path][0]}").scroll_into_view_if_needed()
    out = REPO / "test-results"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / f"presenter_{path or 'Home'}_{size}.png"))


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
            assert_nothing_cut(page, path, f"/{path} at {viewport['width']}×{viewport['height']}")
            screenshot(page, path, str(viewport["width"]))
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
        assert_nothing_cut(page, path, f"/{path} at 150% zoom")
        screenshot(page, path, "zoom150")
    finally:
        zoomed.close()
