"""The colour family's command line: `python -m core train colors` (cross-validated by person, then the shipped
model) and `python -m core evaluate colors FILE.csv`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.families.colors import data as color_data
from core.families.colors import model as colors
from core.families.colors.config import ColorConfig
from core.store import models as store


def evaluate_cli(args) -> dict:

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"There is no file at {path}.")
    loaded = store.load_family_model("colors", args.model)
    return colors.evaluate_csv(loaded.model, path.read_bytes())


def cross_validate(cfg: ColorConfig, crowd: color_data.CrowdLabels | None = None) -> dict:
    """Group k-fold over people: each fold's people are left out, a model trains on everyone else, and predicts
    them. The report covers every label, each predicted by a model that never saw its person."""
    crowd = crowd or colors.crowd_labels()
    folds = color_data.group_folds(crowd.uid, cfg.folds, cfg.seed)
    probs = np.zeros((len(crowd.y), len(colors.FAMILIES)), np.float32)
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(crowd.y)), fold)
        data = {"x_train": crowd.rgb[rest], "y_train": crowd.y[rest], "x_val": crowd.rgb[:0], "y_val": crowd.y[:0]}
        model, result, _ = colors.train_color_model(cfg, data, deterministic=True)
        if not result.ok:
            raise ValueError(result.message)
        probs[fold] = colors.predict_proba(model, crowd.rgb[fold])
    report = colors.report_probabilities(probs, crowd.y)
    report["fold_accuracy"] = [float((probs[f].argmax(1) == crowd.y[f]).mean()) for f in folds]
    report["n_people"] = int(len(np.unique(crowd.uid)))
    return report


def train_cli(args) -> dict:
    """`python -m core train colors`: measure by person (group k-fold), then rebuild saved_models/colors (or
    --out) on every crowd label."""

    overrides = {
        k: v
        for k, v in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("learning_rate", args.learning_rate),
            ("seed", args.seed),
        )
        if v is not None
    }
    cfg = ColorConfig().with_(**overrides)
    crowd = colors.crowd_labels()
    cv = cross_validate(cfg, crowd)
    everyone = {"x_train": crowd.rgb, "y_train": crowd.y, "x_val": crowd.rgb[:0], "y_val": crowd.y[:0]}
    model, result, _ = colors.train_color_model(cfg, everyone, deterministic=True)
    if not result.ok:
        raise ValueError(result.message)
    counts = np.bincount(crowd.y, minlength=len(colors.FAMILIES))
    metadata = {
        "family": "colors",
        "class_names": list(colors.CLASS_NAMES),
        "training_data": f"The Coding Train's crowd colour labels: {len(crowd.y)} labels from {cv['n_people']} "
        "people (core/data/ct_colors.json, MIT)",
        "counts_per_family": {colors.FAMILIES[c]: int(n) for c, n in enumerate(counts)},
        "config": {k: v for k, v in cfg.__dict__.items()},
        "history": result.history,
        "metrics": {
            "heldout": f"{cfg.folds}-fold cross-validation by person: every label predicted by a model that never "
            "saw the person who gave it",
            "heldout_accuracy": cv["accuracy"],
            "heldout_balanced_accuracy": cv["balanced_accuracy"],
            "heldout_nll_nats": cv["nll_nats"],
            "heldout_ece": cv["ece"],
            "heldout_fold_accuracy": cv["fold_accuracy"],
            "heldout_n": cv["n"],
            "heldout_people": cv["n_people"],
            "heldout_per_class": cv["per_class"],
            "obvious_colors": colors.obvious_color_check(model),
        },
    }
    out = Path(args.out) if args.out else store.shipped_model_dir("colors")
    store.save_model(model, out, metadata)
    return {"out": str(out), "seconds": round(result.seconds, 1), **metadata["metrics"]}
