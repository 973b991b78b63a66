"""Teach projects' models: a small CNN per kind (photos, 28x28 drawings, 1-second log-mel spectrograms), the
stratified 85/15 split, training through core.training (always a new model or a copy), prediction and evaluation.
Keras is imported inside the functions, so importing this module stays cheap."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from core.engine.training import Trained, chance_loss, copy_model, train
from core.families.teach.data import DRAWING_SIZE, IMAGE_SIZE, N_FRAMES, N_MELS, TeachError, check_kind, input_shape
from core.metrics import classification_report

AUGMENT_COPIES = 3  # each training sample is joined by 3 jittered copies (see augment_samples)
PREDICT_BATCH = 256


@dataclass(frozen=True)
class TeachConfig:
    """Teachable Machine's defaults: 50 epochs, batch 16, Adam at 0.001, 15% of each class held out."""

    kind: str = "image"
    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 0.001
    validation_fraction: float = 0.15
    seed: int = 0
    augment: bool = True

    @classmethod
    def tiny(cls, kind: str = "image") -> TeachConfig:
        return cls(kind=kind, epochs=2, batch_size=8)

    def with_(self, **changes) -> TeachConfig:
        return replace(self, **changes)


# ---------------------------------------------------------------- the models


def build_teach_model(kind: str, n_classes: int, cfg: TeachConfig | None = None):
    """A small Sequential CNN for `kind` with a softmax over `n_classes`; only layers the store and TF.js read.

    Few samples, learnt from scratch: few filters, max-pooling, global average pooling (position does not matter
    and it keeps the dense layer tiny), dropout. The output is probabilities, so the TF.js export needs nothing
    added. Augmentation happens on the data (augment_samples), because Keras' Random* layers are not in the
    store's allowlist and TF.js would have to skip them anyway."""
    import keras
    from keras import layers

    check_kind(kind)
    if not 2 <= int(n_classes) <= 100:
        raise TeachError(f"A model needs 2 to 100 classes (got {n_classes}).")
    seed = (cfg or TeachConfig()).seed
    keras.utils.set_random_seed(int(seed))
    # Each kind differs only in how its input becomes an image with channels; the three conv blocks are shared.
    if kind == "image":
        stem = [
            keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3)),
            layers.Rescaling(2.0, offset=-1.0, name="scale_to_pm1"),  # 0..1 pixels -> -1..1, centred for ReLUs
        ]
    elif kind == "drawing":
        stem = [
            keras.Input((DRAWING_SIZE, DRAWING_SIZE)),
            layers.Reshape((DRAWING_SIZE, DRAWING_SIZE, 1), name="add_channel"),
        ]
    else:
        stem = [
            keras.Input((N_FRAMES, N_MELS)),
            layers.Reshape((N_FRAMES, N_MELS, 1), name="add_channel"),
            # ln power runs from -13.8 (silence) to about 0: bring it near -1..1 for the first layer
            layers.Rescaling(1 / 7.0, offset=1.0, name="scale_log_mel"),
        ]
    body = stem + [
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_1"),  # (B, H, W, 16)
        layers.MaxPooling2D(name="pool_1"),  # (B, H/2, W/2, 16)
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_2"),
        layers.MaxPooling2D(name="pool_2"),  # (B, H/4, W/4, 32)
        layers.Conv2D(48, 3, padding="same", activation="relu", name="conv_3"),
        layers.GlobalAveragePooling2D(name="average"),  # (B, 48): position does not matter
    ]
    head = [
        layers.Dense(32, activation="relu", name="dense_1"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(int(n_classes), activation="softmax", name="dense_out"),
    ]
    return keras.Sequential(body + head, name=f"teach_{kind}")


# ---------------------------------------------------------------- data


def split_data(x, y, cfg: TeachConfig, groups=None) -> dict:
    """Teachable Machine's split: `validation_fraction` of every class held out (rounded), always leaving at least
    one sample of each class to train on, so a class of 1 is all training. With `groups` (each row's file) whole
    files are held out together: the seconds of one recording are near copies, and splitting them would flatter
    the score."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise TeachError(f"{len(x)} samples but {len(y)} labels.")
    if not 0.0 <= float(cfg.validation_fraction) < 1.0:
        raise TeachError(f"The validation fraction must be from 0 to below 1 (got {cfg.validation_fraction}).")
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(int(cfg.seed))
    val_rows = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        units = np.unique(groups[y == label])
        rng.shuffle(units)
        n_val = min(len(units) - 1, int(round(len(units) * float(cfg.validation_fraction))))
        val_rows |= np.isin(groups, units[: max(0, n_val)]) & (y == label)
    train_idx, val_idx = np.flatnonzero(~val_rows), np.flatnonzero(val_rows)
    return {
        "x_train": x[train_idx],
        "y_train": y[train_idx],
        "x_val": x[val_idx],
        "y_val": y[val_idx],
        "train_index": train_idx,
        "val_index": val_idx,
    }


def _shift(a: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """Translate the first two axes by (dy, dx), filling what comes in with `fill`."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    return out


def augment_samples(kind: str, x: np.ndarray, y: np.ndarray, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The originals plus `copies` jittered versions of each, made once before training (seeded).

    Photos: mirrored half the time, shifted up to 1/8 of the side, brightness and contrast changed by up to 20%.
    Drawings: shifted up to 2 pixels (the drawing stays inside the 28x28 frame's margin). Sounds: the second moved
    up to 0.1 s (5 frames) earlier or later, and its level changed by up to +-6 dB (a shift of ln(4)/2 in ln power).
    """
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if copies <= 0 or len(x) == 0:
        return x, y
    rng = np.random.default_rng(int(seed) + 1)
    out = [x]
    for _ in range(int(copies)):
        batch = np.empty_like(x)
        for i, sample in enumerate(x):
            if kind == "image":
                s = sample[:, ::-1] if rng.random() < 0.5 else sample
                m = IMAGE_SIZE // 8
                s = _shift(s, int(rng.integers(-m, m + 1)), int(rng.integers(-m, m + 1)), float(s.mean()))
                mean = s.mean()
                s = (s - mean) * rng.uniform(0.8, 1.2) + mean * rng.uniform(0.8, 1.2)
                batch[i] = np.clip(s, 0.0, 1.0)
            elif kind == "drawing":
                batch[i] = _shift(sample, int(rng.integers(-2, 3)), int(rng.integers(-2, 3)), 0.0)
            else:
                moved = _shift(sample, int(rng.integers(-5, 6)), 0, float(sample.min()))
                batch[i] = moved + rng.uniform(-0.5, 0.5) * math.log(4.0)
        out.append(batch)
    return np.concatenate(out), np.concatenate([y] * (int(copies) + 1))


def check_data(data: dict) -> None:
    kind = check_kind(data.get("kind", ""))
    names = list(data.get("class_names") or [])
    x, y = np.asarray(data.get("x_train", [])), np.asarray(data.get("y_train", []))
    if len(names) < 2:
        raise TeachError("A model needs at least 2 classes.")
    if len(x) == 0:
        raise TeachError("There is no training data.")
    if tuple(x.shape[1:]) != input_shape(kind):
        raise TeachError(f"{kind} samples must have shape {input_shape(kind)} (got {tuple(x.shape[1:])}).")
    if len(y) != len(x) or y.min() < 0 or y.max() >= len(names):
        raise TeachError(f"Labels must be class numbers from 0 to {len(names) - 1}, one per sample.")


def train_teach_model(cfg: TeachConfig, data: dict, model=None, **hooks) -> Trained:
    """Train a NEW model (built from `cfg`, or a copy of `model`: the one passed in is never changed) on
    data["x_train"], validating on data["x_val"] when there is any. `hooks` go to core.training.train
    (on_epoch_end, on_batch_end, should_stop, loss_ceiling, ...).

    The batch is capped at the number of training rows (after augmentation), as Teachable Machine trains a tiny
    project in one batch instead of refusing it."""
    check_data(data)
    kind, names = data["kind"], list(data["class_names"])
    x, y = np.asarray(data["x_train"], np.float32), np.asarray(data["y_train"])
    if cfg.augment:
        x, y = augment_samples(kind, x, y, AUGMENT_COPIES, cfg.seed)
    if model is None:
        trainee = build_teach_model(kind, len(names), cfg)
    else:
        if int(model.outputs[0].shape[-1]) != len(names):
            raise TeachError(f"The model has {model.outputs[0].shape[-1]} outputs but the data {len(names)} classes.")
        trainee = copy_model(model)
    x_val = np.asarray(data.get("x_val", np.zeros((0, *x.shape[1:]))), np.float32)
    validation = (x_val, np.asarray(data["y_val"])) if len(x_val) else None
    hooks.setdefault("loss_ceiling", chance_loss(len(names)))
    result = train(
        trainee,
        x,
        y,
        epochs=int(cfg.epochs),
        batch_size=min(int(cfg.batch_size), len(x))
        if isinstance(cfg.batch_size, (int, np.integer))
        else cfg.batch_size,
        learning_rate=cfg.learning_rate,
        loss="sparse_categorical_crossentropy",
        validation_data=validation,
        seed=int(cfg.seed),
        **hooks,
    )
    return Trained(trainee, result, {**data, "n_train_augmented": len(x)})


def steps_per_epoch(n_train: int, cfg: TeachConfig) -> int:
    """Batches per epoch for `n_train` rows before augmentation (what job.plan needs)."""
    rows = n_train * (AUGMENT_COPIES + 1 if cfg.augment else 1)
    return max(1, math.ceil(rows / max(1, min(int(cfg.batch_size), rows))))


# ---------------------------------------------------------------- prediction and evaluation


def predict_proba(model, x) -> np.ndarray:
    """(N, C) softmax probabilities; batches of PREDICT_BATCH, calling the model directly (model.predict's set-up
    costs more than the forward pass for a handful of samples)."""
    x = np.asarray(x, np.float32)
    if len(x) == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    parts = [np.asarray(model(x[i : i + PREDICT_BATCH], training=False)) for i in range(0, len(x), PREDICT_BATCH)]
    return np.concatenate(parts).astype(np.float32)


def evaluate_arrays(model, x, y, class_names) -> dict:
    """accuracy, per_class {name: {"accuracy", "n"}}, n, confusion (rows true, columns predicted), mean_confidence
    (the mean top probability: how sure it is, right or wrong), mean_true_probability, and the misclassified rows'
    indexes, with predictions and probabilities for the views."""
    return evaluate_probabilities(predict_proba(model, x), y, class_names)


def evaluate_probabilities(probs, y, class_names) -> dict:
    """evaluate_arrays' report from (N, C) probabilities already computed (a transfer head takes features)."""
    names = list(class_names)
    y = np.asarray(y, dtype=int)
    probs = np.asarray(probs, np.float32)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    report = classification_report(y, pred, names)
    counts = np.bincount(y, minlength=len(names)) if len(y) else np.zeros(len(names), int)
    return {
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "per_class": {
            name: {"accuracy": report["per_class"][name], "n": int(counts[i])} for i, name in enumerate(names)
        },
        "n": report["n"],
        "confusion": report["confusion"],
        "class_names": names,
        "mean_confidence": float(probs.max(axis=1).mean()) if len(probs) else None,
        "mean_true_probability": float(probs[np.arange(len(y)), y].mean()) if len(probs) else None,
        "misclassified": [int(i) for i in np.flatnonzero(pred != y)],
        "predicted": pred.tolist(),
        "probabilities": probs.round(4).tolist(),
    }
