"""The colour family's retrain plan: the crowd labels and/or the user's labelled colours, trained on a copy, scored
on the validation people, saved as a version (the studio's run for this family)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.engine import retrain as engine
from core.engine.checks import config_from_metadata
from core.engine.retrain_outcome import RetrainOutcome
from core.engine.retrain_request import RetrainRequest, UserData, request_config
from core.engine.training import chance_loss
from core.families.colors import model as colors
from core.families.colors.config import ColorConfig
from core.store import models as store


def user_labels(req: RetrainRequest, user: UserData) -> list[str]:
    """The user's colour labels, each checked against the 9 families (ValueError names a bad one)."""
    return [colors.normalize_label(row[3]) for row in user.colors]


def builtin_classes() -> tuple[str, ...]:
    return tuple(colors.FAMILIES)


def _custom_color_data(cfg: ColorConfig, extra: list) -> dict:
    """The user's labelled colours alone, split per class (class weights in training handle the imbalance)."""

    x = np.array([row[:3] for row in extra], dtype=np.float32)
    y = np.array([colors.FAMILIES.index(colors.normalize_label(row[3])) for row in extra])
    fit_idx, val_idx = colors.split_table(y, cfg.validation_fraction, cfg.seed + 1)
    return {
        "x_train": x[fit_idx],
        "y_train": y[fit_idx],
        "x_val": x[val_idx],
        "y_val": y[val_idx],
        "n_user_labels": len(extra),
    }


def _color_data(req: RetrainRequest, user: UserData, cfg: ColorConfig) -> dict:

    extra = user.colors if req.use_user_samples else []
    return colors.prepare_color_data(cfg, extra) if req.use_builtin else _custom_color_data(cfg, extra)


def check_data(req: RetrainRequest, user: UserData, base_metadata: dict) -> tuple[int, int]:
    """(training rows, validation rows) of the run, prepared now: it takes milliseconds."""
    data = _color_data(req, user, request_config(req, config_from_metadata("colors", base_metadata)))
    return len(data["y_train"]), len(data["y_val"])


def before_seen(req: RetrainRequest, before, base_is_shipped: bool) -> str:
    """Why the model before's score on this run's validation people is no fair comparison, or "" when it is one.

    The shipped colour model was measured by 5-fold cross-validation over people and then trained on every person,
    so no crowd label exists that it never saw: the validation people of a run are people it learnt from (and a copy
    of it starts from what it learnt from them). Said plainly, with its fair figure from the cross-validation."""
    if not (base_is_shipped and req.use_builtin):
        return ""
    metrics = (before.metadata or {}).get("metrics") or {}
    fair = metrics.get("heldout_accuracy")
    sentence = (
        "The shipped model was trained on every person's labels, these validation people included, so its score "
        "here is on colours it has already learnt: no fair comparison"
        + ("" if req.fresh else ", and this run's copy of it starts from what it learnt from them too")
        + ". No person's labels exist that it never saw."
    )
    if fair is not None:
        sentence += (
            f" Measured fairly, by {metrics.get('heldout_people', 'its')} people's cross-validation (each label "
            f"predicted by a model that never saw that person), it agrees with {fair:.1%} of their labels."
        )
    return sentence


def retrain(req: RetrainRequest, user: UserData, job, before) -> RetrainOutcome | None:

    cfg = request_config(req, config_from_metadata("colors", before.metadata))
    extra = user.colors if req.use_user_samples else []
    data = _color_data(req, user, cfg)
    if not engine.ready(job, req, len(data["y_train"])):
        return None
    model, result, data = colors.train_color_model(
        cfg,
        data=data,
        model=None if req.fresh else before.model,  # the family contract: it trains a copy
        loss_ceiling=chance_loss(len(colors.CLASS_NAMES)),
        record_batches=True,  # no batch reports (epochs take well under a second), but a divergence curve per batch
        **job.hooks(),
    )
    if engine.stopped(job, result):
        return None
    names = list(colors.CLASS_NAMES)
    after_pred = engine.predict_classes("colors", model, data["x_val"])
    before_pred = engine.predict_before("colors", before, data["x_val"])
    rgb = np.asarray(data["x_val"]).round().astype(int)
    misclassified = engine.cell_examples(data["y_val"], after_pred, lambda i: colors.to_hex(rgb[i]))
    shipped = Path(before.path).resolve() == store.shipped_model_dir("colors").resolve()
    seen = before_seen(req, before, shipped)
    outcome = engine.outcome_of(
        req, before, names, data["y_val"], after_pred, before_pred, result, misclassified, before_seen=seen
    )
    metadata = {
        "family": "colors",
        "class_names": names,
        "training_data": (
            ("The Coding Train's crowd colour labels" if req.use_builtin else "")
            + (" + " if req.use_builtin and extra else "")
            + (f"{len(extra)} of your labelled colours" if extra else "")
            + f", {len(data['y_train'])} training labels"
        ),
        "config": asdict(cfg),
    }
    return engine.save_run(req, model, outcome, result, metadata)
