"""Two models of one family on the same held-out inputs: both classification reports, how often each is right, and
every input where they disagree, on the held-out inputs each family names (its registry entry's `held_out`). No UI
here."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.engine import fit as model_fit
from core.engine import registry
from core.maths import confusion_matrix
from core.metrics import Report, report_of
from core.store import models as store
from core.store import topology as store_topology

PREDICT_BATCH = 512  # inputs per model call: bounded memory on a shared server

Predict = Callable[[object, np.ndarray], np.ndarray]


class CompareError(ValueError):
    """Two models that cannot be compared, with a message meant for the user."""


@dataclass
class Comparison:
    """Model A and model B on the same inputs, over the classes both know (`class_names`)."""

    class_names: list[str]
    y_true: np.ndarray  # (N,) indices into class_names
    pred_a: np.ndarray  # (N,)
    pred_b: np.ndarray  # (N,)
    report_a: Report
    report_b: Report
    disagreements: np.ndarray  # indices into the compared inputs where A and B predict different classes
    kept: np.ndarray  # indices into the inputs given that were compared (their true class is known to both)
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(len(self.y_true))

    @property
    def n_disagree(self) -> int:
        return int(len(self.disagreements))

    def outcome_counts(self) -> dict[str, int]:
        """How many inputs both got right, only A, only B, or neither."""
        a, b = self.pred_a == self.y_true, self.pred_b == self.y_true
        return {
            "both right": int(np.sum(a & b)),
            "only A right": int(np.sum(a & ~b)),
            "only B right": int(np.sum(~a & b)),
            "both wrong": int(np.sum(~a & ~b)),
        }

    def agreement(self) -> np.ndarray:
        """(C, C) counts: rows are A's prediction, columns B's; off the diagonal are the disagreements."""
        return confusion_matrix(self.pred_a, self.pred_b, len(self.class_names))


def compare_predictions(pred_a, pred_b, y_true, class_names: Sequence[str]) -> Comparison:
    """A Comparison from two models' predicted class indices on the same labelled inputs."""
    pred_a, pred_b, y_true = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (pred_a, pred_b, y_true))
    if not (len(pred_a) == len(pred_b) == len(y_true)):
        raise CompareError(
            f"The two models' predictions ({len(pred_a)} and {len(pred_b)}) and the labels ({len(y_true)}) must "
            "cover the same inputs."
        )
    names = list(class_names)
    return Comparison(
        class_names=names,
        y_true=y_true,
        pred_a=pred_a,
        pred_b=pred_b,
        report_a=report_of(y_true, pred_a, names),
        report_b=report_of(y_true, pred_b, names),
        disagreements=np.flatnonzero(pred_a != pred_b),
        kept=np.arange(len(y_true)),
    )


def _call_model(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False))


def predict_in_batches(model, x, predict: Predict | None = None, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """The model's outputs for `x`, PREDICT_BATCH inputs at a time."""
    predict = predict or _call_model
    x = np.asarray(x)
    return np.concatenate([np.asarray(predict(model, x[i : i + batch_size])) for i in range(0, len(x), batch_size)])


def compare_models(
    model_a,
    model_b,
    x,
    y,
    class_names: Sequence[str],
    *,
    classes_a: Sequence[str] | None = None,
    classes_b: Sequence[str] | None = None,
    predict: Predict | None = None,
) -> Comparison:
    """Run both models on `x` (labels `y` index `class_names`) and compare them.

    `classes_a`/`classes_b` name each model's outputs (default: `class_names`). Models with different classes are
    compared on the classes they share: inputs of other classes are left out, and each model's prediction is its
    most probable class among the shared ones. Fewer than two shared classes is refused with a CompareError.
    """
    names = list(class_names)
    out_a, out_b = list(classes_a or names), list(classes_b or names)
    x, y = np.asarray(x), np.asarray(y, dtype=np.int64).reshape(-1)
    if len(x) != len(y):
        raise CompareError(f"There are {len(x)} inputs but {len(y)} labels.")
    if len(y) == 0:
        raise CompareError("There are no held-out inputs to compare the models on.")
    if y.min() < 0 or y.max() >= len(names):
        raise CompareError(f"A label is outside the {len(names)} class names.")
    in_b = set(out_b)
    shared = [c for c in out_a if c in in_b]
    if len(shared) < 2:
        raise CompareError(
            f"Model A and model B share {len(shared)} class(es) ({', '.join(shared) or 'none'}), so there is "
            "nothing to compare them on: pick two models of the same kind."
        )
    kept = np.flatnonzero(np.isin(np.asarray(names, dtype=object)[y], shared))
    if len(kept) == 0:
        raise CompareError("None of the held-out inputs belongs to a class both models know.")
    notes = []
    if shared != out_a or shared != out_b:
        only = sorted(set(out_a) ^ set(out_b))
        notes.append(
            f"The two models do not have the same classes ({', '.join(only)} only in one of them): both are "
            f"compared on the {len(shared)} classes they share, each picking its most probable shared class"
            + (f"; {len(y) - len(kept)} inputs of other classes were left out." if len(kept) < len(y) else ".")
        )
    x_kept = x[kept]
    preds = []
    for model, outputs, which in ((model_a, out_a, "A"), (model_b, out_b, "B")):
        probs = predict_in_batches(model, x_kept, predict)
        if probs.ndim != 2 or probs.shape[1] != len(outputs):
            raise CompareError(
                f"Model {which} gives {probs.shape[-1] if probs.ndim else 0} outputs per input, but {len(outputs)} "
                "class names were given for it."
            )
        preds.append(probs[:, [outputs.index(c) for c in shared]].argmax(axis=1))
    y_shared = np.array([shared.index(names[t]) for t in y[kept]], dtype=np.int64)
    result = compare_predictions(preds[0], preds[1], y_shared, shared)
    result.kept, result.notes = kept, notes
    return result


def compare_text_models(model_a, model_b, x, y, chars: Sequence[str]) -> Comparison:
    """Two character models on the same windows: x, y (N, T) ids of `chars`; every position is one input."""
    x = np.asarray(x, np.int32)
    preds = [predict_in_batches(m, x, batch_size=64).argmax(axis=-1).reshape(-1) for m in (model_a, model_b)]
    return compare_predictions(preds[0], preds[1], np.asarray(y).reshape(-1), list(chars))


# ---------------------------------------------------------------- held-out inputs per family


@dataclass(frozen=True)
class HeldOut:
    """Labelled inputs neither model is meant to have trained on, and what they are."""

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    description: str


def _read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False  # shared by every session through the cache below


@functools.lru_cache(maxsize=4)
def held_out_inputs(family: str, classes: tuple[str, ...] = ()) -> HeldOut:
    """The family's held-out inputs (its `held_out`, given the models' classes), cached per family and classes: the
    arrays are read-only, shared by every session."""
    fam = registry.get(family)
    if fam.held_out is None:
        raise CompareError(f"There is no held-out set of labelled inputs for {family!r}.")
    held = fam.held_out(list(classes))
    _read_only(held.x, held.y)
    return held


# ---------------------------------------------------------------- two saved models


@dataclass
class VersionComparison:
    """What the page shows: the comparison, the inputs it ran on, and which models A and B are."""

    comparison: Comparison
    inputs: np.ndarray  # the compared inputs, in the order of comparison.y_true
    description: str
    label_a: str
    label_b: str


def compare_versions(
    family: str, path_a: str | Path, path_b: str | Path, load: Callable | None = None, labels: tuple = ("A", "B")
) -> VersionComparison:
    """Load two model folders of `family` (with `load`, e.g. a cached loader) and compare them on held-out inputs."""
    fam = registry.get(family)
    load = load or store.load_model
    loaded = []
    for path, label in zip((path_a, path_b), labels):
        label = label[:1].upper() + label[1:]  # it starts the message
        try:
            model = load(path)
        except store_topology.StoreError as exc:
            raise CompareError(f"{label} cannot be loaded: {exc}") from None
        problem = model_fit.fit_problem(family, model.model_json)
        if problem is not None:
            raise CompareError(f"{label} cannot be compared: it does not fit the {family} pages ({problem}).")
        loaded.append(model)
    classes = [fam.class_names(m) if fam.class_names is not None else _output_classes(m) for m in loaded]
    if fam.compare is not None:  # the family scores its own way (text: every next character of held-out windows)
        comparison, held, inputs = fam.compare(loaded[0].model, loaded[1].model, classes)
        return VersionComparison(comparison, inputs, held.description, labels[0], labels[1])
    held = held_out_inputs(family)
    comparison = compare_models(
        loaded[0].model,
        loaded[1].model,
        held.x,
        held.y,
        held.class_names,
        classes_a=classes[0],
        classes_b=classes[1],
        predict=fam.predict,
    )
    inputs = held.x[comparison.kept]
    return VersionComparison(comparison, inputs, held.description, labels[0], labels[1])


def _output_classes(loaded) -> list[str]:
    """A model's classes from its metadata, as every saved version records them."""
    return [str(c) for c in (loaded.metadata or {}).get("class_names") or []]
