"""The colour family's Vector search pool: random colours embedded by the model's hidden layer."""

from __future__ import annotations

import numpy as np

from core.families.colors import model as colors
from core.vectors import search


def color_pool(model, size: int = search.COLOR_POOL_SIZE, seed: int = 0) -> search.Pool:
    """`size` random RGB colours (fixed seed), embedded by the colour model's 32-unit sigmoid `hidden` layer."""
    if size < 1:
        raise search.VectorStoreError("The colour pool is empty: choose a pool size of at least 1.")
    rgb = np.random.default_rng(seed).integers(0, 256, size=(size, 3)).astype(np.float32)  # (N, 3)
    embeddings = colors.embed_colors(model, rgb)  # (N, 32)
    items = [{"rgb": [int(v) for v in c], "hex": colors.to_hex(c)} for c in rgb]
    return search.make_pool("colors", embeddings, items, rgb, "colors model, layer hidden (32 sigmoid units)")
