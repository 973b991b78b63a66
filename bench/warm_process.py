"""Quick-preset trainings back to back on one warm training process, seconds per training:
`python -m bench.warm_process [--json] [--jobs 6] [--rounds 2] [--compare OTHER_CHECKOUT]`.

A child process starts a kept-warm training process (core.engine.job_workers.keep_warm + ensure_warm, as
`python -m core worker` does), lets it preload, runs one untimed quick colour and shapes training, then `--jobs`
quick trainings alternating colours and shapes through job_workers.run_in_process (the pipes, the JSON codec, the
training, evaluation, saving), each timed from hand-over to result. With `--compare`, the same child runs against the
other checkout in turns with this one (`--rounds` each), so both see the same load, and the figure is the ratio of
their median seconds per training, per family; each family's validation accuracies are listed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
FAMILIES = ("colors", "shapes")


class _Job:
    """What run_in_process asks of a job: reports land here, nothing is ever cancelled."""

    cancel_requested = False
    pid = None

    def __init__(self):
        self.epochs = 0

    def plan(self, epochs: int, steps_per_epoch: int) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.epochs += 1

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None:
        pass

    def finish(self, status: str, message: str = "", curve: dict | None = None) -> None:
        raise RuntimeError(f"The quick training ended {status}: {message}")


def _work(family: str) -> dict:
    import functools

    from core.engine import job_codec, retrain
    from core.engine import registry as families
    from core.engine.checks import quick_settings
    from core.engine.retrain_request import RetrainRequest, UserData
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
        owner="u" + "b" * 20,
    )
    return job_codec.work_spec(functools.partial(retrain.run_retrain, req, UserData()))


def child(jobs: int) -> dict:
    """In the checkout that is the working folder: time `jobs` quick trainings on one warm training process."""
    from core.engine import job_workers

    job_workers.keep_warm(job_workers.WARM_PRELOAD, idle_seconds=None)
    job_workers.ensure_warm()
    specs = {family: _work(family) for family in FAMILIES}
    out: dict[str, list] = {f"{family}_s": [] for family in FAMILIES} | {f"{family}_acc": [] for family in FAMILIES}
    try:
        for i in range(-len(FAMILIES), jobs):  # the first round warms up (imports, first traces): not counted
            family = FAMILIES[i % len(FAMILIES)]
            start = time.perf_counter()
            kind, value = job_workers.run_in_process(_Job(), specs[family])
            seconds = time.perf_counter() - start
            if kind != "result":
                raise RuntimeError(f"The quick {family} training failed: {value}")
            if i >= 0:
                out[f"{family}_s"].append(round(seconds, 3))
                out[f"{family}_acc"].append(round(float(value.after.accuracy), 4))
    finally:
        job_workers.retire_idle_workers()
    return out


def _run_child(tree: Path, jobs: int) -> dict:
    env = {**os.environ, "MLX_USER_DATA_DIR": tempfile.mkdtemp(prefix="bench-warm-"), "PYTHONPATH": str(tree)}
    env["MLX_TRAINING_WORKER"] = "process"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--jobs", str(jobs)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"The child in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(jobs: int = 6, rounds: int = 2, compare: Path | None = None) -> dict:
    trees = {"this": HERE} | ({"other": Path(compare).resolve()} if compare else {})
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            runs[name].append(_run_child(tree, jobs))
    out: dict = {"jobs_per_child": jobs, "rounds": rounds}
    for name in trees:
        for family in FAMILIES:
            seconds = [s for r in runs[name] for s in r[f"{family}_s"]]
            accs = sorted({a for r in runs[name] for a in r[f"{family}_acc"]})
            out[f"{name}_{family}_median_s"] = round(statistics.median(seconds), 3)
            out[f"{name}_{family}_val_accuracy"] = accs
    if compare:
        for family in FAMILIES:
            out[f"{family}_this_over_other"] = round(
                out[f"this_{family}_median_s"] / out[f"other_{family}_median_s"], 3
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(child(args.jobs)))
        return
    results = run(args.jobs, args.rounds, args.compare)
    print(json.dumps(results) if args.json else "\n".join(f"{k}: {v}" for k, v in results.items()))


if __name__ == "__main__":
    main()
