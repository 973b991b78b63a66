"""The colour classifier (The Coding Train's "Color Classifier"): RGB 0-255 -> Rescaling(1/255) -> sigmoid hidden
layer -> 9 logits -> softmax. Data, model, prediction, the softmax lessons and the `evaluate` command."""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import weakref
from dataclasses import dataclass

import numpy as np
from PIL import ImageColor

from core import maths
from core.engine import warm
from core.engine.traced import traced_call
from core.engine.training import Trained, copy_model, train
from core.families.colors import data as color_data
from core.families.colors.config import ColorConfig
from core.metrics import classification_report, expected_calibration_error, negative_log_likelihood
from core.settings import get_settings
from core.store import models as store

FAMILIES = ("red", "green", "blue", "orange", "yellow", "pink", "purple", "brown", "grey")
CLASS_NAMES = tuple(f"{f}-ish" for f in FAMILIES)
# The page's first colour: a dark teal people split between green and blue (the shipped model: about 50/41), whose
# logits include negatives that nearly cancel, so softmax, temperature and divide-by-sum all differ visibly, and
# the "/255 forgotten" input saturates every hidden unit into another answer. A test checks all of this.
DEFAULT_COLOR = (0, 96, 96)
# Colours nearly everyone names the same way: the shipped model is checked against these.
OBVIOUS_COLORS = {
    "red": (255, 0, 0),
    "green": (0, 200, 0),
    "blue": (0, 0, 255),
    "orange": (255, 140, 0),
    "yellow": (255, 240, 0),
    "pink": (255, 105, 180),
    "purple": (128, 0, 128),
    "brown": (139, 69, 19),
    "grey": (128, 128, 128),
}


# ---------------------------------------------------------------- parsing user input


def parse_hex(text: str) -> tuple[int, int, int]:
    """'#3366cc' or '3366cc' or '#36c' -> (51, 102, 204); anything else raises ValueError in plain words.

    No regular expression: one pass over at most a few characters, however long the typed text is.
    """
    s = _typed_colour(text)
    digits = s[1:] if s.startswith("#") else s
    if len(digits) not in (3, 6) or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(
            f"{_echo(text)} is not a hex colour: use six hex digits such as #3366cc (or a colour name such as orange)."
        )
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _typed_colour(text) -> str:
    """The typed text, stripped; refused past the server's cap before any parsing (the widget cap is client-side)."""

    s = str(text)
    limit = get_settings().max_typed_chars
    if len(s) > limit:
        raise ValueError(
            f"That colour is {len(s):,} characters long; type at most {limit}, such as #3366cc or rgb(51, 102, 204)."
        )
    return s.strip()


def _echo(text, limit: int = 40) -> str:
    """The user's text quoted back, cut short so a message stays one line."""
    shown = repr(str(text))
    return shown if len(shown) <= limit else shown[:limit] + "…"


def check_rgb(rgb) -> tuple[int, int, int]:
    """Three whole numbers in 0-255, or a ValueError that says which one is wrong."""
    values = list(rgb)
    if len(values) != 3:
        raise ValueError(f"A colour needs exactly three values, R, G and B (got {len(values)}).")
    out = []
    for name, v in zip("RGB", values):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number (got {v!r}).") from None
        if math.isnan(f):
            raise ValueError(f"{name} is not a number (NaN).")
        if not 0 <= f <= 255:
            raise ValueError(f"{name} must be between 0 and 255 (got {v}).")
        out.append(int(round(f)))
    return tuple(out)


def parse_color(text: str) -> tuple[int, int, int]:
    """Hex ('#ff0000'), 'rgb(255, 0, 0)', '255,0,0' or a CSS colour name ('orange').

    Split on commas instead of a backtracking regular expression: linear in the text, which is capped first.
    """
    s = _typed_colour(text)
    candidates = [s[3:], s] if s[:3].lower() == "rgb" else [s]  # 'rgb' is optional, as before
    for body in candidates:
        body = body.removeprefix("(").removesuffix(")").lstrip()
        parts = body.split(",")
        if len(parts) == 3 and all(p and "(" not in p and ")" not in p for p in parts):
            return check_rgb(p.strip() for p in parts)
    if s.lower().startswith("rgb"):
        raise ValueError(f"{_echo(text)} is not a colour: rgb() needs three numbers, such as rgb(255, 0, 0).")
    named = css_colour(s)
    return named if named is not None else parse_hex(s)


def css_colour(text: str) -> tuple[int, int, int] | None:
    """A CSS colour name ('orange', 'Teal', 'light sea green') as RGB, from Pillow's table of the 148 CSS names; None
    for anything else. Three or six hex digits ('bad', 'c0ffee') stay hex, as they always were."""
    name = str(text).strip().lower().replace(" ", "")
    digits = name.removeprefix("#")
    if len(digits) in (3, 6) and all(c in "0123456789abcdef" for c in digits):
        return None
    if not name.isalpha() or name not in ImageColor.colormap:
        return None
    r, g, b = ImageColor.getrgb(name)[:3]
    return int(r), int(g), int(b)


def to_hex(rgb) -> str:
    r, g, b = check_rgb(rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def normalize_label(label: str) -> str:
    """'Blue-ish', 'blue', ' BLUEISH ' -> 'blue'; unknown labels raise ValueError."""
    s = str(label).strip().lower().replace("gray", "grey")
    s = re.sub(r"-?ish$", "", s)
    if s not in FAMILIES:
        raise ValueError(f"unknown label {label!r} (expected one of {', '.join(FAMILIES)}, with or without '-ish')")
    return s


# ---------------------------------------------------------------- softmax lessons (NumPy, shown on the page)


def divide_by_sum(scores) -> tuple[np.ndarray | None, str]:
    """scores / sum(scores): the naive normalisation. Returns (values, warning); values is None when undefined."""
    s = np.asarray(scores, dtype=np.float64)
    total = s.sum()
    if abs(total) < 1e-12:
        return None, "The scores sum to zero, so dividing by the sum is undefined."
    out = s / total
    if (s < 0).any():
        return out, "Some scores are negative, so divide-by-sum gives negative 'probabilities' (or ones above 1)."
    return out, ""


def explain_divide_by_sum(logits) -> list[str]:
    """Plain sentences on why logits / sum(logits) is no probability for these logits: where it goes negative,
    and where a sum near zero makes it explode. Empty when it happens to look like one."""
    z = np.asarray(logits, dtype=np.float64)
    total = float(z.sum())
    out = []
    negative = int((z < 0).sum())
    if negative:
        out.append(
            f"{negative} of the {len(z)} logits are negative, so their shares are negative too: a 'probability' "
            "below zero. A logit is any real number; only exp() turns every one into something positive."
        )
    if abs(total) < 1e-12:
        out.append("The logits sum to zero, so dividing by the sum is undefined.")
    elif np.abs(z).max() > 1.5 * abs(total):
        out.append(
            f"Positive and negative logits nearly cancel: they sum to {total:.2f}, less than the largest logit "
            f"({np.abs(z).max():.2f}), so the shares explode past 1 (up to {np.abs(z).max() / abs(total):.1f}). "
            "Nudge the colour and the sum can cross zero, flipping every sign."
        )
    if total < 0 and abs(total) >= 1e-12:
        out.append("The sum itself is negative, so the largest logit gets the most negative share: the order flips.")
    return out


def cross_entropy(probabilities, true_index: int) -> float:
    """-log p[true]: how surprised the model is by the truth, in nats."""
    return float(maths.cross_entropy(probabilities, true_index))


def mean_squared_error(probabilities, true_index: int) -> float:
    p = np.asarray(probabilities, dtype=np.float64)
    target = np.zeros_like(p)
    target[true_index] = 1.0
    return float(np.mean((p - target) ** 2))


# ---------------------------------------------------------------- data


def split_table(y, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified index split for rows with no person id (a user's own labels): (train_idx, test_idx), at least
    one test row per class that has two or more."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) >= 2:
            test.extend(idx[: max(1, int(round(len(idx) * test_fraction)))])
    test = np.array(sorted(test), dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), test), test


def one_hot(y, n: int = len(FAMILIES)) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[np.asarray(y, dtype=int)]


def class_weights(y, power: float) -> dict[int, float]:
    """{class: (largest class count / its count) ** power}: 0 leaves the crowd's imbalance, 1 fully balances it."""
    counts = np.bincount(np.asarray(y, dtype=int), minlength=len(FAMILIES)).astype(float)
    top = counts.max()
    return {c: float((top / n) ** power) if n else 1.0 for c, n in enumerate(counts)}


def prepare_color_data(cfg: ColorConfig, extra: list[tuple[int, int, int, str]] | None = None) -> dict:
    """The crowd labels (core.color_data) split by person: `validation_fraction` of the people validate, the rest
    train. `extra` holds user labels (r, g, b, family), added to training, as the Coding Train's crowd grew."""
    crowd = crowd_labels()
    folds = color_data.group_folds(crowd.uid, max(2, round(1 / cfg.validation_fraction)), cfg.seed)
    val_idx = folds[0]
    train_idx = np.setdiff1d(np.arange(len(crowd.y)), val_idx)
    xt, yt = crowd.rgb[train_idx], crowd.y[train_idx]
    if extra:
        ex = np.array([row[:3] for row in extra], dtype=np.float32)
        ey = np.array([FAMILIES.index(normalize_label(row[3])) for row in extra])
        xt, yt = np.concatenate([xt, ex]), np.concatenate([yt, ey])
    return {
        "x_train": xt,
        "y_train": yt,
        "x_val": crowd.rgb[val_idx],
        "y_val": crowd.y[val_idx],
        "counts": {FAMILIES[c]: int(n) for c, n in enumerate(np.bincount(crowd.y, minlength=len(FAMILIES)))},
        "n_people": int(len(np.unique(crowd.uid))),
        "n_val_people": int(len(np.unique(crowd.uid[val_idx]))),
        "n_user_labels": len(extra or []),
    }


# ---------------------------------------------------------------- model


def build_color_model(cfg: ColorConfig = ColorConfig()):
    """RGB (0-255) -> Rescaling(1/255) -> Dense(sigmoid) -> Dense logits -> softmax, every layer named."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(3,), name="rgb"),
            keras.layers.Rescaling(1.0 / 255.0, name="scale_0_1"),  # inside the model: raw 0-255 is always right
            keras.layers.Dense(cfg.hidden_units, activation="sigmoid", name="hidden"),  # (B, hidden)
            keras.layers.Dense(len(FAMILIES), name="logits"),  # (B, 9) raw scores
            keras.layers.Activation("softmax", name="softmax"),  # (B, 9) probabilities
        ],
        name="colors",
    )


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_embed_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _logits_view(model):
    """A functional view returning (logits, probabilities), built and traced once per model."""
    import keras

    if model not in _views:
        _views[model] = traced_call(keras.Model(model.inputs[0], [model.get_layer("logits").output, model.outputs[0]]))
    return _views[model]


def predict_logits_proba(model, rgb) -> tuple[np.ndarray, np.ndarray]:
    """Logits and softmax for one colour (or a batch), via a direct call rather than model.predict."""
    x = np.atleast_2d(np.asarray(rgb, dtype=np.float32))  # (B, 3) in 0-255
    logits, probs = _logits_view(model)(x)
    logits, probs = np.asarray(logits), np.asarray(probs)
    return (logits[0], probs[0]) if np.ndim(rgb) == 1 else (logits, probs)


def predict_proba(model, rgb) -> np.ndarray:
    return predict_logits_proba(model, rgb)[1]


def embed_colors(model, rgb) -> np.ndarray:
    """The hidden layer's activations: the colour embedding used by vector search. (B, hidden)."""
    import keras

    if model not in _embed_views:
        _embed_views[model] = keras.Model(model.inputs[0], model.get_layer("hidden").output)
    return np.asarray(_embed_views[model](np.atleast_2d(np.asarray(rgb, dtype=np.float32)), training=False))


def train_color_model(cfg: ColorConfig = ColorConfig(), data: dict | None = None, model=None, **hooks):
    """Train a new colour model, or a copy of `model` (never `model` itself); returns core.training.Trained."""
    import keras

    data = data or prepare_color_data(cfg)
    keras.utils.set_random_seed(cfg.seed)
    model = copy_model(model) if model is not None else build_color_model(cfg)
    result = train(
        model,
        data["x_train"],
        one_hot(data["y_train"]),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        optimizer=cfg.optimizer,
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        validation_data=(data["x_val"], one_hot(data["y_val"])) if len(data["y_val"]) else None,
        seed=cfg.seed,
        class_weight=class_weights(data["y_train"], cfg.class_weight_power),
        **hooks,
    )
    return Trained(model, result, data)


def evaluate_arrays(model, x, y) -> dict:
    """Accuracy, balanced accuracy, per-class recall and confusion, plus calibration: `nll_nats` and `ece`."""
    probs = predict_proba(model, np.asarray(x, dtype=np.float32).reshape(-1, 3))
    return report_probabilities(probs, y)


def report_probabilities(probs: np.ndarray, y) -> dict:
    report = classification_report(y, probs.argmax(axis=1), CLASS_NAMES)
    report["nll_nats"] = negative_log_likelihood(probs, y) if len(probs) else None
    report["ece"] = expected_calibration_error(probs, y) if len(probs) else None
    return report


def obvious_color_check(model) -> dict[str, str]:
    """What the model calls each obvious colour: {family: predicted class name}."""
    probs = predict_proba(model, np.array(list(OBVIOUS_COLORS.values()), dtype=np.float32))
    return {fam: CLASS_NAMES[int(i)] for fam, i in zip(OBVIOUS_COLORS, probs.argmax(axis=1))}


# ---------------------------------------------------------------- CSV evaluation (the `evaluate colors` command)


def read_labelled_csv(raw: str | bytes) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Parse 'r,g,b,label' CSV text. Bad rows are skipped and reported; a missing header is an error."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("The CSV is not UTF-8 text.") from None
    if not raw.strip():
        raise ValueError("The CSV is empty: it needs a header row r,g,b,label and at least one data row.")
    reader = csv.DictReader(io.StringIO(raw))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        rows = list(reader)  # csv.Error (a stray carriage return in an unquoted field) surfaces here
    except csv.Error as exc:
        raise ValueError(
            f"The CSV could not be read at line {reader.line_num} ({exc}): put each row on one line, and quote a "
            "field that holds a line break."
        ) from None
    missing = [c for c in ("r", "g", "b", "label") if c not in header]
    if missing:
        raise ValueError(f"The CSV lacks the column(s) {', '.join(missing)}: the header must be r,g,b,label.")
    xs, ys, skipped = [], [], []
    for line_no, row in enumerate(rows, start=2):
        row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
        try:
            rgb = check_rgb([row.get("r"), row.get("g"), row.get("b")])
            label = normalize_label(row.get("label") or "")
        except ValueError as exc:
            skipped.append({"line": line_no, "reason": str(exc)})
            continue
        xs.append(rgb)
        ys.append(FAMILIES.index(label))
    return np.array(xs, dtype=np.float32).reshape(-1, 3), np.array(ys, dtype=np.int64), skipped


def evaluate_csv(model, raw: str | bytes) -> dict:
    """The `evaluate colors` report for CSV text (r,g,b,label) or the crowd JSON format ({"entries": [...]}, as
    core/data/ct_colors.json): accuracy, balanced accuracy, per class, `nll_nats`, `ece`; bad rows are skipped."""
    text = raw.decode("utf-8-sig", errors="replace") if isinstance(raw, bytes) else raw
    if text.lstrip().startswith("{"):
        labels, skipped = color_data.parse_crowd_json(text, FAMILIES, check_rgb, normalize_label)
        x, y = labels.rgb, labels.y
        people = int(len(np.unique(labels.uid)))
    else:
        x, y, skipped = read_labelled_csv(raw)
        people = None
    if len(y) == 0:
        report = classification_report([], [], CLASS_NAMES)
        report.update(nll_nats=None, ece=None)
    else:
        report = evaluate_arrays(model, x, y)
    if people is not None:
        report["people"] = people
    report["skipped"] = skipped
    return report


def measured_summary(metadata: dict | None) -> str:
    """One line: what the model was trained on and how it scored on people it never saw."""
    m = (metadata or {}).get("metrics") or {}
    if m.get("heldout_accuracy") is None:
        return "This model has no figure measured on held-out people."
    return (
        f"Trained on {m.get('heldout_n', 0):,} crowd labels from {m.get('heldout_people', 0)} people (The Coding "
        f"Train). On people it never saw it agrees with {m['heldout_accuracy']:.1%} of their labels (balanced "
        f"{m['heldout_balanced_accuracy']:.1%}, calibration error {m.get('heldout_ece', float('nan')):.3f})."
    )


def load_shipped():

    return store.load_family_model("colors")


# ---------------------------------------------------------------- the network as plain numbers (live view, regions)

CHANNELS = ("R", "G", "B")
MAX_GRID_STEPS = 256  # one cell per 0-255 value at most: 65,536 colours in one batched call


def forward_weights(model) -> dict[str, float | list]:
    """Everything a browser needs to run this model itself, as plain numbers: the Rescaling layer's `scale` and
    `offset`, the hidden layer's `hidden_kernel` (3, H) and `hidden_bias` (H,), the output layer's `logits_kernel`
    (H, 9) and `logits_bias` (9,). A network of any other shape raises ValueError in plain words."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    kinds = [type(layer).__name__ for layer in layers]
    expected = ["Rescaling", "Dense", "Dense", "Activation"]
    if kinds != expected or [layers[1].name, layers[2].name] != ["hidden", "logits"]:
        raise ValueError(
            "The live view runs only the colour network's own shape (Rescaling -> Dense 'hidden' -> Dense 'logits' "
            f"-> softmax); this model's layers are {', '.join(kinds) or 'none'}."
        )
    rescale, hidden, logits, out = layers
    activations = [layer.get_config().get("activation") for layer in (hidden, logits, out)]
    if activations != ["sigmoid", "linear", "softmax"]:
        raise ValueError(
            "The live view runs sigmoid hidden units, linear logits and a softmax; this model uses "
            f"{', '.join(str(a) for a in activations)}."
        )
    hidden_kernel, hidden_bias = (np.asarray(w, dtype=np.float64) for w in hidden.get_weights())  # (3, H), (H,)
    logits_kernel, logits_bias = (np.asarray(w, dtype=np.float64) for w in logits.get_weights())  # (H, 9), (9,)
    if hidden_kernel.shape[0] != 3 or logits_kernel.shape != (hidden_kernel.shape[1], len(FAMILIES)):
        raise ValueError(
            f"The live view needs 3 inputs and {len(FAMILIES)} outputs; this model maps {hidden_kernel.shape[0]} "
            f"inputs to {logits_kernel.shape[-1]} outputs."
        )
    return {
        "scale": float(np.asarray(rescale.scale)),
        "offset": float(np.asarray(rescale.offset)),
        "hidden_kernel": hidden_kernel.tolist(),
        "hidden_bias": hidden_bias.tolist(),
        "logits_kernel": logits_kernel.tolist(),
        "logits_bias": logits_bias.tolist(),
    }


def channel_index(channel) -> int:
    """'R'/'G'/'B' (any case, or 'red'/'green'/'blue') -> 0/1/2; anything else raises ValueError in plain words."""
    name = str(channel).strip().lower()
    for i, full in enumerate(("red", "green", "blue")):
        if name in (full, full[0]):
            return i
    raise ValueError(f"The fixed channel must be R, G or B (got {_echo(channel)}).")


@dataclass(frozen=True)
class DecisionGrid:
    """The model's answer over one flat slice of RGB space: `fixed_channel` held at `fixed_value`, the two other
    channels (`axes`, x then y) stepped over 0-255. Arrays are indexed [y, x]."""

    fixed_channel: str  # "R", "G" or "B"
    fixed_value: int
    axes: tuple[str, str]  # the free channels: x, then y
    values: np.ndarray  # (steps,) int: the 0-255 values along each free axis
    rgb: np.ndarray  # (steps, steps, 3) int: the colour of every cell
    probabilities: np.ndarray  # (steps, steps, 9): the model's softmax at every cell
    family: np.ndarray  # (steps, steps) int: the argmax family's index
    confidence: np.ndarray  # (steps, steps): the top probability


def decision_grid(model, fixed_channel, fixed_value, steps: int = 64) -> DecisionGrid:
    """Predict a steps x steps grid over the two channels other than `fixed_channel` (held at `fixed_value`), in one
    batched call. Bad channel names, values outside 0-255 and step counts outside 2-256 raise ValueError."""
    fixed = channel_index(fixed_channel)
    value = check_rgb([fixed_value if i == fixed else 0 for i in range(3)])[fixed]  # its message names the channel
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= MAX_GRID_STEPS:
        raise ValueError(f"The grid needs a whole number of steps from 2 to {MAX_GRID_STEPS} (got {str(steps)[:40]}).")
    x_axis, y_axis = (i for i in range(3) if i != fixed)
    values = np.round(np.linspace(0, 255, int(steps))).astype(np.int64)  # (S,) distinct for S <= 256
    ys, xs = np.meshgrid(values, values, indexing="ij")  # (S, S) each, [y, x]
    rgb = np.empty((steps, steps, 3), dtype=np.int64)
    rgb[..., fixed], rgb[..., x_axis], rgb[..., y_axis] = value, xs, ys
    probs = np.asarray(predict_proba(model, rgb.reshape(-1, 3).astype(np.float32)), dtype=np.float64)
    probs = probs.reshape(steps, steps, -1)  # (S, S, 9)
    return DecisionGrid(
        fixed_channel=CHANNELS[fixed],
        fixed_value=value,
        axes=(CHANNELS[x_axis], CHANNELS[y_axis]),
        values=values,
        rgb=rgb,
        probabilities=probs,
        family=probs.argmax(axis=-1),
        confidence=probs.max(axis=-1),
    )


def example(loaded) -> dict:
    """The family contract's example: what the model calls the page's default colour (a dark teal)."""
    p = predict_proba(loaded.model, [DEFAULT_COLOR])[0]  # a batch of one: (9,)
    best = int(p.argmax())
    return {"input": f"the colour {to_hex(DEFAULT_COLOR)}", "label": CLASS_NAMES[best], "p": float(p[best])}


def crowd_labels() -> color_data.CrowdLabels:
    """The shipped crowd labels, checked with this module's colour and label rules; read once per process while the
    file stays as it is (a Start click checks a colour run's data on the page: ~60 ms of JSON each time before), with
    read-only arrays, as every caller shares them."""
    return _crowd_labels(warm.file_key(color_data.CROWD_FILE))


@functools.lru_cache(maxsize=1)
def _crowd_labels(file_key: tuple) -> color_data.CrowdLabels:
    labels = color_data.load_crowd_labels(tuple(FAMILIES), check_rgb, normalize_label)
    for array in (labels.rgb, labels.y, labels.uid):
        array.flags.writeable = False
    return labels
