"""What one finished retrain returns (RetrainOutcome): its scores before and after on the same validation data, its
settings, notes, the misclassified samples per confusion cell and the version it saved. Frozen dataclasses at module
top level and registered with the job codec, so an outcome crosses from a worker to the page as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.engine import job_codec
from core.metrics import Report
from core.store.classroom import RunRecord


@dataclass(frozen=True)
class TextSample:
    """One next-character mistake of a text model: the context it read, the character that came and the one it
    predicted (what a family with sample_view "text" puts in a Misclassified cell)."""

    context: str
    expected: str
    predicted: str


@dataclass(frozen=True)
class Misclassified:
    """One off-diagonal cell of the confusion matrix: validation samples of class `true` predicted as `predicted`,
    at most core.engine.retrain.MAX_EXAMPLES of them, each as its family shows it (a hex colour, a 28x28 image, a
    TextSample)."""

    true: int
    predicted: int
    samples: tuple[Any, ...]


@dataclass(frozen=True)
class RunSettings:
    """The training settings the run used."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str
    seed: int


@dataclass(frozen=True)
class RetrainOutcome:
    """A retrain's result. `after` and `before` score the retrained model and the model it started from on the same
    validation data (`before` is None when the two cannot be scored alike); `version_id` and `version_path` are set
    once the version is saved (core.engine.retrain.save_run)."""

    family: str
    class_names: tuple[str, ...]
    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    after: Report
    before: Report | None
    base: str  # "shipped model" or "version <id>": what the run copied, or was compared with when fresh
    fresh: bool
    settings: RunSettings
    notes: tuple[str, ...] = ()
    misclassified: tuple[Misclassified, ...] = ()
    version_id: str | None = None
    version_path: str | None = None
    # A plain sentence when the model before was trained on (some of) the validation samples, so `before` is no fair
    # comparison (the shipped colour model learnt from every person); "" when it never saw them.
    before_seen: str = ""

    def cell_samples(self, true: int, predicted: int) -> tuple[Any, ...]:
        """The kept samples of class `true` predicted as `predicted` (empty for a cell with none)."""
        for cell in self.misclassified:
            if (cell.true, cell.predicted) == (true, predicted):
                return cell.samples
        return ()

    def run_record(self) -> RunRecord:
        """What a class keeps of this run (core.store.classroom): plain values, no engine types."""
        accuracy = self.after.accuracy
        return RunRecord(
            family=self.family,
            version_id=str(self.version_id or ""),
            accuracy=math.nan if accuracy is None else float(accuracy),
            epochs=self.settings.epochs,
            batch_size=self.settings.batch_size,
            learning_rate=self.settings.learning_rate,
            seed=self.settings.seed,
            seconds=self.seconds,
        )


job_codec.allow(TextSample, Misclassified, RunSettings, RetrainOutcome, Report)
