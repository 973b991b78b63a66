"""core.vectors.search: the Qdrant index round trip, per-session seen flags, head training, bad input, the experiment."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from core.families.colors import pool as color_pool
from core.families.shapes import generator as shape_generator
from core.families.shapes import pool as shape_pool
from core.vectors import experiment as vector_experiment
from core.vectors import search as vectors


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def tiny_pool(n: int = 40, dim: int = 6) -> vectors.Pool:
    emb = np.random.default_rng(1).normal(size=(n, dim))
    return vectors.make_pool("toy", emb, [{"i": i} for i in range(n)], np.arange(n))


@pytest.fixture
def memory_index():
    pool = tiny_pool()
    index = vectors.PoolIndex(vectors.open_client(location=":memory:", url=""), "toy", 6, pool.fingerprint)
    index.ensure(pool)
    return pool, index


def test_make_pool_centres_and_normalises():
    pool = tiny_pool()
    assert np.allclose(np.linalg.norm(pool.vectors, axis=1), 1.0, atol=1e-5)
    raw = np.random.default_rng(1).normal(size=(40, 6))
    assert np.allclose(pool.mean, raw.mean(axis=0), atol=1e-5)
    with pytest.raises(vectors.VectorStoreError, match="empty"):
        vectors.make_pool("toy", np.zeros((0, 6)), [], np.zeros(0))


def test_index_round_trip(memory_index):
    pool, index = memory_index
    assert index.size() == len(pool)
    assert index.ensure(pool) is False  # complete already: not rebuilt
    w = pool.vectors[7]
    hits = index.search(w, k=5)
    assert hits[0].id == 7 and hits[0].payload["i"] == 7
    expected = np.argsort(-(pool.vectors @ w))[:5]
    assert [h.id for h in hits] == [int(i) for i in expected]  # dot-product order, as NumPy computes it
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    # payload update, filtered search, reset
    index.mark_seen([h.id for h in hits])
    assert index.seen_count() == 5 and index.seen_ids() == sorted(h.id for h in hits)
    again = index.search(w, k=5)
    assert not {h.id for h in again} & {h.id for h in hits}  # the seen filter excludes
    assert [h.id for h in again] == [int(i) for i in np.argsort(-(pool.vectors @ w))[5:10]]
    assert len(index.search(w, k=5, unseen_only=False)) == 5
    assert index.reset_seen() == 5
    assert index.seen_count() == 0
    assert [h.id for h in index.search(w, k=5)] == [h.id for h in hits]


def test_seen_flags_are_per_session(memory_index):
    pool, index = memory_index
    other = vectors.PoolIndex(index.client, "toy", 6, pool.fingerprint, session="someone_else")
    index.mark_seen([0, 1, 2])
    assert other.seen_count() == 0
    assert len(other.search(pool.vectors[0], k=len(pool))) == len(pool)  # nothing hidden from the other session
    assert len(index.search(pool.vectors[0], k=len(pool))) == len(pool) - 3
    other.mark_seen([3])
    index.reset_seen()
    assert other.seen_ids() == [3]
    with pytest.raises(vectors.VectorStoreError):
        vectors.PoolIndex(index.client, "toy", 6, session="Bad Name!")


def test_on_disk_round_trip_and_lock(tmp_path):
    pool = tiny_pool(12, 4)
    folder = tmp_path / "qdrant"
    client = vectors.open_client(location=str(folder), url="")
    assert "disk" in vectors.backend_label(client)
    index = vectors.PoolIndex(client, "toy", 4, pool.fingerprint)
    index.ensure(pool)
    index.mark_seen([2])
    with pytest.raises(vectors.VectorStoreError, match="locked by another process"):
        vectors.open_client(location=str(folder), url="")
    client.close()
    reopened = vectors.PoolIndex(vectors.open_client(location=str(folder), url=""), "toy", 4, pool.fingerprint)
    assert reopened.size() == 12 and reopened.seen_ids() == [2]  # persisted


def test_unwritable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(vectors.VectorStoreError, match="cannot be written"):
        vectors.open_client(location=str(blocker / "qdrant"), url="")


def test_unreachable_server_is_a_clear_error_and_embedded_still_works(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    monkeypatch.setenv("MLX_QDRANT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(vectors.VectorStoreError, match="cannot be reached"):
        vectors.open_client(timeout=1)
    client = vectors.open_client(location=":memory:", url="")
    assert vectors.backend_label(client) == "embedded (memory)"


def test_settings_pick_the_backend(monkeypatch, user_data):
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")
    assert vectors.backend_label(vectors.open_client()) == "embedded (memory)"
    monkeypatch.delenv("MLX_QDRANT_PATH")
    client = vectors.open_client()
    assert str(user_data / "qdrant") in vectors.backend_label(client)
    client.close()


def test_label_targets_map_the_scale():
    mask, targets = vectors.label_targets([1, 0, -1, 0.5, -0.5])
    assert mask.tolist() == [True, False, True, True, True]
    assert targets.tolist() == [1.0, 0.0, 0.75, 0.25]


def test_bce_with_logits_matches_the_textbook_formula():
    z = np.array([-3.0, 0.0, 2.0])
    t = np.array([0.0, 1.0, 0.75])
    p = 1 / (1 + np.exp(-z))
    assert vectors.bce_with_logits(z, t) == pytest.approx(float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))))


def test_one_step_moves_w_toward_positives_and_away_from_negatives():
    x = unit_rows(6, 5, seed=3)
    labels = np.array([1, 1, -1, -1, 0, 0.5])
    w0 = np.zeros(5, np.float32)
    step = vectors.train_head(w0, 0.0, x, labels, iterations=1, learning_rate=1.0)
    moved = step.w - w0
    assert moved @ x[0] > 0 and moved @ x[1] > 0
    assert moved @ x[2] < 0 and moved @ x[3] < 0
    assert step.used == 5 and len(step.losses) == 1
    more = vectors.train_head(step.w, step.b, x, labels, iterations=50, learning_rate=2.0)
    assert more.losses[-1] < more.losses[0]


def test_bad_labels_and_settings():
    x = unit_rows(3, 4)
    with pytest.raises(vectors.HeadError, match="nothing to train on"):
        vectors.train_head(np.ones(4), 0.0, x, [0, 0, 0])
    with pytest.raises(vectors.HeadError, match="no labelled"):
        vectors.train_head(np.ones(4), 0.0, x[:0], [])
    step = vectors.train_head(np.ones(4), 0.0, x, [-1, -0.5, 0])
    assert "no particular direction" in step.warning
    with pytest.raises(vectors.HeadError, match="learning rate"):
        vectors.train_head(np.ones(4), 0.0, x, [1, -1, 0], learning_rate=0)
    with pytest.raises(vectors.HeadError, match="Iterations"):
        vectors.train_head(np.ones(4), 0.0, x, [1, -1, 0], iterations=0)
    with pytest.raises(vectors.HeadError, match="blew up"):
        vectors.train_head(np.ones(4), 0.0, x * 1e200, [1, -1, 0], iterations=5, learning_rate=1e300)


def test_search_refuses_a_zero_head(memory_index):
    _, index = memory_index
    with pytest.raises(vectors.HeadError, match="points nowhere"):
        index.search(np.zeros(6))


def test_teal_rule():
    assert color_pool.teal_mask([[0, 128, 128], [2, 147, 134]]).all()
    assert not color_pool.teal_mask([[255, 0, 0], [0, 0, 255], [128, 128, 128], [0, 255, 0]]).any()


def test_color_pool_and_class_head_agree_with_the_model():
    from core.families.colors import model as colors

    model = colors.load_shipped().model
    pool = color_pool.color_pool(model, size=300, seed=2)
    assert pool.vectors.shape == (300, 32)
    blue = colors.FAMILIES.index("blue")
    w, b = vectors.class_head(model, pool, blue)
    logits, _ = colors.predict_logits_proba(model, pool.raw)
    mapped = vectors.pool_logits(pool, w, b)
    assert np.corrcoef(mapped, logits[:, blue])[0, 1] > 0.8  # the mapped head ranks like the real blue-ish row


def test_save_head_round_trip(user_data):
    from core.store import models as store

    pool = tiny_pool()
    w = pool.vectors[0]
    version = vectors.save_head(w, -0.25, pool, "my head", {"concept": "toy"})
    loaded = store.load_model(version.path)
    out = np.asarray(loaded.model(pool.vectors[:3]))[:, 0]
    expected = 1 / (1 + np.exp(-(pool.vectors[:3] @ w - 0.25)))
    assert np.allclose(out, expected, atol=1e-5)
    assert loaded.metadata["pool"] == "toy" and len(loaded.metadata["embedding_mean"]) == 6
    assert store.list_versions("heads")[0].version_id == version.version_id


def test_pca_projects_onto_two_axes():
    pool = tiny_pool()
    coords, comps = vectors.pca_2d(pool.vectors)
    assert coords.shape == (40, 2) and comps.shape == (2, 6)
    assert coords[:, 0].var() >= coords[:, 1].var()


def test_experiment_on_a_tiny_pool():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(300, 3)).astype(np.float32)
    # an embedding where teal is separable: the colour's hue circle plus its lightness and saturation
    import colorsys

    hls = np.array([colorsys.rgb_to_hls(*(c / 255)) for c in rgb])
    emb = np.c_[np.cos(2 * np.pi * hls[:, 0]), np.sin(2 * np.pi * hls[:, 0]), hls[:, 1], hls[:, 2]]
    pool = vectors.make_pool("colors", emb, [{"rgb": c.tolist()} for c in rgb], rgb)
    out = vector_experiment.run_experiment(pool, "teal", budget=40, seed=1, target=0.5)
    for name in vector_experiment.STRATEGIES:
        s = out["strategies"][name]
        assert s["curve"]["labels"][0] == vectors.SEED_POSITIVES and s["curve"]["labels"][-1] == 40
        assert all(0 <= f <= 1 for f in s["curve"]["f1"])
        assert s["labels_to_target"] is None or s["labels_to_target"] in s["curve"]["labels"]
        assert s["curve"]["positives"][0] == vectors.SEED_POSITIVES  # the seed clicks are positives
        assert s["positive_labels"] <= min(40, out["positives_in_pool"])
    assert out["positives_in_pool"] == int(color_pool.teal_mask(rgb).sum())
    with pytest.raises(ValueError, match="Unknown concept"):
        vector_experiment.run_experiment(pool, "mauve")


def test_drawing_pool_embeds_generated_and_user_drawings():
    from core.families.shapes import model as shapes
    from core.families.shapes.config import ShapeConfig

    model = shapes.build_shape_cnn(ShapeConfig.tiny())
    mine = np.zeros((28, 28), np.uint8)
    mine[8:20, 8:20] = 255
    pool = shape_pool.drawing_pool(model, per_class=2, seed=0, user_drawings=[(mine, "box")])
    assert len(pool) == 2 * len(shape_generator.CLASS_NAMES) + 1
    assert pool.vectors.shape[1] == 8  # the tiny config's dense_hidden width
    assert pool.items[-1] == {"label": "box", "source": "yours", "index": len(pool) - 1}
    assert np.array_equal(pool.raw[-1], mine)
    truth = vector_experiment.concepts_of("drawings")["circle"].truth(pool)
    assert truth.sum() == 2
    with pytest.raises(vectors.VectorStoreError, match="empty"):
        shape_pool.drawing_pool(model, per_class=0)


def test_search_offset_and_the_boundary_window(memory_index):
    pool, index = memory_index
    w = pool.vectors[3]
    order = [int(i) for i in np.argsort(-(pool.vectors @ w))]
    assert [h.id for h in index.search(w, k=4, offset=6)] == order[6:10]
    # with b chosen so that exactly 9 items score above 0, the window of 4 starts at 9 - 2 = 7
    scores = np.sort(pool.vectors @ w)[::-1]
    b = -float(scores[8] + scores[9]) / 2
    assert vectors.boundary_offset(pool, w, b, [], 4) == 7
    # seen items drop out of the count (one of the 9 is seen), and the window never runs past the end
    assert vectors.boundary_offset(pool, w, b, [order[0]], 4) == 6
    assert vectors.boundary_offset(pool, w, 100.0, [], 4) == len(pool) - 4
    assert vectors.boundary_offset(pool, w, -100.0, [], 4) == 0
