"""The "play around" experiments of the Teachable Machine course, each one function returning plain dicts the
figures plot: how accuracy grows with samples per class, what varied samples buy over samples all alike, and how
much one training differs from the next when only the seed changes. Each trains by the project's method (transfer
by default, the from-scratch CNN as the expert option) next to the nearest-neighbour baseline on the same data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.families.teach import transfer
from core.families.teach.data import TeachError
from core.families.teach.job import check_method
from core.families.teach.model import TeachConfig, evaluate_arrays, evaluate_probabilities, train_teach_model

BASELINE_NAMES = {
    "transfer": "nearest neighbour on the same features",
    "scratch": "nearest neighbour on the same model inputs",
}


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
    base = [r["baseline_accuracy"] for r in runs if "baseline_accuracy" in r]
    out = {
        "accuracy_mean": float(np.mean(acc)),
        "accuracy_min": float(np.min(acc)),
        "accuracy_max": float(np.max(acc)),
        "confidence_mean": float(np.mean(conf)),
        "runs": runs,
    }
    if base:
        out.update(
            baseline_mean=float(np.mean(base)), baseline_min=float(np.min(base)), baseline_max=float(np.max(base))
        )
    return out


def prepare(data: dict, method: str = "transfer") -> dict:
    """`data` with what every training of an experiment shares, computed once (a 4-class sound project's features
    take a second; a head trains in a tenth): for transfer, the extractor's features of every training sample and
    of its augmented copies (transfer.augment) and of the held-out samples; the baseline's inputs (those features
    for transfer, the flattened model inputs for scratch). A prepared dict is returned as it is."""
    check_method(method)
    if data.get("prepared_for") == method:
        return data
    x_train, x_val = np.asarray(data["x_train"], np.float32), np.asarray(data["x_val"], np.float32)
    out = {**data, "prepared_for": method}
    if method == "transfer":
        kind = data["kind"]
        augmented, _ = transfer.augment(kind, x_train, np.asarray(data["y_train"]))
        features = transfer.extract_features(kind, augmented)  # copy j of training row i is row j * N + i
        out["features_copies"] = features.reshape(-1, len(x_train), features.shape[-1])  # (copies, N, D)
        out["baseline_train"] = out["features_copies"][0]
        out["baseline_val"] = transfer.extract_features(kind, x_val)
    else:
        out["baseline_train"] = x_train.reshape(len(x_train), -1)
        out["baseline_val"] = x_val.reshape(len(x_val), -1)
    return out


def _train_on(cfg: TeachConfig, data: dict, rows: np.ndarray, seed: int) -> dict:
    """Train on the chosen training rows by the method `data` was prepared for (see prepare); measure on all of
    data's held-out samples, and the nearest-neighbour baseline on the same rows and the same held-out samples."""
    y_train, y_val, names = np.asarray(data["y_train"]), np.asarray(data["y_val"]), data["class_names"]
    baseline = transfer.nearest_neighbour(data["baseline_train"][rows], y_train[rows], data["baseline_val"])
    baseline_accuracy = float(np.mean(baseline == y_val))
    if data["prepared_for"] == "transfer":
        copies = data["features_copies"][:, rows]  # (copies, n, D)
        head = transfer.train_head(
            copies.reshape(-1, copies.shape[-1]),
            np.tile(y_train[rows], len(copies)),
            len(names),
            transfer.head_config(data["kind"], seed),
        )
        probs = np.asarray(head(data["baseline_val"], training=False))
        report = evaluate_probabilities(probs, y_val, names)
    else:
        subset = {**data, "x_train": data["x_train"][rows], "y_train": y_train[rows]}
        trained = train_teach_model(cfg.with_(seed=int(seed)), subset)
        if not trained.result.ok:
            return {"seed": int(seed), "accuracy": float("nan"), "mean_confidence": float("nan"), "diverged": True,
                    "baseline_accuracy": baseline_accuracy}  # fmt: skip
        report = evaluate_arrays(trained.model, data["x_val"], y_val, names)
    return {
        "seed": int(seed),
        "accuracy": float(report["accuracy"]),
        "mean_confidence": float(report["mean_confidence"]),
        "mean_true_probability": float(report["mean_true_probability"]),
        "per_class": {k: v["accuracy"] for k, v in report["per_class"].items()},
        "baseline_accuracy": baseline_accuracy,
    }


def _check(data: dict) -> None:
    if len(data.get("y_val", [])) == 0:
        raise TeachError("These experiments measure on held-out samples, and there are none: add samples.")


def samples_curve(
    cfg: TeachConfig,
    data: dict,
    counts: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    method: str = "transfer",
) -> list[dict]:
    """Accuracy and mean confidence on data's held-out samples against samples per class in training, for `method`
    ("transfer": the extractor + a new head; "scratch": a new CNN by cfg), and the nearest-neighbour baseline.

    For each count and seed, `count` training samples per class are drawn at random (seeded) and a new model is
    trained on them: one row per count with the mean, min and max over seeds (accuracy_*, baseline_*), and every
    run."""
    _check(data)
    data = prepare(data, method)
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
    cfg: TeachConfig,
    data: dict,
    counts: Sequence[int] = (2, 4, 8),
    seeds: Sequence[int] = (0, 1, 2),
    method: str = "transfer",
) -> list[dict]:
    """The samples curve for a low-variance and a high-variance subset (see variance_subsets), each row with its
    measured spread (spread_of, averaged over classes) so the figure shows how different the subsets really are."""
    _check(data)
    data = prepare(data, method)
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


def teach_run(cfg: TeachConfig, data: dict, seed: int, method: str = "transfer") -> dict:
    """One training by `method` on all of data's training samples with `seed`, measured on its held-out samples;
    with functools.partial(teach_run, cfg, data) it is seed_spread's `train_once`."""
    _check(data)
    data = prepare(data, method)
    return _train_on(cfg, data, np.arange(len(data["y_train"])), seed)
