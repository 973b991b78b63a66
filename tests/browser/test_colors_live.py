"""The Colors page's one set of controls in Chromium: the headline and the bars follow a slider while it is still
held (the network runs in the page), match Keras, paint the winner in its family's colour, and the rest of the page
follows on release. Prints how long an `input` event takes to update the bars."""

from __future__ import annotations

import json
import statistics

import numpy as np
from playwright.sync_api import expect

from core import maths
from core.families.colors import model as colors
from tests.helpers.colors_live import FAMILY_HEX, probe_colours, shipped

# Set every channel, send one `input` event, and time it: the handler updates the bars synchronously (`sync_ms`); the
# next two animation frames are when they are on screen (`frame_ms`).
_SET_AND_TIME = """
async (box, rgb) => {
  const ranges = [...box.querySelectorAll("input[type=range]")];
  const t0 = performance.now();
  ranges.forEach((r, i) => { r.value = rgb[i]; });
  ranges[0].dispatchEvent(new Event("input", { bubbles: true }));
  const sync = performance.now() - t0;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return { sync_ms: sync, frame_ms: performance.now() - t0, rgb: box.dataset.rgb,
           probs: JSON.parse(box.dataset.probs), top: box.querySelector(".top").textContent };
}
"""


def open_colors(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{app_url}/Colors")
    box = page.locator(".st-key-colors-top .colour-live")
    # the default colour; a first page load can import TensorFlow
    expect(box.locator("[data-testid='top-family']")).to_have_text("green-ish", timeout=90_000)
    return box


def hold_r_at_the_end(page, box) -> None:
    """Press the R slider's thumb and drag it past its end (to 255) in 12 steps, without letting go."""
    slider = box.get_by_label("R", exact=True)
    bounds = slider.bounding_box()
    y = bounds["y"] + bounds["height"] / 2
    page.mouse.move(bounds["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(bounds["x"] + bounds["width"] + 40, y, steps=12)


def test_js_probabilities_equal_keras_and_input_to_bars_is_timed(page, app_url):
    box = open_colors(page, app_url)
    rgb = probe_colours().astype(int)[:24]
    keras_probs = colors.predict_proba(shipped(), rgb.astype(np.float32))
    sync, frame = [], []
    for colour, expected in zip(rgb.tolist(), keras_probs):
        out = box.evaluate(_SET_AND_TIME, colour)
        assert out["rgb"] == ",".join(map(str, colour))
        np.testing.assert_allclose(out["probs"], expected, atol=1e-4)
        assert out["top"] == colors.CLASS_NAMES[int(np.argmax(expected))]
        sync.append(out["sync_ms"])
        frame.append(out["frame_ms"])
    print(
        "\ncolours input event -> bars updated: "
        + json.dumps(
            {
                "n": len(sync),
                "sync_median_ms": round(statistics.median(sync), 3),
                "sync_max_ms": round(max(sync), 3),
                "to_next_frames_median_ms": round(statistics.median(frame), 1),
                "to_next_frames_max_ms": round(max(frame), 1),
            }
        )
    )
    assert statistics.median(sync) < 50  # a few hundred multiply-adds: far under one frame


def test_drag_updates_headline_and_bars_while_held_then_the_page_on_release(page, app_url):
    box = open_colors(page, app_url)
    server_caption = page.get_by_text("The explanations below are for RGB (0, 96, 96)")
    expect(server_caption).to_be_visible()
    hold_r_at_the_end(page, box)
    # Still held: only `input` events so far. The headline, the swatch's numbers and the bars follow already.
    expect(box.locator(".detail")).to_contain_text("RGB (255, 96, 96)")
    probs = colors.predict_proba(shipped(), (255, 96, 96))
    top = int(np.argmax(probs))
    expect(box.locator("[data-testid='top-family']")).to_have_text(colors.CLASS_NAMES[top])
    expect(server_caption).to_be_visible()  # the server has not been asked yet
    # The winning bar is painted in its family's colour, every other bar grey.
    fills = box.locator(".bar .fill").evaluate_all("(els) => els.map((e) => getComputedStyle(e).backgroundColor)")
    r, g, b = colors.OBVIOUS_COLORS[colors.FAMILIES[top]]
    assert fills[top] == f"rgb({r}, {g}, {b})" and FAMILY_HEX[top] == colors.to_hex((r, g, b))
    assert all(fill == "rgb(196, 199, 204)" for k, fill in enumerate(fills) if k != top), fills
    page.mouse.up()
    # Released: the server follows (its caption, and the temperature view's table for the new colour).
    expect(page.get_by_text("The explanations below are for RGB (255, 96, 96)")).to_be_visible()
    expect(box.locator("[data-testid='top-family']")).to_have_text(colors.CLASS_NAMES[top])


def test_a_typed_colour_name_moves_the_picker(page, app_url):
    box = open_colors(page, app_url)
    typed = page.get_by_label("…or type a colour")
    typed.fill("orange")
    typed.press("Enter")
    expect(box.locator(".detail")).to_contain_text("RGB (255, 165, 0)")
    expect(box.get_by_label("G", exact=True)).to_have_value("165")
    expect(page.get_by_text("The explanations below are for RGB (255, 165, 0)")).to_be_visible()


def test_the_three_ways_view_follows_the_drag_and_its_own_temperature(page, app_url, tmp_path):
    """The temperature view is live too: its logits follow a held slider (no server run), and its own temperature
    slider recomputes softmax(logits / T) in the page, matching core.maths.softmax."""
    box = open_colors(page, app_url)
    view = page.locator(".st-key-colors-three_ways .three-ways")
    expect(view.locator(".panel")).to_have_count(4, timeout=60_000)
    hold_r_at_the_end(page, box)
    expect(box.locator(".detail")).to_contain_text("RGB (255, 96, 96)")
    keras_logits = colors.predict_logits_proba(shipped(), (255, 96, 96))[0]
    np.testing.assert_allclose(json.loads(view.get_attribute("data-logits")), keras_logits, atol=1e-4)
    expect(page.get_by_text("The explanations below are for RGB (0, 96, 96)")).to_be_visible()  # still held
    page.mouse.up()
    expect(page.get_by_text("The explanations below are for RGB (255, 96, 96)")).to_be_visible()
    # The view's own temperature: set it to 2.5 and read the third panel's numbers.
    view.get_by_label("Softmax temperature").evaluate(
        "(r) => { r.value = '2.5'; r.dispatchEvent(new Event('input', { bubbles: true })); }"
    )
    expect(view.locator(".t")).to_have_text("T = 2.50")
    panels = view.locator(".panel")
    np.testing.assert_allclose(json.loads(panels.nth(0).get_attribute("data-values")), keras_logits, atol=1e-4)
    third = json.loads(panels.nth(3).get_attribute("data-values"))
    np.testing.assert_allclose(third, maths.softmax(keras_logits, 2.5), atol=1e-4)
    np.testing.assert_allclose(
        json.loads(panels.nth(1).get_attribute("data-values")), maths.softmax(keras_logits), atol=1e-4
    )
    by_sum, _ = colors.divide_by_sum(keras_logits)
    if by_sum is not None:
        np.testing.assert_allclose(json.loads(panels.nth(2).get_attribute("data-values")), by_sum, rtol=1e-3, atol=1e-4)
    warnings = view.locator(".warnings li").all_inner_texts()
    assert warnings == colors.explain_divide_by_sum(keras_logits) or by_sum is None
    view.screenshot(path=str(tmp_path / "three_ways.png"))
