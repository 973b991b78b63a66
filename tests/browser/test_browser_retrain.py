"""Browser test (headless Chromium): retrain shapes for 2 epochs, see the live curves and the confusion matrix, find the
result with its family and settings after a reload, make the new version active, and see the Draw page use it; a
reload mid-training finds the running job's progress, settings and Cancel."""

import re

import pytest
from playwright.sync_api import expect

from bench.server import start_app, stop_app
from core.engine import checks as retrain_checks
from core.store import models as store
from tests.helpers.live_app import SHIPPED_WORKER
from tests.helpers.paths import REPO


@pytest.fixture
def small_app(tmp_path):
    """An app of its own, generating few drawings per class so a shapes retrain takes seconds, not minutes; it
    trains in a worker process, as shipped (the tests' own jobs run in threads)."""
    if not (store.shipped_model_dir("shapes") / store.MODEL_JSON).is_file():
        pytest.skip("the shipped shapes model is not built yet")
    proc, url = start_app(tmp_path / "user_data", {"MLX_MAX_GENERATED_PER_CLASS": "24", **SHIPPED_WORKER})
    yield url
    stop_app(proc)


def test_retrain_shapes_then_the_draw_page_uses_the_new_version(page, small_app):
    page.goto(f"{small_app}/Retrain")
    expect(page.get_by_text("Setup")).to_be_visible()
    page.get_by_text("✏️ Shapes").click()
    defaults = retrain_checks.default_settings("shapes", store.load_metadata(store.shipped_model_dir("shapes")))
    epochs = page.get_by_role("spinbutton", name="Epochs")
    expect(epochs).to_have_value(str(defaults["epochs"]))  # the form now shows the shapes model's settings
    epochs.fill("2")
    page.get_by_label("Version name").fill("browser")
    page.get_by_role("button", name="Start training").click()

    # Live: the progress bar and the curves appear while it trains (or the run is already over on a fast machine).
    expect(page.get_by_text(re.compile(r"Epoch \d of 2|Last run")).first).to_be_visible(timeout=180_000)
    expect(page.get_by_text("Last run")).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(r"Saved as version \d{8}-\d{6}-browser"))).to_be_visible()
    expect(page.locator(".js-plotly-plot").filter(has_text="Loss")).to_have_count(1)
    expect(page.locator(".js-plotly-plot").filter(has_text="Accuracy per class")).to_have_count(1)
    confusion = page.locator(".js-plotly-plot").filter(has_text="Confusion matrix")
    expect(confusion).to_have_count(1)
    expect(confusion.locator(".hm, .heatmaplayer image, image").first).to_be_attached()  # the heatmap is drawn
    version = re.search(r"\d{8}-\d{6}-browser", page.get_by_text(re.compile("Saved as version")).inner_text()).group(0)

    page.reload()  # F5 after training: the result, with the family and settings that made it (not colours' defaults)
    expect(page.get_by_text(f"Saved as version {version}")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("radio", name="✏️ Shapes")).to_be_checked()
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("2")
    expect(page.get_by_label("Version name")).to_have_value("browser")
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()

    page.get_by_role("button", name="Use this version on every page (for you only)").click()
    expect(page.get_by_text(f"your version {version}").first).to_be_visible()

    # Navigate inside the app (a reload would find the same version: the choice belongs to the identity cookie).
    page.get_by_role("link", name=re.compile("Draw")).first.click()
    expect(page.get_by_text(re.compile(f"Model: your version {version}"))).to_be_visible(timeout=120_000)


def test_a_reload_mid_training_finds_its_progress_and_cancel(page, small_app):
    page.goto(f"{small_app}/Retrain")
    expect(page.get_by_text("Setup")).to_be_visible()
    page.wait_for_function("document.cookie.includes('mlx_id=')", timeout=30_000)  # the identity is kept
    page.get_by_role("spinbutton", name="Epochs").fill("150")
    page.get_by_role("textbox", name="Learning rate").fill("0.02")
    page.get_by_label("Version name").fill("midway")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training now")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()  # the form is locked

    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()  # F5: a new browser session, the same user
    expect(page.get_by_text("Training now")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    # Cancel sits beside Start (the first row of the job panel, just under the form), on screen with it at 1280x800.
    start_button = page.get_by_role("button", name="Start training")
    cancel = page.get_by_role("button", name="Cancel training")
    start_button.scroll_into_view_if_needed()
    start_box, cancel_box = start_button.bounding_box(), cancel.bounding_box()
    gap = cancel_box["y"] - (start_box["y"] + start_box["height"])
    assert 0 <= gap < 120, f"Cancel is {gap:.0f} px below Start"
    assert cancel_box["y"] + cancel_box["height"] <= 800 and start_box["y"] >= 0, (start_box, cancel_box)
    out = REPO / "test-results"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "retrain_cancel_beside_start_1280x800.png"))
    print(f"\nCancel is {gap:.0f} px below Start (1280x800)")
    # The form is the running job's, locked: its family and settings, not the defaults.
    expect(page.get_by_role("radio", name="🎨 Colours")).to_be_checked()
    expect(page.get_by_role("radio", name="🎨 Colours")).to_be_disabled()
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("150")
    expect(page.get_by_role("textbox", name="Learning rate")).to_have_value("0.02")
    expect(page.get_by_label("Version name")).to_have_value("midway")
    page.get_by_role("button", name="Cancel training").click()
    expect(page.get_by_text("Last run")).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile("cancelled", re.I)).first).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()

    page.goto(f"{small_app}/Retrain")  # a third visit after the run: still the same user, with the last run's result
    expect(page.get_by_text("Last run")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("150")  # and the settings it ran with
