"""The colour networks the Colors page's in-browser view is checked on (the shipped one, and one with an offset and
other weights), the colours it is probed with, and each family's colour."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from core.families.colors import model as colors

FAMILY_HEX = [colors.to_hex(colors.OBVIOUS_COLORS[f]) for f in colors.FAMILIES]


@lru_cache(maxsize=1)
def shipped():
    return colors.load_shipped().model


@lru_cache(maxsize=1)
def offset_model():
    """The colour network's shape with a non-zero Rescaling offset and 5 random hidden units: nothing in the JS may
    lean on the shipped model's particular numbers."""
    import keras

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Rescaling(2 / 255, offset=-1.0),
            keras.layers.Dense(5, activation="sigmoid", name="hidden", bias_initializer="random_normal"),
            keras.layers.Dense(9, name="logits", bias_initializer="random_normal"),
            keras.layers.Activation("softmax"),
        ]
    )


MODELS = pytest.mark.parametrize("model", [shipped, offset_model], ids=["shipped", "offset"])


def probe_colours() -> np.ndarray:
    """Corners of the RGB cube, the obvious colours, the default and 40 random colours: (N, 3)."""
    corners = [(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)]
    rng = np.random.default_rng(0)
    random = rng.integers(0, 256, (40, 3)).tolist()
    return np.array(corners + list(colors.OBVIOUS_COLORS.values()) + [colors.DEFAULT_COLOR] + random, dtype=float)
