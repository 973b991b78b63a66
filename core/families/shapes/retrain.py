"""The shapes family's retrain plan: real Quick, Draw! drawings (generated ones where real ones are few) and/or the
user's drawings, the base model's classes kept in their rows, trained on a copy, scored and saved as a version."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from core.engine import retrain as engine
from core.engine.checks import config_from_metadata
from core.engine.retrain_outcome import RetrainOutcome
from core.engine.retrain_request import RetrainRequest, UserData, request_config
from core.engine.training import chance_loss
from core.families.shapes import generator as shape_generator
from core.families.shapes import model as shapes
from core.families.shapes.config import ShapeConfig
from core.settings import get_settings

BATCH_EVERY = 10  # report every 10th batch: a shapes epoch has hundreds


def user_labels(req: RetrainRequest, user: UserData) -> list[str]:
    """The user's drawing labels, each checked as a class name (ValueError names a bad one)."""
    return [shapes.check_class_name(lab) for _, lab in user.drawings]


def builtin_classes() -> tuple[str, ...]:
    return tuple(shape_generator.CLASS_NAMES)


def _prepare_shapes(cfg: ShapeConfig, extra: list) -> dict:
    """core.families.shapes.model.prepare_shape_data with the generated drawings cached on disk: generating thousands takes tens of
    seconds, and a worker process starts with an empty memory, so the cache lives in the user-data folder."""

    return shapes.prepare_shape_data(cfg, extra, get_settings().user_data_dir / "cache")


def _align_classes(data: dict, base_names: list[str]) -> dict:
    """Reorder shape classes so the base model's classes keep their output rows; new classes go after them."""
    names = list(data["class_names"])
    merged = list(base_names) + [c for c in names if c not in base_names]
    if merged == names:
        return data
    remap = np.array([merged.index(c) for c in names])
    return {**data, "y_train": remap[data["y_train"]], "y_val": remap[data["y_val"]], "class_names": merged}


def before_seen(cfg: ShapeConfig, before) -> str:
    """Why the model before's score on this run's validation drawings is no fair comparison, or "" when it is one.

    Real drawings are split by `seed` and `validation_fraction` (whole groups at a time): with the model before's own
    split, the validation drawings are the ones it was never trained on; with another, some of them were in its
    training data."""
    config = (before.metadata or {}).get("config") or {}
    theirs = (config.get("seed"), config.get("validation_fraction"))
    if cfg.samples_per_class <= 0 or theirs == (cfg.seed, cfg.validation_fraction):
        return ""
    if None in theirs:
        return (
            "The model before does not say how its drawings were split, so it may have been trained on some of "
            "these validation drawings."
        )
    return (
        f"The model before split the real drawings with seed {theirs[0]} and validation fraction {theirs[1]:g}; this "
        f"run used seed {cfg.seed} and {cfg.validation_fraction:g}, so some of these validation drawings were in its "
        "training data and its score here is flattered. Keep the seed and the fraction for a fair comparison."
    )


def retrain(req: RetrainRequest, user: UserData, job, before) -> RetrainOutcome | None:

    base_names = shapes.class_names_for(before.metadata, before.model)
    cfg = request_config(
        req,
        config_from_metadata("shapes", before.metadata),
        samples_per_class=int(req.samples_per_class or 0) if req.use_builtin else 0,
        other_per_class=int(req.samples_per_class or 0) if req.use_builtin else 0,
    )
    extra = user.drawings if req.use_user_samples else []
    data = _align_classes(_prepare_shapes(cfg, extra), base_names)
    if not engine.ready(job, req, len(data["y_train"])):
        return None
    names = list(data["class_names"])
    # A copy, with its output layer widened for new classes; None builds a fresh CNN for the data's classes.
    model, result, data = shapes.train_shape_model(
        cfg,
        data=data,
        model=None if req.fresh else before.model,
        loss_ceiling=chance_loss(len(names)),
        **job.hooks(BATCH_EVERY),
    )
    if engine.stopped(job, result):
        return None
    after_pred = engine.predict_classes("shapes", model, data["x_val"])
    before_pred = engine.predict_before("shapes", before, data["x_val"])
    x_val = np.asarray(data["x_val"], np.uint8)
    notes = []
    if len(names) > len(base_names):
        notes.append(
            f"New classes {', '.join(names[len(base_names) :])}: the output layer was widened for them; the model "
            "before could not predict them at all."
        )
    misclassified = engine.cell_examples(data["y_val"], after_pred, lambda i: x_val[i])
    outcome = engine.outcome_of(
        req,
        before,
        names,
        data["y_val"],
        after_pred,
        before_pred,
        result,
        misclassified,
        notes,
        before_seen=before_seen(cfg, before),
    )
    metadata = {
        "family": "shapes",
        "class_names": names,
        "input": (before.metadata or {}).get("input", "28x28 uint8, white strokes on black"),
        "training_data": (
            (
                f"{cfg.samples_per_class} Quick, Draw! drawings per class (real ones first; generated ones for "
                "classes with few real drawings)"
                if req.use_builtin
                else ""
            )
            + (" + " if req.use_builtin and extra else "")
            + (f"{len(extra)} of your drawings" if extra else "")
        ),
        "config": asdict(cfg),
        "rejection": (before.metadata or {}).get("rejection"),  # the base model's "none of these" threshold
    }
    return engine.save_run(req, model, outcome, result, metadata)
