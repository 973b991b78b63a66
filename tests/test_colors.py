"""The colour family: parsing, softmax lessons, data, a tiny training run, and the shipped model's behaviour."""

import keras
import numpy as np
import pytest

from core import colors
from core.config import ColorConfig


def test_softmax_matches_numpy_reference_and_keras():
    logits = np.array([[2.0, -1.0, 0.5, 0.0], [10.0, 10.0, -3.0, 1.0]])
    reference = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(colors.softmax(logits), reference, rtol=1e-12)
    np.testing.assert_allclose(colors.softmax(logits), np.asarray(keras.activations.softmax(logits)), rtol=1e-6)
    np.testing.assert_allclose(colors.softmax(logits).sum(axis=1), 1.0)


def test_softmax_is_stable_for_huge_logits():
    p = colors.softmax([1000.0, 999.0, -1000.0])
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12


def test_temperature_limits():
    logits = np.array([1.0, 3.0, 2.0])
    np.testing.assert_array_equal(colors.softmax(logits, 0.0), [0, 1, 0])  # T = 0 is argmax
    np.testing.assert_allclose(colors.softmax(logits, 1e-3), [0, 1, 0], atol=1e-12)  # T -> 0 approaches it
    np.testing.assert_allclose(colors.softmax(logits, 1e6), [1 / 3] * 3, atol=1e-5)  # T -> inf is uniform
    assert colors.softmax(logits, 0.5).max() > colors.softmax(logits).max() > colors.softmax(logits, 2.0).max()
    with pytest.raises(ValueError, match="temperature"):
        colors.softmax(logits, -1.0)


def test_softmax_widens_gaps_that_divide_by_sum_keeps():
    scores = np.array([1.0, 2.0, 3.0])
    by_sum, warning = colors.divide_by_sum(scores)
    assert warning == ""
    np.testing.assert_allclose(by_sum, [1 / 6, 2 / 6, 3 / 6])
    assert colors.softmax(scores)[2] / colors.softmax(scores)[0] > by_sum[2] / by_sum[0]


def test_divide_by_sum_with_negative_and_zero_sums():
    values, warning = colors.divide_by_sum([2.0, -1.0, 0.5])
    assert "negative" in warning and (values < 0).any()
    values, warning = colors.divide_by_sum([1.0, -1.0])
    assert values is None and "zero" in warning


def test_cross_entropy_and_mse():
    p = np.array([0.7, 0.2, 0.1])
    assert colors.cross_entropy(p, 0) == pytest.approx(-np.log(0.7))
    assert colors.mean_squared_error(p, 0) == pytest.approx(((0.3) ** 2 + 0.04 + 0.01) / 3)
    assert np.isfinite(colors.cross_entropy([1.0, 0.0], 1))  # p = 0 is clipped, not infinite


@pytest.mark.parametrize(
    "text, rgb",
    [
        ("#ff0000", (255, 0, 0)),
        ("00ff00", (0, 255, 0)),
        ("#36c", (51, 102, 204)),
        ("rgb(1, 2, 3)", (1, 2, 3)),
        ("10,20,30", (10, 20, 30)),
    ],
)
def test_parse_color(text, rgb):
    assert colors.parse_color(text) == rgb


@pytest.mark.parametrize(
    "text, message",
    [
        ("#12", "hex colour"),
        ("zzzzzz", "hex colour"),
        ("rgb(1,2)", "three"),
        ("rgb(300, 0, 0)", "between 0 and 255"),
        ("rgb(-1, 0, 0)", "between"),
        ("nan, 0, 0", "NaN"),
        ("", "hex colour"),
    ],
)
def test_parse_color_rejects_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        colors.parse_color(text)


def test_labels_with_or_without_ish():
    assert colors.normalize_label("Blue-ish") == "blue"
    assert colors.normalize_label(" grey ") == "grey"
    assert colors.normalize_label("gray-ish") == "grey"
    with pytest.raises(ValueError, match="unknown label"):
        colors.normalize_label("teal")


def test_data_is_balanced_and_split_keeps_every_family():
    data = colors.prepare_color_data(ColorConfig.tiny())
    counts = np.bincount(data["y_train"], minlength=9)
    assert counts.min() == counts.max()  # oversampled to balance
    assert set(data["y_test"]) == set(range(9))
    assert data["x_train"].min() >= 0 and data["x_train"].max() <= 255
    assert data["counts"]["green"] > 5 * data["counts"]["orange"]  # the imbalance it corrects


def test_tiny_model_trains_and_loss_falls():
    cfg = ColorConfig.tiny().with_(epochs=4, learning_rate=0.5)
    model, result, _ = colors.train_color_model(cfg)
    assert result.ok and result.epochs_run == 4
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert [layer.name for layer in model.layers] == ["scale_0_1", "hidden", "logits", "softmax"]


def test_logits_and_probabilities_agree():
    model = colors.load_shipped().model
    logits, probs = colors.predict_logits_proba(model, (10, 200, 30))
    np.testing.assert_allclose(probs, colors.softmax(logits), rtol=1e-5)
    np.testing.assert_allclose(probs, model.predict(np.array([[10, 200, 30]]), verbose=0)[0], rtol=1e-5)


def test_shipped_model_names_obvious_colors():
    model = colors.load_shipped().model
    assert colors.obvious_color_check(model) == {f: f"{f}-ish" for f in colors.FAMILIES}


def test_shipped_model_metadata_has_what_the_page_shows():
    meta = colors.load_shipped().metadata
    assert meta["class_names"] == list(colors.CLASS_NAMES)
    assert meta["metrics"]["test_accuracy"] > 0.8
    assert len(meta["history"]["loss"]) == meta["config"]["epochs"]
    assert sum(meta["counts_per_family"].values()) == 743
