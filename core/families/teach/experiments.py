"""The "play around" experiments of the Teachable Machine course, each one function returning plain dicts the
figures plot: how accuracy grows with samples per class, what varied samples buy over samples all alike, and how
much one training differs from the next when only the seed changes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.families.teach.data import TeachError
from core.families.teach.model import TeachConfig, evaluate_arrays, train_teach_model


def _class_rows(y: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(y == c) for c in np.unique(y)]


def default_counts(y_train) -> list[int]:
    """1, 2, 4, 8, ... up to the smallest class, then that smallest class size ("all")."""
    smallest = min(len(r) for r in _class_rows(np.asarray(y_train)))
    counts = [c for c in (2**i for i in range(12)) if c < smallest]
    return counts + [smallest]


def _summary(runs: list[dict]) -> dict:
    acc = [r["accuracy"] for r in runs]
    conf = [r["mean_confidence"] for r in runs]
    return {
        "accuracy_mean": float(np.mean(acc)),
        "accuracy_min": float(np.min(acc)),
        "accuracy_max": float(np.max(acc)),
        "confidence_mean": float(np.mean(conf)),
        "runs": runs,
    }


def _train_on(cfg: TeachConfig, data: dict, rows: np.ndarray, seed: int) -> dict:
    """Train on the chosen training rows; measure on all of data's held-out samples."""
    subset = {**data, "x_train": data["x_train"][rows], "y_train": data["y_train"][rows]}
    trained = train_teach_model(cfg.with_(seed=int(seed)), subset)
    if not trained.result.ok:
        return {"seed": int(seed), "accuracy": float("nan"), "mean_confidence": float("nan"), "diverged": True}
    report = evaluate_arrays(trained.model, data["x_val"], data["y_val"], data["class_names"])
    return {
        "seed": int(seed),
        "accuracy": float(report["accuracy"]),
        "mean_confidence": float(report["mean_confidence"]),
        "mean_true_probability": float(report["mean_true_probability"]),
        "per_class": {k: v["accuracy"] for k, v in report["per_class"].items()},
    }


def _check(data: dict) -> None:
    if len(data.get("y_val", [])) == 0:
        raise TeachError("These experiments measure on held-out samples, and there are none: add samples.")


def samples_curve(
    cfg: TeachConfig, data: dict, counts: Sequence[int] | None = None, seeds: Sequence[int] = (0, 1, 2)
) -> list[dict]:
    """Accuracy and mean confidence on data's held-out samples against samples per class in training.

    For each count and seed, `count` training samples per class are drawn at random (seeded) and a new model is
    trained on them: one row per count with the mean, min and max over seeds, and every run."""
    _check(data)
    y = np.asarray(data["y_train"])
    counts = list(counts) if counts is not None else default_counts(y)
    rows = []
    for count in counts:
        runs = []
        for seed in seeds:
            rng = np.random.default_rng(1000 + int(seed))
            chosen = np.concatenate([rng.permutation(r)[: int(count)] for r in _class_rows(y)])
            runs.append(_train_on(cfg, data, chosen, seed))
        rows.append({"count": int(count), "n_train": int(len(chosen)), **_summary(runs)})
    return rows


def spread_of(x: np.ndarray) -> float:
    """Mean squared distance of samples to their own mean (the total variance, in input units squared)."""
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    return float(((flat - flat.mean(axis=0)) ** 2).sum(axis=1).mean()) if len(flat) else 0.0


def variance_subsets(x_train, y_train, count: int) -> dict[str, np.ndarray]:
    """Two training subsets of `count` samples per class, chosen in input space (pixels or spectrogram values):
    "low": the samples nearest their class mean (all alike); "high": the samples farthest from it (the most
    unusual ones). Distances are Euclidean over the flattened input."""
    x = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    low, high = [], []
    for rows in _class_rows(np.asarray(y_train)):
        distance = np.linalg.norm(x[rows] - x[rows].mean(axis=0), axis=1)
        order = rows[np.argsort(distance, kind="stable")]
        low.append(order[:count])
        high.append(order[::-1][:count])
    return {"low": np.concatenate(low), "high": np.concatenate(high)}


def variance_curve(
    cfg: TeachConfig, data: dict, counts: Sequence[int] = (2, 4, 8), seeds: Sequence[int] = (0, 1, 2)
) -> list[dict]:
    """The samples curve for a low-variance and a high-variance subset (see variance_subsets), each row with its
    measured spread (spread_of, averaged over classes) so the figure shows how different the subsets really are."""
    _check(data)
    y = np.asarray(data["y_train"])
    smallest = min(len(r) for r in _class_rows(y))
    rows = []
    for count in counts:
        if count > smallest:
            continue
        for name, chosen in variance_subsets(data["x_train"], y, int(count)).items():
            spread = float(np.mean([spread_of(data["x_train"][chosen][y[chosen] == c]) for c in np.unique(y)]))
            runs = [_train_on(cfg, data, chosen, seed) for seed in seeds]
            rows.append({"subset": name, "count": int(count), "spread": spread, **_summary(runs)})
    return rows


def teach_run(cfg: TeachConfig, data: dict, seed: int) -> dict:
    """One training on all of data's training samples with `seed`, measured on its held-out samples; with
    functools.partial(teach_run, cfg, data) it is seed_spread's `train_once`."""
    _check(data)
    return _train_on(cfg, data, np.arange(len(data["y_train"])), seed)
