"""The Teach page's models as three families of the registry (teach-image, teach-sound, teach-drawing): each is the
registry's contract over core.teach_models, so the CLI (`python -m core train teach-image --data DIR --out OUT`),
Inspect and anything that iterates core.families treat a user's own project like any built-in model."""

from __future__ import annotations

import argparse

import numpy as np

from core.engine import registry as families
from core.families.teach.cli import evaluate_cli as teach_evaluate
from core.families.teach.cli import train_cli
from core.families.teach.data import KINDS, TeachError, input_shape
from core.families.teach.model import TeachConfig, build_teach_model, predict_proba, train_teach_model

LABELS = {"image": ("Teach: images", "📷"), "sound": ("Teach: sounds", "🎙️"), "drawing": ("Teach: drawings", "✏️")}
EXAMPLES = {"image": "a plain grey picture", "sound": "one second of silence", "drawing": "an empty canvas"}


def _kind(family_or_cfg) -> str:
    kind = getattr(family_or_cfg, "kind", family_or_cfg)
    if kind not in KINDS:
        raise TeachError(f"Unknown Teach kind {str(kind)[:20]!r}: choose one of {', '.join(KINDS)}.")
    return kind


def build(cfg: TeachConfig, n_classes: int | None = None):

    return build_teach_model(_kind(cfg), n_classes or 2, cfg)


def load_data(cfg: TeachConfig) -> dict:
    raise TeachError(
        f"A Teach model has no built-in data: it learns from your project (a folder with one subfolder per class; "
        f"--data DIR on the command line). Kind: {_kind(cfg)}."
    )


def train(cfg: TeachConfig, data: dict | None = None, model=None, **hooks):
    """The contract's train: `data` is core.teach_models.split_data's dict plus class_names and kind."""

    if data is None:
        load_data(cfg)
    return train_teach_model(cfg, data, model=model, **hooks)


def predict(model, x) -> np.ndarray:

    return predict_proba(model, x)


def example(loaded) -> dict:
    """What the model says about a neutral input of its kind (silence should be "background noise")."""
    kind = str((loaded.metadata or {}).get("kind", ""))
    names = list((loaded.metadata or {}).get("class_names") or [])
    shape = input_shape(_kind(kind))
    neutral = {"image": 0.5, "drawing": 0.0, "sound": -13.8}[kind]  # grey; no ink; ln of the spectrogram's floor
    p = predict(loaded.model, np.full((1, *shape), neutral, np.float32))[0]
    best = int(p.argmax())
    return {"input": EXAMPLES[kind], "label": names[best] if best < len(names) else str(best), "p": float(p[best])}


def retrain(req, user, job, before):
    raise TeachError("A Teach model is retrained on the Teach page, from its project's samples.")


def _with_defaults(args: argparse.Namespace, kind: str) -> argparse.Namespace:
    cfg = TeachConfig(kind=kind)
    values = vars(args).copy()
    for name, default in (("epochs", cfg.epochs), ("batch_size", cfg.batch_size), ("learning_rate", cfg.learning_rate)):
        if values.get(name) is None:
            values[name] = default
    values["seed"] = values.get("seed") if values.get("seed") is not None else cfg.seed
    if not values.get("out"):
        raise TeachError("--out is needed: a Teach model has no shipped folder to replace.")
    return argparse.Namespace(**{**values, "kind": kind})


def _train(args, kind: str) -> dict:

    return train_cli(_with_defaults(args, kind))


def evaluate_cli(args) -> dict:
    """`python -m core evaluate teach-KIND DATA_DIR --model OUTDIR`: the project folder is the FILE argument."""

    if not getattr(args, "model", None):
        raise TeachError("--model is needed: the Teach model folder to evaluate.")
    return teach_evaluate(argparse.Namespace(model=args.model, data=args.file))


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the project folder: one subfolder of samples per class")
    parser.add_argument(
        "--method",
        choices=("transfer", "scratch"),
        default="transfer",
        help="transfer: a frozen extractor + a small head (default); scratch: the small CNN (--epochs apply)",
    )


def train_image_cli(args) -> dict:
    return _train(args, "image")


def train_sound_cli(args) -> dict:
    return _train(args, "sound")


def train_drawing_cli(args) -> dict:
    return _train(args, "drawing")


def register_all() -> None:
    for kind in KINDS:
        label, icon = LABELS[kind]
        families.register(
            families.Family(
                name=f"teach-{kind}",
                label=label,
                icon=icon,
                description=f"Your own classes from {kind}s: a small CNN learnt from scratch on your samples.",
                config=TeachConfig,
                needs=families.Needs(
                    input_shape(kind), f"one {kind} sample", {"conv_1": "Conv2D", "dense_out": "Dense"}, "dense_out"
                ),
                build=families.Ref(__name__, "build"),
                load_data=families.Ref(__name__, "load_data"),
                train=families.Ref(__name__, "train"),
                predict=families.Ref(__name__, "predict"),
                example=families.Ref(__name__, "example"),
                retrain=families.Ref(__name__, "retrain"),
                train_cli=families.Ref(__name__, f"train_{kind}_cli"),
                evaluate_cli=families.Ref(__name__, "evaluate_cli"),
                add_cli_options=add_cli_options,
                sample_view="image",
                menu_order=40,
            )
        )


register_all()  # the registry's discovery imports this module; importing it registers the three kinds
