"""Teach transfer learning: a frozen feature extractor per kind (a CNN pretrained on Quick, Draw! for drawings,
voice-normalised cepstral statistics for sounds, colour and gradient histograms for photos) and a small head."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.families.teach import data as teach_data
from core.metrics import classification_report
from core.settings import SHIPPED_MODELS_DIR
from core.store import models as store

BACKBONE_DIR = SHIPPED_MODELS_DIR / "teach_drawing_backbone"
BACKBONE_FEATURES = "features"  # the backbone's penultimate (named) Dense layer: drawing features are its output
DRAWING_FEATURES = 128
# Quick, Draw! words kept out of the backbone's training, so a Teach project of them is a fair test of drawings the
# backbone never saw (10 drawings each in quickdraw_other.npz); chosen by np.random.default_rng(24) among its words
# with 10 drawings.
HELD_OUT_WORDS = (
    "arm", "bed", "blackberry", "crocodile", "cruise ship", "drums", "elbow", "fence", "firetruck", "goatee",
    "harp", "helicopter", "key", "knee", "laptop", "palm tree", "pants", "parachute", "pig", "pliers",
    "popsicle", "screwdriver", "shark", "skateboard", "snowman", "syringe", "teapot", "tooth", "train", "trumpet",
)  # fmt: skip
TEST_FRACTION = 0.1  # of every other word's drawings, held out by drawing from the backbone's training
SPLIT_SEED = 0


# ---------------------------------------------------------------- Quick, Draw! data (the backbone's and the tests')


def quickdraw_words(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every drawing of quickdraw_train.npz (8 shapes) and quickdraw_other.npz (159 other words) as (N, 28, 28)
    uint8 white-on-black bitmaps and their (N,) Quick, Draw! word."""
    data_dir = Path(data_dir)
    shapes = np.load(data_dir / "quickdraw_train.npz")
    other = np.load(data_dir / "quickdraw_other.npz")
    images = np.concatenate([shapes["images"], other["images"]])
    words = np.concatenate([shapes["labels"].astype(str), other["category"].astype(str)])
    return images, words


def drawing_split(words: np.ndarray, seed: int = SPLIT_SEED, fraction: float = TEST_FRACTION) -> dict:
    """The backbone's split BY DRAWING: of every word not in HELD_OUT_WORDS, `fraction` of its drawings (at least
    one) are held out; HELD_OUT_WORDS are in neither part. Returns row indexes {"train", "test", "held_out_words"}."""
    words = np.asarray(words).astype(str)
    rng = np.random.default_rng(int(seed))
    train, test = [], []
    for word in sorted(set(words.tolist()) - set(HELD_OUT_WORDS)):
        rows = rng.permutation(np.flatnonzero(words == word))
        n_test = max(1, int(round(len(rows) * fraction)))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return {
        "train": np.sort(np.concatenate(train)),
        "test": np.sort(np.concatenate(test)),
        "held_out_words": np.flatnonzero(np.isin(words, HELD_OUT_WORDS)),
    }


# ---------------------------------------------------------------- the drawing backbone


def build_backbone(n_words: int, width: int = 32, seed: int = 0):
    """The drawing backbone: a Sequential CNN from decode_drawing's (28, 28) white-on-black [0, 1] input to a
    softmax over `n_words` Quick, Draw! words; its Dense layer "features" (DRAWING_FEATURES ReLU units) is what
    transfer uses. Only layers core.store and TF.js read (no BatchNormalization: not in the store's allowlist)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(int(seed))
    size = teach_data.DRAWING_SIZE
    return keras.Sequential(
        [
            keras.Input((size, size)),
            layers.Reshape((size, size, 1), name="add_channel"),
            layers.Conv2D(width, 3, padding="same", activation="relu", name="conv_1"),  # (28, 28, w)
            layers.MaxPooling2D(name="pool_1"),  # (14, 14, w)
            layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv_2"),
            layers.MaxPooling2D(name="pool_2"),  # (7, 7, 2w)
            layers.Conv2D(4 * width, 3, padding="same", activation="relu", name="conv_3"),
            layers.MaxPooling2D(name="pool_3"),  # (3, 3, 4w): a coarse layout is kept, where global pooling loses it
            layers.Flatten(name="flatten"),
            layers.Dense(DRAWING_FEATURES, activation="relu", name=BACKBONE_FEATURES),
            layers.Dropout(0.3, name="dropout"),
            layers.Dense(int(n_words), activation="softmax", name="words"),
        ],
        name="teach_drawing_backbone",
    )


@functools.lru_cache(maxsize=2)
def load_backbone(folder: str | Path = BACKBONE_DIR):
    """The pretrained backbone from `folder` (core.store's format; loading never runs code), cached per folder."""
    return store.load_model(Path(folder)).model


def backbone_feature_model(backbone):
    """A Sequential sharing the backbone's layers from its input up to and including BACKBONE_FEATURES, frozen."""
    import keras

    names = [layer.name for layer in backbone.layers]
    if BACKBONE_FEATURES not in names:
        raise teach_data.TeachError(f"The drawing backbone has no layer named {BACKBONE_FEATURES!r}.")
    kept = backbone.layers[: names.index(BACKBONE_FEATURES) + 1]
    for layer in kept:
        layer.trainable = False  # frozen: a few samples would only wreck features learnt from 21,000 drawings
    size = teach_data.DRAWING_SIZE
    return keras.Sequential([keras.Input((size, size)), *kept], name="teach_drawing_features")


@functools.lru_cache(maxsize=2)
def _feature_model_for(folder: str):
    return backbone_feature_model(load_backbone(folder))


# ---------------------------------------------------------------- sound features

SOUND_BANDS_KEPT = 13  # cepstral coefficients: the spectral envelope (the vowel), not the voice's pitch harmonics
SOUND_STEPS = 8  # the word's active part, stretched or squeezed to this many steps: speed no longer matters
NOISE_PERCENTILE = 20  # per band, this percentile of the second's frames estimates the room's steady noise
NOISE_OVERSUBTRACT = 2.0
FLOOR_DB = -60.0  # after denoising, nothing is kept below the clip's loudest cell minus 60 dB
ACTIVE_DB = 15.0  # frames within 15 dB of the loudest frame are the word
VTLP_WARPS = (0.85, 0.92, 1.08, 1.15)  # vocal-tract-length warps of the mel axis, each a training copy (see augment)
SOUND_FEATURES = SOUND_STEPS * SOUND_BANDS_KEPT + 2


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_in, n_out) orthonormal DCT-II: log-mel -> cepstrum (MFCC)."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[:, 0] /= np.sqrt(2.0)
    return m.astype(np.float32)


_DCT = _dct_matrix(teach_data.N_MELS, SOUND_BANDS_KEPT)


def _denoised(log_mel: np.ndarray) -> np.ndarray:
    """ln power relative to the clip's loudest cell after spectral subtraction of the room's steady noise: level,
    microphone gain and a steady hum or hiss move out of the picture."""
    power = np.exp(log_mel.astype(np.float64))
    noise = np.percentile(power, NOISE_PERCENTILE, axis=0, keepdims=True)
    clean = np.maximum(power - NOISE_OVERSUBTRACT * noise, 0.0)
    top = clean.max() + 1e-12
    return np.log(clean + top * 10 ** (FLOOR_DB / 10) + 1e-12) - np.log(top)


def _stretch(frames: np.ndarray, steps: int) -> np.ndarray:
    """Linear interpolation of (T, F) frames to (steps, F)."""
    if len(frames) == 1:
        frames = np.repeat(frames, 2, axis=0)
    t = np.linspace(0.0, len(frames) - 1, steps)
    i = np.floor(t).astype(int)
    j = np.minimum(i + 1, len(frames) - 1)
    w = (t - i)[:, None]
    return frames[i] * (1 - w) + frames[j] * w


def sound_features(log_mels: np.ndarray) -> np.ndarray:
    """(N, 49, 40) log-mel seconds -> (N, SOUND_FEATURES) float32: the denoised cepstrum (MFCC 0-12) of the active
    part, stretched to SOUND_STEPS steps (where the word starts and how fast it is said stop mattering), plus how
    much louder the loudest frame is than the quiet ones and the active part's length. A steady noise has no
    active part worth the name, which is what keeps "background noise" apart from every word."""
    x = np.asarray(log_mels, np.float32)
    if x.ndim != 3 or x.shape[1:] != (teach_data.N_FRAMES, teach_data.N_MELS):
        raise teach_data.TeachError(f"Sound features need (N, 49, 40) log-mel seconds (got shape {x.shape}).")
    out = np.empty((len(x), SOUND_FEATURES), np.float32)
    for n, clip in enumerate(x):
        clean = _denoised(clip)
        energy = np.log(np.exp(clean).sum(axis=1))
        loud = np.flatnonzero(energy >= energy.max() - ACTIVE_DB / 10 * np.log(10))
        start, stop = loud[0], loud[-1] + 1
        cepstrum = clean @ _DCT
        raw_energy = np.log(np.exp(clip.astype(np.float64)).sum(axis=1))
        dynamics = raw_energy.max() - np.percentile(raw_energy, 10)
        out[n, :-2] = _stretch(cepstrum[start:stop], SOUND_STEPS).reshape(-1)
        out[n, -2:] = (dynamics, (stop - start) / len(clip))
    return out


def warp_bands(log_mel: np.ndarray, alpha: float) -> np.ndarray:
    """Vocal tract length perturbation: the mel axis read at `alpha` times each band (a longer or shorter vocal tract
    shifts every formant by the same factor), so a few samples of one voice stand for nearby voices too."""
    bands = log_mel.shape[-1]
    src = np.clip(np.arange(bands) * float(alpha), 0, bands - 1)
    i = np.floor(src).astype(int)
    j = np.minimum(i + 1, bands - 1)
    w = (src - i).astype(np.float32)
    return (log_mel[..., i] * (1 - w) + log_mel[..., j] * w).astype(np.float32)


# ---------------------------------------------------------------- image features (hand-crafted: no pretrained net)

HUE_BINS = 12
GREY_BINS = 4  # pixels with little colour are binned by lightness instead of hue
ORIENTATIONS = 9
CELLS = 4  # HOG on a 4x4 grid of cells
IMAGE_FEATURES = 5 * (HUE_BINS + GREY_BINS) + ORIENTATIONS * (CELLS * CELLS + 1)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., 3) RGB in [0, 1] -> hue in [0, 1), saturation, value."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    c = v - rgb.min(axis=-1)
    s = np.where(v > 0, c / np.maximum(v, 1e-6), 0.0)
    safe = np.maximum(c, 1e-6)
    h = np.where(v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6.0
    return np.where(c > 0, h, 0.0) % 1.0, s, v


def _colour_histogram(rgb: np.ndarray) -> np.ndarray:
    """HUE_BINS hue bins (colourful pixels) + GREY_BINS lightness bins (greyish ones), each pixel counted once, as
    fractions of the region: colour without position or lighting level (value is only used for the greys)."""
    h, s, v = _hsv(rgb.reshape(-1, 3))
    colourful = (s > 0.25) & (v > 0.15)
    hue = np.bincount((h[colourful] * HUE_BINS).astype(int) % HUE_BINS, minlength=HUE_BINS)
    grey = np.bincount(np.minimum((v[~colourful] * GREY_BINS).astype(int), GREY_BINS - 1), minlength=GREY_BINS)
    return np.concatenate([hue, grey]).astype(np.float32) / max(1, len(h))


def _hog(grey: np.ndarray) -> np.ndarray:
    """Histograms of oriented gradients: ORIENTATIONS unsigned orientation bins, magnitude-weighted, in a CELLS x
    CELLS grid plus one for the whole picture, divided by the total gradient (contrast does not matter)."""
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    angle = (np.arctan2(gy, gx) % np.pi) / np.pi * ORIENTATIONS
    bins = np.minimum(angle.astype(int), ORIENTATIONS - 1)
    size = grey.shape[0]
    cell = np.minimum(np.arange(size) * CELLS // size, CELLS - 1)
    which = (cell[:, None] * CELLS + cell[None, :]) * ORIENTATIONS + bins
    grid = np.bincount(which.reshape(-1), magnitude.reshape(-1), minlength=CELLS * CELLS * ORIENTATIONS)
    whole = grid.reshape(-1, ORIENTATIONS).sum(axis=0)
    total = magnitude.sum() + 1e-6
    return np.concatenate([grid * (CELLS * CELLS) / total, whole / total]).astype(np.float32)


def image_features(images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) photos in [0, 1] (decode_image's output; any S >= 8) -> (N, IMAGE_FEATURES) float32: colour
    histograms over the whole photo and its 4 quarters (a spatial pyramid) + HOG. Hand-crafted, because no
    pretrained image network can be had offline here: colour and layout carry a steady desk, little else."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < 8:
        raise teach_data.TeachError(f"Image features need (N, S, S, 3) photos (got shape {x.shape}).")
    out = np.empty((len(x), IMAGE_FEATURES), np.float32)
    half = x.shape[1] // 2, x.shape[2] // 2
    for n, rgb in enumerate(x):
        quarters = [
            rgb[: half[0], : half[1]],
            rgb[: half[0], half[1] :],
            rgb[half[0] :, : half[1]],
            rgb[half[0] :, half[1] :],
        ]
        colour = np.concatenate([_colour_histogram(rgb)] + [_colour_histogram(q) for q in quarters])
        out[n] = np.concatenate([colour, _hog(rgb @ np.array([0.299, 0.587, 0.114], np.float32))])
    return out


# ---------------------------------------------------------------- every kind

FEATURE_SIZES = {"drawing": DRAWING_FEATURES, "sound": SOUND_FEATURES, "image": IMAGE_FEATURES}


def extract_features(kind: str, x: np.ndarray, backbone_dir: str | Path = BACKBONE_DIR) -> np.ndarray:
    """Model inputs of `kind` (what core.teach_data decodes: drawings (N, 28, 28) white-on-black in [0, 1], sounds
    (N, 49, 40) log-mel seconds, photos (N, S, S, 3) in [0, 1]) -> (N, FEATURE_SIZES[kind]) float32 features."""
    teach_data.check_kind(kind)
    x = np.asarray(x, np.float32)
    if kind == "sound":
        return sound_features(x)
    if kind == "image":
        return image_features(x)
    size = teach_data.DRAWING_SIZE
    if x.ndim != 3 or x.shape[1:] != (size, size):
        raise teach_data.TeachError(f"Drawing features need (N, 28, 28) drawings (got shape {x.shape}).")
    model = _feature_model_for(str(backbone_dir))
    if not len(x):
        return np.zeros((0, DRAWING_FEATURES), np.float32)
    return np.concatenate([np.asarray(model(x[i : i + 512], training=False)) for i in range(0, len(x), 512)])


DRAWING_SHIFT = 2  # pixels: the Quick, Draw! 28x28 frame keeps a 2-pixel margin, so a shift moves no stroke out


def shift_drawings(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N, 28, 28) drawings moved dy rows down and dx columns right, the uncovered edge black (no wrap-around)."""
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[:, max(-dy, 0) : h - max(dy, 0),
                                                                          max(-dx, 0) : w - max(dx, 0)]  # fmt: skip
    return out


def augment(kind: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training copies made before feature extraction, the originals first, then each kind of copy in turn (copy j
    of row i is row j * N + i): sounds get one copy per VTLP_WARPS (other voices); drawings a mirror image and four
    DRAWING_SHIFT-pixel shifts (the jitter the backbone learnt with: on 5-8 drawings of a word it never saw, these
    copies put the head above nearest neighbour, docs/teach_transfer_measured.md); photos none (flips would fool a
    photo's layout)."""
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if kind == "image" or not len(x):
        return x, y
    if kind == "sound":
        copies = [x] + [warp_bands(x, alpha) for alpha in VTLP_WARPS]
    else:
        s = DRAWING_SHIFT
        copies = [x, x[:, :, ::-1]] + [shift_drawings(x, dy, dx) for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s))]
    return np.concatenate(copies), np.concatenate([y] * len(copies))


# ---------------------------------------------------------------- the head

REPORT_EVERY = 10  # head steps between progress reports: 300 steps take ~0.1 s, so 30 reports are plenty


# L2 on the head's kernel, per kind. Drawings: 0.1, chosen on 150 five-word projects of words the backbone never saw
# (other projects than the measured ones: scripts/measure_teach_transfer.py --tune): 128 sparse ReLU features (about
# 80% are zero) against 5-40 drawings overfit at 1e-3. Sounds and photos keep the 1e-3 they were measured with.
HEAD_L2 = {"drawing": 0.1, "sound": 1e-3, "image": 1e-3}


@dataclass(frozen=True)
class TransferConfig:
    """The head: standardised features -> (an optional hidden ReLU layer ->) softmax, full-batch Adam with L2.
    hidden=0 is multinomial logistic regression, which measured as well as a hidden layer on a few samples.
    head_config(kind) gives the kind's measured settings (HEAD_L2)."""

    epochs: int = 300
    learning_rate: float = 0.02
    l2: float = 1e-3
    hidden: int = 0
    seed: int = 0
    augment: bool = True

    @classmethod
    def tiny(cls) -> TransferConfig:
        return cls(epochs=5)

    def with_(self, **changes) -> TransferConfig:
        return replace(self, **changes)


def head_config(kind: str, seed: int = 0) -> TransferConfig:
    """The head's settings a project of `kind` trains with: TransferConfig's, with the kind's L2 (HEAD_L2)."""
    return TransferConfig(seed=int(seed), l2=HEAD_L2[teach_data.check_kind(kind)])


def _standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale; the scale is floored at a tenth of the median scale, so a feature that happens to
    be constant over a handful of samples is not blown up by a near-zero deviation."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    floor = 0.1 * float(np.median(scale)) if np.any(scale > 0) else 1.0
    return mean.astype(np.float32), np.maximum(scale, max(floor, 1e-6)).astype(np.float32)


def train_head(features: np.ndarray, labels: np.ndarray, n_classes: int, cfg: TransferConfig | None = None,
               on_step: Callable[[int, dict], None] | None = None, should_stop: Callable[[], bool] | None = None):  # fmt: skip
    """A small softmax head on (N, D) features -> a Keras Sequential from (D,) features to (n_classes,)
    probabilities, with the standardisation folded into its first Dense layer (so it takes raw features). Its
    layers are only Dense: core.store saves it and TF.js loads it. model.teach_seconds holds the training time,
    model.teach_history {"loss": [...], "accuracy": [...]} one value per step (a full-batch step is an epoch).
    `on_step(step, logs)` is called every REPORT_EVERY steps and at the last (0-based step, like Keras' epoch);
    `should_stop()` is asked as often, and a True ends training early (the head so far is returned).

    Trained in NumPy (full-batch Adam on softmax cross-entropy + L2): Keras' fit cost ~60 ms of overhead per step
    (10 s for 150 steps), while these steps take microseconds; Keras only holds the result."""
    import keras  # noqa: F401 -- imported before the clock starts: the page has it loaded already

    cfg = cfg or TransferConfig()
    f = np.asarray(features, np.float64)
    y = np.asarray(labels).astype(int)
    if f.ndim != 2 or len(f) != len(y) or not len(f):
        raise teach_data.TeachError(f"The head needs (N, D) features and N labels (got {f.shape} and {y.shape}).")
    if not 2 <= int(n_classes) <= 100 or y.min() < 0 or y.max() >= n_classes:
        raise teach_data.TeachError(f"Labels must be class numbers from 0 to {n_classes - 1} (2 to 100 classes).")
    if not np.isfinite(f).all():
        raise teach_data.TeachError("The features hold values that are not finite numbers.")
    started = time.perf_counter()
    mean, scale = _standardiser(f)
    z = (f - mean) / scale
    rng = np.random.default_rng(int(cfg.seed))
    sizes = [z.shape[1], *([int(cfg.hidden)] if cfg.hidden else []), int(n_classes)]
    # Glorot-uniform kernels, zero biases, as Keras would start them
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)), np.zeros(fan_out)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    onehot = np.eye(int(n_classes))[y]
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for step in range(1, int(cfg.epochs) + 1):
        grads, loss, accuracy = _head_gradients(params, z, onehot, float(cfg.l2))
        history["loss"].append(loss)
        history["accuracy"].append(accuracy)
        if on_step is not None and (step % REPORT_EVERY == 0 or step == int(cfg.epochs)):
            on_step(step - 1, {"loss": loss, "accuracy": accuracy})
        if should_stop is not None and step % REPORT_EVERY == 0 and should_stop():
            break
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v = moments[i]
            m[:] = beta1 * m + (1 - beta1) * g
            v[:] = beta2 * v + (1 - beta2) * g * g
            p -= cfg.learning_rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
    head = _keras_head(params, mean, scale)
    head.teach_seconds = time.perf_counter() - started
    head.teach_history = history
    return head


def _head_gradients(params: list[np.ndarray], z: np.ndarray, onehot: np.ndarray, l2: float):
    """Gradients of mean softmax cross-entropy + l2 * sum(kernel**2) for a Dense(-> ReLU Dense)* -> softmax stack,
    with the cross-entropy and the training accuracy before the step (the forward pass is needed anyway)."""
    acts = [z]
    for i in range(0, len(params) - 2, 2):
        acts.append(np.maximum(acts[-1] @ params[i] + params[i + 1], 0.0))
    logits = acts[-1] @ params[-2] + params[-1]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = float(-np.log(np.maximum((probs * onehot).sum(axis=1), 1e-12)).mean())
    accuracy = float((probs.argmax(axis=1) == onehot.argmax(axis=1)).mean())
    delta = (probs - onehot) / len(z)
    grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
    for layer in range(len(params) // 2 - 1, -1, -1):
        kernel = params[2 * layer]
        grads[2 * layer] = acts[layer].T @ delta + 2 * l2 * kernel
        grads[2 * layer + 1] = delta.sum(axis=0)
        if layer:
            delta = (delta @ kernel.T) * (acts[layer] > 0)
    return grads, loss, accuracy


def _keras_head(params: list[np.ndarray], mean: np.ndarray, scale: np.ndarray):
    """The trained head as a Keras Sequential of Dense layers, (f - mean) / scale folded into the first kernel:
    W' = W / scale, b' = b - (mean / scale) @ W."""
    import keras

    n_layers = len(params) // 2
    layers = [keras.Input((len(mean),))]
    for i in range(n_layers):
        last = i == n_layers - 1
        units = params[2 * i].shape[1]
        layers.append(keras.layers.Dense(units, activation="softmax" if last else "relu",
                                         name="head_out" if last else f"head_hidden_{i + 1}"))  # fmt: skip
    head = keras.Sequential(layers, name="teach_head")
    for i, dense in enumerate(head.layers):
        kernel, bias = params[2 * i], params[2 * i + 1]
        if i == 0:
            bias = bias - (mean / scale) @ kernel
            kernel = kernel / scale[:, None]
        dense.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return head


def build_whole_model(kind: str, head, backbone_dir: str | Path = BACKBONE_DIR):
    """ONE Keras model from the kind's model input to probabilities, where the extractor is made of Keras layers:
    drawings -> the frozen backbone up to "features" + the head's layers, a Sequential core.store saves and TF.js
    loads. Sounds and photos have NumPy features, so their model is the head itself (input: extract_features)."""
    import keras

    teach_data.check_kind(kind)
    if kind != "drawing":
        return head
    features = backbone_feature_model(load_backbone(str(backbone_dir)))
    size = teach_data.DRAWING_SIZE
    return keras.Sequential([keras.Input((size, size)), *features.layers, *head.layers], name="teach_drawing_transfer")


def head_weights(model) -> tuple[np.ndarray, np.ndarray]:
    """The (D, C) kernel and (C,) bias of a transfer model's output layer "head_out" (a whole drawing model or a
    head), the standardisation folded in: class c's score for raw features f is f @ kernel[:, c] + bias[c], and
    the softmax of the scores is the confidence bars. A head with a hidden layer has no such (D, C) kernel."""
    names = [layer.name for layer in model.layers]
    if "head_out" not in names or any(n.startswith("head_hidden") for n in names):
        raise teach_data.TeachError("This model has no single-layer transfer head to show.")
    kernel, bias = model.get_layer("head_out").get_weights()
    return np.asarray(kernel, np.float32), np.asarray(bias, np.float32)


def takes_raw_input(kind: str, model) -> bool:
    """Is `model` a whole model (raw model inputs) rather than a head (features)?"""
    return tuple(model.inputs[0].shape[1:]) == teach_data.input_shape(kind)


def predict_proba(kind: str, model, x: np.ndarray, backbone_dir: str | Path = BACKBONE_DIR) -> np.ndarray:
    """(N, C) probabilities for model inputs `x` of `kind`, from a whole model or a head (features taken first)."""
    x = np.asarray(x, np.float32)
    inputs = x if takes_raw_input(kind, model) else extract_features(kind, x, backbone_dir)
    if not len(inputs):
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    return np.concatenate([np.asarray(model(inputs[i : i + 512], training=False)) for i in range(0, len(inputs), 512)])


def fit(kind: str, x: np.ndarray, y: np.ndarray, n_classes: int, cfg: TransferConfig | None = None,
        backbone_dir: str | Path = BACKBONE_DIR, **hooks):  # fmt: skip
    """Augment (sounds), extract features and train a head: the whole model for drawings, the head for sounds
    and photos (see build_whole_model). model.teach_seconds: seconds for all of it, feature extraction included;
    model.teach_history: the head's loss and accuracy per step. `hooks` (on_step, should_stop) go to train_head.
    Without `cfg`, the kind's settings (head_config)."""
    cfg = cfg or head_config(kind)
    started = time.perf_counter()
    xa, ya = augment(kind, x, y) if cfg.augment else (np.asarray(x, np.float32), np.asarray(y))
    head = train_head(extract_features(kind, xa, backbone_dir), ya, n_classes, cfg, **hooks)
    model = build_whole_model(kind, head, backbone_dir)
    model.teach_seconds = time.perf_counter() - started
    model.teach_history = head.teach_history
    return model


def evaluate(kind: str, model, x, y, class_names, backbone_dir: str | Path = BACKBONE_DIR) -> dict:
    """accuracy, balanced accuracy, per-class recall and confusion (core.metrics), and the mean top probability."""
    probs = predict_proba(kind, model, x, backbone_dir)
    report = classification_report(np.asarray(y, int), probs.argmax(axis=1), list(class_names))
    return {**report, "mean_confidence": float(probs.max(axis=1).mean()) if len(probs) else None}


def nearest_neighbour(train_features: np.ndarray, train_labels: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The baseline on the same features: each row gets the label of its nearest training row (Euclidean distance
    after the same standardisation the head uses)."""
    a = np.asarray(train_features, np.float32)
    mean, scale = _standardiser(a)
    a, b = (a - mean) / scale, (np.asarray(features, np.float32) - mean) / scale
    d = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None, :]
    return np.asarray(train_labels)[d.argmin(axis=1)]
