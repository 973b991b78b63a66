"""One generation step replayed at any temperature: softmax(logits / T) over a step's stored logits, and its entropy.

The Text page's step-through redraws the next-character distribution live from these, without generating again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.families.text.generate import next_char_probabilities
from core.maths import entropy as entropy_nats

LN2 = math.log(2.0)  # nats per bit


def entropy_bits(probabilities) -> np.ndarray | float:
    """Shannon entropy in bits (-sum p log2 p): nats / ln 2; 0 log 0 counts as 0."""
    h = entropy_nats(probabilities)
    return h / LN2


@dataclass(frozen=True)
class StepDistribution:
    """The next-character distribution of one step at one temperature, with its entropy."""

    temperature: float
    probabilities: np.ndarray  # (V,) sums to 1
    entropy_nats: float

    @property
    def entropy_bits(self) -> float:
        return self.entropy_nats / LN2

    @property
    def effective_choices(self) -> float:
        """e^H: as uncertain as a fair choice among this many characters (the perplexity of the distribution)."""
        return math.exp(self.entropy_nats)

    def rank_of(self, char_id: int) -> int:
        """1 for the likeliest character; ties share the better rank."""
        p = self.probabilities
        return int((p > p[int(char_id)]).sum()) + 1


def distribution_at(logits: Sequence[float], temperature: float, top_k: int | None = None) -> StepDistribution:
    """softmax(logits / T) of one step's (V,) logits, optionally over the top k only; T = 0 is the argmax."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"One step's logits must be a non-empty vector (got shape {z.shape}).")
    if not np.isfinite(z).all():
        raise ValueError("This step's logits hold a non-finite value (NaN or infinity), so no distribution exists.")
    p = next_char_probabilities(z, temperature, top_k)  # checks the temperature
    return StepDistribution(float(temperature), p, float(entropy_nats(p)))


def entropy_by_temperature(
    logits: Sequence[float], temperatures: Sequence[float], top_k: int | None = None
) -> np.ndarray:
    """Entropy in bits of one step's distribution at each temperature: how T flattens or sharpens it."""
    return np.array([distribution_at(logits, t, top_k).entropy_bits for t in temperatures])
