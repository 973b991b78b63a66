"""core.maths against Keras (the reference the models themselves use) and against plain NumPy, on random inputs and
on the extreme ones: huge logits, -inf, ties, zero probabilities."""

import math
import warnings

import numpy as np
import pytest

from core import maths

RNG_SEEDS = [0, 1, 2]


def _random_logits(seed: int, shape=(6, 9), scale: float = 4.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, shape)


def _random_distributions(seed: int, shape=(6, 9)) -> np.ndarray:
    p = np.random.default_rng(seed).dirichlet(np.ones(shape[-1]), size=shape[:-1])
    return np.clip(p, 1e-6, None) / np.clip(p, 1e-6, None).sum(axis=-1, keepdims=True)  # none in Keras' clip zone


def _numpy_softmax(z, temperature=1.0, axis=-1):
    """Textbook reference: exp(z / T) / sum exp(z / T), shifted by the max only so that it runs at all."""
    z = np.asarray(z, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_softmax_matches_keras_and_numpy(seed, temperature):
    import keras

    z = _random_logits(seed)
    p = maths.softmax(z, temperature)
    np.testing.assert_allclose(p, np.asarray(keras.activations.softmax(z / temperature)), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(p, _numpy_softmax(z, temperature), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    assert p.dtype == np.float64


def test_softmax_along_another_axis_matches_keras():
    import keras

    z = _random_logits(3, shape=(5, 4, 3))
    for axis in (0, 1, -1):
        expected = np.asarray(keras.activations.softmax(z, axis=axis))
        np.testing.assert_allclose(maths.softmax(z, axis=axis), expected, rtol=1e-6)
        np.testing.assert_allclose(maths.softmax(z, axis=axis).sum(axis=axis), 1.0, rtol=1e-12)


def test_softmax_of_extreme_logits_matches_keras():
    import keras

    z = np.array(
        [
            [1000.0, 999.0, -1000.0],  # exp(1000) overflows without the shift
            [1e308, -1e308, 0.0],  # the shift itself overflows to -inf: probability 0, not NaN
            [-np.inf, 0.0, 1.0],  # a masked-out logit (top-k) gets exactly 0
            [3.0, 3.0, 1.0],  # ties share
            [-1e4, -1e4 - 1, -1e4 - 2],  # all very negative: the shift keeps exp from underflowing to 0/0
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning
        p = maths.softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p, np.asarray(keras.activations.softmax(z)), rtol=1e-6, atol=1e-12)
    assert p[2, 0] == 0.0 and p[3, 0] == p[3, 1] and p[1, 0] == 1.0
    np.testing.assert_allclose(p[4], _numpy_softmax([0.0, -1.0, -2.0]), rtol=1e-12)


def test_softmax_at_temperature_zero_is_the_argmax_shared_by_ties():
    np.testing.assert_array_equal(maths.softmax([1.0, 3.0, 2.0], 0), [0, 1, 0])
    np.testing.assert_array_equal(maths.softmax([[2.0, 2.0, -np.inf], [0.0, 5.0, 1.0]], 0), [[0.5, 0.5, 0], [0, 1, 0]])
    # the T -> 0 limit it stands for: a tiny temperature gives the same, without overflow warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(maths.softmax([2.0, 2.0, 1e300], 1e-300), [0, 0, 1])
        np.testing.assert_allclose(maths.softmax([2.0, 2.0, 1.0], 1e-300), [0.5, 0.5, 0])


@pytest.mark.parametrize("temperature", [-1.0, math.inf, math.nan])
def test_softmax_refuses_a_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be 0 or a positive number"):
        maths.softmax([1.0, 2.0], temperature)


# ---------------------------------------------------------------- sigmoid


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_sigmoid_matches_keras_and_numpy(seed):
    import keras

    x = _random_logits(seed, shape=(200,), scale=8.0)
    s = maths.sigmoid(x)
    np.testing.assert_allclose(s, np.asarray(keras.ops.sigmoid(x)), rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(s, 1.0 / (1.0 + np.exp(-x)), rtol=1e-12, atol=2e-16)
    np.testing.assert_allclose(maths.sigmoid(-x), 1.0 - s, atol=2e-16)  # symmetric


def test_sigmoid_is_stable_for_huge_inputs_and_keeps_float32():
    import keras

    x = np.array([-1e308, -800.0, -40.0, 0.0, 40.0, 800.0, 1e308, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1 / (1 + exp(800)) would warn about overflow
        s = maths.sigmoid(x)
    np.testing.assert_allclose(s, np.asarray(keras.ops.sigmoid(x)), atol=1e-15)
    np.testing.assert_array_equal(s[[1, 3, 5, 7, 8]], [0.0, 0.5, 1.0, 0.0, 1.0])
    x32 = np.linspace(-30, 30, 61, dtype=np.float32)
    assert maths.sigmoid(x32).dtype == np.float32  # the LSTM sampler stays in float32
    np.testing.assert_allclose(maths.sigmoid(x32), np.asarray(keras.ops.sigmoid(x32)), atol=1e-7)
    assert maths.sigmoid(2).dtype == np.float64 and maths.sigmoid(0) == 0.5  # ints become floats


# ---------------------------------------------------------------- log-sum-exp and log-softmax


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_logsumexp_and_log_softmax_match_keras_and_numpy(seed):
    import keras

    z = _random_logits(seed, shape=(4, 5, 7))
    for axis in (-1, 1):
        lse = maths.logsumexp(z, axis=axis)
        np.testing.assert_allclose(lse, np.asarray(keras.ops.logsumexp(z, axis=axis)), rtol=1e-6)
        np.testing.assert_allclose(lse, np.log(np.exp(z).sum(axis=axis)), rtol=1e-12)
        assert (
            maths.logsumexp(z, axis=axis, keepdims=True).shape
            == np.asarray(keras.ops.logsumexp(z, axis=axis, keepdims=True)).shape
        )
    log_p = maths.log_softmax(z)
    np.testing.assert_allclose(log_p, np.asarray(keras.ops.log_softmax(z)), rtol=1e-6)
    np.testing.assert_allclose(np.exp(log_p), maths.softmax(z), rtol=1e-12)


def test_logsumexp_of_extreme_inputs_matches_keras():
    import keras

    z = np.array(
        [
            [1000.0, 1000.0, -1000.0],  # log(2 e^1000) = 1000 + ln 2, though e^1000 overflows
            [-1000.0, -1000.0, -np.inf],  # underflows without the shift; -inf adds nothing
            [-np.inf, -np.inf, -np.inf],  # an empty sum: -inf, not NaN
            [1e308, 0.0, -1e308],
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lse = maths.logsumexp(z)
    np.testing.assert_allclose(lse[:2], [1000.0 + math.log(2), -1000.0 + math.log(2)], rtol=1e-15)
    assert lse[2] == -np.inf and lse[3] == 1e308
    np.testing.assert_allclose(lse, np.asarray(keras.ops.logsumexp(z, axis=-1)), rtol=1e-12)
    assert maths.logsumexp([np.inf, 0.0]) == np.inf
    # log-softmax stays exact where softmax rounds to 0
    np.testing.assert_allclose(maths.log_softmax([0.0, -2000.0]), [0.0, -2000.0], atol=1e-12)
    np.testing.assert_allclose(maths.log_softmax(z[:2]), np.asarray(keras.ops.log_softmax(z[:2])), rtol=1e-12)


def test_logsumexp_keeps_float32():
    z = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
    assert maths.logsumexp(z).dtype == np.float32 and maths.log_softmax(z).dtype == np.float32


# ---------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_cross_entropy_from_probabilities_matches_keras(seed):
    import keras

    p = _random_distributions(seed)
    y = np.random.default_rng(seed).integers(0, p.shape[-1], len(p))
    ce = maths.cross_entropy(p, y)
    np.testing.assert_allclose(ce, np.asarray(keras.losses.sparse_categorical_crossentropy(y, p)), rtol=1e-6)
    one_hot = np.eye(p.shape[-1])[y]
    np.testing.assert_allclose(ce, np.asarray(keras.losses.categorical_crossentropy(one_hot, p)), rtol=1e-6)
    np.testing.assert_allclose(ce, -np.log(p[np.arange(len(y)), y]), rtol=1e-14)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_cross_entropy_from_logits_matches_keras_even_for_huge_logits(seed):
    import keras

    z = _random_logits(seed, shape=(2, 8, 5))
    z[0, 0] = [1000.0, -1000.0, 0.0, 500.0, -np.inf]  # softmax would give p = 0 for the true class
    y = np.random.default_rng(seed).integers(0, 4, (2, 8))  # never the -inf class
    y[0, 0] = 1
    ce = maths.cross_entropy(z, y, from_logits=True)
    assert ce.shape == (2, 8) and np.isfinite(ce).all() and ce[0, 0] == pytest.approx(2000.0)
    expected = np.asarray(keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True))
    np.testing.assert_allclose(ce, expected, rtol=1e-6)
    np.testing.assert_allclose(ce[1], maths.cross_entropy(maths.softmax(z[1]), y[1]), rtol=1e-10)


def test_cross_entropy_of_one_row_and_of_a_zero_probability():
    assert maths.cross_entropy([0.7, 0.2, 0.1], 0) == pytest.approx(-math.log(0.7), rel=1e-15)
    assert isinstance(maths.cross_entropy([0.7, 0.2, 0.1], 0), float)
    assert maths.cross_entropy([1.0, 0.0], 1) == pytest.approx(-math.log(maths.EPSILON))  # clipped, not infinite
    assert maths.cross_entropy([1.0, 0.0], 0) == 0.0
    assert maths.cross_entropy([0.0, 0.0, 5.0], 2, from_logits=True) == pytest.approx(math.log(1 + 2 * math.exp(-5)))


def test_binary_cross_entropy_from_logits_matches_keras():
    import keras

    z = np.concatenate([_random_logits(7, shape=(50,)), [-800.0, 800.0, -40.0, 40.0, 0.0]])
    t = np.concatenate([np.random.default_rng(7).uniform(0, 1, 50), [0.0, 1.0, 1.0, 0.0, 0.25]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bce = maths.binary_cross_entropy_from_logits(z, t)
    expected = np.asarray(keras.losses.binary_crossentropy(t[:, None], z[:, None], from_logits=True))
    np.testing.assert_allclose(bce, expected, rtol=1e-6, atol=1e-12)
    p = 1.0 / (1.0 + np.exp(-z[:50]))
    np.testing.assert_allclose(bce[:50], -(t[:50] * np.log(p) + (1 - t[:50]) * np.log(1 - p)), rtol=1e-9)
    assert bce[50] == 0.0 and bce[51] == 0.0 and bce[52] == pytest.approx(40.0) and bce[53] == pytest.approx(40.0)


# ---------------------------------------------------------------- entropy


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_entropy_matches_keras_and_numpy(seed):
    import keras

    p = _random_distributions(seed)
    h = maths.entropy(p)
    # H(p) is the cross-entropy of p with itself
    np.testing.assert_allclose(h, np.asarray(keras.losses.categorical_crossentropy(p, p)), rtol=1e-6)
    np.testing.assert_allclose(h, -(p * np.log(p)).sum(axis=-1), rtol=1e-12)
    np.testing.assert_allclose(maths.entropy(p.T, axis=0), h, rtol=1e-15)


def test_entropy_limits():
    assert maths.entropy([0.0, 1.0, 0.0]) == 0.0  # one certain outcome; 0 ln 0 counts as 0
    assert isinstance(maths.entropy([0.5, 0.5]), float)
    assert maths.entropy(np.full(8, 1 / 8)) == pytest.approx(math.log(8), rel=1e-14)
    np.testing.assert_allclose(maths.entropy([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), [math.log(2), 0.0])
    assert maths.entropy(maths.softmax([1.0, 5.0, 2.0], 0)) == 0.0
    assert maths.entropy(maths.softmax([1.0, 1.0, 1.0], 0)) == pytest.approx(math.log(3), rel=1e-14)


# ---------------------------------------------------------------- F1 and the confusion matrix


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_f1_score_matches_keras(seed):
    import keras

    rng = np.random.default_rng(seed)
    truth, predicted = rng.random(200) < 0.3, rng.random(200) < 0.4
    reference = keras.metrics.F1Score(threshold=0.5)
    reference.update_state(truth[:, None].astype("float32"), predicted[:, None].astype("float32"))
    f1 = maths.f1_score(predicted, truth)
    assert f1 == pytest.approx(float(np.asarray(reference.result())[0]), rel=1e-5)
    tp = (predicted & truth).sum()
    precision, recall = tp / predicted.sum(), tp / truth.sum()
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall), rel=1e-12)


def test_f1_score_edges():
    assert maths.f1_score([1, 1, 0], [1, 1, 0]) == 1.0
    assert maths.f1_score([0, 0, 1], [1, 1, 0]) == 0.0
    assert maths.f1_score([0, 0, 0], [0, 0, 0]) == 1.0  # nothing to find, nothing claimed (Keras would say 0)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_confusion_matrix_matches_tensorflow(seed):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    m = maths.confusion_matrix(y_true, y_pred, 6)  # class 5 never occurs: an empty row and column
    np.testing.assert_array_equal(m, tf.math.confusion_matrix(y_true, y_pred, num_classes=6).numpy())
    assert m.dtype == np.int64 and m.sum() == 300 and not m[5].any() and not m[:, 5].any()
    np.testing.assert_array_equal(
        maths.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], 3), [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    )
    assert maths.confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]


# ---------------------------------------------------------------- one module, no TensorFlow


def test_the_old_names_are_the_maths_functions():
    from core import metrics
    from core.engine import compare
    from core.families.text import steps as text_steps

    assert metrics.confusion_matrix is maths.confusion_matrix
    assert maths.f1_score is maths.f1_score
    assert text_steps.entropy_nats is maths.entropy
    comparison = compare.compare_predictions([0, 1, 1, 2], [0, 2, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
    np.testing.assert_array_equal(comparison.agreement(), maths.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3))
