"""The simulated-annotator experiment behind `python -m core experiment vector-search`: concept rules (teal_mask,
each family's concepts), labels-to-F1 curves for vector search vs random sampling, run_experiment and experiment_cli."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.engine import registry as families
from core.maths import f1_score
from core.store import models as store
from core.vectors.search import (
    COLOR_POOL_SIZE,
    ITERATIONS,
    LEARNING_RATE,
    SEED_POSITIVES,
    TOP_K,
    Pool,
    PoolIndex,
    least_sure,
    open_client,
    pool_logits,
    seed_head,
    train_head,
)


@dataclass(frozen=True)
class Concept:
    description: str
    truth: Callable[[Pool], np.ndarray]


def label_mask(*names: str) -> Callable[[Pool], np.ndarray]:
    """A concept's truth for a pool whose items carry labels: the items labelled one of `names`."""
    return lambda pool: np.array([item.get("label") in names for item in pool.items])


def concepts_of(pool_name: str) -> dict[str, Concept]:
    """The concepts the experiment can look for in a pool: its family's (registry entry `concepts`)."""
    family = families.for_pool(pool_name)
    return dict(family.concepts()) if family.concepts is not None else {}


# vector_search: the query window sits at w's decision boundary (a Qdrant offset); vector_search_top: the literal
# top-k for w (offset 0), which stays all positive while the concept has more positives than the budget.
STRATEGIES = ("vector_search", "vector_search_top", "random")


@dataclass
class Curve:
    labels: list[int] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    positives: list[int] = field(default_factory=list)  # how many of the labels so far were positive

    def labels_to(self, target: float) -> int | None:
        return next((n for n, f in zip(self.labels, self.f1) if f >= target), None)


def run_strategy(
    pool: Pool,
    truth: np.ndarray,
    strategy: str,
    budget: int,
    seed: int,
    k: int = TOP_K,
    iterations: int = ITERATIONS,
    learning_rate: float = LEARNING_RATE,
    client=None,
) -> Curve:
    """One simulated annotator run: the same seed positives, then k labels a round, chosen by `strategy`
    ('vector_search': the top-k unseen for w from Qdrant; 'random': k unseen at random). F1 on the whole pool."""
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(truth)
    if len(positives) == 0:
        raise ValueError("The concept has no positives in this pool, so there is nothing to find.")
    labelled = [int(i) for i in rng.choice(positives, min(SEED_POSITIVES, len(positives), budget), replace=False)]
    index = None
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if strategy.startswith("vector_search"):
        index = PoolIndex(
            client or open_client(location=":memory:", url=""),
            pool.name,
            pool.vectors.shape[1],
            pool.fingerprint,
            session=f"exp_{seed % 10**6}",
        )
        index.ensure(pool)
        index.reset_seen()
        index.mark_seen(labelled)
    seen = np.zeros(len(pool), bool)
    seen[labelled] = True
    w, b = seed_head(pool, labelled)
    curve = Curve()

    def fit_and_score():
        nonlocal w, b
        oracle = np.where(truth[labelled], 1.0, -1.0)
        step = train_head(w, b, pool.vectors[labelled], oracle, iterations, learning_rate)
        w, b = step.w, step.b
        curve.labels.append(len(labelled))
        curve.positives.append(int(truth[labelled].sum()))
        curve.f1.append(round(f1_score(pool_logits(pool, w, b) > 0, truth), 4))

    fit_and_score()
    while len(labelled) < min(budget, len(pool)):
        n = min(k, budget - len(labelled))
        if index is not None:
            if strategy == "vector_search":
                picked = [hit.id for hit in least_sure(index, pool, w, b, np.flatnonzero(seen), n)]
            else:
                picked = [hit.id for hit in index.search(w, n)]
            index.mark_seen(picked)
        else:
            picked = [int(i) for i in rng.choice(np.flatnonzero(~seen), min(n, int((~seen).sum())), replace=False)]
        if not picked:
            break
        seen[picked] = True
        labelled.extend(picked)
        fit_and_score()
    return curve


def run_experiment(
    pool: Pool, concept: str, budget: int = 200, seed: int = 0, target: float = 0.9, client=None, **kwargs
) -> dict:
    """Vector search vs random sampling under the same label budget; labels each needed to reach `target` F1."""
    concepts = concepts_of(pool.name)
    if concept not in concepts:
        raise ValueError(f"Unknown concept {concept!r} for the {pool.name} pool; choose one of {', '.join(concepts)}.")
    if budget < 1:
        raise ValueError(f"The label budget must be at least 1 (got {budget}).")
    if not 0 < target <= 1:
        raise ValueError(f"The target F1 must be in (0, 1] (got {target}).")
    truth = concepts[concept].truth(pool)
    started = time.perf_counter()
    curves = {s: run_strategy(pool, truth, s, budget, seed, client=client, **kwargs) for s in STRATEGIES}
    needed = {s: c.labels_to(target) for s, c in curves.items()}
    ratio = (
        round(needed["vector_search"] / needed["random"], 3)
        if needed["vector_search"] is not None and needed["random"] is not None
        else None
    )
    return {
        "pool": pool.name,
        "pool_size": len(pool),
        "concept": concept,
        "concept_rule": concepts[concept].description,
        "positives_in_pool": int(truth.sum()),
        "budget": budget,
        "seed": seed,
        "target_f1": target,
        "settings": {
            "top_k": kwargs.get("k", TOP_K),
            "iterations": kwargs.get("iterations", ITERATIONS),
            "learning_rate": kwargs.get("learning_rate", LEARNING_RATE),
            "seed_positives": SEED_POSITIVES,
        },
        "strategies": {
            s: {
                "labels_to_target": needed[s],
                "final_f1": c.f1[-1],
                "best_f1": max(c.f1),
                "positive_labels": c.positives[-1],
                "curve": {"labels": c.labels, "f1": c.f1, "positives": c.positives},
            }
            for s, c in curves.items()
        },
        "ratio_vector_search_to_random": ratio,
        # random not at the target within the budget: it needs more than `budget` labels, so the ratio is below this
        "ratio_at_most": (
            round(needed["vector_search"] / budget, 3)
            if needed["vector_search"] is not None and needed["random"] is None
            else ratio
        ),
        "seconds": round(time.perf_counter() - started, 2),
    }


def spread(values: list[int]) -> dict:
    """Mean, standard deviation, min and max of a list of label counts (None for an empty list)."""
    if not values:
        return {"mean": None, "sd": None, "min": None, "max": None}
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(array.mean()), 1),
        "sd": round(float(array.std()), 1),
        "min": min(values),
        "max": max(values),
    }


def summarise_seeds(runs: list[dict]) -> dict:
    """Several seeds' run_experiment results in one: each strategy's labels to the target per seed with their mean
    and spread, and vector search over random. A strategy short of the target within the budget counts as the
    budget there, so a ratio with such a random run is an upper bound (at_most) and one with such a vector-search
    run a lower bound; the ratio of the means is the figure to quote, the per-seed ratios show how much one seed
    can mislead."""
    budget = runs[0]["budget"]
    needed = {s: [run["strategies"][s]["labels_to_target"] for run in runs] for s in STRATEGIES}
    counted = {s: [n if n is not None else budget for n in values] for s, values in needed.items()}
    per_seed = [round(v / r, 3) for v, r in zip(counted["vector_search"], counted["random"])]
    mean_ratio = round(float(np.mean(counted["vector_search"]) / np.mean(counted["random"])), 3)
    return {
        "seeds": [run["seed"] for run in runs],
        "budget": budget,
        "target_f1": runs[0]["target_f1"],
        "labels_to_target": needed,
        "spread": {
            s: {**spread([n for n in values if n is not None]), "reached": sum(n is not None for n in values)}
            for s, values in needed.items()
        },
        "ratio_per_seed": per_seed,
        "ratio_per_seed_spread": {
            "mean": round(float(np.mean(per_seed)), 3),
            "min": min(per_seed),
            "max": max(per_seed),
        },
        "ratio_of_means": mean_ratio,
        "ratio_is": "at_most"
        if None in needed["random"]
        else ("at_least" if None in needed["vector_search"] else "exact"),
    }


def run_seeds(pool: Pool, concept: str, budget: int, seeds: list[int], target: float = 0.9, client=None, **kwargs):
    """run_experiment over several seeds: the first seed's full result (its curves), plus `over_seeds`, the summary."""
    if not seeds:
        raise ValueError("Give at least one seed.")
    runs = [run_experiment(pool, concept, budget, seed, target, client=client, **kwargs) for seed in seeds]
    return {**runs[0], "over_seeds": summarise_seeds(runs), "seconds": round(sum(run["seconds"] for run in runs), 2)}


def load_pool(name: str, size: int | None = None, seed: int = 0) -> Pool:
    """The CLI's pools, each embedded by its family's shipped model (core.families)."""
    family = families.for_pool(name)
    if not family.has_shipped_model():
        raise ValueError(f"There is no shipped {family.name} model yet ({family.shipped_dir()}), so no {name} pool.")
    model = store.load_model(family.shipped_dir()).model
    if family.pool_size is not None:  # a pool sized per class: the family turns the total into its own unit
        return family.build_pool(model, family.pool_size(size), seed)
    return family.build_pool(model, size if size is not None else COLOR_POOL_SIZE, seed)


def experiment_cli(args) -> dict:
    """`python -m core experiment vector-search --pool colors --concept teal [--budget N] [--seed N] [--seeds N]
    [--target F]`: seeds seed, seed + 1, ... seed + N - 1, each with the same pool."""
    seeds = int(getattr(args, "seeds", 1))
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1 (got {seeds}).")
    pool = load_pool(args.pool, getattr(args, "pool_size", None), seed=0)
    return run_seeds(pool, args.concept, args.budget, list(range(args.seed, args.seed + seeds)), args.target)
