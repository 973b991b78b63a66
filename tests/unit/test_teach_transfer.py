"""Teach transfer learning (core.families.teach.transfer): feature shapes, the head, saving, the drawing backbone,
(background noise against spoken words: tests/integration/test_teach_transfer_voices.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.families.teach import data as teach_data
from core.families.teach import transfer
from core.store import models as store


def _circle(radius: float, centre=(14.0, 14.0)) -> np.ndarray:
    """A 28x28 white-on-black ring, as decode_drawing gives a drawn circle."""
    yy, xx = np.mgrid[:28, :28]
    d = np.hypot(yy - centre[0], xx - centre[1])
    return np.clip(1.5 - np.abs(d - radius), 0, 1).astype(np.float32)


def _line(row: int) -> np.ndarray:
    img = np.zeros((28, 28), np.float32)
    img[row : row + 2, 4:24] = 1.0
    return img


def _drawings() -> tuple[np.ndarray, np.ndarray]:
    x = np.stack([_circle(r, (14 + dy, 14)) for r in (7, 8, 9, 10) for dy in (-1, 0, 1)]
                 + [_line(r) for r in range(8, 20)])  # fmt: skip
    return x, np.array([0] * 12 + [1] * 12)


@pytest.mark.unit
def test_sound_features_have_the_documented_size_and_ignore_loudness():
    rng = np.random.default_rng(0)
    clip = np.log(rng.uniform(1e-4, 1e-3, (49, 40)) + 1e-6).astype(np.float32)
    clip[10:30, 5:15] += 5.0  # a "word": 20 loud frames in the low bands
    f = transfer.extract_features("sound", np.stack([clip, clip + np.log(4.0)]))
    assert f.shape == (2, transfer.SOUND_FEATURES)
    assert np.isfinite(f).all()
    # +6 dB on the whole second changes no feature: the level is normalised away
    np.testing.assert_allclose(f[0], f[1], atol=1e-3)


@pytest.mark.unit
def test_a_steady_noise_has_less_dynamics_than_a_word():
    rng = np.random.default_rng(1)
    noise = np.log(rng.uniform(0.5, 1.5, (49, 40)) * 1e-3).astype(np.float32)
    word = noise.copy()
    word[15:35, 3:20] += 4.0
    f = transfer.sound_features(np.stack([noise, word]))
    assert f[1, -2] > f[0, -2] + 2.0  # loudest frame over the quiet ones, in ln units


@pytest.mark.unit
def test_vocal_tract_warp_of_one_is_the_identity_and_others_move_formants():
    x = np.random.default_rng(2).normal(size=(3, 49, 40)).astype(np.float32)
    np.testing.assert_allclose(transfer.warp_bands(x, 1.0), x, atol=1e-6)
    assert not np.allclose(transfer.warp_bands(x, 1.15), x)
    xa, ya = transfer.augment("sound", x, np.array([0, 1, 2]))
    assert xa.shape == (3 * (1 + len(transfer.VTLP_WARPS)), 49, 40) and list(ya[:6]) == [0, 1, 2, 0, 1, 2]


@pytest.mark.unit
def test_image_features_have_the_documented_size_and_colour_shares():
    rng = np.random.default_rng(3)
    photos = rng.uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    photos[1] = [1.0, 0.0, 0.0]  # all red
    f = transfer.extract_features("image", photos)
    assert f.shape == (2, transfer.IMAGE_FEATURES)
    whole = f[1, : transfer.HUE_BINS + transfer.GREY_BINS]
    assert whole.sum() == pytest.approx(1.0) and whole[0] == pytest.approx(1.0)  # red is hue bin 0


@pytest.mark.unit
def test_wrong_shapes_and_labels_are_refused_in_plain_words():
    with pytest.raises(teach_data.TeachError, match="49, 40"):
        transfer.extract_features("sound", np.zeros((2, 40, 49)))
    with pytest.raises(teach_data.TeachError, match="28, 28"):
        transfer.extract_features("drawing", np.zeros((2, 32, 32)))
    with pytest.raises(teach_data.TeachError, match="class numbers"):
        transfer.train_head(np.zeros((4, 3)), np.array([0, 1, 2, 5]), 3)
    with pytest.raises(teach_data.TeachError, match="Unknown kind"):
        transfer.extract_features("video", np.zeros((1, 2)))


@pytest.mark.unit
@pytest.mark.parametrize("hidden", [0, 16])
def test_the_head_learns_a_separable_toy_set_whatever_the_feature_scale(hidden):
    rng = np.random.default_rng(4)
    centres = rng.normal(0, 3, (3, 10))
    y = np.repeat(np.arange(3), 30)
    f = centres[y] + rng.normal(0, 0.5, (90, 10))
    f = f * 1000.0 + 5000.0  # raw features far from unit scale: the folded standardisation must handle it
    train, test = np.arange(90) % 3 != 0, np.arange(90) % 3 == 0
    head = transfer.train_head(f[train], y[train], 3, transfer.TransferConfig(hidden=hidden))
    probs = np.asarray(head(f[test].astype(np.float32)))
    assert probs.shape == (30, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(probs.argmax(1) == y[test]) == 1.0
    assert {type(layer).__name__ for layer in head.layers} == {"Dense"}
    assert head.teach_seconds < 5.0


@pytest.mark.unit
def test_nearest_neighbour_baseline_names_the_nearest_sample():
    pred = transfer.nearest_neighbour(np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([3, 7]), np.array([[9.0, 8.0]]))
    assert pred.tolist() == [7]


@pytest.mark.unit
def test_a_saved_head_loads_with_identical_predictions(tmp_path):
    rng = np.random.default_rng(5)
    f = rng.normal(size=(20, 6)).astype(np.float32)
    y = (f[:, 0] > 0).astype(int)
    head = transfer.train_head(f, y, 2, transfer.TransferConfig.tiny())
    store.save_model(head, tmp_path / "head", {"family": "teach-sound"})
    loaded = store.load_model(tmp_path / "head").model
    np.testing.assert_array_equal(np.asarray(loaded(f)), np.asarray(head(f)))


@pytest.mark.unit
def test_the_shipped_backbone_loads_and_gives_features_of_the_documented_size():
    meta = store.load_metadata(transfer.BACKBONE_DIR)
    assert meta["features"] == transfer.DRAWING_FEATURES and meta["features_layer"] == transfer.BACKBONE_FEATURES
    assert not set(meta["class_names"]) & set(transfer.HELD_OUT_WORDS)
    x, _ = _drawings()
    f = transfer.extract_features("drawing", x)
    assert f.shape == (len(x), transfer.DRAWING_FEATURES)
    assert (f >= 0).all() and f.std(axis=0).max() > 0  # ReLU features that differ between drawings


@pytest.mark.unit
def test_the_whole_drawing_model_is_one_storable_model_with_a_frozen_backbone(tmp_path):
    x, y = _drawings()
    model = transfer.fit("drawing", x, y, 2, transfer.TransferConfig(epochs=100))
    assert transfer.takes_raw_input("drawing", model)
    frozen = [layer.name for layer in model.layers if not layer.trainable]
    assert "conv_1" in frozen and transfer.BACKBONE_FEATURES in frozen and "head_out" not in frozen
    probs = transfer.predict_proba("drawing", model, x)
    assert np.mean(probs.argmax(1) == y) == 1.0
    store.save_model(model, tmp_path / "whole", {"family": "teach-drawing"})
    loaded = store.load_model(tmp_path / "whole").model  # the store's allowlist accepted every layer
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.unit
def test_the_backbone_split_is_by_drawing_and_keeps_the_held_out_words_out():
    words = np.array(["circle"] * 50 + ["crown"] * 20 + [transfer.HELD_OUT_WORDS[0]] * 10 + ["anvil"] * 10)
    split = transfer.drawing_split(words)
    assert not set(split["train"]) & set(split["test"])
    assert set(words[split["held_out_words"]]) == {transfer.HELD_OUT_WORDS[0]}
    assert set(words[split["test"]]) == {"circle", "crown", "anvil"}  # every trained word keeps a held-out drawing
    assert len(split["train"]) + len(split["test"]) + len(split["held_out_words"]) == len(words)
    np.testing.assert_array_equal(transfer.drawing_split(words)["test"], split["test"])  # deterministic


def test_the_head_reports_its_steps_and_stops_when_asked():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (10, 4)), rng.normal(3, 1, (10, 4))])
    labels = np.repeat([0, 1], 10)
    seen = []
    cfg = transfer.TransferConfig(epochs=25)
    head = transfer.train_head(features, labels, 2, cfg, on_step=lambda step, logs: seen.append((step, logs)))
    assert [s for s, _ in seen] == [9, 19, 24]  # every REPORT_EVERY steps and the last, 0-based like Keras epochs
    assert len(head.teach_history["loss"]) == 25 and head.teach_history["loss"][-1] < head.teach_history["loss"][0]
    assert seen[-1][1]["loss"] == pytest.approx(head.teach_history["loss"][-1])
    stopped = transfer.train_head(features, labels, 2, cfg, should_stop=lambda: True)
    assert len(stopped.teach_history["loss"]) == transfer.REPORT_EVERY


@pytest.mark.unit
def test_drawings_get_a_mirror_and_four_shifts_and_the_other_kinds_keep_their_settings():
    x, y = _drawings()
    xa, ya = transfer.augment("drawing", x, y)
    n, s = len(x), transfer.DRAWING_SHIFT
    assert xa.shape == (6 * n, 28, 28) and list(ya) == list(y) * 6  # copy j of row i is row j * n + i
    np.testing.assert_array_equal(xa[:n], x)
    np.testing.assert_array_equal(xa[n : 2 * n], x[:, :, ::-1])
    np.testing.assert_array_equal(xa[2 * n + 3, : 28 - s], x[3, s:])  # moved up by DRAWING_SHIFT rows
    edge = np.zeros((1, 28, 28), np.float32)
    edge[0, :, 27] = 1.0  # a stroke on the right edge is pushed out, never wrapped round to the left
    assert transfer.shift_drawings(edge, 0, s)[0].sum() == 0 and transfer.shift_drawings(edge, 0, -s)[0].sum() == 28
    photos = np.zeros((2, 32, 32, 3), np.float32)
    assert transfer.augment("image", photos, np.array([0, 1]))[0].shape == photos.shape
    # Sounds and photos keep the head they were measured with; drawings regularise harder (HEAD_L2).
    assert transfer.head_config("sound") == transfer.head_config("image") == transfer.TransferConfig()
    assert transfer.head_config("drawing", seed=4) == transfer.TransferConfig(seed=4, l2=transfer.HEAD_L2["drawing"])
