"""Vector search's query strategy (uncertainty sampling through one Qdrant window) against a NumPy reference, and the
experiment's summary over several seeds."""

from __future__ import annotations

import numpy as np
import pytest

from core.vectors import experiment as vector_experiment
from core.vectors import search as vectors
from core.vectors.loop import QUERY_BOUNDARY, LabellingLoop


@pytest.fixture
def pool_index():
    rng = np.random.default_rng(7)
    pool = vectors.make_pool("toy", rng.normal(size=(200, 5)), [{"i": i} for i in range(200)], np.arange(200))
    index = vectors.PoolIndex(vectors.open_client(location=":memory:", url=""), "toy", 5, pool.fingerprint)
    index.ensure(pool)
    return pool, index


def least_sure_reference(pool, w, b, seen, k) -> set[int]:
    """The k unseen items with the smallest |w·x + b|, by brute force."""
    margins = np.abs(pool.vectors.astype(np.float64) @ np.asarray(w, np.float64) + b)
    margins[list(seen)] = np.inf
    return {int(i) for i in np.argsort(margins)[:k]}


@pytest.mark.parametrize("b", [-0.6, -0.1, 0.0, 0.3, 5.0, -5.0])
@pytest.mark.parametrize("k", [1, 4, 10])
def test_least_sure_is_the_k_nearest_the_boundary(pool_index, b, k):
    pool, index = pool_index
    w = 2.5 * pool.vectors[3]  # a head of length 2.5: the margin is the score times |w|, plus b
    hits = vectors.least_sure(index, pool, w, b, [], k)
    assert {h.id for h in hits} == least_sure_reference(pool, w, b, [], k)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)  # shown in ranking order


def test_least_sure_skips_seen_items(pool_index):
    pool, index = pool_index
    w, b = pool.vectors[10], -0.2
    first = vectors.least_sure(index, pool, w, b, [], 6)
    index.mark_seen([h.id for h in first])
    seen = index.seen_ids()
    second = vectors.least_sure(index, pool, w, b, seen, 6)
    assert not {h.id for h in first} & {h.id for h in second}
    assert {h.id for h in second} == least_sure_reference(pool, w, b, seen, 6)


def test_least_sure_near_the_end_of_the_pool(pool_index):
    pool, index = pool_index
    w = pool.vectors[0]
    index.mark_seen(range(190))  # 10 unseen items left: asking for 8 returns 8 of them, asking for 20 all 10
    seen = index.seen_ids()
    assert {h.id for h in vectors.least_sure(index, pool, w, 0.0, seen, 8)} == least_sure_reference(pool, w, 0, seen, 8)
    assert {h.id for h in vectors.least_sure(index, pool, w, 0.0, seen, 20)} == set(range(190, 200))


def test_the_loops_boundary_mode_asks_for_the_least_sure(pool_index):
    pool, index = pool_index
    _, components = vectors.pca_2d(pool.vectors)
    loop = LabellingLoop(key="toy")
    w = pool.vectors[:4].mean(axis=0)
    loop.start(index, pool, components, w, -0.1, k=5, mode=QUERY_BOUNDARY)
    assert {item_id for item_id, _ in loop.hits} == least_sure_reference(pool, w, -0.1, [], 5)


def run(seed: int, vector_search: int | None, random: int | None, budget: int = 100) -> dict:
    """A run_experiment result with only what summarise_seeds reads."""
    needed = {"vector_search": vector_search, "vector_search_top": None, "random": random}
    return {
        "seed": seed,
        "budget": budget,
        "target_f1": 0.9,
        "strategies": {s: {"labels_to_target": n} for s, n in needed.items()},
    }


def test_summary_over_seeds_gives_mean_spread_and_ratios():
    out = vector_experiment.summarise_seeds([run(0, 20, 80), run(1, 30, 40), run(2, 40, 60)])
    assert out["seeds"] == [0, 1, 2]
    assert out["spread"]["vector_search"] == {"mean": 30.0, "sd": 8.2, "min": 20, "max": 40, "reached": 3}
    assert out["spread"]["vector_search_top"]["reached"] == 0 and out["spread"]["vector_search_top"]["mean"] is None
    assert out["ratio_per_seed"] == [0.25, 0.75, 0.667]
    assert out["ratio_per_seed_spread"] == {"mean": 0.556, "min": 0.25, "max": 0.75}
    assert out["ratio_of_means"] == 0.5 and out["ratio_is"] == "exact"


def test_summary_counts_a_random_run_short_of_the_target_as_the_budget():
    out = vector_experiment.summarise_seeds([run(0, 20, None), run(1, 30, 60)])
    assert out["labels_to_target"]["random"] == [None, 60]
    assert out["ratio_per_seed"] == [0.2, 0.5]
    assert out["ratio_of_means"] == 0.312 and out["ratio_is"] == "at_most"  # 25 / 80: random needed more than 100
    assert vector_experiment.summarise_seeds([run(0, None, 50)])["ratio_is"] == "at_least"


def test_run_seeds_keeps_the_first_seeds_curves():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(200, 3)).astype(np.float32)
    pool = vectors.make_pool("colors", rgb + rng.normal(size=(200, 3)), [{"rgb": c.tolist()} for c in rgb], rgb)
    out = vector_experiment.run_seeds(pool, "teal", budget=13, seeds=[4, 5], target=0.5)
    assert out["seed"] == 4 and out["over_seeds"]["seeds"] == [4, 5]
    assert out["strategies"]["random"]["curve"]["labels"] == [3, 8, 13]  # 3 seed clicks, then rounds of TOP_K = 5
    with pytest.raises(ValueError, match="at least one seed"):
        vector_experiment.run_seeds(pool, "teal", budget=13, seeds=[])
