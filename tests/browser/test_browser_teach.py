"""Browser test (headless Chromium): create an image project, upload photos to two classes, train 2 epochs in the
background worker, see the results panel, and classify a new photo in the preview."""

import re

from playwright.sync_api import expect

from tests.helpers.paths import REPO
from tests.helpers.teach import photo

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

    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    expect(epochs).to_have_value("50")
    epochs.fill("2")
    page.get_by_role("button", name="Train the model").click()
    expect(page.get_by_text("4 · Try it")).to_be_visible(timeout=300_000)
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
