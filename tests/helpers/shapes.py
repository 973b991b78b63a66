"""A tiny shapes CNN trained in seconds (the tiny config, 3 epochs, 16 drawings per class)."""

from core.families.shapes import model as shapes
from core.families.shapes.config import ShapeConfig


def train_tiny():
    """(config, model, training result, data) of a tiny CNN; the tests share one per module."""
    cfg = ShapeConfig.tiny().with_(epochs=3, samples_per_class=16, batch_size=16)
    model, result, data = shapes.train_shape_model(cfg)
    return cfg, model, result, data
