"""Overhead of the studio's live instrumentation: core.training.train (Keras callback, cancel check, divergence
check, epoch reports) against a plain `model.fit` on the same data and model, in the same run.

Runs alternate (plain, ours, plain, ours, ...) from identical starting weights, and the figure is the median of
the per-pair time ratios, so load from other processes on the machine hits both sides alike."""

from __future__ import annotations

import time

import numpy as np

PAIRS = 5
EPOCHS = 3


def run() -> dict:
    import keras

    from core import colors
    from core.config import ColorConfig
    from core.training import chance_loss, copy_model, make_optimizer, train

    cfg = ColorConfig()
    data = colors.prepare_color_data(cfg)
    x, y = data["x_train"], colors.one_hot(data["y_train"])
    val = (data["x_val"], colors.one_hot(data["y_val"]))
    keras.utils.set_random_seed(cfg.seed)
    base = colors.build_color_model(cfg)
    common = dict(epochs=EPOCHS, batch_size=cfg.batch_size, validation_data=val)

    def plain() -> float:
        model = copy_model(base)
        t0 = time.perf_counter()
        model.compile(
            optimizer=make_optimizer(cfg.optimizer, cfg.learning_rate),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x, y, verbose=0, shuffle=True, **common)
        return time.perf_counter() - t0

    def ours(batch_every: int | None) -> float:
        model = copy_model(base)
        epochs_seen, batches_seen = [], []
        hooks = {"on_epoch_end": lambda e, logs: epochs_seen.append(logs), "should_stop": lambda: False}
        if batch_every:
            hooks.update(on_batch_end=lambda e, b, logs: batches_seen.append(logs), batch_every=batch_every)
        t0 = time.perf_counter()
        result = train(
            model,
            x,
            y,
            learning_rate=cfg.learning_rate,
            optimizer=cfg.optimizer,
            loss="categorical_crossentropy",
            loss_ceiling=chance_loss(len(colors.CLASS_NAMES)),
            **common,
            **hooks,
        )
        elapsed = time.perf_counter() - t0
        assert result.ok and len(epochs_seen) == EPOCHS  # the instrumentation really ran
        return elapsed

    plain(), ours(None)  # warm-up: first-use costs (tracing, allocator) land on neither side
    epoch_ratios, batch_ratios, plain_times = [], [], []
    for i in range(PAIRS):
        if i % 2:  # alternate the order too, so a slow phase of the machine does not favour one side
            ours_t, plain_t = ours(None), plain()
        else:
            plain_t, ours_t = plain(), ours(None)
        epoch_ratios.append(ours_t / plain_t)
        plain_times.append(plain_t)
        plain_t, batch_t = plain(), ours(10)
        batch_ratios.append(batch_t / plain_t)
    steps = int(np.ceil(len(x) / cfg.batch_size)) * EPOCHS
    return {
        "train_overhead_ratio": round(float(np.median(epoch_ratios)), 3),
        "train_overhead_ratio_batch_reports": round(float(np.median(batch_ratios)), 3),
        "train_plain_fit_s": round(float(np.median(plain_times)), 2),
        "train_bench_steps": steps,
    }


if __name__ == "__main__":
    print(run())
