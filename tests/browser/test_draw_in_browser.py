"""The Draw page answers in the browser (TensorFlow.js): on mouse-up, with the server's preprocessing ported to JS
(the same 28×28 to within 1/255 and the same top class as the server makes of the same canvas), timed from the
mouse-up to the bars; and when TensorFlow.js cannot load, the server answers as before."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.draw import SERVER_CLOCK_JS, browser_answer_ms, open_draw, reset_canvas, server_answer_ms, single_strokes
from core.families.shapes import model as shapes
from core.families.shapes import verdict as shape_verdict
from core.inputs import canvas as shape_preprocess

CANVAS_PX = 320


def test_the_browser_answers_on_mouse_up_and_the_time_is_printed(page, app_url):
    from playwright.sync_api import expect

    open_draw(page, app_url, "browser")
    times = []
    names = set(shape_verdict.display_names(shapes.load_shipped().metadata["class_names"]))
    for i, (_name, strokes) in enumerate(single_strokes(3)):
        if i:
            reset_canvas(page)
        ms, attrs = browser_answer_ms(page, strokes)
        times.append(ms)
        assert attrs["top"] in names  # which one is the parity test's business: the server's answer
        live = page.get_by_test_id("draw-live")
        # The headline shows the answer it records, read in one go: the page update after a stroke answers again from
        # a fresh read of the canvas (re-drawn by its component), which may tip a borderline drawing to another class.
        shown, recorded = live.evaluate(
            "e => [e.querySelector('[data-testid=\"draw-top\"]')?.textContent, e.dataset.top]"
        )
        assert shown == recorded and recorded in names
        expect(live.get_by_role("listitem")).to_have_count(9)  # one bar per class, drawn in the component
        # The server only kept the drawing: no answer of its own in the page (outside the component's shadow root).
        assert page.evaluate("document.querySelector('[data-testid=\"draw-top\"]')") is None
    print(f"\nDraw in the browser, mouse-up to answer: {', '.join(f'{t:.1f}' for t in times)} ms")
    assert all(0 < t < 60_000 for t in times)
    # The explanations are worked out on the server when asked for, for the drawing on the canvas.
    page.get_by_text("Show how the network reads this drawing").click()
    expect(page.get_by_text("What the first convolution layer sees")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Clear the canvas").click()
    expect(page.get_by_test_id("draw-empty")).to_have_count(1, timeout=60_000)
    expect(page.get_by_test_id("draw-top")).to_have_count(0)


def synthetic_canvases() -> list[np.ndarray]:
    """Canvases that take every branch of the preprocessing: thin and thick strokes (thinned and widened), grey
    anti-aliased edges, a tiny drawing (scaled up), a huge one (scaled down), a dot, a scribble and a blank."""
    rng = np.random.default_rng(5)
    out = []
    for kind in ("thin", "thick", "tiny", "huge", "grey", "dot", "scribble", "blank"):
        img = Image.new("RGBA", (4 * CANVAS_PX, 4 * CANVAS_PX), (255, 255, 255, 255))
        d = ImageDraw.Draw(img)
        if kind in ("thin", "thick", "grey"):
            points = [tuple(rng.uniform(200, 1100, 2)) for _ in range(5)]
            width = {"thin": 4, "thick": 90, "grey": 30}[kind]
            d.line(points, fill=(90, 90, 90, 200) if kind == "grey" else (0, 0, 0, 255), width=width, joint="curve")
        elif kind == "tiny":
            d.ellipse((600, 600, 700, 680), outline=(0, 0, 0, 255), width=12)
        elif kind == "huge":
            d.rectangle((8, 8, 1270, 1270), outline=(0, 0, 0, 255), width=40)
        elif kind == "dot":
            d.ellipse((600, 600, 612, 612), fill=(0, 0, 0, 255))
        elif kind == "scribble":
            for _ in range(40):
                d.line([tuple(rng.uniform(0, 1280, 2)), tuple(rng.uniform(0, 1280, 2))], fill=(0, 0, 0, 255), width=80)
        out.append(np.asarray(img.resize((CANVAS_PX, CANVAS_PX), Image.Resampling.LANCZOS)))
    return out


PREPROCESS_IN_PAGE = """async ([url, flat, size]) => {
  const prep = await import(new URL(url, document.baseURI).href);
  const r = prep.preprocessSteps(Uint8ClampedArray.from(flat), size, size);
  return { status: r.status, box: r.box, image: r.image ? Array.from(r.image) : null };
}"""


def test_the_ported_preprocessing_gives_the_servers_28x28(page, app_url):
    page.goto(f"{app_url}/Draw")
    page.get_by_test_id("draw-live").wait_for(state="attached", timeout=120_000)
    for rgba in synthetic_canvases():
        server = shape_preprocess.preprocess_steps(rgba)
        browser = page.evaluate(PREPROCESS_IN_PAGE, ["app/static/draw/preprocess.js", rgba.ravel().tolist(), CANVAS_PX])
        assert browser["status"] == server.status
        assert (browser["box"] is None) == (server.box is None)
        if server.box is not None:
            assert tuple(browser["box"]) == server.box
        if server.image is not None:
            diff = np.abs(np.asarray(browser["image"]).reshape(28, 28) - server.image.astype(int))
            assert diff.max() <= 1, diff.max()  # within 1/255 (measured on 480 random canvases: identical)


def decode_png(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"))


def test_a_drawn_stroke_gives_the_servers_input_and_top_class(page, app_url):
    open_draw(page, app_url, "browser")
    loaded = shapes.load_shipped()
    names = shapes.class_names_for(loaded.metadata, loaded.model)
    for i, (_name, strokes) in enumerate(single_strokes(4, seed0=40)):
        if i:
            reset_canvas(page)
        browser_answer_ms(page, strokes)
        # The answer's attributes and the pixels it was made from, read in one go: a page update after the mouse-up
        # answers again from a fresh read of the canvas, so two separate reads could straddle it.
        attrs, png = page.get_by_test_id("draw-live").evaluate(
            "e => [Object.assign({}, e.dataset), window.__mlxDrawLive.lastPng()]"
        )
        rgba = decode_png(png)  # the very pixels the browser read for this answer
        steps = shape_preprocess.preprocess_steps(rgba)
        assert steps.status == "ok"
        browser_input = np.array([int(v) for v in attrs["input"].split(",")]).reshape(28, 28)
        assert np.abs(browser_input - steps.image.astype(int)).max() <= 1
        probs = shapes.predict_proba(loaded.model, steps.image)
        said = shape_verdict.verdict(probs, names, shape_verdict.min_confidence_for(loaded.metadata))
        assert attrs["top"] == said.name
        browser_probs = np.array([float(v) for v in attrs["probs"].split(",")])
        np.testing.assert_allclose(browser_probs, probs, atol=1e-4)  # TF.js against Keras, same weights


@pytest.fixture
def no_tfjs_page(browser):
    """A page whose browser cannot fetch TensorFlow.js (as behind a filter that blocks scripts)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/app/static/tfjs/**", lambda route: route.abort())
    context.add_init_script(SERVER_CLOCK_JS)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def test_without_tfjs_the_server_answers(no_tfjs_page, app_url):
    from playwright.sync_api import expect

    page = no_tfjs_page
    open_draw(page, app_url, "failed")
    (_name, strokes) = single_strokes(1)[0]
    ms, text = server_answer_ms(page, strokes)
    print(f"\nDraw on the server (TensorFlow.js blocked), mouse-up to answer: {ms:.1f} ms")
    assert text in shape_verdict.display_names(shapes.load_shipped().metadata["class_names"])
    # The server's own answer, bars and explanations, as before the browser answered.
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
    expect(page.get_by_text("What the first convolution layer sees")).to_be_visible()
    expect(page.get_by_test_id("draw-live").get_by_test_id("draw-top")).to_have_count(0)
