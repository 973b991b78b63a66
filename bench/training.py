"""Overhead of the studio's live instrumentation: core.training.train (Keras callback, cancel check, divergence
check, epoch reports) against a plain `model.fit` on the same data and model, in the same run.

Runs alternate (plain, ours, plain, ours, ...) from identical starting weights, and each figure is the median of
the per-pair ratios. The headline ratio uses this process's CPU time (all its threads), which other processes'
load on a shared machine barely moves; the wall-clock ratio is reported next to it."""

from __future__ import annotations

import time

import numpy as np

PAIRS = 5
EPOCHS = 3


def run() -> dict:
    import keras

    from core.engine.training import chance_loss, copy_model, make_optimizer, train
    from core.families.colors import model as colors
    from core.families.colors.config import ColorConfig

    cfg = ColorConfig()
    data = colors.prepare_color_data(cfg)
    x, y = data["x_train"], colors.one_hot(data["y_train"])
    val = (data["x_val"], colors.one_hot(data["y_val"]))
    keras.utils.set_random_seed(cfg.seed)
    base = colors.build_color_model(cfg)
    common = dict(epochs=EPOCHS, batch_size=cfg.batch_size, validation_data=val)

    def plain() -> tuple[float, float]:
        model = copy_model(base)
        c0, t0 = time.process_time(), time.perf_counter()
        model.compile(
            optimizer=make_optimizer(cfg.optimizer, cfg.learning_rate),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x, y, verbose=0, shuffle=True, **common)
        return time.process_time() - c0, time.perf_counter() - t0

    def ours(batch_every: int | None) -> tuple[float, float]:
        model = copy_model(base)
        epochs_seen, batches_seen = [], []
        hooks = {"on_epoch_end": lambda e, logs: epochs_seen.append(logs), "should_stop": lambda: False}
        if batch_every:
            hooks.update(on_batch_end=lambda e, b, logs: batches_seen.append(logs), batch_every=batch_every)
        c0, t0 = time.process_time(), time.perf_counter()
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
        elapsed = time.process_time() - c0, time.perf_counter() - t0
        assert result.ok and len(epochs_seen) == EPOCHS  # the instrumentation really ran
        return elapsed

    plain(), ours(None)  # warm-up: first-use costs (tracing, allocator) land on neither side
    cpu, wall, batch_cpu, plain_wall = [], [], [], []
    for i in range(PAIRS):
        if i % 2:  # alternate the order too, so a slow phase of the machine does not favour one side
            ours_t, plain_t = ours(None), plain()
        else:
            plain_t, ours_t = plain(), ours(None)
        cpu.append(ours_t[0] / plain_t[0])
        wall.append(ours_t[1] / plain_t[1])
        plain_wall.append(plain_t[1])
        plain_t, batch_t = plain(), ours(10)
        batch_cpu.append(batch_t[0] / plain_t[0])
    steps = int(np.ceil(len(x) / cfg.batch_size)) * EPOCHS
    return {
        "train_overhead_ratio": round(float(np.median(cpu)), 3),
        "train_overhead_ratio_wall": round(float(np.median(wall)), 3),
        "train_overhead_ratio_batch_reports": round(float(np.median(batch_cpu)), 3),
        "train_plain_fit_s": round(float(np.median(plain_wall)), 2),
        "train_bench_steps": steps,
    }


if __name__ == "__main__":
    print(run())
