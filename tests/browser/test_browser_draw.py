"""The Draw page in headless Chromium: draw a circle, a square and a triangle with the mouse on the real canvas
and see each one predicted live (no Predict button; the answer comes from the browser's copy of the model), open
the explanations the server works out, then clear the canvas."""

from __future__ import annotations

import sys

import numpy as np

from tests.helpers.paths import REPO

sys.path.insert(0, str(REPO / "scripts"))
from mouse_paths import draw_on_canvas, mouse_strokes  # noqa: E402


def test_mouse_drawn_shapes_are_predicted_live(page, app_url):
    from playwright.sync_api import expect

    page.goto(f"{app_url}/Draw")
    expect(page.get_by_test_id("draw-live")).to_have_attribute("data-engine", "browser", timeout=120_000)
    empty = page.get_by_test_id("draw-empty")
    expect(empty).to_have_text("Draw a shape", timeout=60_000)
    expect(page.get_by_role("button", name="Predict")).to_have_count(0)
    canvas = page.locator("canvas.upper-canvas")
    top = page.get_by_test_id("draw-top")
    for i, name in enumerate(("circle", "square", "triangle")):
        if i:
            # The canvas toolbar's reset empties the canvas in place; the app then shows the blank state again.
            page.get_by_role("button", name="Reset canvas & history").click()
            expect(empty).to_be_visible(timeout=30_000)
        draw_on_canvas(page, canvas, mouse_strokes(name, np.random.default_rng(10 + i)))
        expect(top).to_have_text(name, timeout=30_000)
        if not i:  # on request, and then for every drawing
            page.get_by_text("Show how the network reads this drawing").click()
        expect(page.get_by_text("What the first convolution layer sees")).to_be_visible()
    page.get_by_role("button", name="Clear the canvas").click()
    expect(empty).to_be_visible(timeout=30_000)
    expect(top).to_have_count(0)
