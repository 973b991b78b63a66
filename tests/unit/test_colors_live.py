"""The Colors page's in-browser network and decision regions: the exported weights, the JavaScript forward pass (its
NumPy mirror; the JS itself under Node is in tests/integration, the page in Chromium in tests/browser) against Keras,
the decision grid against predict_proba, and the figure built from it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.families.colors import figures as colors_fig
from core.families.colors import live as colors_live
from core.families.colors import model as colors
from tests.helpers.colors_live import FAMILY_HEX, MODELS, probe_colours, shipped


def forward_like_js(w: dict, rgb) -> tuple[np.ndarray, np.ndarray]:
    """A NumPy copy of FORWARD_JS, step for step: rescale, sigmoid hidden layer, logits, max-shifted softmax."""
    x = np.asarray(rgb, dtype=np.float64) * w["scale"] + w["offset"]  # (3,)
    hidden = 1 / (1 + np.exp(-(np.asarray(w["hidden_bias"]) + x @ np.asarray(w["hidden_kernel"]))))  # (H,)
    logits = np.asarray(w["logits_bias"]) + hidden @ np.asarray(w["logits_kernel"])  # (9,)
    e = np.exp(logits - logits.max())
    return logits, e / e.sum()


# ---------------------------------------------------------------- forward_weights and the JS forward pass


def test_forward_weights_are_plain_numbers_of_the_right_shapes():
    w = colors.forward_weights(shipped())
    assert w["scale"] == pytest.approx(1 / 255) and w["offset"] == 0.0
    hidden = np.asarray(w["hidden_kernel"])
    assert hidden.shape == (3, 32) and len(w["hidden_bias"]) == 32
    assert np.asarray(w["logits_kernel"]).shape == (32, len(colors.FAMILIES)) and len(w["logits_bias"]) == 9
    json.dumps(w, allow_nan=False)  # raises on anything but finite numbers and lists of them
    kernel, _ = shipped().get_layer("hidden").get_weights()
    np.testing.assert_array_equal(hidden, kernel)


@MODELS
def test_numpy_mirror_of_the_js_equals_keras(model):
    w = colors.forward_weights(model())
    rgb = probe_colours()
    keras_logits, keras_probs = colors.predict_logits_proba(model(), rgb)
    for i, colour in enumerate(rgb):
        logits, probs = forward_like_js(w, colour)
        np.testing.assert_allclose(logits, keras_logits[i], atol=1e-5)
        np.testing.assert_allclose(probs, keras_probs[i], atol=1e-5)


def test_forward_weights_refuses_another_network_plainly():
    import keras

    relu = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Dense(4, activation="relu", name="hidden"),
            keras.layers.Dense(9, name="logits"),
            keras.layers.Activation("softmax"),
        ]
    )
    with pytest.raises(ValueError, match="sigmoid hidden units.*relu"):
        colors.forward_weights(relu)
    no_rescale = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(4, activation="sigmoid", name="hidden"), keras.layers.Dense(9)]
    )
    with pytest.raises(ValueError, match="this model's layers are Dense, Dense"):
        colors.forward_weights(no_rescale)


# ---------------------------------------------------------------- the HTML view


def embedded_data(html: str) -> dict:
    return json.loads(html.split("const DATA = ", 1)[1].split(";\n", 1)[0])


def test_live_view_is_self_contained_and_recomputes_on_input():
    w = colors.forward_weights(shipped())
    html = colors_live.live_view_html(w, (10, 20, 30), colors.CLASS_NAMES, FAMILY_HEX)
    lowered = html.lower()
    for outside in ("http:", "https:", "src=", "<link", "import ", "fetch(", "xmlhttprequest", "@import"):
        assert outside not in lowered, outside
    assert lowered.count("<script") == 1
    assert 'addEventListener("input", render)' in html
    assert html.count('type="range"') == 3
    data = embedded_data(html)
    assert data["start"] == [10, 20, 30]
    assert data["names"] == list(colors.CLASS_NAMES) and data["colors"] == FAMILY_HEX
    assert data["weights"] == w
    assert colors_live.FORWARD_JS in html


def test_live_view_escapes_text_and_refuses_bad_values():
    w = colors.forward_weights(shipped())
    hostile = ["</script><script>alert(1)</script>"] + [f"c{i}" for i in range(8)]
    html = colors_live.live_view_html(w, (0, 0, 0), hostile, FAMILY_HEX)
    assert "alert(1)</script>" not in html and html.count("</script>") == 1
    assert embedded_data(html)["names"][0] == hostile[0]  # the name survives, as data
    with pytest.raises(ValueError, match="#rrggbb"):
        colors_live.live_view_html(w, (0, 0, 0), colors.CLASS_NAMES, ["red"] * 9)
    with pytest.raises(ValueError, match="one name and one colour per output"):
        colors_live.live_view_html(w, (0, 0, 0), colors.CLASS_NAMES[:3], FAMILY_HEX)
    with pytest.raises(ValueError, match="between 0 and 255"):
        colors_live.live_view_html(w, (0, 300, 0), colors.CLASS_NAMES, FAMILY_HEX)
    broken = {k: v for k, v in w.items() if k != "hidden_kernel"}
    with pytest.raises(ValueError, match="lack hidden_kernel"):
        colors_live.live_view_html(broken, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX)
    with pytest.raises(ValueError):  # NaN is never written into the page
        colors_live.live_view_html({**w, "scale": math.nan}, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX)


# ---------------------------------------------------------------- the decision grid and its figure


def test_decision_grid_shapes_and_slice():
    grid = colors.decision_grid(shipped(), "g", 77, steps=16)
    assert grid.fixed_channel == "G" and grid.fixed_value == 77 and grid.axes == ("R", "B")
    assert grid.rgb.shape == (16, 16, 3) and grid.probabilities.shape == (16, 16, 9)
    assert grid.family.shape == grid.confidence.shape == (16, 16)
    assert grid.values[0] == 0 and grid.values[-1] == 255 and len(set(grid.values.tolist())) == 16
    assert (grid.rgb[..., 1] == 77).all()
    np.testing.assert_array_equal(grid.rgb[3, 5], [grid.values[5], 77, grid.values[3]])  # [y, x] = [B, R]
    np.testing.assert_allclose(grid.probabilities.sum(axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(grid.confidence, grid.probabilities.max(axis=-1))


def test_decision_grid_argmax_equals_predict_proba_point_by_point():
    grid = colors.decision_grid(shipped(), "B", 96, steps=12)
    for y in range(0, 12, 3):
        for x in range(0, 12, 2):
            probs = colors.predict_proba(shipped(), grid.rgb[y, x].astype(np.float32))  # one colour at a time
            assert grid.family[y, x] == int(np.argmax(probs))
            np.testing.assert_allclose(grid.probabilities[y, x], probs, atol=1e-6)


def test_decision_grid_finds_the_obvious_colours():
    """Hold R at 255: the corner G = 0, B = 0 is pure red, and G = 240, B = 0 is pure yellow (per the model)."""
    grid = colors.decision_grid(shipped(), "R", 255, steps=256)
    assert colors.FAMILIES[grid.family[0, 0]] == "red"
    assert colors.FAMILIES[grid.family[0, 240]] == "yellow"  # [y=B, x=G]


@pytest.mark.parametrize(
    ("channel", "value", "steps", "message"),
    [
        ("alpha", 10, 8, "fixed channel must be R, G or B"),
        ("", 10, 8, "fixed channel must be R, G or B"),
        (None, 10, 8, "fixed channel must be R, G or B"),
        ("B", 256, 8, "B must be between 0 and 255"),
        ("G", -1, 8, "G must be between 0 and 255"),
        ("R", float("nan"), 8, "R is not a number"),
        ("R", "lots", 8, "R must be a number"),
        ("R", 0, 1, "whole number of steps from 2 to 256"),
        ("R", 0, 257, "whole number of steps from 2 to 256"),
        ("R", 0, 8.5, "whole number of steps"),
        ("R", 0, True, "whole number of steps"),
    ],
)
def test_decision_grid_refuses_bad_input_plainly(channel, value, steps, message):
    with pytest.raises(ValueError, match=message):
        colors.decision_grid(shipped(), channel, value, steps)


def test_decision_regions_figure_paints_each_cell_in_its_family_colour():
    grid = colors.decision_grid(shipped(), "B", 96, steps=16)
    figure = colors_fig.decision_regions(grid, colors.CLASS_NAMES, FAMILY_HEX, marker_rgb=(0, 96, 96))
    image, families, wash = figure.data[:3]
    np.testing.assert_array_equal(np.asarray(image.z), grid.rgb.astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(families.z), grid.family)
    np.testing.assert_allclose(np.asarray(wash.z), grid.confidence)
    assert wash.customdata[2][7] == colors.CLASS_NAMES[grid.family[2, 7]]
    scale = families.colorscale
    for k, hex_colour in enumerate(FAMILY_HEX):  # index k sits mid-band (zmin -0.5) and gets family k's colour
        position = (k - families.zmin) / (families.zmax - families.zmin)
        band = [c for p, c in scale if p <= position][-1]
        assert band.lower() == hex_colour.lower()
    legend = {t.name for t in figure.data if t.type == "scatter" and t.showlegend is not False and t.x == (None,)}
    assert legend == {colors.CLASS_NAMES[k] for k in np.unique(grid.family)}
    marks = [t for t in figure.data if t.name and t.name.startswith("your colour")]
    assert len(marks) == 2 and all(t.x == (0,) and t.y == (96,) for t in marks)  # R on x, G on y
    assert "off this slice" not in marks[0].name
    away = colors_fig.decision_regions(grid, colors.CLASS_NAMES, FAMILY_HEX, marker_rgb=(0, 96, 200))
    assert any("off this slice: B = 200" in (t.name or "") for t in away.data)
