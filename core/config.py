"""Frozen training/model configs, one per model family, each with a `tiny()` variant for fast tests."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ColorConfig:
    """The Coding Train color classifier: RGB -> sigmoid hidden layer -> 9-way softmax, trained with SGD."""

    hidden_units: int = 32  # wide enough that the hidden layer doubles as the vector-search embedding
    epochs: int = 150
    batch_size: int = 32
    learning_rate: float = 0.2  # the series' SGD rate; much higher diverges
    optimizer: str = "sgd"
    jitter: float = 6.0  # +/- RGB units of augmentation noise per copy
    augment_copies: int = 8  # jittered copies per colour, before class balancing
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 7

    @classmethod
    def tiny(cls) -> ColorConfig:
        return cls(hidden_units=8, epochs=3, batch_size=16, augment_copies=1)

    def with_(self, **changes) -> ColorConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class ShapeConfig:
    """A small CNN for 28x28 white-on-black drawings (Quick, Draw! convention)."""

    image_size: int = 28
    conv_filters: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    dense_units: int = 64
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 0.002
    optimizer: str = "adam"
    samples_per_class: int = 1500
    validation_fraction: float = 0.1
    seed: int = 11

    @classmethod
    def tiny(cls) -> ShapeConfig:
        return cls(conv_filters=(4,), dense_units=8, epochs=2, batch_size=16, samples_per_class=8)

    def with_(self, **changes) -> ShapeConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class TextConfig:
    """A character-level LSTM; `preset` names an architecture (see core.text.PRESETS)."""

    preset: str = "shipped"
    embedding_dim: int = 256
    lstm_units: int = 512
    seq_length: int = 100
    epochs: int = 20  # the shipped run; the best-validation epoch is kept, so extra epochs cost time, not quality
    batch_size: int = 64
    learning_rate: float = 0.002  # twice Adam's default: converges in fewer CPU epochs and still stays stable
    optimizer: str = "adam"
    validation_fraction: float = 0.1  # the last 10% of the corpus
    seed: int = 3

    @classmethod
    def tutorial(cls) -> TextConfig:
        """TensorFlow's "Text generation with an RNN" tutorial, exactly."""
        return cls(preset="tutorial", embedding_dim=256, lstm_units=1024, epochs=10, learning_rate=0.001)

    @classmethod
    def tiny(cls) -> TextConfig:
        return cls(preset="tiny", embedding_dim=8, lstm_units=16, seq_length=12, epochs=2, batch_size=4)

    def with_(self, **changes) -> TextConfig:
        return replace(self, **changes)
