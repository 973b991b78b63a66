"""The colour family: parsing, softmax lessons, data, a tiny training run, and the shipped model's behaviour."""

import json

import numpy as np
import pytest

from core import maths, metrics
from core.families.colors import cli as colors_cli
from core.families.colors import data as color_data
from core.families.colors import model as colors
from core.families.colors.config import ColorConfig


def test_softmax_matches_numpy_reference_and_keras():
    import keras

    logits = np.array([[2.0, -1.0, 0.5, 0.0], [10.0, 10.0, -3.0, 1.0]])
    reference = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(maths.softmax(logits), reference, rtol=1e-12)
    np.testing.assert_allclose(maths.softmax(logits), np.asarray(keras.activations.softmax(logits)), rtol=1e-6)
    np.testing.assert_allclose(maths.softmax(logits).sum(axis=1), 1.0)


def test_softmax_is_stable_for_huge_logits():
    p = maths.softmax([1000.0, 999.0, -1000.0])
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12


def test_temperature_limits():
    logits = np.array([1.0, 3.0, 2.0])
    np.testing.assert_array_equal(maths.softmax(logits, 0.0), [0, 1, 0])  # T = 0 is argmax
    np.testing.assert_allclose(maths.softmax(logits, 1e-3), [0, 1, 0], atol=1e-12)  # T -> 0 approaches it
    np.testing.assert_allclose(maths.softmax(logits, 1e6), [1 / 3] * 3, atol=1e-5)  # T -> inf is uniform
    assert maths.softmax(logits, 0.5).max() > maths.softmax(logits).max() > maths.softmax(logits, 2.0).max()
    with pytest.raises(ValueError, match="temperature"):
        maths.softmax(logits, -1.0)


def test_softmax_widens_gaps_that_divide_by_sum_keeps():
    scores = np.array([1.0, 2.0, 3.0])
    by_sum, warning = colors.divide_by_sum(scores)
    assert warning == ""
    np.testing.assert_allclose(by_sum, [1 / 6, 2 / 6, 3 / 6])
    assert maths.softmax(scores)[2] / maths.softmax(scores)[0] > by_sum[2] / by_sum[0]


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


def test_css_colour_names_are_colours_and_hex_digits_stay_hex():
    assert colors.parse_color("orange") == (255, 165, 0)
    assert colors.parse_color(" Teal ") == (0, 128, 128)
    assert colors.parse_color("light sea green") == (32, 178, 170)
    assert colors.parse_color("bad") == (0xBB, 0xAA, 0xDD)  # three hex digits, as before: not a name lookup
    assert colors.css_colour("c0ffee") is None and colors.css_colour("notacolour") is None
    with pytest.raises(ValueError, match="colour name such as orange"):
        colors.parse_color("zzzzzz")


def test_labels_with_or_without_ish():
    assert colors.normalize_label("Blue-ish") == "blue"
    assert colors.normalize_label(" grey ") == "grey"
    assert colors.normalize_label("gray-ish") == "grey"
    with pytest.raises(ValueError, match="unknown label"):
        colors.normalize_label("teal")


def test_data_is_the_crowd_split_by_person():
    data = colors.prepare_color_data(ColorConfig.tiny())
    crowd = colors.crowd_labels()
    assert len(data["y_train"]) + len(data["y_val"]) == len(crowd.y) == 3641
    assert data["n_people"] == 113 and 5 <= data["n_val_people"] < 40
    # no person on both sides: the validation rows are exactly the rows of the validation people
    val_rgb = {tuple(r) for r in data["x_val"].astype(int)}
    assert set(data["y_val"]) == set(range(9))
    assert data["x_train"].min() >= 0 and data["x_train"].max() <= 255 and len(val_rgb) > 100
    assert data["counts"]["green"] > 5 * data["counts"]["grey"]  # the crowd's imbalance, handled by class weights


def test_user_labels_join_the_crowd_for_retraining():
    cfg = ColorConfig.tiny()
    plain = colors.prepare_color_data(cfg)
    more = colors.prepare_color_data(cfg, [(0, 128, 128, "blue"), (250, 250, 10, "yellow-ish")])
    assert len(more["y_train"]) == len(plain["y_train"]) + 2 and more["n_user_labels"] == 2
    assert more["y_train"][-2:].tolist() == [colors.FAMILIES.index("blue"), colors.FAMILIES.index("yellow")]
    np.testing.assert_array_equal(more["x_val"], plain["x_val"])  # user labels never enter validation


def test_group_folds_keep_each_person_in_one_fold():
    uid = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"] * 1 + ["e"] * 2)
    folds = color_data.group_folds(uid, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(uid)))
    for person in "abcde":
        holding = [i for i, f in enumerate(folds) if (uid[f] == person).any()]
        assert len(holding) == 1
    assert max(len(f) for f in folds) - min(len(f) for f in folds) <= 2  # balanced by rows


def test_class_weights_range_from_none_to_balanced():
    y = np.array([0] * 8 + [1] * 2)
    assert colors.class_weights(y, 0.0)[1] == 1.0
    assert colors.class_weights(y, 1.0)[1] == pytest.approx(4.0)
    assert colors.class_weights(y, 0.5)[1] == pytest.approx(2.0)


def test_tiny_model_trains_and_loss_falls():
    cfg = ColorConfig.tiny().with_(epochs=4, learning_rate=0.5)
    model, result, _ = colors.train_color_model(cfg)
    assert result.ok and result.epochs_run == 4
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert [layer.name for layer in model.layers] == ["scale_0_1", "hidden", "logits", "softmax"]


def test_logits_and_probabilities_agree():
    model = colors.load_shipped().model
    logits, probs = colors.predict_logits_proba(model, (10, 200, 30))
    np.testing.assert_allclose(probs, maths.softmax(logits), rtol=1e-5)
    np.testing.assert_allclose(probs, model.predict(np.array([[10, 200, 30]]), verbose=0)[0], rtol=1e-5)


def test_shipped_model_names_obvious_colors():
    model = colors.load_shipped().model
    assert colors.obvious_color_check(model) == {f: f"{f}-ish" for f in colors.FAMILIES}


def test_shipped_model_metadata_has_what_the_page_shows():
    meta = colors.load_shipped().metadata
    m = meta["metrics"]
    assert meta["class_names"] == list(colors.CLASS_NAMES)
    # the targets, measured by person (group k-fold), as `python -m core train colors` stored them
    assert m["heldout_accuracy"] >= 0.78 and m["heldout_balanced_accuracy"] >= 0.72 and m["heldout_ece"] <= 0.05
    assert m["heldout_n"] == 3641 and m["heldout_people"] == 113
    assert len(meta["history"]["loss"]) == meta["config"]["epochs"]
    assert sum(meta["counts_per_family"].values()) == 3641
    assert "113 people" in colors.measured_summary(meta) and "78" in colors.measured_summary(meta)


def test_default_colour_teaches_every_panel():
    model = colors.load_shipped().model
    logits, probs = colors.predict_logits_proba(model, colors.DEFAULT_COLOR)
    assert probs.max() < 0.7  # people split on it, and so does the model: softmax is not all-or-nothing
    assert maths.softmax(logits, 2.0).max() < probs.max() - 0.1  # temperature visibly flattens
    by_sum, _ = colors.divide_by_sum(logits)
    assert (by_sum < 0).any() and by_sum.max() > 1  # negative shares, and shares past 1
    assert len(colors.explain_divide_by_sum(logits)) >= 2
    _, wrong = colors.predict_logits_proba(model, np.asarray(colors.DEFAULT_COLOR, np.float32) * 255)
    assert wrong.argmax() != probs.argmax()  # the /255 bug changes the answer


def test_explain_divide_by_sum_names_each_failure():
    assert colors.explain_divide_by_sum([1.0, 2.0, 3.0]) == []
    assert "negative" in colors.explain_divide_by_sum([3.0, -1.0, 0.5])[0]
    exploding = colors.explain_divide_by_sum([3.0, -2.9, 0.1])
    assert any("explode" in line for line in exploding)
    assert any("undefined" in line for line in colors.explain_divide_by_sum([1.0, -1.0]))
    assert any("order flips" in line for line in colors.explain_divide_by_sum([-3.0, -1.0]))


def test_nll_and_ece_against_hand_computed_values():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    y = np.array([0, 1, 1])
    assert metrics.negative_log_likelihood(probs, y) == pytest.approx(-(np.log(0.9) + np.log(0.4) + np.log(0.8)) / 3)
    # bins (15 wide): 0.9 -> bin 13 (right), 0.6 -> bin 9 (wrong), 0.8 -> bin 12 (right)
    assert metrics.expected_calibration_error(probs, y) == pytest.approx((0.1 + 0.6 + 0.2) / 3)
    perfect = np.eye(3)
    assert metrics.expected_calibration_error(perfect, np.arange(3)) == 0.0


def test_evaluate_reads_crowd_json_and_reports_calibration():
    model = colors.load_shipped().model
    raw = json.dumps(
        {
            "entries": [
                {"r": 255, "g": 0, "b": 0, "label": "red-ish", "uid": "p1"},
                {"r": 0, "g": 0, "b": 255, "label": "blue-ish", "uid": "p2"},
                {"r": 0, "g": 0, "b": 999, "label": "blue-ish", "uid": "p2"},
                {"r": 1, "g": 2, "b": 3, "label": "teal", "uid": "p3"},
            ]
        }
    )
    report = colors.evaluate_csv(model, raw)
    assert report["n"] == 2 and report["accuracy"] == 1.0 and report["people"] == 2
    assert [s["entry"] for s in report["skipped"]] == [2, 3]
    assert 0 < report["nll_nats"] < 1 and 0 <= report["ece"] < 0.5
    csv_report = colors.evaluate_csv(model, "r,g,b,label\n255,0,0,red\n0,0,255,blue\n")
    assert csv_report["accuracy"] == 1.0 and csv_report["nll_nats"] == pytest.approx(report["nll_nats"])


def test_cross_validation_by_person_runs_on_tiny_data():
    uid = np.repeat(np.array([f"p{i}" for i in range(6)]), 10)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 9, 60)
    rgb = np.array([colors.OBVIOUS_COLORS[colors.FAMILIES[c]] for c in y], np.float32)
    crowd = color_data.CrowdLabels(rgb, y, uid)
    report = colors_cli.cross_validate(ColorConfig.tiny().with_(epochs=2), crowd)
    assert report["n"] == 60 and len(report["fold_accuracy"]) == 2 and report["n_people"] == 6
    assert report["nll_nats"] > 0 and 0 <= report["ece"] <= 1
