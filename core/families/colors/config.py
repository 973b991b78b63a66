"""The colour family's frozen training/model config, with `tiny()` for tests."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ColorConfig:
    """The Coding Train color classifier: RGB -> sigmoid hidden layer -> 9-way softmax, trained with SGD."""

    hidden_units: int = 32  # wide enough that the hidden layer doubles as the vector-search embedding
    epochs: int = 200
    batch_size: int = 64
    learning_rate: float = 0.03  # Adam; the crowd data is small, so 200 full passes take seconds
    optimizer: str = "adam"
    class_weight_power: float = 0.3  # weight of a class = (largest class / its count) ** this: 0 none, 1 balanced
    validation_fraction: float = 0.15  # share of PEOPLE (not rows) held out to validate a retrain
    folds: int = 5  # `train colors` measures by group k-fold over people before it trains on everyone
    seed: int = 7

    @classmethod
    def tiny(cls) -> ColorConfig:
        return cls(hidden_units=8, epochs=3, batch_size=16, folds=2)

    def with_(self, **changes) -> ColorConfig:
        return replace(self, **changes)
