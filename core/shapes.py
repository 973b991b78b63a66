"""Hand-drawn shape recognition: the canvas preprocessing (Quick, Draw! 28x28 convention), a procedural generator of
hand-drawn-looking shapes rendered through that same pipeline, the CNN, fast prediction and feature maps, the Quick,
Draw! bitmap loader, and the `train shapes` / `evaluate shapes` commands."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core import shape_data
from core.config import ShapeConfig
from core.metrics import classification_report
from core.shape_data import OTHER

CLASS_NAMES = ("circle", "square", "triangle", "star", "line", "hexagon", "octagon", "zigzag")  # Quick, Draw! names
MODEL_CLASSES = (*CLASS_NAMES, OTHER)  # the shipped model's outputs: the shapes, then "none of these"
IMAGE_SIZE = 28
MARGIN = 2  # pixels of black border around the scaled drawing, as in the Quick, Draw! bitmaps
INK_THRESHOLD = 0.15  # ink below this (0-1) is anti-aliasing haze or paper, not a stroke
MIN_INK_FRACTION = 0.03  # a drawing whose longest side is below 3% of the canvas is a dot, not a shape
SCRIBBLE_FRACTION = 0.45  # ink covering more than this share of its box (and most of the canvas) is a scribble
UPSCALE = 8  # the stroke width is normalised at 8x the model's resolution (a thin stroke still spans 3+ pixels)
STROKE_WIDTH = 1.8  # output pixels; gives the ink per drawing and share of bright pixels of real Quick, Draw! bitmaps
RARE_COPIES = 40  # augmented copies per real drawing, at most, for a class with few real drawings
MAX_LABEL_LENGTH = 32
QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/"
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9 _-]*$")


# ---------------------------------------------------------------- preprocessing: canvas RGBA -> 28x28 white-on-black


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink amount per pixel in 0-1: opaque dark is ink; transparent or light is paper. (H, W) float32.

    Accepts RGBA (H, W, 4), RGB (H, W, 3) or grey (H, W) arrays, dark-on-light.
    """
    a = np.asarray(rgba)
    if a.ndim == 2:
        rgb, alpha = a[..., None].astype(np.float32), np.full(a.shape, 255.0, np.float32)
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        rgb = a[..., :3].astype(np.float32)
        alpha = a[..., 3].astype(np.float32) if a.shape[2] == 4 else np.full(a.shape[:2], 255.0, np.float32)
    else:
        raise ValueError(f"A canvas image must be (H, W), (H, W, 3) or (H, W, 4) (got shape {a.shape}).")
    darkness = 1.0 - rgb.mean(axis=-1) / 255.0  # (H, W): black 1, white 0
    return (darkness * alpha / 255.0).astype(np.float32)


def ink_box(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) bounds of the ink (bottom/right exclusive), or None when there is none."""
    mask = ink > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a boolean ink mask: a stroke of width w and length L covers w*L pixels and
    has about 2*L boundary pixels, so w is about 2 * area / boundary."""
    pad = np.pad(mask, 1)
    interior = pad[1:-1, 1:-1] & pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    boundary = int((mask & ~interior).sum())
    return 2.0 * float(mask.sum()) / max(boundary, 1)


def _square_filter(mask: np.ndarray, k: int, reduce) -> np.ndarray:
    """Max (widen) or min (thin) over a (2k+1)-square window, as two 1-D passes with NumPy's sliding windows: a
    square window is separable, so this costs 2(2k+1) per pixel instead of PIL's (2k+1)^2. Widening pads the mask
    by k on every side so nothing is cut off."""
    if reduce is np.max:
        mask = np.pad(mask, k)
    padded = np.pad(mask, ((k, k), (0, 0)), constant_values=reduce is np.min)
    rows = reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1, axis=0), axis=-1)
    padded = np.pad(rows, ((0, 0), (k, k)), constant_values=reduce is np.min)
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1, axis=1), axis=-1)


def fit_to_frame(crop: np.ndarray, size: int = IMAGE_SIZE, margin: int = MARGIN) -> np.ndarray:
    """Scale a cropped ink image (0-1) so its longest side fills size - 2*margin, keep the aspect, centre it, and
    redraw its strokes STROKE_WIDTH output pixels wide.

    Google renders every Quick, Draw! bitmap from strokes scaled to one box with one line width, so its stroke
    width does not depend on the pen or on how big the person drew. A canvas gives pixels, not strokes: so the
    drawing is scaled to UPSCALE times the final size, binarised, its stroke width measured (stroke_width) and
    widened (max filter) or thinned (min filter) to the target there, then box-averaged down, which anti-aliases
    the edges as Google's renderer does. Returns (size, size) uint8, white strokes on black.
    """
    h, w = crop.shape
    big, inner = UPSCALE * size, UPSCALE * (size - 2 * margin)
    scale = inner / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(np.clip(crop * 255.0, 0, 255).astype(np.uint8))
    method = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    small = np.asarray(img.resize((nw, nh), method), dtype=np.float32)  # (nh, nw) at UPSCALE x
    peak = float(small.max())
    if peak <= 0:
        return np.zeros((size, size), np.uint8)
    mask = small > 0.35 * peak  # 0.35: the anti-aliased edge of a stroke counts, the haze beside it does not
    k = int(round((STROKE_WIDTH * UPSCALE - stroke_width(mask)) / 2))  # pixels to add (or remove) on each side
    if k > 0:
        mask = _square_filter(mask, k, np.max)
    elif k < 0:
        thinner = _square_filter(mask, -k, np.min)
        mask = thinner if thinner.any() else mask  # never thin a drawing away
    pad = max(k, 0)  # a widened mask grew by k on each side; it may spill into the margin, as a pen's stroke would
    t0, l0 = (big - nh) // 2 - pad, (big - nw) // 2 - pad
    frame = np.zeros((big, big), np.uint8)
    y0, x0 = max(t0, 0), max(l0, 0)
    y1, x1 = min(t0 + mask.shape[0], big), min(l0 + mask.shape[1], big)
    frame[y0:y1, x0:x1] = mask[y0 - t0 : y1 - t0, x0 - l0 : x1 - l0] * np.uint8(255)
    image = Image.fromarray(frame)
    out = np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32)  # (28, 28)
    peak = float(out.max())
    return np.clip(out * (255.0 / peak), 0, 255).astype(np.uint8) if peak > 0 else out.astype(np.uint8)


@dataclass
class Preprocessed:
    """Every step of the canvas -> model-input pipeline, for the page to show; `image` is None for a blank canvas."""

    ink: np.ndarray  # (H, W) float 0-1
    box: tuple[int, int, int, int] | None
    crop: np.ndarray | None  # (h, w) float 0-1
    image: np.ndarray | None  # (28, 28) uint8 white on black: what the model sees
    status: str  # "blank", "dot", "scribble" or "ok"
    message: str


def preprocess_steps(rgba: np.ndarray) -> Preprocessed:
    """Run the pipeline keeping the intermediate images, and judge whether the drawing is usable."""
    ink = canvas_ink(rgba)
    box = ink_box(ink)
    if box is None:
        return Preprocessed(ink, None, None, None, "blank", "Draw a shape")
    top, bottom, left, right = box
    crop = ink[top:bottom, left:right]
    image = fit_to_frame(crop)
    longest = max(bottom - top, right - left)
    if longest < max(6, MIN_INK_FRACTION * max(ink.shape)):
        return Preprocessed(
            ink, box, crop, image, "dot", "That is just a dot: draw a whole shape, bigger than a few pixels."
        )
    coverage = float((crop > INK_THRESHOLD).mean())
    box_share = (bottom - top) * (right - left) / float(ink.shape[0] * ink.shape[1])
    if coverage > SCRIBBLE_FRACTION and box_share > 0.5:
        return Preprocessed(
            ink,
            box,
            crop,
            image,
            "scribble",
            f"That looks like a scribble over the canvas ({coverage:.0%} of it is ink): clear it and draw one shape.",
        )
    return Preprocessed(ink, box, crop, image, "ok", "")


def preprocess_canvas(rgba: np.ndarray) -> np.ndarray | None:
    """Canvas RGBA (dark ink on light or transparent) -> (28, 28) uint8 white-on-black, or None if blank."""
    return preprocess_steps(rgba).image


# ---------------------------------------------------------------- the procedural generator


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline so consecutive points are about `step` apart (the wobble needs many points)."""
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.linalg.norm(b - a) / step))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.extend(a + (b - a) * t)
    return np.array(out)


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Add a hand's low-frequency drift and tremor: a few random sinusoids along the arc length, per axis."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    s = s / max(s[-1], 1e-6)
    out = points.copy()
    for axis in range(2):
        for freq in (rng.uniform(0.5, 1.5), rng.uniform(2, 4), rng.uniform(5, 9)):
            amp = amount * rng.uniform(0.2, 1.0) / math.sqrt(freq)
            out[:, axis] += amp * np.sin(2 * math.pi * freq * s + rng.uniform(0, 2 * math.pi))
    out += rng.normal(0, amount * 0.08, out.shape)
    return out


def _polygon(n: int, rng: np.random.Generator, jitter: float, start: float) -> np.ndarray:
    angles = start + np.arange(n) * 2 * math.pi / n + rng.normal(0, jitter, n)
    radii = 1.0 + rng.normal(0, jitter, n)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)


def _closed(vertices: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """A closed outline as the strokes a person draws: usually one stroke with over/undershoot, sometimes
    several strokes, sometimes a gap."""
    n = len(vertices)
    start = int(rng.integers(n))
    ring = np.concatenate([vertices[start:], vertices[:start]])
    path = np.concatenate([ring, ring[:1]])
    end_shift = rng.uniform(-0.25, 0.3)  # <0 leaves a gap before the start, >0 overshoots past it
    last = path[-2] + (path[-1] - path[-2]) * (1 + end_shift) if end_shift < 0 else path[-1]
    path = path.copy()
    path[-1] = last
    if end_shift > 0:
        path = np.concatenate([path, path[-1:] + (path[1:2] - path[:1]) * end_shift])
    if rng.random() < 0.25 and n >= 3:  # drawn in two or more strokes
        cut = int(rng.integers(1, len(path) - 1))
        return [path[: cut + 1], path[cut:]]
    return [path]


def _shape_strokes(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes of one shape in roughly [-1, 1] coordinates, y pointing down."""
    if name == "circle":
        a0 = rng.uniform(0, 2 * math.pi)
        turn = 2 * math.pi * (1 + rng.uniform(-0.12, 0.2)) * (1 if rng.random() < 0.5 else -1)
        t = np.linspace(a0, a0 + turn, 80)
        r = 1 + rng.uniform(-0.12, 0.12) * (t - a0) / abs(turn)  # a slight spiral: the end misses the start
        return [np.stack([np.cos(t) * r, np.sin(t) * r], axis=1)]
    if name == "square":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) + rng.normal(0, 0.06, (4, 2))
        if rng.random() < 0.3:  # four separate sides
            return [np.stack([corners[i], corners[(i + 1) % 4]]) for i in range(4)]
        return _closed(corners, rng)
    if name == "triangle":
        apex_x = rng.uniform(-0.6, 0.6) if rng.random() < 0.75 else rng.choice([-1.0, 1.0])  # some right triangles
        verts = np.array([[apex_x, -1], [1, 1], [-1, 1]], float) + rng.normal(0, 0.06, (3, 2))
        if rng.random() < 0.15:
            verts[:, 1] *= -1  # upside down
        return _closed(verts, rng)
    if name == "star":
        outer = _polygon(5, rng, 0.05, -math.pi / 2 + rng.normal(0, 0.15))
        if rng.random() < 0.6:  # the pentagram, drawn in one stroke
            order = [0, 2, 4, 1, 3, 0]
            path = outer[order]
            path[-1] = path[-1] + rng.normal(0, 0.08, 2)
            return [path]
        inner = _polygon(5, rng, 0.05, -math.pi / 2 + math.pi / 5) * rng.uniform(0.35, 0.5)
        outline = np.empty((10, 2))
        outline[0::2], outline[1::2] = outer, inner
        return _closed(outline, rng)
    if name == "line":
        path = np.array([[-1, 0], [1, 0]], float) + rng.normal(0, 0.03, (2, 2))
        return [path]
    if name == "hexagon":
        return _closed(_polygon(6, rng, 0.05, rng.uniform(0, math.pi / 3)), rng)
    if name == "octagon":
        return _closed(_polygon(8, rng, 0.04, rng.uniform(0, math.pi / 4)), rng)
    if name == "zigzag":
        n = int(rng.integers(3, 8))
        xs = np.linspace(-1, 1, n + 1) + rng.normal(0, 0.04, n + 1)
        ys = np.where(np.arange(n + 1) % 2 == 0, -1.0, 1.0) * rng.uniform(0.25, 0.6) + rng.normal(0, 0.06, n + 1)
        return [np.stack([xs, ys], axis=1)]
    raise ValueError(f"The generator cannot draw {name!r}; it knows {', '.join(CLASS_NAMES)}.")


def _place(strokes: list[np.ndarray], name: str, rng: np.random.Generator, canvas: int) -> list[np.ndarray]:
    """Aspect, rotation, size and position on the canvas."""
    if name == "line":
        angle = rng.choice([rng.normal(0, 0.2), rng.uniform(-math.pi, math.pi)])
        aspect = (1.0, 1.0)
    else:
        spread = {"square": 0.2, "star": 0.25, "triangle": 0.25, "zigzag": 0.35}.get(name, math.pi)
        angle = rng.normal(0, spread) if spread < 1 else rng.uniform(-math.pi, math.pi)
        stretch = math.exp(rng.normal(0, 0.15))
        aspect = (stretch, 1 / stretch)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    size = rng.uniform(0.2, 0.45) * canvas  # half the drawing's extent, in canvas pixels
    center = rng.uniform(size * 0.9, canvas - size * 0.9, 2)
    return [(st * np.array(aspect)) @ rot.T * size + center for st in strokes]


def render_strokes(strokes: list[np.ndarray], canvas: int, pen: float) -> np.ndarray:
    """Strokes (canvas pixel coordinates) -> RGBA (canvas, canvas, 4): black ink on a transparent canvas."""
    img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    r = pen / 2
    for st in strokes:
        pts = [tuple(p) for p in st]
        if len(pts) > 1:
            draw.line(pts, fill=(0, 0, 0, 255), width=max(1, round(pen)), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps, as a canvas brush has
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(0, 0, 0, 255))
    return np.asarray(img)


def draw_shape(name: str, rng: np.random.Generator, canvas: int = 192) -> np.ndarray:
    """One hand-drawn-looking shape as a canvas RGBA image."""
    strokes = _place(_shape_strokes(name, rng), name, rng, canvas)
    size = max(float(np.ptp(np.concatenate(strokes), axis=0).max()), 1.0)
    strokes = [_wobble(_densify(st, size / 40), rng, size * rng.uniform(0.005, 0.03)) for st in strokes]
    pen = rng.uniform(0.02, 0.09) * size + 1.5
    return render_strokes(strokes, canvas, pen)


def generate_shapes(
    n_per_class: int, seed: int, classes: tuple[str, ...] = CLASS_NAMES, canvas: int = 192
) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) int) of generated drawings; the same seed gives the same arrays."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n_per_class * len(classes), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    for i, c in enumerate(labels):
        image = preprocess_canvas(draw_shape(classes[c], rng, canvas))
        images[i] = image if image is not None else 0
    order = rng.permutation(len(labels))
    return images[order], labels[order]


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
    of seconds, and each retrain runs in a fresh worker process, so an in-memory cache would never be hit. The key
    includes a hash of this module, so a changed generator or preprocessing never reads stale drawings."""
    if cache_dir is None:
        return generate_shapes(n_per_class, seed, classes)
    code = hashlib.sha256(Path(__file__).read_bytes() + "|".join(classes).encode()).hexdigest()[:16]
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
    real = real if real is not None else shape_data.load_real_drawings()
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


def answer(probs: np.ndarray, class_names: list[str], min_confidence: float) -> np.ndarray:
    """The model's answer per drawing, as a class index: the most likely class, or OTHER's index when OTHER wins
    or when no class reaches `min_confidence`. (C,) -> scalar array, (B, C) -> (B,)."""
    p = np.asarray(probs, dtype=np.float64)
    top = p.argmax(axis=-1)
    if OTHER not in class_names:
        return top
    other = class_names.index(OTHER)
    return np.where(p.max(axis=-1) < min_confidence, other, top)


NONE_OF_THESE = "none of these"  # how the OTHER output is shown to people


def display_names(class_names: list[str]) -> list[str]:
    """Class names as a page shows them: OTHER reads "none of these"."""
    return [NONE_OF_THESE if n == OTHER else n for n in class_names]


@dataclass(frozen=True)
class Verdict:
    index: int  # the answer's class index (OTHER's index for "none of these")
    name: str  # the answer as shown: a class name or NONE_OF_THESE
    confidence: float  # the top class's probability
    rejected: bool  # True when the answer is "none of these"
    message: str  # one sentence for the page


def verdict(probs: np.ndarray, class_names: list[str], min_confidence: float) -> Verdict:
    """What the Draw page says about one drawing's probabilities (C,)."""
    p = np.asarray(probs, dtype=np.float64)
    top = int(p.argmax())
    index = int(answer(p, class_names, min_confidence))
    if OTHER in class_names and index == class_names.index(OTHER):
        best = max((i for i, n in enumerate(class_names) if n != OTHER), key=lambda i: p[i])
        why = (
            f"it looks most like the drawings of other things it learned from ({p[top]:.0%})"
            if class_names[top] == OTHER
            else f"its best guess, {class_names[best]}, is only {p[best]:.0%} sure"
        )
        return Verdict(index, NONE_OF_THESE, float(p[top]), True, f"None of the shapes I know: {why}.")
    return Verdict(index, class_names[index], float(p[index]), False, f"It looks like a {class_names[index]}.")


def measured_summary(metadata: dict | None) -> str:
    """One line: what the model was trained on and how it scored on held-out real drawings (with the counts)."""
    m = (metadata or {}).get("metrics") or {}
    if m.get("heldout_main_accuracy") is None:
        return "This model has no figure measured on held-out real drawings."
    counts = m.get("heldout_counts") or {}
    n_main = sum(counts.get(c, 0) for c in ("circle", "square", "triangle", "star"))
    line = (
        f"Trained on real Quick, Draw! drawings (Google, CC BY 4.0). On {n_main:,} held-out real drawings of circle, "
        f"square, triangle and star it is right {m['heldout_main_accuracy']:.1%} of the time"
    )
    if m.get("heldout_other_rejected") is not None:
        line += (
            f"; it says “none of these” for {m['heldout_other_rejected']:.0%} of {m.get('heldout_n_other', 0):,} "
            "drawings of words it never saw"
        )
    return line + "."


def heldout_table(metadata: dict | None) -> list[dict]:
    """Rows (class, real drawings in all, held out, recall on them) from a model's metadata, for the page."""
    meta = metadata or {}
    m = meta.get("metrics") or {}
    per_class, counts, real = (
        m.get("heldout_per_class") or {},
        m.get("heldout_counts") or {},
        meta.get("real_counts") or {},
    )
    rows = [
        {
            "class": name,
            "real drawings": real.get(name, 0),
            "held out": counts.get(name, 0),
            "recall on them": None if recall is None else round(recall, 3),
        }
        for name, recall in per_class.items()
    ]
    if m.get("heldout_other_rejected") is not None:
        rows.append(
            {
                "class": NONE_OF_THESE,
                "real drawings": real.get(OTHER, 0),
                "held out": m.get("heldout_n_other", 0),
                "recall on them": round(m["heldout_other_rejected"], 3),
            }
        )
    return rows


def min_confidence_for(metadata: dict | None) -> float:
    """The rejection threshold a model was shipped with (0: only the OTHER output rejects)."""
    return float(((metadata or {}).get("rejection") or {}).get("min_confidence", 0.0))


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

    from core.training import copy_model

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


_predict_fns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _predict_fn(model):
    """A tf.function around a direct call of the model, traced once per model: far less overhead than predict()."""
    import tensorflow as tf

    if model not in _predict_fns:
        spec = tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE), tf.float32)
        _predict_fns[model] = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return _predict_fns[model]


def predict_proba(model, images) -> np.ndarray:
    """Class probabilities for one (28, 28) image -> (C,), or a batch (B, 28, 28) -> (B, C)."""
    x = np.asarray(images, dtype=np.float32)
    single = x.ndim == 2
    probs = np.asarray(_predict_fn(model)(x[None] if single else x))  # (B, C)
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
    """Train (a copy of) the shape CNN; returns (model, TrainResult, data).

    A passed `model` is copied, with its output layer widened when the data has new classes. `hooks` go to
    core.training.train (on_epoch_end, on_batch_end, should_stop, deterministic, ...).
    """
    import keras

    from core.training import train

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
    _predict_fns.pop(model, None)  # the weights changed; a traced function would still be right, but be explicit
    return model, result, data


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
    from core import store

    return store.load_family_model("shapes")


def evaluate_cli(args) -> dict:
    from core import store

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"There is no file at {path}.")
    loaded = store.load_family_model("shapes", getattr(args, "model", None))
    names = class_names_for(loaded.metadata, loaded.model)
    return evaluate_npz(loaded.model, names, path.read_bytes(), min_confidence_for(loaded.metadata))


MAIN_CLASSES = ("circle", "square", "triangle", "star")  # the classes with thousands of real drawings


def tune_min_confidence(probs: np.ndarray, y: np.ndarray, class_names: list[str], max_loss: float = 0.005) -> float:
    """The rejection threshold that rejects the most held-out "other" drawings while costing the in-class
    drawings at most `max_loss` accuracy against no threshold (chosen on validation data, never on a test)."""
    other = class_names.index(OTHER)
    in_class = y != other
    base = float((answer(probs[in_class], class_names, 0.0) == y[in_class]).mean())
    best, best_rejected = 0.0, -1.0
    for t in np.round(np.arange(0.0, 0.96, 0.05), 2):
        acc = float((answer(probs[in_class], class_names, t) == y[in_class]).mean())
        rejected = float((answer(probs[~in_class], class_names, t) == other).mean()) if (~in_class).any() else 0.0
        if acc >= base - max_loss and rejected > best_rejected:
            best, best_rejected = float(t), rejected
    return best


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
    from core import store
    from core.settings import get_settings

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
