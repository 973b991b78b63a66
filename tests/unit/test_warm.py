"""core.engine.warm: a warm training process's reused model copy trains exactly as a new copy would; kept values are
keyed, bounded and read-only; training's one-iterator batches are Keras' batches; a worker retires on growth."""

import numpy as np
import pytest

from core.engine import job_workers, warm
from core.engine.training import copy_model, train


@pytest.fixture
def warm_on():
    warm.enable()
    yield
    warm.enable(False)


def dropout_mlp():
    import keras

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input(shape=(4,), name="x"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dropout(0.3, name="dropout"),  # a seed generator: its state must be a new copy's too
            keras.layers.Dense(3, activation="softmax", name="dense_out"),
        ]
    )


def blobs(n: int = 90):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    return rng.normal(0, 0.6, (n, 4)).astype(np.float32) + np.eye(3, 4, dtype=np.float32)[y] * 2, y


def run(base, seed: int = 5, lr: float = 0.05):
    """What a family's train does: seed, copy the base, train the copy (epochs > 1, validation, class weights)."""
    import keras

    x, y = blobs()
    keras.utils.set_random_seed(seed)
    model = copy_model(base)
    result = train(
        model,
        x[:70],
        y[:70],
        epochs=3,
        batch_size=16,
        learning_rate=lr,
        loss="sparse_categorical_crossentropy",
        validation_data=(x[70:], y[70:]),
        seed=seed,
        class_weight={0: 1.0, 1: 2.0, 2: 0.5},
    )
    return model, result


def test_a_reused_copy_trains_bit_for_bit_as_a_new_copy(warm_on):
    base = dropout_mlp()
    warm.enable(False)
    _, expected = run(base)  # no caches: a new copy, compiled and traced afresh
    warm.enable()
    first, r1 = run(base)
    warm.release_models()
    second, r2 = run(base)  # the same object again, reset: weights, optimizer, seed generator, random state
    warm.release_models()
    assert second is first
    assert r1.history == expected.history == r2.history
    assert [float(v) for v in r2.history["val_loss"]] == [float(v) for v in expected.history["val_loss"]]


def test_a_copy_in_use_is_never_handed_out_twice_and_other_settings_recompile(warm_on):
    base = dropout_mlp()
    a, _ = run(base)
    b, _ = run(base)  # the same job asks again before releasing: a second copy
    assert a is not b
    warm.release_models()
    c, result = run(base, lr=0.01)  # another rate: compiled again, still the same training as a new copy
    warm.release_models()
    warm.enable(False)
    _, expected = run(base, lr=0.01)
    assert c in (a, b) and result.history == expected.history


def test_idle_copies_are_bounded(warm_on, monkeypatch):
    monkeypatch.setattr(warm, "MAX_MODELS", 2)
    base = dropout_mlp()
    for _ in range(4):
        copy_model(base)
    warm.release_models()
    assert sum(len(v) for v in warm._idle.values()) == 2


def test_memo_keeps_values_by_key_read_only_and_bounded(warm_on, monkeypatch):
    monkeypatch.setattr(warm, "MAX_VALUES", 2)
    calls = []

    def make(i):
        calls.append(i)
        return np.arange(3) + i

    first = warm.memo(("k", 1), lambda: make(1))
    assert warm.memo(("k", 1), lambda: make(1)) is first and calls == [1]
    with pytest.raises(ValueError):
        first[0] = 9  # shared with the next job: nobody may change it
    warm.memo(("k", 2), lambda: make(2))
    warm.memo(("k", 3), lambda: make(3))  # the least recently used, ("k", 1), goes
    warm.memo(("k", 1), lambda: make(1))
    assert calls == [1, 2, 3, 1]


def test_memo_and_copies_are_off_outside_a_training_process():
    assert not warm.enabled()
    calls = []
    warm.memo("k", lambda: calls.append(1))
    warm.memo("k", lambda: calls.append(1))
    base = dropout_mlp()
    assert calls == [1, 1] and copy_model(base) is not copy_model(base)


def test_file_key_changes_with_the_file(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("[1]")
    before = warm.file_key(path, tmp_path / "missing")
    path.write_text("[1, 2]")
    assert warm.file_key(path, tmp_path / "missing") != before
    assert before[1] == (str(tmp_path / "missing"), None)


class _FakeWorker:
    def __init__(self):
        self.jobs_done, self.first_rss_mb, self.retired = 0, 0.0, False
        self.proc = type("P", (), {"pid": 1})()

    def retire(self, wait: float) -> int:
        self.retired = True
        return 0


def test_a_worker_that_grew_too_much_is_retired(monkeypatch):
    sizes = iter([800.0, 900.0, 800.0 + job_workers.WORKER_MAX_GROWTH_MB + 1])
    monkeypatch.setattr(job_workers, "_rss_mb", lambda pids: next(sizes))
    parked = []
    monkeypatch.setattr(job_workers, "_park", parked.append)
    worker = _FakeWorker()
    job_workers._give_back(worker)
    job_workers._give_back(worker)
    assert parked == [worker, worker] and not worker.retired
    job_workers._give_back(worker)
    assert worker.retired and len(parked) == 2


def test_a_copy_a_job_changed_is_not_reused(warm_on):
    base = dropout_mlp()
    changed = copy_model(base)
    changed.get_layer("hidden").trainable = False
    warm.release_models()
    assert copy_model(base) is not changed
