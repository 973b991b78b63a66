"""core.families.shapes.explain and core.figures.cnn: every conv and pool layer's activations in one pass, and one cell's
arithmetic recomputed in NumPy, checked against the layers' own outputs (the shipped model, the tiny config, and an
odd model with even kernels, strides and 'same' pooling) and against an independent keras.ops.conv reference."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.families.shapes import explain as cnn
from core.families.shapes import explain_figures as cnn_fig
from tests.helpers.shapes import drawing

TOLERANCE = 1e-5  # the arithmetic must give the layer's own output to this, in float64 against TF's float32


@pytest.fixture(scope="module")
def shipped():
    from core.store import models as store

    return store.load_family_model("shapes").model


@pytest.fixture(scope="module")
def tiny():
    """The tiny config's CNN with random, non-zero biases (a fresh model's are all zero)."""
    import keras

    from core.families.shapes import model as shapes
    from core.families.shapes.config import ShapeConfig

    keras.utils.set_random_seed(3)
    model = shapes.build_shape_cnn(ShapeConfig.tiny(), n_classes=3)
    conv = model.get_layer("conv_1")
    conv.bias.assign(np.random.default_rng(1).normal(0, 0.3, conv.bias.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def odd():
    """Even kernels, strides 2, 'same' and 'valid' padding, 'same' pooling and a linear conv: the general case. It
    reads 0-1 values: float32 keeps 1e-5 only on values of about 1, as in the shapes model after its Rescaling."""
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            keras.layers.Conv2D(3, 4, strides=2, padding="same", activation="relu", name="conv_a"),  # (5, 5, 3)
            keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool_a"),  # (3, 3, 3)
            keras.layers.Conv2D(2, 2, padding="valid", name="conv_b"),  # (2, 2, 2), linear
            keras.layers.MaxPooling2D((2, 1), name="pool_b"),  # (1, 2, 2)
        ]
    )
    for layer in (model.get_layer("conv_a"), model.get_layer("conv_b")):
        layer.bias.assign(np.random.default_rng(2).normal(0, 0.5, layer.bias.shape).astype(np.float32))
    return model


def sample_cells(shape: tuple[int, int, int], rng: np.random.Generator, n_random: int = 6):
    """Corners and edges (where 'same' padding matters), the centre, the strongest cell, and random ones."""
    h, w, c = shape
    cells = {(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (0, w // 2), (h // 2, 0), (h // 2, w // 2)}
    cells |= {(int(rng.integers(h)), int(rng.integers(w))) for _ in range(n_random)}
    channels = sorted({0, c - 1, *map(int, rng.integers(0, c, 3))})
    return [(r, col, ch) for r, col in sorted(cells) for ch in channels]


def conv_reference(model, layer: str, layer_input: np.ndarray) -> np.ndarray:
    """The layer's pre-activation by keras.ops.conv, independent of the NumPy arithmetic under test."""
    import keras

    conv = model.get_layer(layer)
    out = keras.ops.conv(layer_input[None], conv.kernel, strides=conv.strides, padding=conv.padding)
    return np.asarray(out)[0] + np.asarray(conv.bias)  # (H, W, filters)


@pytest.mark.parametrize("which", ["shipped", "tiny", "odd"])
def test_every_cell_arithmetic_gives_the_layers_own_output(which, request):
    model = request.getfixturevalue(which)
    image = np.random.default_rng(7).uniform(0, 1, (9, 9, 2)) if which == "odd" else drawing(7)
    acts = cnn.layer_activations(model, image)
    rng = np.random.default_rng(0)
    kinds = {cnn.layer_kind(model, name) for name in acts.outputs}
    assert kinds == {"conv", "pool"}
    checked = 0
    for layer, out in acts.outputs.items():
        reference = conv_reference(model, layer, acts.inputs[layer]) if cnn.layer_kind(model, layer) == "conv" else None
        cells = sample_cells(out.shape, rng)
        if which == "tiny":  # small enough to check every cell of every filter
            cells = [(r, c, f) for r in range(out.shape[0]) for c in range(out.shape[1]) for f in range(out.shape[2])]
        for row, col, channel in cells:
            cell = cnn.cell_arithmetic(model, acts, layer, row, col, channel)
            assert abs(cell.output - out[row, col, channel]) <= TOLERANCE, (layer, row, col, channel)
            if reference is not None:
                assert abs(cell.pre_activation - reference[row, col, channel]) <= TOLERANCE
                assert cell.pre_activation == pytest.approx(cell.products.sum() + cell.bias, abs=1e-12)
            checked += 1
        assert np.abs(out).max() > 0, f"{layer} is all zero: the drawing tests nothing there"
    assert checked >= 5 * len(acts.outputs)


def test_shipped_model_has_every_conv_and_pool_layer_with_its_shapes(shipped):
    outputs = cnn.layer_outputs(shipped, drawing(1))
    shapes_seen = {name: out.shape for name, out in outputs.items()}
    assert shapes_seen == {
        "conv_1": (28, 28, 32),
        "pool_1": (14, 14, 32),
        "conv_2": (14, 14, 64),
        "pool_2": (7, 7, 64),
        "conv_3": (7, 7, 128),
        "pool_3": (3, 3, 128),
    }


def test_the_last_pool_output_is_what_the_dense_layers_read(shipped):
    """The activations are the model's own: pushing pool_3 through the rest of the model gives its prediction."""
    from core.families.shapes import model as shapes

    image = drawing(2)
    pooled = cnn.layer_outputs(shipped, image)["pool_3"]
    x = shipped.get_layer("flatten")(pooled[None])
    probs = shipped.get_layer("dense_out")(shipped.get_layer("dense_hidden")(x))
    np.testing.assert_allclose(np.asarray(probs)[0], shapes.predict_proba(shipped, image), atol=1e-6)


def test_conv_1_input_is_the_drawing_scaled_to_0_1(shipped):
    image = drawing(3)
    np.testing.assert_allclose(cnn.layer_activations(shipped, image).inputs["conv_1"][..., 0], image / 255.0, atol=1e-7)


def test_the_forward_view_is_built_once_per_model(shipped, tiny):
    assert cnn._view(shipped) is cnn._view(shipped)
    assert cnn._view(shipped)[0] is not cnn._view(tiny)[0]


def test_a_corner_conv_cell_reads_zero_padding(shipped):
    image = drawing(4)
    image[:2, :2] = 255  # ink in the corner, so the window's inside part is not zero too
    acts = cnn.layer_activations(shipped, image)
    cell = cnn.conv_cell_arithmetic(shipped, image, "conv_1", 0, 0, 5, acts)
    assert (cell.top, cell.left) == (-1, -1)
    assert cell.outside.tolist() == [[True, True, True], [True, False, False], [True, False, False]]
    assert (cell.window[cell.outside] == 0).all()
    np.testing.assert_allclose(cell.window[1:, 1:, 0], image[:2, :2] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(cell.kernel, np.asarray(shipped.get_layer("conv_1").kernel)[:, :, :, 5])
    assert cell.bias == pytest.approx(float(np.asarray(shipped.get_layer("conv_1").bias)[5]))


def test_a_pool_cell_is_the_max_of_its_2x2_window(shipped):
    image = drawing(5)
    acts = cnn.layer_activations(shipped, image)
    conv = acts.outputs["conv_2"]
    for row, col, channel in [(0, 0, 0), (3, 5, 10), (6, 6, 63)]:
        cell = cnn.pool_cell(shipped, image, "pool_2", row, col, channel)
        np.testing.assert_array_equal(cell.window, conv[2 * row : 2 * row + 2, 2 * col : 2 * col + 2, channel])
        assert cell.output == cell.window.max() == cell.window[cell.argmax]
        assert not cell.outside.any()


def test_the_written_arithmetic_adds_up(shipped):
    image = drawing(6)
    acts = cnn.layer_activations(shipped, image)
    cell = cnn.conv_cell_arithmetic(shipped, image, "conv_2", 4, 9, 17, acts)
    lines = cnn.conv_equation(cell, 3)
    assert lines[0].startswith("input channel 4:") and lines[0].count("×") == 9
    assert lines[1].startswith("sum over the 32 input channels:") and lines[1].count(" + ") == 31
    assert lines[2].startswith("+ bias")
    last = float(re.findall(r"= (-?\d+\.\d+)$", lines[-1])[0])
    assert last == pytest.approx(cell.output, abs=5e-5)
    first = float(re.findall(r"= (-?\d+\.\d+)$", lines[0])[0])
    assert first == pytest.approx(cell.channel_sums[3], abs=5e-5)
    one_channel = cnn.conv_equation(cnn.conv_cell_arithmetic(shipped, image, "conv_1", 4, 9, 0, acts), 0)
    assert not any(line.startswith("sum over") for line in one_channel)
    pool = cnn.pool_cell(shipped, image, "pool_1", 3, 4, 2, acts)
    text = cnn.pool_equation(pool)
    assert text.startswith("max(") and text.count(",") == 3
    assert float(text.rsplit("= ", 1)[1]) == pytest.approx(pool.output, abs=5e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x: cnn.cell_arithmetic(m, cnn.layer_activations(m, x), "conv_1", 28, 0, 0), "has no row 28"),
        (lambda m, x: cnn.cell_arithmetic(m, cnn.layer_activations(m, x), "pool_3", 0, -1, 0), "has no column -1"),
        (lambda m, x: cnn.cell_arithmetic(m, cnn.layer_activations(m, x), "conv_3", 0, 0, 128), "has no filter 128"),
        (lambda m, x: cnn.cell_arithmetic(m, cnn.layer_activations(m, x), "dense_out", 0, 0, 0), "no conv or pool"),
        (lambda m, x: cnn.conv_cell_arithmetic(m, x, "pool_1", 0, 0, 0), "no convolution layer named 'pool_1'"),
        (lambda m, x: cnn.pool_cell(m, x, "conv_1", 0, 0, 0), "no max-pooling layer named 'conv_1'"),
        (lambda m, x: cnn.layer_outputs(m, x[:10]), "not (10, 28)"),
        (lambda m, x: cnn.layer_outputs(m, np.full((28, 28), np.nan)), "not finite"),
    ],
)
def test_bad_cells_layers_and_images_get_a_plain_message(shipped, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(shipped, drawing(0))


def test_a_dilated_convolution_is_refused_in_words():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, dilation_rate=2, name="c")])
    with pytest.raises(ValueError, match="dilated"):
        cnn.conv_cell_arithmetic(model, np.zeros((8, 8, 1)), "c", 0, 0, 0)


# ---------------------------------------------------------------- figures


def test_feature_map_figure_marks_the_cell_and_a_click_reads_it_back():
    values = np.random.default_rng(0).random((7, 5))
    fig = cnn_fig.feature_map_figure(values, selected=(2, 4), title="t")
    heat, dots = fig.data
    np.testing.assert_array_equal(np.asarray(heat.z), values)
    assert len(dots.x) == 35
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (4.5, 5.5, 2.5, 3.5)  # column 5, row 3 on axes numbered from 1
    for index in (0, 13, 34):
        point = {"x": dots.x[index], "y": dots.y[index], "point_index": index}
        cell = cnn_fig.clicked_cell({"selection": {"points": [point]}}, values.shape)
        assert cell == divmod(index, 5)
        assert f"{values[cell]:.4f}" in dots.text[index]


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"selection": {"points": []}},
        {"selection": {"points": [{"x": "a", "y": 1}]}},
        {"selection": {"points": [{"x": 9, "y": 1}]}},
        {"selection": {"points": [{"x": float("nan"), "y": 1}]}},
    ],
)
def test_a_click_report_without_a_cell_selects_nothing(event):
    assert cnn_fig.clicked_cell(event, (7, 5)) is None


def test_conv_cell_figure_shows_window_kernel_and_products(shipped):
    image = drawing(8)
    cell = cnn.conv_cell_arithmetic(shipped, image, "conv_2", 0, 13, 3)
    fig = cnn_fig.conv_cell_figure(cell, 7)
    window, kernel, products = (np.asarray(t.z, dtype=float) for t in fig.data)
    np.testing.assert_array_equal(window, cell.window[:, :, 7])
    np.testing.assert_array_equal(kernel, cell.kernel[:, :, 7])
    np.testing.assert_allclose(products, window * kernel)
    text = np.asarray(fig.data[0].text)
    assert (text[cell.outside] == "0 (pad)").all() and cell.outside[0].all()
    assert not any(t.startswith("-0.000") for t in np.asarray(fig.data[2].text).ravel())  # 0 x negative is 0
    shares = cnn_fig.channel_shares_figure(cell, 7)
    bars = np.asarray(shares.data[0].y, dtype=float)
    assert len(bars) == 33 and bars.sum() == pytest.approx(cell.pre_activation, abs=1e-9)
    assert shares.data[0].marker.color[7] == cnn_fig.MARK


def test_pool_cell_figure_outlines_the_max(shipped):
    image = drawing(9)
    row, col = np.unravel_index(np.argmax(cnn.layer_outputs(shipped, image)["pool_1"][:, :, 4]), (14, 14))
    cell = cnn.pool_cell(shipped, image, "pool_1", int(row), int(col), 4)
    assert cell.output > 0 and (cell.window < cell.output).any()  # a real max, not a window of ties
    fig = cnn_fig.pool_cell_figure(cell)
    box = fig.layout.shapes[0]
    assert (box.y0 - 0.5, box.x0 - 0.5) == cell.argmax  # axes number the window's cells from 1
    assert f"{cell.output:.4f}" in fig.layout.title.text


def test_layer_mosaic_has_a_tile_per_filter():
    maps = np.random.default_rng(0).random((7, 7, 128))
    picture = cnn_fig.layer_mosaic(maps, width_px=128)
    assert picture.shape == (8 * 8 - 1, 16 * 8 - 1, 3)  # 16 columns x 8 rows of 7x7 tiles with 1-pixel gaps
