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


# ---------------------------------------------------------------- the picker's data


def test_live_data_carries_plain_numbers_and_the_forward_pass_js_is_hand_written():
    w = colors.forward_weights(shipped())
    probs = colors.predict_proba(shipped(), (10, 20, 30))
    data = colors_live.live_data(w, (10, 20, 30), colors.CLASS_NAMES, FAMILY_HEX, probs)
    assert data["rgb"] == [10, 20, 30] and data["weights"] == w
    assert data["names"] == list(colors.CLASS_NAMES) and data["colors"] == FAMILY_HEX
    np.testing.assert_allclose(data["probs"], probs)
    json.dumps(data, allow_nan=False)
    lowered = colors_live.FORWARD_JS.lower()
    for outside in ("http:", "https:", "import ", "fetch(", "tf."):  # no library, no network: the maths by hand
        assert outside not in lowered, outside
    server_only = colors_live.live_data(None, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX, probs)
    assert server_only["weights"] is None  # a model of another shape: the server's answer alone


def test_live_data_refuses_bad_values():
    w = colors.forward_weights(shipped())
    probs = [1 / 9] * 9
    with pytest.raises(ValueError, match="#rrggbb"):
        colors_live.live_data(w, (0, 0, 0), colors.CLASS_NAMES, ["red"] * 9, probs)
    with pytest.raises(ValueError, match="one name per output"):
        colors_live.live_data(w, (0, 0, 0), colors.CLASS_NAMES[:3], FAMILY_HEX[:3], probs[:3])
    with pytest.raises(ValueError, match="one colour and one probability per class"):
        colors_live.live_data(w, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX, probs[:4])
    with pytest.raises(ValueError, match="between 0 and 255"):
        colors_live.live_data(w, (0, 300, 0), colors.CLASS_NAMES, FAMILY_HEX, probs)
    broken = {k: v for k, v in w.items() if k != "hidden_kernel"}
    with pytest.raises(ValueError, match="lack hidden_kernel"):
        colors_live.live_data(broken, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX, probs)
    with pytest.raises(ValueError):  # NaN is never sent to a browser
        colors_live.live_data({**w, "scale": math.nan}, (0, 0, 0), colors.CLASS_NAMES, FAMILY_HEX, probs)


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


# ---------------------------------------------------------------- the server's answer and the three-ways view's data


@MODELS
def test_the_servers_numpy_forward_equals_keras(model):
    w = colors.forward_weights(model())
    for rgb in probe_colours():
        logits, probs = colors_live.forward(w, rgb)
        keras_logits, keras_probs = colors.predict_logits_proba(model(), rgb)
        np.testing.assert_allclose(logits, keras_logits, atol=1e-5)
        np.testing.assert_allclose(probs, keras_probs, atol=1e-6)
        np.testing.assert_allclose(probs, forward_like_js(w, rgb)[1], atol=1e-12)


def test_three_ways_data_carries_the_logits_and_refuses_non_numbers():
    logits = np.linspace(-2, 3, 9)
    data = colors_live.softmax_data(logits, colors.CLASS_NAMES, FAMILY_HEX)
    assert data["logits"] == pytest.approx(list(logits)) and data["names"] == list(colors.CLASS_NAMES)
    assert data["t_max"] > 0
    with pytest.raises(ValueError, match="NaN|finite|JSON"):
        colors_live.softmax_data([math.nan, *logits[1:]], colors.CLASS_NAMES, FAMILY_HEX)
    with pytest.raises(ValueError, match="one logit and one colour per class"):
        colors_live.softmax_data(logits[:3], colors.CLASS_NAMES, FAMILY_HEX)
    with pytest.raises(ValueError, match="hex"):
        colors_live.softmax_data(logits, colors.CLASS_NAMES, ["red"] * 9)
