"""Frozen training/model configs, one per model family, each with a `tiny()` variant for fast tests."""

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


@dataclass(frozen=True)
class ShapeConfig:
    """A small CNN for 28x28 white-on-black drawings (Quick, Draw! convention)."""

    image_size: int = 28
    conv_filters: tuple[int, ...] = (32, 64, 128)  # three conv/pool blocks: 28 -> 14 -> 7 -> 3
    kernel_size: int = 3
    dense_units: int = 64
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 0.002
    final_learning_rate_fraction: float = 0.05  # cosine decay to 5% of the rate: +1 point on held-out drawings
    optimizer: str = "adam"
    samples_per_class: int = 4500  # training drawings per class: every real one, then augmented copies or generated
    other_per_class: int = 2500  # "none of these" training drawings; fewer than a shape's, so real shapes win ties
    min_real: int = 200  # a class with fewer real drawings than this also learns from the generator
    validation_fraction: float = 0.15
    seed: int = 11

    @classmethod
    def tiny(cls) -> ShapeConfig:
        return cls(
            conv_filters=(4,),
            dense_units=8,
            epochs=2,
            batch_size=16,
            samples_per_class=8,
            other_per_class=8,
            final_learning_rate_fraction=1.0,
        )

    def with_(self, **changes) -> ShapeConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class TextConfig:
    """A character-level LSTM; `preset` names an architecture (see core.text.PRESETS)."""

    preset: str = "shipped"
    embedding_dim: int = 256
    lstm_units: int = 512
    seq_length: int = 100
    epochs: int = 16  # the shipped run; the best-validation epoch is kept, so extra epochs cost time, not quality
    batch_size: int = 64
    learning_rate: float = 0.002  # twice Adam's default: converges in fewer CPU epochs and still stays stable
    dropout: float = 0.3  # on the LSTM's outputs: without it the 512-unit LSTM overfits after ~8 epochs
    final_learning_rate_fraction: float = 0.05  # cosine decay from learning_rate to this share of it; 1.0 = constant
    optimizer: str = "adam"
    validation_fraction: float = 0.1  # the last 10% of the corpus
    seed: int = 3

    @classmethod
    def tutorial(cls) -> TextConfig:
        """TensorFlow's "Text generation with an RNN" tutorial, exactly."""
        return cls(
            preset="tutorial",
            embedding_dim=256,
            lstm_units=1024,
            epochs=10,
            learning_rate=0.001,
            dropout=0.0,
            final_learning_rate_fraction=1.0,
        )

    @classmethod
    def tiny(cls) -> TextConfig:
        return cls(preset="tiny", embedding_dim=8, lstm_units=16, seq_length=12, epochs=2, batch_size=4, dropout=0.0)

    def with_(self, **changes) -> TextConfig:
        return replace(self, **changes)
