"""core.families.shapes.explain_dense: flatten, every dense unit's weighted sum and the softmax, recomputed in NumPy
and checked against the shipped model's own layer outputs and against Keras."""

from __future__ import annotations

import numpy as np
import pytest

from core import maths
from core.families.shapes import explain_dense as dense
from core.families.shapes import explain_figures as cnn_fig
from tests.helpers.shapes import drawing

TOLERANCE = 1e-4  # float64 here against TF's float32 over 1,152-term sums


@pytest.fixture(scope="module")
def shipped():
    from core.store import models as store

    return store.load_family_model("shapes").model


def _keras_outputs(model, image):
    import keras

    names = ["flatten", *dense.dense_layer_names(model)]
    view = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
    return dict(zip(names, (np.asarray(o)[0] for o in view(image[None].astype(np.float32))), strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_dense_unit_is_its_weighted_sum_plus_bias_then_its_activation(shipped, seed):
    image = drawing(seed)
    acts = dense.dense_activations(shipped, image)
    reference = _keras_outputs(shipped, image)
    np.testing.assert_allclose(acts.flat, reference["flatten"], atol=TOLERANCE)
    assert acts.source == "pool_3" and acts.source_shape == (3, 3, 128) and acts.flat.size == 1152
    hidden = dense.dense_layer_names(shipped)[0]
    for unit in range(acts.dense[hidden].size):
        cell = dense.dense_unit(shipped, acts, hidden, unit)
        assert cell.source == "flatten" and cell.products.size == 1152
        assert max(0.0, cell.pre_activation) == pytest.approx(float(reference[hidden][unit]), abs=TOLERANCE)
        assert cell.output == pytest.approx(float(reference[hidden][unit]), abs=TOLERANCE)


def test_the_output_layer_gives_logits_and_the_softmax_gives_the_models_probabilities(shipped):
    image = drawing(5)
    acts = dense.dense_activations(shipped, image)
    out = dense.dense_layer_names(shipped)[-1]
    np.testing.assert_allclose(acts.probabilities, np.asarray(shipped(image[None]))[0], atol=TOLERANCE)
    for unit in range(acts.logits.size):
        cell = dense.dense_unit(shipped, acts, out, unit)
        assert cell.activation == "softmax" and cell.pre_activation == pytest.approx(acts.logits[unit], abs=1e-9)
    step = dense.softmax_step(acts.logits)
    np.testing.assert_allclose(step.probabilities, maths.softmax(acts.logits), atol=1e-12)
    np.testing.assert_allclose(step.probabilities, acts.probabilities, atol=TOLERANCE)
    assert step.shifted.max() == 0.0 and step.total == pytest.approx(step.exps.sum())
    assert dense.check_softmax(acts) < TOLERANCE


def test_the_equation_writes_the_largest_terms_and_adds_up(shipped):
    acts = dense.dense_activations(shipped, drawing(3))
    hidden = dense.dense_layer_names(shipped)[0]
    unit = int(np.argmax(acts.dense[hidden]))
    cell = dense.dense_unit(shipped, acts, hidden, unit)
    lines = dense.dense_equation(cell, acts.source_shape)
    assert len(lines) == dense.TOP_TERMS + 4  # the top terms, the rest, the sum, the bias, the ReLU
    assert "row " in lines[0] and "channel " in lines[0]  # a flatten entry says where it sat in pool_3's maps
    assert lines[-1] == f"ReLU: max(0, {cell.pre_activation:.4f}) = {max(0.0, cell.pre_activation):.4f}"
    largest = np.abs(cell.products).max()
    assert abs(cell.products[cell.top[0]]) == largest
    terms = cnn_fig.dense_terms_figure(cell).data[0].x
    assert sum(terms) == pytest.approx(cell.pre_activation, abs=1e-9)  # the bars add up to the weighted sum


def test_flat_positions_follow_keras_flatten_order(shipped):
    acts = dense.dense_activations(shipped, drawing(1))
    from core.families.shapes import explain as cnn

    pooled = cnn.layer_outputs(shipped, drawing(1))[acts.source]
    for index in (0, 1, 127, 128, 600, 1151):
        r, c, ch = dense.flat_position(index, acts.source_shape)
        assert acts.flat[index] == pytest.approx(float(pooled[r, c, ch]), abs=TOLERANCE)


def test_bad_requests_are_plain(shipped):
    acts = dense.dense_activations(shipped, drawing(0))
    with pytest.raises(ValueError, match="no Dense layer named 'conv_1'"):
        dense.dense_unit(shipped, acts, "conv_1", 0)
    with pytest.raises(ValueError, match="units 1 to 64"):
        dense.dense_unit(shipped, acts, "dense_hidden", 64)
    with pytest.raises(ValueError, match="shape"):
        dense.dense_activations(shipped, np.zeros((27, 28)))
    with pytest.raises(ValueError, match="finite"):
        dense.dense_activations(shipped, np.full((28, 28), np.nan))
