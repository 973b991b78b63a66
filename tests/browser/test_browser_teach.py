"""Browser test (headless Chromium): create an image project, upload photos to two classes, train by transfer
learning (the default) in the background worker, see the results panel, and classify a new photo in the preview; on a drawing project, a stroke
drawn right after "Add" is kept for the next sample."""

import io
import re
import sys

import numpy as np
from PIL import Image
from playwright.sync_api import expect

from tests.helpers.paths import REPO
from tests.helpers.teach import photo

sys.path.insert(0, str(REPO / "scripts"))
from mouse_paths import HAS_INK, draw_on_canvas  # noqa: E402

SHOTS = REPO / "test-results"


def upload(page, label: str, files: list[tuple[str, bytes]]) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files(
        [{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files]
    )


def test_teach_an_image_project_then_preview(page, app_url):
    SHOTS.mkdir(exist_ok=True)
    page.goto(f"{app_url}/Teach")
    expect(page.get_by_text("1 · Project")).to_be_visible()
    page.get_by_label("Project name").fill("browser-fruit")
    page.get_by_role("textbox", name="Class names, one per line (2 to 10)").fill("red\nblue")
    page.get_by_role("button", name="Create the project").click()
    expect(page.get_by_text("2 · Samples")).to_be_visible()

    upload(page, "upload photos", [(f"r{i}.png", photo((220, 30, 30), "PNG", i)) for i in range(8)])
    expect(page.get_by_text("Added 8 sample(s) to “red”.")).to_be_visible()
    page.get_by_test_id("stRadio").filter(has_text="Add samples to").get_by_text("blue", exact=True).click()
    expect(page.get_by_text("…or upload photos of “blue”")).to_be_visible()
    upload(page, "upload photos", [(f"b{i}.png", photo((30, 30, 220), "PNG", i)) for i in range(8)])
    expect(page.get_by_text("Added 8 sample(s) to “blue”.")).to_be_visible()
    expect(page.get_by_role("tab", name="blue (8)")).to_be_visible()
    expect(page.get_by_text(re.compile(r"85% of each class"))).to_be_visible()

    # Transfer learning is the default: no epochs to choose; the CNN's settings appear for the expert option only.
    expect(page.get_by_role("radio", name=re.compile("^Transfer learning"))).to_be_checked()
    expect(page.get_by_role("spinbutton", name="Epochs", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Train the model").click()
    expect(page.get_by_text("4 · Try it")).to_be_visible(timeout=300_000)
    expect(page.get_by_text("Under the hood: transfer learning")).to_be_visible()
    expect(page.get_by_text(re.compile(r"saved as version \d{8}-\d{6}-browser-fruit"))).to_be_visible()
    expect(page.locator(".js-plotly-plot").filter(has_text="Confusion matrix")).to_have_count(1)
    expect(page.locator(".js-plotly-plot").filter(has_text="Accuracy per class")).to_have_count(1)

    upload(page, "…or a photo file", [("new.png", photo((30, 30, 220), "PNG", 77))])
    expect(page.get_by_text(re.compile(r"It is (red|blue) \(\d+% sure\)"))).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot").filter(has_text="Softmax over your classes")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Download for TensorFlow.js"))).to_be_visible()
    page.locator(".js-plotly-plot").filter(has_text="Softmax over your classes").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "teach_preview.png"))

    page.get_by_role("button", name="Open it in Inspect").click()
    expect(page).to_have_url(re.compile(r"/Inspect"))
    expect(page.get_by_text("consistency checks pass")).to_be_visible(timeout=60_000)
    chosen = page.get_by_role("combobox", name="Saved model")
    expect(chosen).to_have_value(re.compile(r"teach-image · \d{8}-\d{6}-browser-fruit"))
    page.screenshot(path=str(SHOTS / "teach_inspect.png"))


def ink_extent(png: bytes) -> tuple[int, int]:
    """(rows, columns) spanned by the ink of a saved 28x28 sample (white strokes on black)."""
    with Image.open(io.BytesIO(png)) as img:
        ink = np.asarray(img.convert("L")) > 127
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)) if len(rows) else (0, 0)


def saved_samples(page, app_url: str) -> list[bytes]:
    """The open class tab's sample images as the server stores them, newest first."""
    images = page.get_by_role("tabpanel").locator("[data-testid='stImage'] img")
    out = []
    for i in range(images.count()):
        src = images.nth(i).get_attribute("src")
        response = page.request.get(src if src.startswith("http") else app_url + src)
        assert response.ok, src
        out.append(response.body())
    return out


def test_a_stroke_drawn_right_after_add_is_in_the_next_sample(page, app_url):
    """Issue #24: after "Add" the next stroke used to vanish with the canvas (re-keyed by the server's answer). Draw
    an upright bar, click Add and draw a flat bar AT ONCE (no wait for the server), then Add again: the first sample
    is the upright bar alone, the second the flat bar alone, and the flat bar stayed on the canvas meanwhile."""
    page.goto(f"{app_url}/Teach")
    expect(page.get_by_text("1 · Project")).to_be_visible()
    page.get_by_text("✏️ Drawings").click()
    page.get_by_label("Project name").fill("browser-strokes")
    page.get_by_role("textbox", name="Class names, one per line (2 to 10)").fill("bar\nother")
    page.get_by_role("button", name="Create the project").click()
    expect(page.get_by_text("2 · Samples")).to_be_visible()
    canvas = page.locator("canvas.upper-canvas").first
    ink_layer = canvas.locator("xpath=../canvas[contains(@class, 'lower-canvas')]")
    add = page.get_by_role("button", name="Add this drawing to “bar”")
    upright = np.stack([np.full(26, 90.0), np.linspace(40, 240, 26)], axis=1)
    flat = np.stack([np.linspace(60, 240, 24), np.full(24, 150.0)], axis=1)

    draw_on_canvas(page, canvas, [upright])
    add.click()
    draw_on_canvas(page, canvas, [flat])  # at once: the click's answer has not come back yet
    expect(page.get_by_role("tab", name="bar (1)")).to_be_visible(timeout=60_000)
    assert ink_layer.evaluate(HAS_INK), "the stroke drawn after Add vanished from the canvas"
    add.click()
    expect(page.get_by_role("tab", name="bar (2)")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("tabpanel").locator("[data-testid='stImage'] img")).to_have_count(2)
    newest, first = saved_samples(page, app_url)
    rows, cols = ink_extent(first)
    assert rows > 2 * cols, f"the first sample should be the upright bar alone (ink {rows}x{cols})"
    rows, cols = ink_extent(newest)
    assert cols > 2 * rows, f"the second sample should be the flat bar alone (ink {rows}x{cols})"
    page.screenshot(path=str(SHOTS / "teach_strokes_after_add.png"))
