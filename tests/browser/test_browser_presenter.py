"""Presenter mode and small screens in headless Chromium: no page is cut sideways on a 1024×768 projector (presenter
mode on or off), the Draw canvas fits its column at 150% browser zoom and still gives the model the same 28×28 input,
and presenter mode's larger type survives a page change through the menu."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from app import NAVIGATION
from tests.helpers.paths import REPO
from ui import presenter

sys.path.insert(0, str(REPO / "scripts"))
from mouse_paths import draw_on_canvas, mouse_strokes  # noqa: E402

PROJECTOR = {"width": 1024, "height": 768}
# 150% browser zoom on that 1024×768 screen: the page sees a 683×512 CSS-pixel viewport and a device pixel ratio of
# 1.5, which is what Chromium's own zoom does (media queries, window.innerWidth and Streamlit's sidebar breakpoint all
# see 683 px). `document.body.style.zoom` would not: innerWidth stays 1024, so the layout never reflows to the narrow
# screen, it is only drawn larger.
ZOOMED = {"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5}
PAGES = [pytest.param(e.url_path, id=e.title) for entries in NAVIGATION.values() for e in entries]
CANVAS_PX = 320  # pages/2_Draw.py's canvas size in canvas pixels

WIDTHS = """() => {
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  const main = document.querySelector('[data-testid="stMain"]');
  return {page: document.documentElement.scrollWidth, viewport: window.innerWidth,
          block: block.getBoundingClientRect().right, main: main.scrollWidth, mainBox: main.clientWidth};
}"""
CANVAS_IN_COLUMN = """c => {
  const column = c.getRootNode().host.closest('[data-testid="stColumn"]').getBoundingClientRect();
  const box = c.getBoundingClientRect();
  return {left: box.left, right: box.right, width: box.width, columnLeft: column.left, columnRight: column.right};
}"""


def open_page(page, app_url: str, path: str, query: str = "") -> None:
    page.goto(f"{app_url}/{path}{query}")
    wait_drawn(page)


def wait_drawn(page) -> None:
    """Wait until the page's script has finished and every widget and chart has drawn."""
    from playwright.sync_api import expect

    expect(page.locator("h1").first).to_be_visible(timeout=90_000)
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1)
    expect(page.locator('[data-testid^="stSkeleton"]')).to_have_count(0)  # widgets load their code lazily
    charts = page.get_by_test_id("stPlotlyChart")
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_attached()


def assert_not_cut(page, where: str) -> None:
    widths = page.evaluate(WIDTHS)
    assert widths["page"] <= widths["viewport"], f"{where}: the page scrolls sideways: {widths}"
    assert widths["block"] <= widths["viewport"] + 0.5, f"{where}: the main block is wider than the screen: {widths}"
    assert widths["main"] <= widths["mainBox"], f"{where}: the main area scrolls sideways: {widths}"


def assert_canvas_fits(page, where: str) -> dict:
    fit = page.locator("canvas.upper-canvas").evaluate(CANVAS_IN_COLUMN)
    assert fit["left"] >= fit["columnLeft"] - 0.5 and fit["right"] <= fit["columnRight"] + 0.5, f"{where}: {fit}"
    return fit


@pytest.mark.parametrize("presenting", [False, True], ids=["plain", "presenter"])
@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_cut_sideways_on_a_1024_projector(page, app_url, path, presenting):
    page.set_viewport_size(PROJECTOR)
    open_page(page, app_url, path, "?present=1" if presenting else "")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == (
        f"{presenter.ROOT_FONT_PX}px" if presenting else "16px"
    )
    assert_not_cut(page, f"/{path}")
    if path == "Draw":
        assert_canvas_fits(page, "the Draw canvas at 1024 px")


def model_input(page) -> np.ndarray:
    """The model's 28×28 input as the page made it: the browser's answer keeps it in its `data-input`."""
    values = page.get_by_test_id("draw-live").get_attribute("data-input")
    return np.array([float(v) for v in values.split(",")]).reshape(28, 28)


def draw_circle(page, displayed_px: float) -> np.ndarray:
    """Draw the same circle, scaled to the canvas as shown, and return the model input the page made of it."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("draw-live")).to_have_attribute("data-engine", "browser", timeout=120_000)
    strokes = [s * (displayed_px / CANVAS_PX) for s in mouse_strokes("circle", np.random.default_rng(7))]
    draw_on_canvas(page, page.locator("canvas.upper-canvas"), strokes)
    expect(page.get_by_test_id("draw-top")).to_have_text("circle", timeout=30_000)
    return model_input(page)


def test_draw_canvas_fits_its_column_at_150_percent_zoom_and_gives_the_same_input(browser, page, app_url):
    from playwright.sync_api import expect

    page.goto(f"{app_url}/Draw")  # 1400 px wide: the canvas at its full size
    expect(page.get_by_test_id("draw-empty")).to_be_visible(timeout=60_000)
    full = assert_canvas_fits(page, "1400 px")
    assert full["width"] == pytest.approx(CANVAS_PX, abs=0.5)
    full_input = draw_circle(page, full["width"])

    context = browser.new_context(**ZOOMED)
    try:
        zoomed = context.new_page()
        zoomed.set_default_timeout(60_000)
        zoomed.goto(f"{app_url}/Draw")
        expect(zoomed.get_by_test_id("draw-empty")).to_be_visible(timeout=60_000)
        assert zoomed.evaluate("[window.innerWidth, window.devicePixelRatio]") == [683, 1.5]
        fit = assert_canvas_fits(zoomed, "150% zoom")
        assert fit["width"] < CANVAS_PX - 8  # the column really is narrower than the canvas: it was shrunk to fit
        assert_not_cut(zoomed, "/Draw at 150% zoom")
        zoomed_input = draw_circle(zoomed, fit["width"])
        assert_canvas_fits(zoomed, "150% zoom, after the drawing's rerun")  # the fit survives the fragment's rerun
    finally:
        context.close()
    # Same strokes relative to the canvas → the same 28×28 input, whatever size the canvas was shown at. (The pixels
    # differ a little: the browser samples the mouse path at another scale and renders at another pixel ratio.)
    assert full_input.max() > 200 and zoomed_input.max() > 200
    assert np.abs(full_input - zoomed_input).mean() < 4, np.abs(full_input - zoomed_input).mean()  # measured: 1.0


def test_presenter_mode_survives_a_menu_change_with_larger_type_and_turns_off(page, app_url):
    from playwright.sync_api import expect

    page.set_viewport_size(PROJECTOR)
    open_page(page, app_url, "Colors")
    plain_text = font_px(page, '[data-testid="stCaptionContainer"] p')
    plain_ticks = font_px(page, '[data-testid="stPlotlyChart"] .ytick text')

    open_page(page, app_url, "", "?present=1")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_have_attribute("data-collapsed", "true")  # folded away for the projector
    page.get_by_test_id("stExpandSidebarButton").click()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Colors").click()
    expect(page).to_have_url(re.compile(r"/Colors\?present=1$"))  # the menu dropped it; the session put it back
    expect(page.locator("h1").first).to_contain_text("Colors")
    wait_drawn(page)
    assert font_px(page, '[data-testid="stCaptionContainer"] p') >= 1.3 * plain_text
    assert font_px(page, '[data-testid="stPlotlyChart"] .ytick text') >= 1.3 * plain_ticks
    assert_not_cut(page, "/Colors in presenter mode")

    if sidebar.get_attribute("data-collapsed") == "true":
        page.get_by_test_id("stExpandSidebarButton").click()
    sidebar.get_by_text("Presenter mode").click()
    expect(page).to_have_url(re.compile(r"/Colors$"))
    expect(page.locator("html")).to_have_css("font-size", "16px")


def font_px(page, selector: str) -> float:
    """The computed font size of the first element matching selector, once it has one (a chart draws late)."""
    from playwright.sync_api import expect

    element = page.locator(selector).first
    expect(element).to_have_css("font-size", re.compile(r"^\d"))
    return float(element.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
