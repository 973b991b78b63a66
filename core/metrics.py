"""Classification metrics shared by every model family: confusion matrix, per-class recall, balanced accuracy,
negative log-likelihood and calibration. The formulas themselves live in core.maths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.maths import confusion_matrix, cross_entropy


@dataclass(frozen=True)
class Report:
    """A classification report: n, accuracy, balanced accuracy (None without samples), recall per class (None for a
    class with no samples), the labels and the confusion matrix (rows true, columns predicted). Plain JSON values."""

    n: int
    accuracy: float | None
    balanced_accuracy: float | None
    per_class: dict[str, float | None]
    labels: list[str]
    confusion: list[list[int]]

    def errors(self) -> list[tuple[int, int, int]]:
        """(true, predicted, count) of every non-empty off-diagonal cell, the largest first."""
        m = self.confusion
        cells = [(t, p, m[t][p]) for t in range(len(m)) for p in range(len(m)) if t != p and m[t][p]]
        return sorted(cells, key=lambda c: -c[2])

    def to_dict(self) -> dict:
        return asdict(self)


def report_of(y_true, y_pred, labels: Sequence[str]) -> Report:
    """The classification report of predictions `y_pred` against `y_true`, over classes `labels`."""
    labels = list(labels)
    m = confusion_matrix(y_true, y_pred, len(labels))
    support = m.sum(axis=1)
    recall = {lab: (float(m[i, i] / support[i]) if support[i] else None) for i, lab in enumerate(labels)}
    present = [v for v in recall.values() if v is not None]
    n = int(m.sum())
    return Report(
        n=n,
        accuracy=float(np.trace(m) / n) if n else None,
        balanced_accuracy=float(np.mean(present)) if present else None,
        per_class=recall,
        labels=labels,
        confusion=m.tolist(),
    )


def classification_report(y_true, y_pred, labels: Sequence[str]) -> dict:
    """report_of as a dict: n, accuracy, balanced_accuracy, per_class, labels, confusion (for JSON and for the
    families' own evaluations that add keys to it)."""
    return report_of(y_true, y_pred, labels).to_dict()


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
