"""A toy model family for tests: a softmax regression on 2-D points (two blobs). It is what adding a family costs:
this one module plus one `core.engine.registry.register(...)` call, and the CLI and the Retrain studio list it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from core.engine import registry as families
from core.engine.registry import Needs
from core.store import models as store

CLASS_NAMES = ["left", "right"]


@dataclass(frozen=True)
class ToyConfig:
    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 0.1
    optimizer: str = "adam"
    validation_fraction: float = 0.25
    seed: int = 3
    points: int = 200

    @classmethod
    def tiny(cls) -> ToyConfig:
        return cls(epochs=2, points=40)


def build(cfg: ToyConfig = ToyConfig(), n_classes: int | None = None):
    import keras

    keras.utils.set_random_seed(cfg.seed)
    return keras.Sequential(
        [
            keras.Input(shape=(2,), name="point"),
            keras.layers.Dense(n_classes or 2, activation="softmax", name="dense_out"),
        ],
        name="toy",
    )


def load_data(cfg: ToyConfig = ToyConfig()) -> dict:
    rng = np.random.default_rng(cfg.seed)
    y = rng.integers(0, 2, cfg.points)
    x = (rng.normal(size=(cfg.points, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)).astype(np.float32)  # (N, 2)
    n_val = max(2, int(cfg.points * cfg.validation_fraction))
    return {"x_train": x[n_val:], "y_train": y[n_val:], "x_val": x[:n_val], "y_val": y[:n_val]}


def train(cfg: ToyConfig, data: dict | None = None, model=None, **hooks):
    from core.engine.training import Trained, copy_model
    from core.engine.training import train as fit

    data = data or load_data(cfg)
    model = copy_model(model) if model is not None else build(cfg)
    result = fit(
        model,
        data["x_train"],
        data["y_train"],
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        optimizer=cfg.optimizer,
        loss="sparse_categorical_crossentropy",
        validation_data=(data["x_val"], data["y_val"]),
        seed=cfg.seed,
        **hooks,
    )
    return Trained(model, result, data)


def predict(model, x) -> np.ndarray:
    return np.asarray(model(np.asarray(x, np.float32).reshape(-1, 2), training=False))


def example(loaded) -> dict:
    p = predict(loaded.model, [[2.0, 2.0]])[0]
    return {"input": "the point (2, 2)", "label": CLASS_NAMES[int(p.argmax())], "p": float(p.max())}


def retrain(req, user, job, before):
    """The studio's runner, from the same helpers the built-in families use."""
    from core.engine import retrain as studio
    from core.engine.retrain_request import request_config

    del user
    cfg = request_config(req, ToyConfig())
    data = load_data(cfg)
    if not studio.ready(job, req, len(data["y_train"])):
        return None
    model, result, data = train(cfg, data, None if req.fresh else before.model, **job.hooks())
    if studio.stopped(job, result):
        return None
    after = predict(model, data["x_val"]).argmax(axis=1)
    before_pred = predict(before.model, data["x_val"]).argmax(axis=1)
    misclassified = studio.cell_examples(data["y_val"], after, lambda i: np.full((8, 8), 255, np.uint8))
    outcome = studio.outcome_of(req, before, CLASS_NAMES, data["y_val"], after, before_pred, result, misclassified)
    metadata = {"family": "toy", "class_names": CLASS_NAMES, "config": asdict(cfg)}
    return studio.save_run(req, model, outcome, result, metadata)


def train_cli(args) -> dict:
    cfg = replace(ToyConfig(), **{k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None})
    model, result, data = train(cfg)
    out = Path(args.out) if args.out else families.get("toy").shipped_dir()
    store.save_model(model, out, {"family": "toy", "class_names": CLASS_NAMES, "config": asdict(cfg)})
    accuracy = float((predict(model, data["x_val"]).argmax(axis=1) == data["y_val"]).mean())
    return {"out": str(out), "accuracy": accuracy, "epochs_run": result.epochs_run, "points": args.points}


def evaluate_cli(args) -> dict:
    rows = np.loadtxt(args.file, delimiter=",", ndmin=2)  # x, y, label per row
    loaded = store.load_model(args.model or families.get("toy").shipped_dir())
    pred = predict(loaded.model, rows[:, :2]).argmax(axis=1)
    return {"accuracy": float((pred == rows[:, 2]).mean()), "n": len(rows)}


def add_cli_options(parser) -> None:
    parser.add_argument("--points", type=int, default=200, help="the toy's own flag")


def family(models_dir: Path | None = None) -> families.Family:
    here = __name__
    return families.Family(
        name="toy",
        label="Toy points",
        icon="🧸",
        description="Softmax regression on 2-D points.",
        config=ToyConfig,
        needs=Needs((2,), "one 2-D point", {"dense_out": "Dense"}, "dense_out"),
        build=families.Ref(here, "build"),
        load_data=families.Ref(here, "load_data"),
        train=families.Ref(here, "train"),
        predict=families.Ref(here, "predict"),
        example=families.Ref(here, "example"),
        retrain=families.Ref(here, "retrain"),
        train_cli=families.Ref(here, "train_cli"),
        evaluate_cli=families.Ref(here, "evaluate_cli"),
        add_cli_options=add_cli_options,
        builtin_data="two blobs of random points",
        models_dir=models_dir,
    )
