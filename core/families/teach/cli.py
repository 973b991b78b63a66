"""`python -m core teach train|evaluate`: train a Teach model on a project folder (one subfolder per class) into an
output folder, or measure a saved one on another folder. Prints one JSON object; bad input is a TeachError."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.families.teach.data import KINDS, TeachError, load_folder
from core.families.teach.job import (
    METHODS,
    TeachRequest,
    _check_settings,
    evaluate_model,
    family_name,
    model_input_description,
    request_config,
    train_and_measure,
)
from core.families.teach.transfer import head_config
from core.store import models as store
from core.store import topology as store_topology


def add_teach_parser(subparsers) -> argparse.ArgumentParser:
    """Add `teach train ...` and `teach evaluate ...` to a `python -m core` subparsers object."""
    teach = subparsers.add_parser("teach", help="your own classes from images, sounds or drawings (Teachable Machine)")
    sub = teach.add_subparsers(dest="teach_command", required=True)
    train = sub.add_parser("train", help="train on a folder with one subfolder of samples per class")
    train.add_argument("--kind", choices=KINDS, required=True)
    train.add_argument("--data", required=True, help="the project folder: one subfolder per class")
    train.add_argument("--out", required=True, help="the model folder to write (created or replaced atomically)")
    train.add_argument(
        "--method",
        choices=METHODS,
        default="transfer",
        help="transfer: a frozen feature extractor + a small head (default, seconds); scratch: the small CNN, learnt "
        "from the samples alone (--epochs, --batch-size and --learning-rate apply to it only)",
    )
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=0.001)
    train.add_argument("--seed", type=int, default=0)
    evaluate = sub.add_parser("evaluate", help="measure a Teach model folder on another project folder")
    evaluate.add_argument("model", metavar="OUTDIR", help="a folder written by `teach train`")
    evaluate.add_argument("--data", required=True, help="a project folder with (some of) the model's classes")
    return teach


def _check_out(out: str) -> Path:
    if not str(out).strip():
        raise TeachError("--out is empty: give the folder to write the model to.")
    path = Path(out)
    if path.resolve().is_relative_to(store.SHIPPED_MODELS_DIR.resolve()):
        raise TeachError("--out cannot be inside saved_models/: that folder holds the shipped models.")
    try:
        store.check_replaceable(path)  # refused now, before any training, not after it
    except store_topology.StoreError as exc:
        raise TeachError(str(exc)) from None
    return path


def train_cli(args) -> dict:

    out = _check_out(args.out)
    req = TeachRequest(
        kind=args.kind,
        samples_dir=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        method=getattr(args, "method", "transfer"),
    )
    _check_settings(req)
    cfg = request_config(req)
    loaded = load_folder(req.kind, req.samples_dir)
    trained, report, measured_on, notes, split = train_and_measure(cfg, loaded, req.method)
    if not trained.result.ok:
        raise TeachError(trained.result.message)
    names = loaded["class_names"]
    counts = {name: {"train": int((split["y_train"] == i).sum())} for i, name in enumerate(names)}
    metadata = {
        "family": family_name(req.kind),
        "kind": req.kind,
        "class_names": names,
        "method": req.method,
        "input": model_input_description(req.kind, req.method),
        "config": asdict(cfg) if req.method == "scratch" else asdict(head_config(req.kind, cfg.seed)),
        "training_data": f"{len(split['y_train'])} samples from {Path(req.samples_dir).name}",
        "metrics": {
            "accuracy": report["accuracy"],
            "n": report["n"],
            "measured_on": measured_on,
            "mean_confidence": report["mean_confidence"],
        },
        "history": trained.result.history,
        "train_seconds": round(trained.result.seconds, 2),
    }
    store.save_model(trained.model, out, metadata)
    return {
        "out": str(out),
        "kind": req.kind,
        "method": req.method,
        "class_names": names,
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "per_class": {n: {**report["per_class"][n], "train": counts[n]["train"]} for n in names},
        "n": report["n"],
        "measured_on": measured_on,
        "mean_confidence": report["mean_confidence"],
        "confusion": report["confusion"],
        "n_train": len(split["y_train"]),
        "epochs_run": trained.result.epochs_run,
        "seconds": round(trained.result.seconds, 2),
        "skipped_files": loaded["skipped"],
        "notes": notes,
    }


def evaluate_cli(args) -> dict:

    try:
        loaded_model = store.load_model(args.model)
    except store_topology.StoreError as exc:
        raise TeachError(str(exc)) from None
    meta = loaded_model.metadata or {}
    kind, names = meta.get("kind"), list(meta.get("class_names") or [])
    if not str(meta.get("family", "")).startswith("teach-") or kind not in KINDS or len(names) < 2:
        raise TeachError(f"{args.model} is not a Teach model (its metadata has no Teach kind and class names).")
    data = load_folder(kind, args.data, min_classes=1)
    unknown = [n for n in data["class_names"] if n not in names]
    if unknown:
        raise TeachError(f"The class {unknown[0]!r} is not one the model knows ({', '.join(names)}).")
    y = np.asarray([names.index(data["class_names"][i]) for i in data["y"]])
    report = evaluate_model(kind, loaded_model.model, data["x"], y, names)  # a CNN, a whole model or a head
    misclassified = [
        {
            "file": data["files"][i],
            "true": names[int(y[i])],
            "predicted": names[report["predicted"][i]],
            "confidence": round(max(report["probabilities"][i]), 4),
        }
        for i in report["misclassified"]
    ]
    return {
        "model": str(args.model),
        "kind": kind,
        "method": meta.get("method", "scratch"),  # models saved before #24 are all CNNs
        "class_names": names,
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "per_class": {n: report["per_class"][n] for n in names if report["per_class"][n]["n"]},
        "n": report["n"],
        "mean_confidence": report["mean_confidence"],
        "confusion": report["confusion"],
        "misclassified": misclassified,
        "skipped_files": data["skipped"],
    }


def teach_cli(args) -> dict:
    """Dispatch `teach train` / `teach evaluate`; returns one JSON-able dict."""
    if args.teach_command == "train":
        return train_cli(args)
    if args.teach_command == "evaluate":
        return evaluate_cli(args)
    raise TeachError(f"Unknown teach command {args.teach_command!r}.")
