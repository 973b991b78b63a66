"""The Retrain studio's quick preset, timed from the click: `python -m bench.quick [--json] [--families colors shapes]`.

For each family, a quick-preset retrain goes through `core.engine.retrain.start_retrain` on a training worker process,
as a Start click does, twice: first on a cold worker (a new process: start, TensorFlow import, data), then on the warm
worker the first one left behind, then on a worker started by `core.engine.job_workers.warm_worker` (what opening the
Retrain page does) WARM_LEAD_S before the click. Each run reports seconds from
the click to the first progress report (the progress bar: `plan` after the data is prepared), to the first finished
epoch, and to the result, with the run's validation accuracy and the model before's on the same samples.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

WARM_LEAD_S = 20.0  # the time a person takes to choose settings after the page opened: the warm worker's head start


def _run_one(family: str, owner: str) -> dict:
    from core.engine import jobs, retrain
    from core.engine import registry as families
    from core.engine.checks import quick_settings
    from core.engine.retrain_request import RetrainRequest
    from core.store import models as store

    quick = quick_settings(family, store.load_metadata(families.get(family).shipped_dir()))
    req = RetrainRequest(
        family=family,
        epochs=int(quick["epochs"]),
        batch_size=int(quick["batch_size"]),
        learning_rate=float(quick["learning_rate"]),
        optimizer=quick["optimizer"],
        validation_fraction=float(quick["validation_fraction"]),
        seed=int(quick["seed"]),
        samples_per_class=quick.get("samples_per_class"),
        use_user_samples=False,
        version_name="quick",
        owner=owner,
    )
    clicked = time.perf_counter()
    job = retrain.start_retrain(req, retrain.read_user_data(family, owner), owner)
    first_progress = first_epoch = None
    while True:
        snap = jobs.QUEUE.snapshot(owner)
        now = time.perf_counter() - clicked
        if first_progress is None and snap.epochs > 0:
            first_progress = now
        if first_epoch is None and snap.epoch_logs:
            first_epoch = now
        if not snap.active:
            break
        time.sleep(0.02)  # a poll of the in-process queue, 50 times a second: the page polls once a second
    outcome = snap.result
    if snap.status != "done" or outcome is None:
        raise RuntimeError(f"The quick {family} retrain ended {snap.status}: {snap.message}")
    return {
        "settings": {k: quick[k] for k in ("epochs", "batch_size", "learning_rate") if k in quick}
        | ({"samples_per_class": quick["samples_per_class"]} if "samples_per_class" in quick else {}),
        "first_progress_s": round(first_progress if first_progress is not None else now, 2),
        "first_epoch_s": round(first_epoch if first_epoch is not None else now, 2),
        "result_s": round(time.perf_counter() - clicked, 2),
        "val_accuracy": round(float(outcome.after.accuracy), 4),
        "before_val_accuracy": round(float(outcome.before.accuracy), 4) if outcome.before is not None else None,
        "val_n": outcome.after.n,
        "job": job.id,
    }


def run(family_names: tuple[str, ...] = ("colors", "shapes")) -> dict:
    from core.engine import job_workers

    out: dict[str, dict] = {}
    for family in family_names:
        job_workers.retire_idle_workers()  # cold: a new worker process
        out[f"{family}_cold"] = _run_one(family, f"u{'c' * 20}")
        out[f"{family}_warm"] = _run_one(family, f"u{'w' * 20}")  # the worker the cold run left idle
        job_workers.retire_idle_workers()
        if job_workers.warm_worker():  # what opening the Retrain page does; the person then fills in the form
            time.sleep(WARM_LEAD_S)
            out[f"{family}_page_warmed"] = _run_one(family, f"u{'p' * 20}")
    job_workers.retire_idle_workers()
    if "colors" in family_names:
        out["colors_nearest_neighbour_val_accuracy"] = round(colour_nearest_neighbour(), 4)
    return out


def colour_nearest_neighbour() -> float:
    """The honest baseline for a fresh colour model: each validation person's colour gets the family of the nearest
    (RGB) crowd label of the training people."""
    import numpy as np

    from core.engine.checks import config_from_metadata
    from core.families.colors import model as colors
    from core.store import models as store

    data = colors.prepare_color_data(
        config_from_metadata("colors", store.load_metadata(store.shipped_model_dir("colors")))
    )
    xt, xv = np.asarray(data["x_train"], float), np.asarray(data["x_val"], float)
    nearest = ((xv[:, None, :] - xt[None, :, :]) ** 2).sum(-1).argmin(1)  # (n_val,)
    return float((np.asarray(data["y_train"])[nearest] == np.asarray(data["y_val"])).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--families", nargs="+", default=["colors", "shapes"])
    args = parser.parse_args()
    os.environ.setdefault("MLX_USER_DATA_DIR", tempfile.mkdtemp(prefix="bench-quick-"))
    os.environ.setdefault("MLX_TRAINING_WORKER", "process")
    results = run(tuple(args.families))
    if args.json:
        print(json.dumps(results))
    else:
        for name, row in results.items():
            print(name, row)


if __name__ == "__main__":
    main()
