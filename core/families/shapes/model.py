"""Hand-drawn shape recognition: the canvas preprocessing (Quick, Draw! 28x28 convention; core.shape_preprocess), a
procedural generator of hand-drawn-looking shapes rendered through that same pipeline (core.shape_generator), the
CNN, fast prediction and feature maps, the Quick, Draw! bitmap loader, and the `train shapes` / `evaluate shapes`
commands."""

from __future__ import annotations

import hashlib
import io
import os
import re
import weakref
from pathlib import Path

import numpy as np

from core.engine import warm
from core.engine.traced import traced_call
from core.engine.training import Trained, copy_model, train
from core.families.shapes import data as shape_data
from core.families.shapes import generator as shape_generator
from core.families.shapes.config import ShapeConfig
from core.families.shapes.data import OTHER, SHAPES_FILE

# Re-exported: callers and tests use these names through core.shapes.
from core.families.shapes.generator import CLASS_NAMES, generate_shapes
from core.families.shapes.verdict import (
    MAIN_CLASSES,
    answer,
    min_confidence_for,
    tune_min_confidence,
)
from core.inputs import canvas as shape_preprocess
from core.inputs.canvas import (
    IMAGE_SIZE,
)
from core.metrics import classification_report
from core.settings import get_settings
from core.store import models as store

MODEL_CLASSES = (*CLASS_NAMES, OTHER)  # the shipped model's outputs: the shapes, then "none of these"
RARE_COPIES = 40  # augmented copies per real drawing, at most, for a class with few real drawings
MAX_LABEL_LENGTH = 32
QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/"
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9 _-]*$")


# ---------------------------------------------------------------- user class names


def check_class_name(name: str) -> str:
    """A class name for a user sample: lower-case letters, digits, spaces, '_' or '-', 1-32 characters."""
    label = str(name or "").strip().lower()
    if not label:
        raise ValueError("The class name is empty: type a name such as 'heart'.")
    if len(label) > MAX_LABEL_LENGTH:
        raise ValueError(f"The class name is {len(label)} characters long; keep it to {MAX_LABEL_LENGTH}.")
    if any(ch in label for ch in "/\\.:\x00") or not LABEL_PATTERN.match(label):
        raise ValueError(
            f"The class name {name!r} may only use letters, digits, spaces, '_' and '-' (no slashes, dots or other "
            "path characters)."
        )
    return label


# ---------------------------------------------------------------- data for training


def _augment_user(images: np.ndarray, copies: int, rng: np.random.Generator) -> np.ndarray:
    """Copies of user drawings shifted by up to one pixel, so a handful of samples is not repeated verbatim."""
    out = [images]
    for _ in range(copies - 1):
        dy, dx = rng.integers(-1, 2, 2)
        out.append(np.roll(images, (int(dy), int(dx)), axis=(1, 2)))
    return np.concatenate(out)


def generate_shapes_cached(
    n_per_class: int, seed: int, cache_dir: Path | None, classes: tuple[str, ...] = CLASS_NAMES
) -> tuple[np.ndarray, np.ndarray]:
    """generate_shapes, kept in `cache_dir` as .npz (read with allow_pickle=False): thousands of drawings take tens
    of seconds, and a retrain may run in a fresh worker process (a warm one keeps them in memory as well,
    core.engine.warm). The key
    includes a hash of this module and of the generator and preprocessing modules, so a changed generator or
    preprocessing never reads stale drawings."""
    if cache_dir is None:
        return generate_shapes(n_per_class, seed, classes)
    key = ("generated shapes", n_per_class, seed, str(cache_dir), tuple(classes))  # a warm process keeps them too
    return warm.memo(key, lambda: _generate_shapes_on_disk(n_per_class, seed, Path(cache_dir), classes))


def _generate_shapes_on_disk(
    n_per_class: int, seed: int, cache_dir: Path, classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    files = (__file__, shape_generator.__file__, shape_preprocess.__file__)
    sources = b"".join(Path(f).read_bytes() for f in files)
    code = hashlib.sha256(sources + "|".join(classes).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"shapes-{n_per_class}-{seed}-{code}.npz"
    try:
        with np.load(path, allow_pickle=False) as cached:
            images, labels = cached["images"], cached["labels"]
        if (
            images.shape == (n_per_class * len(classes), IMAGE_SIZE, IMAGE_SIZE)
            and labels.shape == images[:, 0, 0].shape
        ):
            return images.astype(np.uint8), labels.astype(np.int64)
    except (OSError, ValueError, KeyError):
        pass  # missing or damaged: generate again and overwrite
    images, labels = generate_shapes(n_per_class, seed, classes)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass  # a read-only or full disk only costs the time to generate again
    return images, labels


def prepare_shape_data(
    cfg: ShapeConfig,
    extra: list[tuple[np.ndarray, str]] | None = None,
    cache_dir: Path | None = None,
    real: shape_data.RealDrawings | None = None,
) -> dict:
    """Training and validation data: real Quick, Draw! drawings (core.shape_data), "other" words for "none of
    these", generated drawings for classes with few real ones, plus the user's drawings ((image, label) pairs or
    the rows of core.samples.drawings()).

    Real drawings are split first (whole "other" words to validation, so that figure is on words the model never
    saw); every class then gets `cfg.samples_per_class` training drawings (see shape_data.balanced_set). A class
    with fewer than `cfg.min_real` real drawings gets `cfg.samples_per_class // 2` from the generator. The class
    order is CLASS_NAMES, then OTHER, then new user classes. With `cache_dir`, generated drawings are kept there.
    """
    rng = np.random.default_rng(cfg.seed + 1)
    # Accept core.samples.drawings() rows (id, image, label, created_at) as well as (image, label) pairs.
    pairs = [(row[1], row[2]) if len(row) == 4 else (row[0], row[1]) for row in (extra or [])]
    extra = [(np.asarray(img, np.uint8), check_class_name(lab)) for img, lab in pairs]
    base = list(CLASS_NAMES) + [OTHER]
    class_names = base + sorted({lab for _, lab in extra} - set(base))
    if real is None:  # read once in a warm training process (core.engine.warm)
        files = warm.file_key(shape_data.SHAPES_FILE, shape_data.OTHER_FILE)
        real = warm.memo(("real drawings", files), shape_data.load_real_drawings)
    counts = shape_data.real_counts(real.labels, base)
    x_val_parts, y_val_parts, x_fit, y_fit = [], [], [], []
    if cfg.samples_per_class > 0 and len(real.labels):
        train_idx, val_idx = shape_data.split_groups(real.labels, real.groups, cfg.validation_fraction, cfg.seed)
        x_val_parts.append(real.images[val_idx])
        y_val_parts.append(np.array([class_names.index(lab) for lab in real.labels[val_idx]], dtype=np.int64))
        labels = real.labels[train_idx]
        x, y = shape_data.balanced_set(
            real.images[train_idx],
            labels,
            base,
            cfg.samples_per_class,
            rng,
            real.groups[train_idx],
            counts={OTHER: cfg.other_per_class},
        )
        rare = tuple(c for c in CLASS_NAMES if counts[c] < cfg.min_real)
        if rare:  # few real drawings: at most RARE_COPIES augmented copies of each, the generator fills the rest
            keep = []
            for c in rare:
                idx = np.flatnonzero(y == class_names.index(c))
                keep.append(idx[: min(len(idx), RARE_COPIES * int((labels == c).sum()))])
            common = np.flatnonzero(~np.isin(y, [class_names.index(c) for c in rare]))
            chosen = np.concatenate([common, *keep])
            x, y = x[chosen], y[chosen]
            n_gen = max(1, cfg.samples_per_class // 2)
            gx, gy = generate_shapes_cached(n_gen, cfg.seed, cache_dir, rare)
            x_fit.append(gx)
            y_fit.append(np.array([class_names.index(rare[i]) for i in gy], dtype=np.int64))
        x_fit.append(x)
        y_fit.append(y)
    for label in sorted({lab for _, lab in extra}):
        imgs = np.stack([img for img, lab in extra if lab == label])
        imgs = imgs[rng.permutation(len(imgs))]
        k = max(1, int(round(len(imgs) * cfg.validation_fraction))) if len(imgs) >= 2 else 0
        idx = class_names.index(label)
        if k:
            x_val_parts.append(imgs[:k])
            y_val_parts.append(np.full(k, idx))
        fit = imgs[k:]
        copies = int(np.clip(max(cfg.samples_per_class, 16) // (4 * len(fit)), 1, 50))
        aug = _augment_user(fit, copies, rng)
        x_fit.append(aug)
        y_fit.append(np.full(len(aug), idx))
    if not x_fit:
        raise ValueError("There are no drawings to train on: add drawings or use the built-in ones.")
    x_train, y_train = np.concatenate(x_fit), np.concatenate(y_fit).astype(np.int64)
    order = rng.permutation(len(y_train))
    empty = np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return {
        "x_train": x_train[order],
        "y_train": y_train[order],
        "x_val": np.concatenate(x_val_parts) if x_val_parts else empty,
        "y_val": np.concatenate(y_val_parts).astype(np.int64) if y_val_parts else np.zeros(0, np.int64),
        "class_names": class_names,
        "n_user_samples": len(extra),
        "real_counts": counts,
    }


# ---------------------------------------------------------------- "none of these"


# ---------------------------------------------------------------- Quick, Draw! bitmaps (when online)


def load_quickdraw_bitmaps(
    category: str, max_items: int | None = 2000, cache_dir: str | Path | None = None, base_url: str = QUICKDRAW_URL
) -> np.ndarray:
    """The public Quick, Draw! numpy bitmaps of one category (CC BY 4.0, Google), downloaded once and cached.

    Each file is (N, 784) uint8, white on black; returns (min(N, max_items), 28, 28).
    """
    import urllib.parse

    import keras

    name = check_class_name(category)
    path = keras.utils.get_file(
        fname=f"quickdraw_{name.replace(' ', '_')}.npy",
        origin=base_url + urllib.parse.quote(name) + ".npy",
        cache_dir=str(cache_dir) if cache_dir else None,
        cache_subdir="quickdraw",
    )
    data = np.load(path, mmap_mode="r", allow_pickle=False)
    if data.ndim != 2 or data.shape[1] != IMAGE_SIZE * IMAGE_SIZE or data.dtype != np.uint8:
        raise ValueError(f"{path} is not a Quick, Draw! bitmap file: expected (N, 784) uint8, got {data.shape}.")
    rows = data[:max_items] if max_items else data
    return np.asarray(rows).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


# ---------------------------------------------------------------- the model


def build_shape_cnn(cfg: ShapeConfig = ShapeConfig(), n_classes: int = len(MODEL_CLASSES)):
    """28x28 0-255 -> [conv -> max-pool] x len(conv_filters) -> flatten -> dense_hidden -> dense_out softmax."""
    import keras

    layers = [
        keras.Input(shape=(cfg.image_size, cfg.image_size), name="drawing"),
        keras.layers.Reshape((cfg.image_size, cfg.image_size, 1), name="add_channel"),  # (B, 28, 28, 1)
        keras.layers.Rescaling(1.0 / 255.0, name="scale_0_1"),  # inside the model, so callers pass raw 0-255
    ]
    for i, filters in enumerate(cfg.conv_filters, start=1):
        layers.append(
            keras.layers.Conv2D(filters, cfg.kernel_size, padding="same", activation="relu", name=f"conv_{i}")
        )  # (B, 28/2^(i-1), ..., filters)
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{i}"))  # halves height and width
    layers += [
        keras.layers.Flatten(name="flatten"),  # (B, 7*7*32) for the default config
        keras.layers.Dropout(0.3, name="dropout"),  # generated data is plentiful but alike; dropout limits memorising
        keras.layers.Dense(cfg.dense_units, activation="relu", name="dense_hidden"),  # (B, 64): the embedding
        keras.layers.Dense(n_classes, activation="softmax", name="dense_out"),  # (B, n_classes)
    ]
    return keras.Sequential(layers, name="shapes")


def n_outputs(model) -> int:
    return int(model.get_layer("dense_out").units)


def class_names_for(metadata: dict | None, model=None) -> list[str]:
    """A model's class names from its metadata; the built-in names when absent and the output size fits."""
    names = list((metadata or {}).get("class_names") or [])
    n = n_outputs(model) if model is not None else len(names or MODEL_CLASSES)
    if len(names) == n:
        return names
    base = list(MODEL_CLASSES)
    return base[:n] + [f"class {i}" for i in range(len(base), n)]


def with_classes(model, n_classes: int):
    """A copy of `model` whose output layer has `n_classes` units; all other weights are kept (new classes learn
    from the existing features), and the old output rows are kept for the classes both share."""
    import keras

    if n_outputs(model) == n_classes:
        return copy_model(model)
    layers = []
    for layer in model.layers:
        config = layer.get_config()
        if layer.name == "dense_out":
            config["units"] = n_classes
        layers.append(layer.__class__.from_config(config))
    clone = keras.Sequential([keras.Input(shape=model.inputs[0].shape[1:], name="drawing"), *layers], name=model.name)
    for old, new in zip(model.layers, clone.layers):
        if old.name != "dense_out":
            new.set_weights(old.get_weights())
        else:
            kernel, bias = new.get_weights()
            old_kernel, old_bias = old.get_weights()
            k = min(n_classes, old_kernel.shape[1])
            kernel[:, :k], bias[:k] = old_kernel[:, :k], old_bias[:k]
            new.set_weights([kernel, bias])
    return clone


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def predict_proba(model, images) -> np.ndarray:
    """Class probabilities for one (28, 28) image -> (C,), or a batch (B, 28, 28) -> (B, C)."""
    x = np.asarray(images, dtype=np.float32)
    single = x.ndim == 2
    probs = np.asarray(traced_call(model)(x[None] if single else x))  # (B, C)
    return probs[0] if single else probs


def strongest_filter(maps: np.ndarray) -> tuple[int, float]:
    """(H, W, filters) activations -> (index of the filter with the highest activation anywhere, that activation)."""
    peaks = np.asarray(maps).reshape(-1, np.shape(maps)[-1]).max(axis=0)  # (filters,)
    best = int(np.argmax(peaks))
    return best, float(peaks[best])


def feature_maps(model, image: np.ndarray, layers: tuple[str, ...] = ("conv_1",)) -> dict[str, np.ndarray]:
    """Activations of the named conv layers for one drawing: {name: (H, W, filters)}."""
    import keras

    key = (model, tuple(layers))
    views = _views.setdefault(model, {})
    if key[1] not in views:
        views[key[1]] = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layers])
    outs = views[key[1]](np.asarray(image, np.float32)[None], training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: np.asarray(o)[0] for n, o in zip(layers, outs)}


def embed_drawings(model, images) -> np.ndarray:
    """The `dense_hidden` activations: the drawing embedding used by vector search. (B, dense_units)."""
    import keras

    views = _views.setdefault(model, {})
    if "embed" not in views:
        views["embed"] = keras.Model(model.inputs[0], model.get_layer("dense_hidden").output)
    x = np.asarray(images, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return np.asarray(views["embed"](x, training=False))


# ---------------------------------------------------------------- training and evaluation


def train_shape_model(cfg: ShapeConfig = ShapeConfig(), data: dict | None = None, model=None, **hooks):
    """Train a new shape CNN, or a copy of `model` (never `model` itself); returns core.training.Trained.

    A passed `model` is copied, with its output layer widened when the data has new classes. `hooks` go to
    core.training.train (on_epoch_end, on_batch_end, should_stop, deterministic, ...).
    """
    import keras

    data = data or prepare_shape_data(cfg)
    n_classes = len(data.get("class_names") or MODEL_CLASSES)
    keras.utils.set_random_seed(cfg.seed)
    model = with_classes(model, n_classes) if model is not None else build_shape_cnn(cfg, n_classes)
    result = train(
        model,
        data["x_train"].astype(np.float32),
        data["y_train"],
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        optimizer=cfg.optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        validation_data=(data["x_val"].astype(np.float32), data["y_val"]) if len(data["y_val"]) else None,
        seed=cfg.seed,
        final_learning_rate_fraction=cfg.final_learning_rate_fraction,
        **hooks,
    )
    return Trained(model, result, data)


def predict_batches(model, x) -> np.ndarray:
    """Probabilities for many drawings (N, 28, 28), 512 at a time. (N, C)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if len(x) == 0:
        return np.zeros((0, n_outputs(model)), np.float32)
    return np.concatenate([predict_proba(model, x[i : i + 512]) for i in range(0, len(x), 512)])


def evaluate_arrays(model, x, y, class_names: list[str] | None = None, min_confidence: float = 0.0) -> dict:
    """Accuracy, per-class recall and confusion for images (N, 28, 28) and integer labels (N,).

    Rows whose label is OTHER measure "none of these": `other_rejected` is the share of them the model answers
    OTHER for, and they are left out of accuracy, balanced accuracy and per-class recall, where an OTHER answer to
    an in-class drawing counts as wrong."""
    names = class_names or class_names_for(None, model)
    y = np.asarray(y, dtype=int)
    pred = answer(predict_batches(model, x), names, min_confidence) if len(y) else np.zeros(0, int)
    other = names.index(OTHER) if OTHER in names else -1
    is_other = y == other
    report = classification_report(y[~is_other], pred[~is_other], names)
    if other >= 0:
        report["per_class"].pop(OTHER, None)
        n_other = int(is_other.sum())
        report["other_rejected"] = float((pred[is_other] == other).mean()) if n_other else None
        report["n_other"] = n_other
    return report


def read_evaluation_npz(raw: bytes | str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check an `evaluate` file: `images` (N, 28, 28) uint8 and `labels` (N,) strings."""
    raw = raw if isinstance(raw, bytes) else Path(raw).read_bytes()
    if not raw.startswith(b"PK"):  # every .npz is a zip archive; np.load would guess "pickle" for anything else
        raise ValueError("The file is not a readable .npz archive (save it with numpy.savez).")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                "The .npz holds Python objects; labels must be a plain string array (dtype str)."
            ) from None
        raise ValueError(f"The file is not a readable .npz archive ({exc}).") from None
    except (OSError, EOFError, KeyError) as exc:
        raise ValueError(f"The file is not a readable .npz archive ({exc}).") from None
    missing = [k for k in ("images", "labels") if k not in arrays]
    if missing:
        raise ValueError(
            f"The .npz lacks the array(s) {', '.join(missing)}: it needs `images` (N, 28, 28) uint8 and `labels` "
            f"(N,) strings (found: {', '.join(sorted(arrays)) or 'nothing'})."
        )
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"`images` must have shape (N, 28, 28); it has shape {images.shape}.")
    if images.dtype != np.uint8:
        raise ValueError(f"`images` must be uint8 (0-255, white strokes on black); it is {images.dtype}.")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"`labels` must have shape ({len(images)},), one per image; it has shape {labels.shape}.")
    if labels.dtype.kind not in "US":
        raise ValueError(f"`labels` must be strings (dtype str); it is {labels.dtype}.")
    if labels.dtype.kind == "S":
        labels = labels.astype(str)
    return images, labels


def evaluate_npz(model, class_names: list[str], raw: bytes | str | Path, min_confidence: float = 0.0) -> dict:
    """The `evaluate shapes` report (see evaluate_arrays); a row labelled `other` is a drawing of none of the
    classes. Other labels the model does not know are counted in `unknown_labels` and skipped."""
    images, labels = read_evaluation_npz(raw)
    normalised = np.array([str(lab).strip().lower() for lab in labels], dtype=str)
    known = np.isin(normalised, class_names)
    unknown: dict[str, int] = {}
    for lab in normalised[~known]:
        unknown[lab] = unknown.get(lab, 0) + 1
    y = np.array([class_names.index(lab) for lab in normalised[known]], dtype=int)
    report = evaluate_arrays(model, images[known], y, class_names, min_confidence)
    report["unknown_labels"] = {"count": int((~known).sum()), "by_label": unknown}
    return report


def load_shipped():

    return store.load_family_model("shapes")


def evaluate_cli(args) -> dict:

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"There is no file at {path}.")
    loaded = store.load_family_model("shapes", getattr(args, "model", None))
    names = class_names_for(loaded.metadata, loaded.model)
    return evaluate_npz(loaded.model, names, path.read_bytes(), min_confidence_for(loaded.metadata))


def measure_heldout(model, data: dict) -> tuple[float, dict]:
    """(rejection threshold, metrics) on the held-out split of prepare_shape_data: the threshold is tuned there
    (tune_min_confidence), and the metrics use it."""
    names = data["class_names"]
    threshold = tune_min_confidence(predict_batches(model, data["x_val"]), data["y_val"], names)
    val = evaluate_arrays(model, data["x_val"], data["y_val"], names, threshold)
    main_rows = np.isin(data["y_val"], [names.index(c) for c in MAIN_CLASSES])
    main = evaluate_arrays(model, data["x_val"][main_rows], data["y_val"][main_rows], names, threshold)
    return threshold, {
        "heldout": "real drawings split off before training; 'other' words never seen in training",
        "heldout_accuracy": val["accuracy"],
        "heldout_balanced_accuracy": val["balanced_accuracy"],
        "heldout_main_accuracy": main["accuracy"],
        "heldout_other_rejected": val.get("other_rejected"),
        "heldout_per_class": val["per_class"],
        "heldout_counts": {c: int((data["y_val"] == i).sum()) for i, c in enumerate(names)},
        "heldout_n": val["n"],
        "heldout_n_other": val.get("n_other"),
    }


def train_cli(args) -> dict:
    """`python -m core train shapes`: deterministic rebuild of saved_models/shapes (or --out), on the real
    drawings' training split; every figure it stores is measured on the held-out split."""

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
    cfg = ShapeConfig().with_(**overrides)
    data = prepare_shape_data(cfg, cache_dir=get_settings().user_data_dir / "cache")
    names = data["class_names"]
    model, result, data = train_shape_model(cfg, data, deterministic=True)
    if not result.ok:
        raise ValueError(result.message)
    threshold, metrics = measure_heldout(model, data)
    metadata = {
        "family": "shapes",
        "class_names": names,
        "input": "28x28 uint8, white strokes on black, Quick, Draw! bitmap convention (core.shapes.preprocess_canvas)",
        "training_data": "real Quick, Draw! drawings (Google, CC BY 4.0) of our classes and of 159 other words "
        f"(core/data/quickdraw_*.npz, {sum(data['real_counts'].values()):,} in all; {1 - cfg.validation_fraction:.0%} "
        f"train), with augmented copies, and generated drawings for classes with fewer than {cfg.min_real} real "
        f"ones: {len(data['y_train']):,} training images",
        "real_counts": data["real_counts"],
        "rejection": {"min_confidence": threshold, "other_label": OTHER},
        "config": {k: v for k, v in cfg.__dict__.items()},
        "history": result.history,
        "train_seconds": round(result.seconds, 1),
        "metrics": metrics,
    }
    out = Path(args.out) if args.out else store.shipped_model_dir("shapes")
    store.save_model(model, out, metadata)
    return {"out": str(out), "seconds": round(result.seconds, 1), **metadata["metrics"]}


def example(loaded) -> dict:
    """The family contract's example: what the model calls a real Quick, Draw! circle (the first one shipped)."""

    with np.load(SHAPES_FILE, allow_pickle=False) as f:
        labels = f["labels"].astype(str)
        image = f["images"][int(np.flatnonzero(labels == "circle")[0])]  # (28, 28) uint8, white on black
    p = predict_proba(loaded.model, image[None])[0]
    best = int(p.argmax())
    names = class_names_for(loaded.metadata, loaded.model)
    return {"input": "a real Quick, Draw! circle", "label": names[best], "p": float(p[best])}
