"""The maths every page shows, in NumPy: softmax, sigmoid, log-sum-exp, cross-entropy, entropy, F1 and the confusion
matrix. One stable version of each, checked against Keras in tests/unit/test_maths.py; no TensorFlow is imported here.

Probabilities, losses and entropies are computed in float64 (the pages show them to many digits, and losses are
summed). sigmoid, logsumexp and log_softmax keep a float input's dtype, so the LSTM sampler can stay in float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EPSILON = 1e-12  # a probability of 0 counts as this in cross-entropy: a large finite loss (27.6 nats), not infinity


def _floats(x) -> np.ndarray:
    """x as an array of floats: float inputs keep their dtype, anything else becomes float64."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _finite_max(x: np.ndarray, axis: int) -> np.ndarray:
    """The max along `axis` (kept), with 0 where it is infinite, so that x - max never computes inf - inf."""
    m = x.max(axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0.0).astype(x.dtype)


def softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """exp(z / T) / sum exp(z / T) along `axis`, in float64.

    The largest logit is subtracted first, so huge logits never overflow and -inf ones get probability 0.
    Temperature 0 is the limit T -> 0: the argmax gets everything, shared equally by tied largest logits.
    """
    z = np.asarray(logits, dtype=np.float64)
    if temperature < 0 or not math.isfinite(temperature):
        raise ValueError("The temperature must be 0 or a positive number.")
    if temperature == 0:
        top = (z == z.max(axis=axis, keepdims=True)).astype(np.float64)
        return top / top.sum(axis=axis, keepdims=True)
    with np.errstate(over="ignore"):  # 1e308 - (-1e308) is -inf after the division: exp gives 0, as it should
        e = np.exp((z - _finite_max(z, axis)) / temperature)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + e^-x), written as (tanh(x / 2) + 1) / 2: no overflow for any |x|, and one ufunc on the LSTM's hot path.

    The absolute error is below 1e-16 (float64); far in the negative tail (x < -37) it returns 0 rather than a
    tiny positive number, so take log-probabilities with binary_cross_entropy_from_logits, not log(sigmoid(x)).
    """
    x = _floats(x)
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log sum exp(x) along `axis`, without overflow: m + log sum exp(x - m) with m the (finite) max.

    A row of -inf gives -inf (the log of an empty sum), a +inf gives +inf.
    """
    x = _floats(x)
    m = _finite_max(x, axis)
    with np.errstate(divide="ignore", over="ignore"):  # log(0) of an all -inf row is -inf; -1e308 - 1e308 is -inf
        out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """log softmax(z) = z - logsumexp(z): exact log-probabilities, even where softmax itself rounds to 0."""
    z = _floats(logits)
    return z - logsumexp(z, axis=axis, keepdims=True)


def cross_entropy(predictions, labels, *, from_logits: bool = False) -> np.ndarray | float:
    """-ln p[label] per row, in nats: how surprised the model is by the true class (the last axis holds classes).

    `predictions` are probabilities, or logits with from_logits=True (then computed as -log_softmax, exactly, with
    no clipping). A probability of 0 counts as EPSILON. `labels` are class indices, one per row (an int for one
    row). Returns a float for one row, else an array of the rows' shape.
    """
    if from_logits:
        log_p = log_softmax(np.asarray(predictions, dtype=np.float64))
    else:
        log_p = np.log(np.clip(np.asarray(predictions, dtype=np.float64), EPSILON, 1.0))
    index = np.asarray(labels, dtype=np.int64)[..., None]
    out = -np.take_along_axis(log_p, index, axis=-1)[..., 0]
    return float(out) if out.ndim == 0 else out


def binary_cross_entropy_from_logits(logits, targets) -> np.ndarray:
    """Per-element binary cross-entropy of sigmoid(z) against targets t in 0...1, in nats, in the stable form
    max(z, 0) - z t + log(1 + e^-|z|): no overflow, and exact where sigmoid(z) itself would round to 0 or 1."""
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    return np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z)))


def entropy(probabilities, axis: int = -1) -> np.ndarray | float:
    """Shannon entropy -sum p ln p along `axis`, in nats; 0 ln 0 counts as 0 (top-k and argmax rows).

    Returns a float for one distribution, else an array. Never negative: a one-hot row is exactly 0.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = np.maximum(terms.sum(axis=axis), 0.0)  # rounding can give -1e-17 for a one-hot row
    return float(h) if h.ndim == 0 else h


def f1_score(predicted, truth) -> float:
    """2 TP / (predicted positives + true positives) of two boolean vectors: the harmonic mean of precision and
    recall. With no positives on either side there was nothing to find and nothing was claimed: 1.0."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    tp = int((predicted & truth).sum())
    denominator = int(predicted.sum() + truth.sum())
    return 2.0 * tp / denominator if denominator else 1.0


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts with rows = true class and columns = predicted class.

    Written with np.add.at rather than pulling in scikit-learn for one function.
    """
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return m
