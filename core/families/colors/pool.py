"""The colour family's Vector search pool: random colours embedded by the model's hidden layer."""

from __future__ import annotations

import colorsys

import numpy as np

from core.families.colors import model as colors
from core.vectors import search
from core.vectors.experiment import Concept


def color_pool(model, size: int = search.COLOR_POOL_SIZE, seed: int = 0) -> search.Pool:
    """`size` random RGB colours (fixed seed), embedded by the colour model's 32-unit sigmoid `hidden` layer."""
    if size < 1:
        raise search.VectorStoreError("The colour pool is empty: choose a pool size of at least 1.")
    rgb = np.random.default_rng(seed).integers(0, 256, size=(size, 3)).astype(np.float32)  # (N, 3)
    embeddings = colors.embed_colors(model, rgb)  # (N, 32)
    items = [{"rgb": [int(v) for v in c], "hex": colors.to_hex(c)} for c in rgb]
    return search.make_pool("colors", embeddings, items, rgb, "colors model, layer hidden (32 sigmoid units)")


def teal_mask(rgb) -> np.ndarray:
    """Teal: hue 160-200 degrees, HSL saturation at least 0.3, lightness 0.2-0.7 (dark teal to light teal)."""
    hls = np.array([colorsys.rgb_to_hls(*(np.asarray(c, dtype=float) / 255.0)) for c in np.atleast_2d(rgb)])
    hue, light, sat = hls[:, 0] * 360.0, hls[:, 1], hls[:, 2]
    return (hue >= 160) & (hue <= 200) & (sat >= 0.3) & (light >= 0.2) & (light <= 0.7)


def concepts() -> dict[str, Concept]:
    """What the vector-search experiment can look for among colours."""
    return {"teal": Concept("hue 160-200°, HSL saturation ≥ 0.3, lightness 0.2-0.7", lambda p: teal_mask(p.raw))}
