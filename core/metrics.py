"""Classification metrics shared by every model family: confusion matrix, per-class recall, balanced accuracy,
negative log-likelihood and calibration. The formulas themselves live in core.maths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.maths import confusion_matrix, cross_entropy


def classification_report(y_true, y_pred, labels: Sequence[str]) -> dict:
    """n, accuracy, balanced accuracy, recall per class (None for classes with no samples), confusion, labels."""
    labels = list(labels)
    m = confusion_matrix(y_true, y_pred, len(labels))
    support = m.sum(axis=1)
    recall = {lab: (float(m[i, i] / support[i]) if support[i] else None) for i, lab in enumerate(labels)}
    present = [v for v in recall.values() if v is not None]
    n = int(m.sum())
    return {
        "n": n,
        "accuracy": float(np.trace(m) / n) if n else None,
        "balanced_accuracy": float(np.mean(present)) if present else None,
        "per_class": recall,
        "labels": labels,
        "confusion": m.tolist(),
    }


def negative_log_likelihood(probs, y_true) -> float:
    """Mean -ln p[true class] in nats: how surprised the model is by the labels people gave."""
    y = np.asarray(y_true, dtype=int)
    return float(np.mean(cross_entropy(probs, y))) if len(y) else float("nan")


def expected_calibration_error(probs, y_true, n_bins: int = 15) -> float:
    """ECE: rows binned by their top probability into `n_bins` equal-width bins; the mean over rows of
    |accuracy of the bin - mean confidence of the bin|. 0 is perfectly calibrated."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=int)
    if len(y) == 0:
        return float("nan")
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)  # a confidence of exactly 1 goes in the last bin
    total = 0.0
    for b in np.unique(bins):
        rows = bins == b
        total += rows.sum() * abs(correct[rows].mean() - confidence[rows].mean())
    return float(total / len(y))
