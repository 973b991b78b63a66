"""AppTest of the Draw page with an injected canvas value.

AppTest shows the drawable canvas as an unknown (bidi) component element. Its value lives in session_state
under the widget key, as {"drawing": {"raw": fabric JSON, "data": PNG data URL}, "backgroundFit": None}, and
st_canvas reads it from there, so setting that key before a run is how a test "draws".
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.families.shapes import generator as shape_generator
from core.store import samples
from tests.helpers.apptest import app_test

CANVAS_KEY = "draw.canvas.0"


def data_url(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def canvas_value(draw_fn) -> dict:
    img = Image.new("RGBA", (320, 320), (255, 255, 255, 255))
    draw_fn(ImageDraw.Draw(img))
    return {
        "drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url(np.asarray(img))},
        "backgroundFit": None,
    }


def circle(d):
    d.ellipse((60, 60, 260, 260), outline=(0, 0, 0, 255), width=10)


def triangle(d):
    d.line([(160, 40), (280, 270), (40, 270), (160, 40)], fill=(0, 0, 0, 255), width=10, joint="curve")


def dot(d):
    d.ellipse((150, 150, 156, 156), fill=(0, 0, 0, 255))


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [w.value for w in at.warning] + [e.value for e in at.error]
    parts += [s.value for s in at.success] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def page():
    at = app_test("pages/2_Draw.py")
    at.run()
    assert not at.exception
    return at


def test_blank_canvas_says_draw_a_shape_and_predicts_nothing(page):
    assert "<h3 data-testid='draw-empty'>Draw a shape</h3>" in texts(page)
    assert "draw-top" not in texts(page)
    assert not page.selectbox  # no correction box without a prediction, and no samples to browse yet


def test_injected_drawing_is_predicted_with_bars_steps_and_maps(page):
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    assert not page.exception
    text = texts(page)
    assert "data-testid='draw-top'" in text and ">circle</b>" in text
    assert "draw-empty" not in text
    assert "How the drawing becomes the network's input" in [s.value for s in page.subheader]
    assert "What the first convolution layer sees" in [s.value for s in page.subheader]
    captions = [c for img in page.get("image") for c in img.captions]
    assert any(c.startswith("4 · what the model reads") for c in captions)
    maps_caption = next(c for c in captions if c.startswith("conv_1: 32 feature maps"))
    assert "The strongest response is filter" in maps_caption


def test_a_triangle_is_predicted_as_a_triangle(page):
    page.session_state[CANVAS_KEY] = canvas_value(triangle)
    page.run()
    assert ">triangle</b>" in texts(page)


def test_a_single_dot_gets_a_message_not_a_prediction(page):
    page.session_state[CANVAS_KEY] = canvas_value(dot)
    page.run()
    assert not page.exception
    assert "just a dot" in texts(page)
    assert ">none of these</b>" in texts(page) and "sure)" not in texts(page)
    assert not page.selectbox  # nothing to correct: no shape was named


def test_a_scribble_gets_a_warning(page):
    rng = np.random.default_rng(0)
    page.session_state[CANVAS_KEY] = canvas_value(
        lambda d: d.line([tuple(p) for p in rng.uniform(0, 320, (150, 2))], fill=(0, 0, 0, 255), width=30)
    )
    page.run()
    assert not page.exception
    assert "scribble" in texts(page) and ">none of these</b>" in texts(page)


def house(d):
    d.rectangle((80, 150, 240, 290), outline=(0, 0, 0, 255), width=10)
    d.line([(60, 160), (160, 50), (260, 160)], fill=(0, 0, 0, 255), width=10, joint="curve")
    d.rectangle((140, 220, 180, 290), outline=(0, 0, 0, 255), width=8)


def smiley(d):
    d.ellipse((50, 50, 270, 270), outline=(0, 0, 0, 255), width=10)
    d.ellipse((110, 110, 130, 130), fill=(0, 0, 0, 255))
    d.ellipse((190, 110, 210, 130), fill=(0, 0, 0, 255))
    d.arc((100, 120, 220, 220), 20, 160, fill=(0, 0, 0, 255), width=10)


@pytest.mark.parametrize("drawing", [house, smiley])
def test_a_drawing_that_is_no_shape_is_none_of_these(page, drawing):
    page.session_state[CANVAS_KEY] = canvas_value(drawing)
    page.run()
    assert not page.exception
    assert ">none of these</b>" in texts(page) and "None of the shapes I know" in texts(page)


def test_the_page_says_what_the_model_was_measured_on(page):
    text = texts(page)
    assert "held-out real drawings of circle, square, triangle and star" in text
    assert "drawings of words it never saw" in text


def test_the_layer_view_is_closed_until_asked_for(page):
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    assert "Every layer, one neuron at a time" not in [s.value for s in page.subheader]
    page.toggle(key="draw.layers_open").set_value(True).run()
    assert not page.exception
    assert "Every layer, one neuron at a time" in [s.value for s in page.subheader]


def test_correction_saves_the_drawing_as_a_sample(page):
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    page.selectbox(key="draw.truth").set_value("octagon")
    page.button(key="draw.correct").click()
    page.run()
    assert not page.exception
    assert samples.drawing_counts() == {"octagon": 1}
    image = samples.drawings()[0][1]
    assert image.shape == (28, 28) and image.max() == 255
    assert "octagon" in texts(page)


def test_new_class_sample_then_view_and_delete(page):
    page.session_state[CANVAS_KEY] = canvas_value(triangle)
    page.run()
    page.text_input(key="draw.new_label").set_value("Party Hat")
    page.button(key="draw.save").click()
    page.run()
    assert samples.drawing_counts() == {"party hat": 1}
    assert page.selectbox(key="draw.show_class").value == "party hat"
    sample_id = samples.drawings()[0][0]
    page.button(key=f"draw.delete.{sample_id}").click()
    page.run()
    assert samples.drawing_counts() == {"party hat": 1}  # it asks first
    page.button(key=f"draw.delete.{sample_id}.yes").click()
    page.run()
    assert not page.exception
    assert samples.drawing_counts() == {}


@pytest.mark.parametrize(
    ("label", "message"), [("", "empty"), ("x" * 40, "characters long"), ("../../etc/passwd", "path characters")]
)
def test_bad_class_names_are_refused_and_nothing_is_saved(page, label, message):
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    page.text_input(key="draw.new_label").set_value(label)
    page.button(key="draw.save").click()
    page.run()
    assert not page.exception
    assert message in texts(page)
    assert samples.drawing_counts() == {}
    assert ">circle</b>" in texts(page)  # the drawing and its prediction are still there


def test_unwritable_sample_database_gives_a_clear_message(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLX_DB_PATH", str(blocker / "samples.sqlite3"))
    at = app_test("pages/2_Draw.py")
    at.session_state[CANVAS_KEY] = canvas_value(circle)
    at.run()
    assert not at.exception
    assert "cannot be opened or written" in texts(at)
    at.button(key="draw.correct").click()
    at.run()
    assert not at.exception
    assert "still on the canvas" in texts(at)


def test_export_button_offers_the_samples(page):
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    page.button(key="draw.correct").click()
    page.run()
    assert sum(samples.drawing_counts().values()) == 1
    assert len(page.get("download_button")) == 1


def test_the_page_uses_the_session_active_model(page, tmp_path):
    """A version with a new class, made active for the session, is what the page predicts with."""
    from core.families.shapes import model as shapes
    from core.families.shapes.config import ShapeConfig
    from core.store import models as store

    model = shapes.build_shape_cnn(ShapeConfig.tiny(), n_classes=9)
    names = [*shape_generator.CLASS_NAMES, "heart"]
    folder = tmp_path / "version"
    store.save_model(model, folder, {"class_names": names})
    page.session_state["active.shapes"] = str(folder)
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    assert not page.exception
    assert "9 classes" in texts(page)


def test_reruns_keep_keras_state():
    """Streamlit's after-run cleanup would clear Keras' global state (and TF's kernel cache) after every live
    prediction; ui.models turns that off. A value put in Keras' global state must survive a rerun."""
    from keras.src.backend.common import global_state

    at = app_test("pages/2_Draw.py")
    at.session_state[CANVAS_KEY] = canvas_value(circle)
    at.run()
    assert not at.exception
    global_state.set_global_attribute("mlx_probe", 42)
    at.run()
    assert global_state.get_global_attribute("mlx_probe") == 42


def test_server_config_skips_the_forced_collection_after_each_rerun():
    import tomllib

    from tests.helpers.paths import REPO

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


# ---------------------------------------------------------------- every layer, one neuron at a time (issue 17)

LAYERS = {
    "conv_1": (28, 28, 32),
    "pool_1": (14, 14, 32),
    "conv_2": (14, 14, 64),
    "pool_2": (7, 7, 64),
    "conv_3": (7, 7, 128),
    "pool_3": (3, 3, 128),
}
SHOWN_CELL = re.compile(
    r"\*\*(\w+), (?:filter|channel) (\d+), row (\d+), column (\d+) = (-?[\d.]+)\*\*\s+"
    r"The layer's own output there: (-?[\d.]+)\."
)


def shown_cell(at) -> tuple[str, int, int, int, float, float]:
    """(layer, filter, row, column (1-based), the arithmetic's value, the layer output's value) as the page shows."""
    found = [SHOWN_CELL.search(str(m.value)) for m in at.markdown]
    match = next(m for m in found if m)
    layer, f, r, c, value, own = match.groups()
    return layer, int(f), int(r), int(c), float(value), float(own)


@pytest.fixture(scope="module")
def shipped_outputs_for():
    """The shipped model's conv/pool outputs for an image, computed here, apart from the page."""
    from core.families.shapes import explain as cnn_explain
    from core.store import models as store

    model = store.load_family_model("shapes").model
    return lambda image: cnn_explain.layer_outputs(model, image)


def test_every_layer_is_shown_and_a_cell_explained(page, shipped_outputs_for):
    page.session_state["draw.layers_open"] = True  # the view opens on request
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    assert not page.exception
    assert "Every layer, one neuron at a time" in [s.value for s in page.subheader]
    captions = [c for img in page.get("image") for c in img.captions]
    for name, (h, w, n) in LAYERS.items():
        assert f"{name} · {h}×{w}×{n}" in captions
    assert page.radio(key="draw.cnn.layer").options == [f"{n} ({h}×{w}×{c})" for n, (h, w, c) in LAYERS.items()]
    layer, f, r, c, value, own = shown_cell(page)
    outputs = shipped_outputs_for(page.session_state["draw"].image)
    assert layer == "conv_1" and value == own
    assert value == pytest.approx(float(outputs["conv_1"][r - 1, c - 1, f - 1]), abs=5e-5)
    assert value > 0  # the page opens on the strongest cell of the strongest filter, not on a dead one
    equation = page.code[0].value
    assert equation.startswith("input channel 1:") and equation.count("×") == 9
    assert equation.rstrip().endswith(f"= {value:.4f}") and "ReLU" in equation


def test_any_cell_of_any_layer_can_be_picked_with_the_controls(page, shipped_outputs_for):
    page.session_state["draw.layers_open"] = True  # the view opens on request
    page.session_state[CANVAS_KEY] = canvas_value(triangle)
    page.run()
    outputs = shipped_outputs_for(page.session_state["draw"].image)
    rng = np.random.default_rng(4)
    for name, (h, w, n) in LAYERS.items():
        page.radio(key="draw.cnn.layer").set_value(name)
        page.run()
        want = (int(rng.integers(1, n + 1)), int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        for part, value in zip(("filter", "row", "col"), want):
            page.number_input(key=f"draw.cnn.{part}.{name}").set_value(value)
        page.run()
        assert not page.exception
        layer, f, r, c, value, own = shown_cell(page)
        assert (layer, f, r, c) == (name, *want)
        assert value == own == pytest.approx(float(outputs[name][r - 1, c - 1, f - 1]), abs=5e-5)
        equation = page.code[0].value
        if name.startswith("pool"):
            assert equation.startswith("max(") and equation.endswith(f"= {value:.4f}")
        else:
            assert "sum over the" in equation or name == "conv_1"
            assert equation.rstrip().endswith(f"= {value:.4f}")


def test_the_input_channel_control_writes_out_that_channel(page):
    page.session_state["draw.layers_open"] = True  # the view opens on request
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    page.radio(key="draw.cnn.layer").set_value("conv_2")
    page.run()
    page.number_input(key="draw.cnn.channel.conv_2").set_value(17)
    page.run()
    assert not page.exception
    lines = page.code[0].value.splitlines()
    assert lines[0].startswith("input channel 17:")
    assert lines[1].startswith("sum over the 32 input channels:") and lines[1].count(" + ") == 31


def test_stale_cell_choices_are_brought_back_into_range(page):
    page.session_state["draw.layers_open"] = True  # the view opens on request
    """A row or filter left in the session from another model's larger layer must not break the page."""
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.session_state["draw.cnn.row.conv_1"] = 99
    page.session_state["draw.cnn.filter.conv_1"] = 0
    page.run()
    assert not page.exception and not page.error
    layer, f, r, c, value, own = shown_cell(page)
    assert layer == "conv_1" and 1 <= f <= 32 and 1 <= r <= 28 and value == own


def test_a_saved_drawing_is_listed_at_once_and_is_private_to_its_owner():
    from tests.helpers.apptest import app_test_as

    mine = app_test_as("pages/2_Draw.py", owner="u" + "1" * 20).run()
    mine.session_state[CANVAS_KEY] = canvas_value(circle)
    mine.run()
    mine.text_input(key="draw.new_label").set_value("moon")
    mine.button(key="draw.save").click().run()
    assert not mine.exception
    assert "Saved this drawing as a sample of “moon”." in [s.value for s in mine.success]
    assert not any("No samples yet" in i.value for i in mine.info)  # the list under it already has the sample
    assert mine.selectbox(key="draw.show_class").value == "moon"
    assert samples.drawing_counts(owner="u" + "1" * 20) == {"moon": 1}

    theirs = app_test_as("pages/2_Draw.py", owner="u" + "2" * 20).run()
    assert any("No samples yet" in i.value for i in theirs.info)  # another user sees none of them
    sample_id = samples.drawings(owner="u" + "1" * 20)[0][0]
    assert samples.delete_drawing(sample_id, owner="u" + "2" * 20) == 0  # and cannot delete them
    assert samples.drawing_counts() == {"moon": 1}


def test_the_view_goes_on_to_the_last_layer_and_the_softmax(page):
    """Flatten, each dense unit's weighted sum and the softmax are on the page, with the model's own numbers."""
    from core.families.shapes import explain_dense as dense
    from core.store import models as store

    page.session_state["draw.layers_open"] = True
    page.session_state[CANVAS_KEY] = canvas_value(circle)
    page.run()
    assert not page.exception
    assert "From the last maps to the answer" in [s.value for s in page.subheader]
    assert page.radio(key="draw.dense.layer").options == ["dense_hidden (64 units)", "dense_out (9 units)"]
    model = store.load_family_model("shapes").model
    acts = dense.dense_activations(model, page.session_state["draw"].image)
    unit = int(np.argmax(acts.dense["dense_hidden"]))  # the view opens on the strongest unit
    assert page.number_input(key="draw.dense.unit.dense_hidden").value == unit + 1
    shown = [m.value for m in page.markdown if m.value.startswith("**dense_hidden, unit")]
    assert shown == [f"**dense_hidden, unit {unit + 1} = {acts.dense['dense_hidden'][unit]:.4f}**  \n"
                     f"Recomputed here from the layer's weights: "
                     f"{dense.dense_unit(model, acts, 'dense_hidden', unit).pre_activation:.4f} before its activation "
                     "(relu)."]  # fmt: skip
    softmax_lines = [c.value for c in page.code if "e^ =" in c.value][0].splitlines()
    assert len(softmax_lines) == 9
    best = int(np.argmax(acts.probabilities))
    assert softmax_lines[best].endswith(f"= {acts.probabilities[best]:.1%}")
    page.radio(key="draw.dense.layer").set_value("dense_out").run()
    assert not page.exception
    logits_line = [m.value for m in page.markdown if m.value.startswith("**dense_out, unit")][0]
    assert logits_line.startswith(f"**dense_out, unit {best + 1} = {acts.logits[best]:.4f}**")
