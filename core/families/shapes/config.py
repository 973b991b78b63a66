"""The shapes family's frozen training/model config, with `tiny()` for tests."""

from __future__ import annotations

from dataclasses import dataclass, replace


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
