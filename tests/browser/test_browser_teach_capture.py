"""Browser tests of the Teach page's webcam and microphone (ui/capture.js) on Chromium's fake media devices: a Y4M
that alternates red and blue as the webcam, espeak-ng's words as the microphone (both made at test time). Hold the
record button and several samples are stored; the live preview's answer follows the webcam as it changes colour."""

import re

import pytest
from playwright.sync_api import expect

from bench.server import CHROMIUM_FLAGS, chromium_path
from tests.helpers.fake_media import one_word_per_second, room_noise_wav, spoken_wav, y4m_alternating
from tests.helpers.paths import REPO
from tests.helpers.teach import photo

SHOTS = REPO / "test-results"
RED, BLUE = (220, 30, 30), (30, 30, 220)
# True when the live chart's longest bar is class `arg` (its values as Plotly holds them, not the text above it).
LIVE_BARS_TOP = """top => {
  const el = [...document.querySelectorAll(".js-plotly-plot")].find(e => e.textContent.includes("Live: softmax"));
  const x = el && el.data && el.data[0] && el.data[0].x;
  return !!x && x.indexOf(Math.max(...x)) === top;
}"""


@pytest.fixture(scope="module")
def media_browser(tmp_path_factory, playwright_driver):
    """A Chromium whose webcam and microphone are files, with the permission prompts answered yes."""
    folder = tmp_path_factory.mktemp("fake_media")
    video = y4m_alternating(folder / "webcam.y4m", [RED, BLUE], seconds_each=1.5)
    audio = spoken_wav(folder / "microphone.wav", "yes yes yes", gap_s=1.5)  # a word, then 1.5 s of silence
    flags = [
        *CHROMIUM_FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    b = playwright_driver.chromium.launch(executable_path=chromium_path(), args=flags)
    yield b
    b.close()


@pytest.fixture
def page(media_browser, request):
    context = media_browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera", "microphone"])
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SHOTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def new_project(page, app_url: str, kind_label: str, name: str, classes: str) -> None:
    page.goto(f"{app_url}/Teach")
    expect(page.get_by_text("1 · Project")).to_be_visible()
    page.get_by_text(kind_label).click()
    page.get_by_label("Project name").fill(name)
    page.get_by_role("textbox", name="Class names, one per line (2 to 10)").fill(classes)
    page.get_by_role("button", name="Create the project").click()
    expect(page.get_by_text("2 · Samples")).to_be_visible()


def hold_until(page, button, status, pattern: re.Pattern) -> None:
    """Press the button and keep it down until the component's status line matches `pattern` (a condition, not a
    fixed time: on a busy machine the browser may take photos or sound more slowly), then release it."""
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    try:
        expect(status).to_have_text(pattern, timeout=30_000)
    finally:
        page.mouse.up()


def test_hold_to_record_stores_a_burst_of_photos(page, app_url):
    new_project(page, app_url, "📷 Images", "burst-photos", "cam\nother")
    page.get_by_role("button", name="Start the webcam").click()
    status = page.locator(".cap .status").first
    expect(status).to_have_text(re.compile("Hold the button"))
    hold = page.get_by_role("button", name="Hold to record “cam”")
    hold.scroll_into_view_if_needed()
    hold_until(page, hold, status, re.compile(r"Recording… ([6-9]|\d\d+) photo"))  # about 1 to 1.5 s at 6 a second
    added = page.get_by_text(re.compile(r"Added (\d+) photo\(s\) to “cam” from the burst\."))
    expect(added).to_be_visible()
    n = int(re.search(r"Added (\d+)", added.inner_text()).group(1))
    assert n >= 6, n
    expect(page.get_by_role("tab", name=f"cam ({n})")).to_be_visible()  # counted from the store
    expect(page.get_by_role("tabpanel").locator("[data-testid='stImage'] img")).to_have_count(n)
    # The webcam stays on across the rerun: a second burst needs no new start.
    expect(page.get_by_role("button", name="Stop the webcam")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    hold.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "teach_burst_photos.png"))


def test_hold_to_record_cuts_the_sound_into_one_second_samples(page, app_url):
    new_project(page, app_url, "🎙️ Sounds", "burst-sound", "yes")
    page.get_by_role("button", name="Start the microphone").click()
    status = page.locator(".cap .status").first
    expect(status).to_have_text(re.compile("Hold the button while you speak"))
    hold = page.get_by_role("button", name="Hold to record “background noise”")
    hold_until(page, hold, status, re.compile(r"Recording… ([2-9]\.[2-9]|\d\d+\.\d) s"))
    added = page.get_by_text(re.compile(r"Added (\d+) one-second sample\(s\) to “background noise” from the burst\."))
    expect(added).to_be_visible()
    n = int(re.search(r"Added (\d+)", added.inner_text()).group(1))
    assert n >= 2, n
    expect(page.get_by_role("tab", name=f"background noise ({n})")).to_be_visible()
    expect(page.get_by_text(re.compile(rf"Your last recording: {n} one-second sample"))).to_be_visible()


def test_live_preview_follows_the_webcam(page, app_url):
    new_project(page, app_url, "📷 Images", "live-colours", "red\nblue")
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="upload photos")
    for colour, name in ((RED, "red"), (BLUE, "blue")):
        page.get_by_test_id("stRadio").filter(has_text="Add samples to").get_by_text(name, exact=True).click()
        expect(page.get_by_text(f"…or upload photos of “{name}”")).to_be_visible()
        uploader.locator("input[type=file]").set_input_files(
            [{"name": f"{name}{i}.png", "mimeType": "image/png", "buffer": photo(colour, "PNG", i)} for i in range(8)]
        )
        expect(page.get_by_text(f"Added 8 sample(s) to “{name}”.")).to_be_visible()
    page.get_by_role("button", name="Train the model").click()
    expect(page.get_by_text("4 · Try it")).to_be_visible(timeout=300_000)

    page.get_by_role("button", name="Live preview from your webcam").click()
    answer = page.get_by_text(re.compile(r"^Live: (red|blue) \(\d+%\)$"))
    frame = page.get_by_text(re.compile(r"^Frame \d+, classified in \d+ ms"))
    first_frame = seen = None
    # The webcam alternates red and blue every 1.5 s: the bars must put each class on top in turn (read from the
    # chart itself), with new frames classified all along.
    for top in ("red", "blue", "red", "blue"):
        expect(page.get_by_text(re.compile(rf"^Live: {top} \("))).to_be_visible(timeout=60_000)
        page.wait_for_function(LIVE_BARS_TOP, arg=["red", "blue"].index(top), timeout=60_000)
        seen = int(re.search(r"Frame (\d+)", frame.inner_text()).group(1))
        if top == "red" and first_frame is None:
            first_frame = seen
    assert seen > first_frame + 3, (first_frame, seen)
    expect(answer).to_have_count(1)
    SHOTS.mkdir(exist_ok=True)
    page.locator(".js-plotly-plot").filter(has_text="Live: softmax").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "teach_live_preview.png"))


def test_live_preview_follows_the_microphone(page, app_url, tmp_path):
    """A sound model of "yes" against the room, then the live preview on the fake microphone, which says "yes" and is
    silent for 1.5 s in turn: each second the model hears puts "yes", then "background noise", on top."""
    new_project(page, app_url, "🎙️ Sounds", "live-words", "yes")
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="upload WAV recordings")
    for name, wav in (
        ("background noise", room_noise_wav(tmp_path / "room.wav")),
        ("yes", one_word_per_second(tmp_path / "yes.wav", "yes")),
    ):
        page.get_by_test_id("stRadio").filter(has_text="Add samples to").get_by_text(name, exact=True).click()
        expect(page.get_by_text(f"…or upload WAV recordings of “{name}”")).to_be_visible()
        uploader.locator("input[type=file]").set_input_files(str(wav))
        expect(page.get_by_text(f"Added 9 sample(s) to “{name}”.")).to_be_visible()
    page.get_by_role("button", name="Train the model").click()
    expect(page.get_by_text("4 · Try it")).to_be_visible(timeout=300_000)

    page.get_by_role("button", name="Live preview from your microphone").click()
    for top in ("yes", "background noise", "yes"):
        page.wait_for_function(LIVE_BARS_TOP, arg=["background noise", "yes"].index(top), timeout=60_000)
    expect(page.get_by_text(re.compile(r"^Frame \d+, classified in \d+ ms"))).to_be_visible()
