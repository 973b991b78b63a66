"""The Colors page's live view in Chromium: the bars follow a slider while it is still held, and match Keras."""

from __future__ import annotations

import numpy as np

from core.families.colors import live as colors_live
from core.families.colors import model as colors
from tests.helpers.colors_live import FAMILY_HEX, shipped


def test_live_bars_move_while_the_slider_is_held(browser):
    """Press on the R slider's thumb and drag it to the far right without letting go: the bars follow before the
    mouse is released, and they match Keras for the colour under the thumb."""
    from playwright.sync_api import expect

    w = colors.forward_weights(shipped())
    page = browser.new_page(viewport={"width": 600, "height": 500})
    try:
        page.set_content(colors_live.live_view_html(w, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX))
        top = page.get_by_test_id("live-top")
        expected_black = colors.CLASS_NAMES[int(np.argmax(colors.predict_proba(shipped(), (0, 0, 0))))]
        expect(top).to_have_text(expected_black)
        box = page.get_by_label("live R").bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] + 50, box["y"] + box["height"] / 2, steps=10)
        expect(page.locator("#r-out")).to_have_text("255")  # still held: only `input` events so far
        probs = colors.predict_proba(shipped(), (255, 0, 0))
        expect(top).to_have_text(colors.CLASS_NAMES[int(np.argmax(probs))])
        shown = [float(v) for v in page.locator(".bar .value").all_inner_texts()]
        np.testing.assert_allclose(shown, probs, atol=6e-4)  # shown to 3 decimals
        page.mouse.up()
    finally:
        page.close()
