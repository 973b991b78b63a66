"""The Coding Train's crowd colour labels (core/data/ct_colors.json, MIT): loading, validation by person (group
k-fold on the labeller's id), and the training arrays of the colour classifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import DATA_DIR

CROWD_FILE = DATA_DIR / "ct_colors.json"


@dataclass(frozen=True)
class CrowdLabels:
    rgb: np.ndarray  # (N, 3) float32, 0-255
    y: np.ndarray  # (N,) int, index into core.colors.FAMILIES
    uid: np.ndarray  # (N,) str: who gave the label (a pseudonymous id)


def parse_crowd_json(
    raw: str | bytes, families: tuple[str, ...], check_rgb: Callable, normalize_label: Callable
) -> tuple[CrowdLabels, list[dict]]:
    """The `{"entries": [{"r","g","b","label","uid"}, ...]}` format; bad entries are skipped and reported. The model
    module passes its own checks of a colour and a label (so the data module does not import it back)."""

    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"The file is not valid JSON ({exc}).") from None
    entries = payload.get("entries") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise ValueError('The JSON needs an "entries" list of {"r", "g", "b", "label", "uid"} objects.')
    rgb, y, uid, skipped = [], [], [], []
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValueError("an entry must be an object with r, g, b and label")
            rgb.append(check_rgb([entry.get("r"), entry.get("g"), entry.get("b")]))
            y.append(families.index(normalize_label(entry.get("label") or "")))
            uid.append(str(entry.get("uid") or f"entry-{i}"))
        except ValueError as exc:
            del rgb[len(y) :]  # an entry whose colour parsed but whose label did not leaves no half row
            skipped.append({"entry": i, "reason": str(exc)})
    labels = CrowdLabels(np.array(rgb, np.float32).reshape(-1, 3), np.array(y, np.int64), np.array(uid, dtype=str))
    return labels, skipped


def load_crowd_labels(
    families: tuple[str, ...], check_rgb: Callable, normalize_label: Callable, path: Path = CROWD_FILE
) -> CrowdLabels:
    labels, _ = parse_crowd_json(Path(path).read_bytes(), families, check_rgb, normalize_label)
    return labels


def group_folds(uid: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k lists of row indices, each person's rows all in one fold, folds balanced by row count (greedy: the
    largest labellers first, each to the fold with fewest rows so far)."""
    rng = np.random.default_rng(seed)
    people, counts = np.unique(uid, return_counts=True)
    order = rng.permutation(len(people))
    order = order[np.argsort(-counts[order], kind="stable")]
    folds: list[list[int]] = [[] for _ in range(k)]
    sizes = np.zeros(k, int)
    for p in order:
        f = int(np.argmin(sizes))
        folds[f].extend(np.flatnonzero(uid == people[p]).tolist())
        sizes[f] += counts[p]
    return [np.array(sorted(f), dtype=np.int64) for f in folds]
