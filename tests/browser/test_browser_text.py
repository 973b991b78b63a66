"""Browser test (headless Chromium): the Text page generates 200 characters and they appear on the page."""

import pytest
from playwright.sync_api import expect

from core.families.text import model as T
from core.store import models as store

pytestmark = [
    pytest.mark.skipif(
        not (store.shipped_model_dir("text") / store.MODEL_JSON).is_file(), reason="the shipped text model is not built"
    ),
]


def test_generate_200_characters(page, app_url):
    page.goto(f"{app_url}/Text")
    length = page.get_by_role("spinbutton", name="Length (characters)")
    length.fill("200")
    length.press("Enter")
    expect(length).to_have_value("200")
    page.get_by_role("button", name="Generate", exact=True).click()
    generated = page.locator(".st-key-text-sample-0 span.generated")
    expect(generated).to_have_attribute("data-chars", "200")
    text = generated.text_content()
    assert len(text) == 200
    vocab = set(T.load_text_model()[1].chars)
    assert set(text) <= vocab  # every character came from the model's vocabulary
    # the step-through and the heatmap follow the generated text
    expect(page.locator("mark").first).to_be_visible()
    expect(page.get_by_text("Step through: what did it consider at each character?")).to_be_visible()
    expect(page.get_by_text("Inside the LSTM")).to_be_visible()


def test_negative_temperature_shows_a_message(page, app_url):
    page.goto(f"{app_url}/Text")
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("-1")
    temperature.press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("The temperature must be 0 (argmax) or a positive number")).to_be_visible()


def test_upload_checks_the_file(page, app_url, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Fran\u00e7ois et l'\u00e9t\u00e9 ".encode("latin-1") * 30)
    good = tmp_path / "mine.txt"
    good.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\n" * 8, encoding="utf-8")
    page.goto(f"{app_url}/Text")
    chooser = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    chooser.set_input_files(str(bad))
    expect(page.get_by_text("The upload is not UTF-8 text")).to_be_visible()
    chooser.set_input_files(str(good))
    expect(page.get_by_text("mine.txt", exact=False).last).to_be_visible()
    expect(page.get_by_role("link", name="Train on it in the Retrain studio")).to_be_visible()
