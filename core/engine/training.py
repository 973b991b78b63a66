"""One training loop for every model: `train()` wraps `model.fit` with a Keras callback that reports progress,
stops on cancel within one batch, and stops with a plain explanation when the loss diverges. No UI here."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.engine import warm

EpochHook = Callable[[int, dict], None]
BatchHook = Callable[[int, int, dict], None]
MAX_BATCH_RECORDS = 4000  # per-batch losses kept for the divergence curve; past it the older half is thinned


class TrainingError(ValueError):
    """A training request that cannot run, with a message meant for the user."""


@dataclass
class TrainResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    cancelled: bool = False
    diverged: bool = False
    message: str = ""
    seconds: float = 0.0
    steps_per_epoch: int = 0
    # Every batch's loss (Keras' running mean within the epoch), when batches are watched (`on_batch_end` or
    # `record_batches`): {"epoch": 1, "batch": 1, "step": 1, "loss": ...}, 1-based; a diverging batch is the last.
    batch_history: list[dict] = field(default_factory=list)
    # Where the loss diverged: epoch and batch (1-based; batch None when caught at the end of an epoch), the global
    # step, the metric and its value (NaN/inf kept as floats), why ("nan", "inf" or "ceiling"), the ceiling, and the
    # diverging epoch's logs when it was caught there. `history` keeps finished, finite epochs only.
    divergence: dict | None = None
    best_epoch: int = 0  # with train(keep_best=...): the epoch whose weights the model ends with (1-based)

    @property
    def ok(self) -> bool:
        return not (self.cancelled or self.diverged)

    def loss_curve(self) -> dict:
        """What was recorded up to and including the divergence point, for a view to draw after the run ended:
        {"epoch_logs": [{"epoch": 1, "loss": ...}, ...], "batch_logs": [...], "steps_per_epoch", "divergence"}."""
        n = max((len(v) for v in self.history.values()), default=0)
        epochs = [{"epoch": i + 1, **{k: v[i] for k, v in self.history.items() if i < len(v)}} for i in range(n)]
        return {
            "epoch_logs": epochs,
            "batch_logs": [dict(b) for b in self.batch_history],
            "steps_per_epoch": int(self.steps_per_epoch),
            "divergence": dict(self.divergence) if self.divergence else None,
        }


@dataclass(frozen=True)
class Trained:
    """What every family's `train` returns: a NEW model (the one passed in is never changed), how training went, and
    the data it trained on (text adds its vocabulary under "vocab")."""

    model: object
    result: TrainResult
    data: dict

    def __iter__(self):  # `model, result, data = family.train(...)` reads like the call it replaces
        return iter((self.model, self.result, self.data))


def make_optimizer(name: str, learning_rate: float, decay_steps: int = 0, final_fraction: float = 1.0):
    """SGD or Adam; with `decay_steps` and `final_fraction` < 1 the rate follows a cosine from `learning_rate`
    down to `final_fraction` of it over `decay_steps` batches."""
    import keras

    if decay_steps > 0 and final_fraction < 1.0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=final_fraction)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise TrainingError(f"Unknown optimizer {name!r}: choose 'sgd' or 'adam'.")


def check_hyperparameters(epochs, batch_size, learning_rate, n_samples: int, max_epochs: int | None = None) -> None:
    """Raise TrainingError with a plain message for settings that cannot train."""
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise TrainingError(f"Epochs must be a whole number of at least 1 (got {epochs!r}).")
    if max_epochs is not None and epochs > max_epochs:
        raise TrainingError(f"Epochs are capped at {max_epochs} on this server (got {epochs}).")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise TrainingError(f"Batch size must be a whole number of at least 1 (got {batch_size!r}).")
    if n_samples < 1:
        raise TrainingError("There is no training data.")
    if batch_size > n_samples:
        raise TrainingError(f"The batch size ({batch_size}) is larger than the training data ({n_samples} samples).")
    try:
        lr = float(learning_rate)
    except (TypeError, ValueError):
        raise TrainingError(f"The learning rate must be a number (got {learning_rate!r}).") from None
    if not math.isfinite(lr) or lr <= 0:
        raise TrainingError(f"The learning rate must be a positive number (got {learning_rate!r}).")


def _divergence_message(loss: float, epoch: int, batch: int | None) -> str:
    where = f"epoch {epoch + 1}, batch {batch + 1}" if batch is not None else f"epoch {epoch + 1}"
    return (
        f"The loss became {loss} in {where}: the learning rate is too high, so each step overshoots and the "
        "weights blow up. Nothing was saved and your active model is unchanged; try a smaller rate."
    )


def _ceiling_message(loss: float, ceiling: float, epoch: int) -> str:
    return (
        f"The loss rose to {loss:.3g} in epoch {epoch + 1}, more than {ceiling:.3g}, which is far worse than guessing: the "
        "learning rate is too high, so each step overshoots the minimum and the model gets worse instead of "
        "better. Nothing was saved and your active model is unchanged; try a smaller rate."
    )


def _reason(value: float) -> str:
    return "nan" if math.isnan(value) else "inf"


def _record_batch(result: TrainResult, record: dict) -> None:
    history = result.batch_history
    history.append(record)
    if len(history) > MAX_BATCH_RECORDS:  # drop every other one of the older half: recent batches stay dense
        half = len(history) // 2
        history[:half] = history[:half:2]


def _make_callback(
    result: TrainResult,
    on_epoch_end,
    on_batch_end,
    batch_every,
    should_stop,
    loss_ceiling=None,
    watch_batches=False,
    keep_best: str | None = None,
):
    import keras

    # Subclassing keras' Callback is the hook model.fit offers; everything else stays inside fit.
    class Reporter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.best = (math.inf, None)  # (keep_best's value, the weights at that epoch)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def _above_ceiling(self, loss) -> bool:
            return loss_ceiling is not None and loss is not None and loss > loss_ceiling

        def on_train_batch_begin(self, batch, logs=None):
            # Checked before each batch (no logs needed, so no device sync): a cancel lands within one batch.
            if should_stop is not None and not result.cancelled and should_stop():
                result.cancelled = True
                result.message = "Training was cancelled. Nothing was saved and your active model is unchanged."
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            bad = [(k, v) for k, v in logs.items() if not math.isfinite(v)]
            where = {"epoch": epoch + 1, "batch": None, "step": (epoch + 1) * result.steps_per_epoch, "logs": logs}
            if bad and not result.cancelled and not result.diverged:
                result.diverged = True
                result.message = _divergence_message(bad[0][1], epoch, None)
                result.divergence = {**where, "metric": bad[0][0], "value": bad[0][1], "reason": _reason(bad[0][1])}
                self.model.stop_training = True
            elif self._above_ceiling(logs.get("loss")) and not result.cancelled and not result.diverged:
                result.diverged = True
                result.message = _ceiling_message(logs["loss"], loss_ceiling, epoch)
                result.divergence = {**where, "metric": "loss", "value": logs["loss"], "reason": "ceiling"}
                self.model.stop_training = True
            if result.divergence is not None:
                result.divergence.setdefault("ceiling", loss_ceiling)
            if result.cancelled or result.diverged:
                return
            for k, v in logs.items():
                result.history.setdefault(k, []).append(v)
            result.epochs_run = epoch + 1
            if keep_best is not None and logs.get(keep_best, math.inf) < self.best[0]:
                self.best = (logs[keep_best], self.model.get_weights())
                result.best_epoch = epoch + 1
            if on_epoch_end is not None:
                on_epoch_end(epoch, logs)

    class BatchReporter(Reporter):
        # Only defined when someone listens: overriding on_train_batch_end makes Keras turn its logs into Python
        # floats after every batch (a device sync), which a plain fit skips.
        def on_train_batch_end(self, batch, logs=None):
            if result.cancelled or result.diverged:
                return
            loss = float((logs or {}).get("loss", 0.0))
            step = self.epoch * result.steps_per_epoch + batch + 1
            # Recorded before the checks, so a diverging batch is the curve's last point.
            _record_batch(result, {"epoch": self.epoch + 1, "batch": batch + 1, "step": step, "loss": loss})
            where = {"epoch": self.epoch + 1, "batch": batch + 1, "step": step, "metric": "loss", "value": loss}
            if not math.isfinite(loss):
                result.diverged = True
                result.message = _divergence_message(loss, self.epoch, batch)
                result.divergence = {**where, "reason": _reason(loss), "ceiling": loss_ceiling}
                self.model.stop_training = True
                return
            if batch >= batch_every and self._above_ceiling(loss):  # Keras' batch loss is the epoch's running mean
                result.diverged = True
                result.message = _ceiling_message(loss, loss_ceiling, self.epoch)
                result.divergence = {**where, "reason": "ceiling", "ceiling": loss_ceiling}
                self.model.stop_training = True
                return
            if on_batch_end is not None and (batch % batch_every == 0 or batch + 1 == self.params.get("steps")):
                on_batch_end(self.epoch, batch, {k: float(v) for k, v in (logs or {}).items()})

    return BatchReporter() if on_batch_end is not None or watch_batches else Reporter()


def train(
    model,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    loss: str,
    optimizer: str = "adam",
    metrics: list | None = None,
    validation_data: tuple | None = None,
    seed: int | None = None,
    on_epoch_end: EpochHook | None = None,
    on_batch_end: BatchHook | None = None,
    batch_every: int = 1,
    should_stop: Callable[[], bool] | None = None,
    loss_ceiling: float | None = None,
    record_batches: bool = False,
    max_epochs: int | None = None,
    shuffle: bool = True,
    deterministic: bool = False,
    final_learning_rate_fraction: float = 1.0,
    class_weight: dict[int, float] | None = None,
    keep_best: str | None = None,
) -> TrainResult:
    """Compile and fit `model` in place, reporting through the hooks; returns what happened.

    The caller owns `model`: pass a copy (see `copy_model`) when the original must stay untouched.
    Training stops as diverged when the loss is NaN/inf, or above `loss_ceiling` (see `chance_loss`).
    Every batch's loss is kept in `TrainResult.batch_history` when batches are reported or `record_batches` is set
    (which costs a sync per batch: Keras then turns each batch's logs into floats), and divergence is then caught
    at the batch it happens in; `TrainResult.loss_curve()` is the curve up to that point.
    `keep_best="val_loss"` ends with the weights of the epoch where that log was lowest (`result.best_epoch`).
    """
    import keras

    check_hyperparameters(epochs, batch_size, learning_rate, len(x), max_epochs)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    if deterministic:  # process-wide: the CLI's reproducible rebuilds use it, the app does not
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    steps = int(epochs) * math.ceil(len(x) / int(batch_size))
    metrics = metrics or ["accuracy"]
    # A warm training process's reused copy keeps its traced steps when compiled alike (core.engine.warm).
    key = (optimizer, float(learning_rate), steps, float(final_learning_rate_fraction), loss, tuple(metrics))
    warm.compile_once(
        model,
        key if all(isinstance(m, str) for m in metrics) else None,
        lambda: model.compile(
            optimizer=make_optimizer(optimizer, float(learning_rate), steps, float(final_learning_rate_fraction)),
            loss=loss,
            metrics=metrics,
        ),
    )
    result = TrainResult(steps_per_epoch=math.ceil(len(x) / int(batch_size)))
    callback = _make_callback(
        result,
        on_epoch_end,
        on_batch_end,
        max(1, int(batch_every)),
        should_stop,
        loss_ceiling,
        record_batches,
        keep_best,
    )
    start = time.perf_counter()
    # Keras' own fit on the arrays: a one-iterator tf.data stream of the same batches saved ~0.3 s a quick colour run,
    # but its shuffles differ from Keras' and a tiny Teach sound project trained from scratch fitted 67% of its own
    # samples where Keras' fit gives 100% (tests/integration/test_teach_cli.py): the same training, not a faster one.
    model.fit(
        x,
        y,
        epochs=int(epochs),
        batch_size=int(batch_size),
        validation_data=validation_data,
        callbacks=[callback],
        verbose=0,
        shuffle=shuffle,
        class_weight=class_weight,
    )
    result.seconds = time.perf_counter() - start
    if keep_best is not None and callback.best[1] is not None and result.ok:
        model.set_weights(callback.best[1])
    return result


def chance_loss(n_classes: int, factor: float = 3.0) -> float:
    """`factor` times the cross-entropy of guessing uniformly, ln(n_classes).

    A softmax loss clipped by Keras can stay finite while a too-high learning rate wrecks the model, so a loss far
    above guessing is the practical sign of divergence; a healthy run starts near ln(n) and only goes down.
    """
    return factor * math.log(max(2, int(n_classes)))


def copy_model(model):
    """A structurally identical model with its own copy of the weights (never share a cached model); in a warm
    training process, a reused one reset to what a new copy would be (core.engine.warm.copy_model)."""
    return warm.copy_model(model, _clone)


def _clone(model):
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
