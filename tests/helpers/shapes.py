"""A tiny shapes CNN trained in seconds (the tiny config, 3 epochs, 16 drawings per class), and a drawing made by
seed for the layer explainers' tests."""

import numpy as np
from PIL import Image, ImageDraw

from core.families.shapes import model as shapes
from core.families.shapes.config import ShapeConfig


def train_tiny():
    """(config, model, training result, data) of a tiny CNN; the tests share one per module."""
    cfg = ShapeConfig.tiny().with_(epochs=3, samples_per_class=16, batch_size=16)
    model, result, data = shapes.train_shape_model(cfg)
    return cfg, model, result, data


def drawing(seed: int = 0) -> np.ndarray:
    """A circle and a line, white on black 0-255, as the Draw page passes a drawing; placed by the seed."""
    rng = np.random.default_rng(seed)
    size = 28
    img = Image.new("L", (size, size))
    d = ImageDraw.Draw(img)
    a, b = rng.integers(1, 6, 2)
    d.ellipse((a, b, size - 1 - a, size - 2 - b), outline=255, width=2)
    d.line((0, int(rng.integers(0, size)), size - 1, int(rng.integers(0, size))), fill=180, width=1)
    return np.asarray(img, dtype=np.float32)
