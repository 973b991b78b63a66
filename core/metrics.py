"""Classification metrics shared by every model family: confusion matrix, per-class recall, balanced accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts with rows = true class and columns = predicted class.

    Written with np.add.at rather than pulling in scikit-learn for one function.
    """
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return m


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
