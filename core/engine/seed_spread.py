"""Run-to-run variance for any model family: train the same recipe N times with different seeds through the registry's
contract (family.load_data, family.train) and report every run's validation accuracy ("0.5 on one run, 0.9 the
next"). Runs as a job on the training queue, one seed per step, so it shows progress and can be cancelled."""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from core.engine import job_codec, queues
from core.engine import registry as families
from core.engine.checks import config_from_metadata
from core.engine.training import TrainingError
from core.settings import get_settings
from core.store import models as store

MAX_RUNS = 10  # each run is a quick-preset training: ten of them stay within a couple of minutes on 2 cores


@dataclass(frozen=True)
class SpreadRun:
    """One of the runs: its seed, its validation accuracy and how long it trained."""

    seed: int
    accuracy: float
    seconds: float


@dataclass(frozen=True)
class Recipe:
    """The quick preset every run repeats."""

    epochs: int
    batch_size: int
    learning_rate: float


@dataclass(frozen=True)
class SeedSpread:
    """A finished run-to-run job: the family, its recipe, every run, and the accuracies' mean, min, max and
    (population) standard deviation. Top level, frozen and registered: it crosses from a worker to the page as JSON."""

    family: str
    recipe: Recipe
    runs: tuple[SpreadRun, ...]
    mean: float
    min: float
    max: float
    std: float

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.runs]

    def to_dict(self) -> dict:
        """The shape seed_spread returns (runs as dicts, accuracies, n_runs, mean, min, max, std), for the figure
        core.families.teach.figures.seed_spread_figure draws from."""
        return {
            "family": self.family,
            "recipe": {
                "epochs": self.recipe.epochs,
                "batch_size": self.recipe.batch_size,
                "learning_rate": self.recipe.learning_rate,
            },
            "runs": [{"seed": r.seed, "accuracy": r.accuracy, "seconds": r.seconds} for r in self.runs],
            "accuracies": self.accuracies,
            "n_runs": self.n_runs,
            "mean": self.mean,
            "min": self.min,
            "max": self.max,
            "std": self.std,
        }


def seed_spread(train_once: Callable[[int], dict], n_runs: int) -> dict:
    """Train `n_runs` times with seeds 0..n_runs-1 (`train_once(seed)` returns a dict with "accuracy"); every run's
    accuracy plus mean, min, max and standard deviation. Generic: any model family's training fits."""
    if not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise TrainingError(f"The number of runs must be a whole number of at least 1 (got {n_runs!r}).")
    runs = []
    for seed in range(int(n_runs)):
        outcome = dict(train_once(seed) or {})
        accuracy = outcome.get("accuracy")
        if not isinstance(accuracy, (int, float, np.floating)):
            raise TrainingError(f"Run {seed} returned no accuracy (got {accuracy!r}).")
        runs.append({**outcome, "seed": seed, "accuracy": float(accuracy)})
    accuracies = [r["accuracy"] for r in runs]
    return {
        "runs": runs,
        "accuracies": accuracies,
        "n_runs": len(runs),
        "mean": float(np.mean(accuracies)),
        "min": float(np.min(accuracies)),
        "max": float(np.max(accuracies)),
        "std": float(statistics.pstdev(accuracies)) if len(accuracies) > 1 else 0.0,
    }


def quick_config(family: str):
    """The family's shipped config with its quick preset applied (the recipe every run repeats)."""
    fam = families.get(family)
    cfg = config_from_metadata(family, store.load_metadata(fam.shipped_dir()))
    return replace(cfg, **{k: v for k, v in fam.quick.items() if hasattr(cfg, k)})


def train_once(family: str, cfg, data: dict | None, seed: int, should_stop=None) -> dict:
    """One quick training with `seed`; its accuracy is the last epoch's validation accuracy Keras measured."""
    hooks = {} if should_stop is None else {"should_stop": should_stop}
    trained = families.get(family).train(replace(cfg, seed=int(seed)), data, **hooks)
    if not trained.result.ok:
        raise TrainingError(trained.result.message or "The run did not finish.")
    history = trained.result.history
    accuracy = (history.get("val_accuracy") or history.get("accuracy") or [float("nan")])[-1]
    return {"accuracy": float(accuracy), "seconds": round(trained.result.seconds, 1)}


def _data(family: str, cfg) -> dict:
    """The family's built-in data, loaded once for every run; text is cut to the quick preset's characters (at most
    the server's per-run cap)."""
    fam = families.get(family)
    data = fam.load_data(cfg)
    if fam.text_upload:
        cap = get_settings().max_text_train_chars
        data = {"text": data["text"][-min(int(fam.quick.get("text_chars", cap)), cap) :]}
    return data


def run_spread(family: str, n_runs: int, job) -> SeedSpread | None:
    """The job's work: the data once, then one training per seed, each reported as one step; None when cancelled."""
    if not 2 <= int(n_runs) <= MAX_RUNS:
        raise TrainingError(f"Choose 2 to {MAX_RUNS} runs (got {n_runs}).")
    cfg = quick_config(family)
    data = _data(family, cfg)
    job.plan(int(n_runs), 1)  # progress in runs

    def one_run(seed: int) -> dict:
        if job.should_stop():
            raise TrainingError("Cancelled.")
        outcome = train_once(family, cfg, data, seed, job.should_stop)
        job.on_epoch_end(seed, {"val_accuracy": outcome["accuracy"]})  # the panel's curve: accuracy per run
        return outcome

    try:
        result = seed_spread(one_run, int(n_runs))
    except TrainingError:
        if job.should_stop():
            job.finish("cancelled", "Cancelled: the runs so far are not kept.")
            return None
        raise
    return SeedSpread(
        family=family,
        recipe=Recipe(epochs=int(cfg.epochs), batch_size=int(cfg.batch_size), learning_rate=float(cfg.learning_rate)),
        runs=tuple(SpreadRun(r["seed"], r["accuracy"], r["seconds"]) for r in result["runs"]),
        mean=result["mean"],
        min=result["min"],
        max=result["max"],
        std=result["std"],
    )


job_codec.allow(run_spread, SpreadRun, Recipe, SeedSpread)


def start_spread(family: str, n_runs: int, owner: str, queue=None):
    """Queue N quick trainings of `family` for `owner` (under its own key, beside a normal retrain)."""

    families.get(family)
    if not 2 <= int(n_runs) <= MAX_RUNS:
        raise TrainingError(f"Choose 2 to {MAX_RUNS} runs (got {n_runs}).")
    queue = queue or queues.get_queue()
    title = f"{family}: {n_runs} quick trainings with seeds 0–{int(n_runs) - 1}"
    return queue.submit(f"spread-{owner}", title, functools.partial(run_spread, family, int(n_runs)), owner=owner)
