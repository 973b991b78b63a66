"""The Vector search labelling loop (core.vector_loop) without a page: start, query, label, train, query again, on an
in-memory Qdrant and a pool of two clusters."""

from __future__ import annotations

import numpy as np
import pytest

from core.vectors import search as vectors
from core.vectors.loop import QUERY_BOUNDARY, QUERY_TOP, LabellingLoop


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    concept = rng.normal(size=(30, 8)) + 3.0  # (30, 8): the items the user means
    rest = rng.normal(size=(90, 8)) - 1.0
    pool = vectors.make_pool("points", np.vstack([concept, rest]), [{"i": i} for i in range(120)], np.zeros(120))
    index = vectors.PoolIndex(vectors.open_client(location=":memory:"), pool.name, 8, pool.fingerprint, session="s1")
    index.ensure(pool)
    _, components = vectors.pca_2d(pool.vectors)
    return pool, index, components


def test_start_queries_with_w_and_resets_everything(setup):
    pool, index, components = setup
    loop = LabellingLoop(key="points")
    assert not loop.started and loop.steps == 0
    loop.start(index, pool, components, pool.vectors[:3].mean(axis=0), 0.0, k=10, mode=QUERY_TOP)
    assert loop.started and loop.round == 1 and len(loop.path) == 1 and loop.path[0].shape == (2,)
    assert len(loop.hits) == 10
    assert sum(item_id < 30 for item_id, _ in loop.hits) >= 8  # w from three concept items finds the concept
    scores = [s for _, s in loop.hits]
    assert scores == sorted(scores, reverse=True)


def test_a_train_step_learns_marks_seen_and_the_next_query_excludes_them(setup):
    pool, index, components = setup
    loop = LabellingLoop(key="points")
    loop.start(index, pool, components, pool.vectors[:3].mean(axis=0), 0.0, k=10, mode=QUERY_TOP)
    first = [item_id for item_id, _ in loop.hits]
    batch = {item_id: (1.0 if item_id < 30 else -1.0) for item_id in first}
    batch[first[0]] = 0.0  # 0 skips an item
    loop.train_step(index, pool, components, batch, iterations=50, learning_rate=1.0, k=10, mode=QUERY_BOUNDARY)
    assert len(loop.labelled) == 9 and first[0] not in loop.labelled
    assert loop.steps == 1 and loop.round == 2
    assert loop.losses[-1] < loop.losses[0]
    assert index.seen_count() == 10
    assert not set(first) & {item_id for item_id, _ in loop.hits}  # seen items never come back
    logits = vectors.pool_logits(pool, loop.w, loop.b)
    assert (logits[:30] > 0).all() and logits[:30].min() > np.median(logits[30:])  # top-k labels: all positives


def test_all_zero_labels_change_nothing(setup):
    pool, index, components = setup
    loop = LabellingLoop(key="points")
    loop.start(index, pool, components, pool.vectors[:3].mean(axis=0), 0.0, k=5)
    w, hits = loop.w.copy(), list(loop.hits)
    with pytest.raises(vectors.HeadError):
        loop.train_step(index, pool, components, {item_id: 0.0 for item_id, _ in hits})
    assert np.array_equal(loop.w, w) and loop.hits == hits and loop.steps == 0 and index.seen_count() == 0


def test_reset_seen_lets_every_item_come_back(setup):
    pool, index, components = setup
    loop = LabellingLoop(key="points")
    loop.start(index, pool, components, pool.vectors[:3].mean(axis=0), 0.0, k=10, mode=QUERY_TOP)
    first = list(loop.hits)
    loop.train_step(index, pool, components, {i: 1.0 if i < 30 else -1.0 for i, _ in first}, k=10, mode=QUERY_TOP)
    assert loop.reset_seen(index, pool, k=10, mode=QUERY_TOP) == 10
    assert index.seen_count() == 0 and loop.round == 3
