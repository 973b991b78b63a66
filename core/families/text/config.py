"""The text family's frozen training/model config, with `tiny()` for tests."""

from __future__ import annotations

from dataclasses import dataclass, replace


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
