"""Real Quick, Draw! drawings for the shapes model: the shipped files, splits that keep held-out drawings (and, for
"none of these", held-out words) apart, augmentation, and the balanced training set the CNN learns from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from core.settings import DATA_DIR

SHAPES_FILE = DATA_DIR / "quickdraw_shapes.npz"  # real drawings of our 8 classes (CC BY 4.0, Google)
OTHER_FILE = DATA_DIR / "quickdraw_other.npz"  # real drawings of 159 other words: "none of these"
OTHER = "other"  # the label of an out-of-class drawing, in data files and as the model's last output
IMAGE_SIZE = 28
MAX_PER_WORD = 150  # "other" drawings per Quick, Draw! word in training: 4 words have 2,000, the other 155 have 10


@dataclass(frozen=True)
class RealDrawings:
    images: np.ndarray  # (N, 28, 28) uint8, white on black
    labels: np.ndarray  # (N,) str: a class name, or OTHER
    groups: np.ndarray  # (N,) str: what a split keeps together (the Quick, Draw! word for "other" rows)


def load_real_drawings(shapes_file: Path = SHAPES_FILE, other_file: Path | None = OTHER_FILE) -> RealDrawings:
    """The shipped real drawings; each in-class drawing is its own group, each "other" word one group."""
    with np.load(shapes_file, allow_pickle=False) as f:
        images, labels = f["images"], f["labels"].astype(str)
    groups = np.array([f"{lab}:{i}" for i, lab in enumerate(labels)])
    if other_file is not None and Path(other_file).is_file():
        with np.load(other_file, allow_pickle=False) as f:
            o_images, o_words = f["images"], f["category"].astype(str)
        images = np.concatenate([images, o_images])
        labels = np.concatenate([labels, np.full(len(o_images), OTHER)])
        groups = np.concatenate([groups, np.char.add("other:", o_words)])
    return RealDrawings(images.astype(np.uint8), labels, groups)


def split_groups(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): about `fraction` of each label's groups go to validation, whole groups at a time, and
    at least one group per label that has two or more. So no "other" word is in both halves."""
    rng = np.random.default_rng(seed)
    val = []
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        names = np.unique(groups[idx])
        if len(names) < 2:
            continue
        k = max(1, int(round(len(names) * fraction)))
        chosen = set(rng.permutation(names)[:k].tolist())
        val.extend(i for i in idx if groups[i] in chosen)
    val_idx = np.array(sorted(val), dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx


def augment_drawings(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random small change per drawing, as people draw the same shape differently: mirror, rotation up to 12
    degrees, scale 0.85-1.05, shift up to 2 pixels, and a stroke a little thinner or thicker. (N, 28, 28) uint8."""
    out = np.empty_like(images)
    centre = (IMAGE_SIZE - 1) / 2
    for i, image in enumerate(images):
        img = Image.fromarray(image[:, ::-1] if rng.random() < 0.5 else image)
        angle = np.deg2rad(rng.uniform(-12, 12))
        scale = rng.uniform(0.85, 1.05)
        dx, dy = rng.uniform(-2, 2, 2)
        c, s = np.cos(angle) / scale, np.sin(angle) / scale
        # PIL's affine maps output (x, y) to input (a x + b y + c, d x + e y + f): the inverse of the change.
        matrix = (
            c,
            s,
            centre - c * (centre + dx) - s * (centre + dy),
            -s,
            c,
            centre + s * (centre + dx) - c * (centre + dy),
        )
        img = img.transform(img.size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR)
        width = rng.random()
        if width < 0.2:  # thicker: widen at 2x, so the change is half a pixel, not a whole one
            big = img.resize((56, 56), Image.Resampling.BILINEAR).filter(ImageFilter.MaxFilter(3))
            img = big.resize((28, 28), Image.Resampling.BOX)
        elif width < 0.35:  # thinner
            big = img.resize((56, 56), Image.Resampling.BILINEAR).filter(ImageFilter.MinFilter(3))
            img = big.resize((28, 28), Image.Resampling.BOX)
        arr = np.asarray(img, dtype=np.float32)
        peak = arr.max()
        out[i] = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8) if peak > 0 else image
    return out


def balanced_set(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    per_class: int,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
    max_per_group: int = MAX_PER_WORD,
    counts: dict[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` drawings of every class present: the real ones once as they are, the rest augmented copies of
    them (classes with more real drawings than that are subsampled). With `groups`, at most `max_per_group` rows of
    one group are used, so "other" learns from many words, not mostly from the few with thousands of drawings.
    `counts` overrides `per_class` for the classes it names. Returns (images, int labels), shuffled."""
    xs, ys = [], []
    for c, name in enumerate(class_names):
        want = (counts or {}).get(name, per_class)
        idx = np.flatnonzero(labels == name)
        if groups is not None and len(idx):
            # One stable sort instead of a comparison per group (159 "other" words made this ~2 s of a quick retrain's
            # data preparation); the groups come in np.unique's order, each with its rows ascending, so the random
            # draws, and the set, are the same as group by group.
            in_class = groups[idx]
            order = np.argsort(in_class, kind="stable")  # (n,)
            _, starts = np.unique(in_class[order], return_index=True)
            ends = np.append(starts[1:], len(order))
            kept = [rng.permutation(idx[order[a:b]])[:max_per_group] for a, b in zip(starts, ends)]
            idx = np.sort(np.concatenate(kept))
        if len(idx) == 0:
            continue
        if len(idx) >= want:
            pick = rng.permutation(idx)[:want]
            xs.append(images[pick])
        else:
            extra = rng.choice(idx, want - len(idx))
            xs.append(np.concatenate([images[idx], augment_drawings(images[extra], rng)]))
        ys.append(np.full(want, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order].astype(np.int64)


def real_counts(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    """How many real drawings of each class: what each class's measured figure rests on."""
    return {name: int((labels == name).sum()) for name in class_names}
