"""core.engine.training.train: callback counts, cancel within one batch, divergence stops, bad hyperparameters, copies."""

import math

import numpy as np
import pytest

from core.engine.training import TrainingError, chance_loss, check_hyperparameters, copy_model, train
from core.figures import training as training_figures


def tiny_mlp(n_in: int = 4, n_out: int = 3, activation: str = "softmax"):
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(n_in,), name="x"),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(n_out, activation=activation, name="dense_out"),
        ]
    )


def blobs(n: int = 60, seed: int = 0):
    """Three separable Gaussian blobs in 4-D."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.3, (n, 4)).astype(np.float32) + np.eye(3, 4, dtype=np.float32)[y] * 3
    return x, y


def fit(model, x, y, **kwargs):
    options = dict(epochs=3, batch_size=10, learning_rate=0.05, loss="sparse_categorical_crossentropy")
    options.update(kwargs)
    return train(model, x, y, **options)


def test_epoch_and_batch_callbacks_fire_the_expected_number_of_times():
    x, y = blobs(60)
    epochs, batches = [], []
    result = fit(
        tiny_mlp(),
        x,
        y,
        validation_data=(x[:12], y[:12]),
        on_epoch_end=lambda e, logs: epochs.append((e, logs)),
        on_batch_end=lambda e, b, logs: batches.append((e, b)),
    )
    assert [e for e, _ in epochs] == [0, 1, 2]
    assert len(batches) == 3 * 6  # 60 samples / batch 10 = 6 batches per epoch
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[-1][1])
    assert result.ok and result.epochs_run == 3 and len(result.history["loss"]) == 3
    assert result.history["loss"][-1] < result.history["loss"][0]  # separable blobs: the loss falls


def test_batch_every_thins_batch_reports_but_keeps_each_epochs_last_batch():
    x, y = blobs(60)
    batches = []
    fit(tiny_mlp(), x, y, epochs=2, on_batch_end=lambda e, b, logs: batches.append((e, b)), batch_every=4)
    assert batches == [(0, 0), (0, 4), (0, 5), (1, 0), (1, 4), (1, 5)]


def test_cancel_stops_within_one_batch_and_keeps_no_epoch():
    x, y = blobs(200)
    seen = []
    result = fit(
        tiny_mlp(),
        x,
        y,
        epochs=5,
        on_batch_end=lambda e, b, logs: seen.append(b),
        should_stop=lambda: len(seen) >= 3,  # the user presses Cancel during the third batch
    )
    assert result.cancelled and not result.ok
    assert len(seen) <= 4  # the batch already running may finish, nothing after it
    assert result.epochs_run == 0 and result.history == {}
    assert "cancelled" in result.message.lower()


def test_nan_loss_stops_training_with_a_plain_explanation():
    x, y = blobs(60)
    targets = np.eye(3, dtype=np.float32)[y] * 100.0
    model = tiny_mlp(activation="linear")
    reports = []
    result = train(
        model,
        x * 100.0,
        targets,
        epochs=20,
        batch_size=10,
        learning_rate=50,  # the example: far too high for SGD
        optimizer="sgd",
        loss="mse",
        metrics=["mae"],
        on_epoch_end=lambda e, logs: reports.append(e),
    )
    assert result.diverged and not result.ok
    assert "learning rate is too high" in result.message and "Nothing was saved" in result.message
    assert result.epochs_run < 20
    assert all(math.isfinite(v) for v in result.history.get("loss", []))  # no NaN epoch reaches the history


def test_a_finite_but_exploding_loss_counts_as_divergence_with_a_ceiling():
    # A softmax loss is clipped by Keras, so lr 50 often stays finite while the model is wrecked.
    x, y = blobs(90)
    result = fit(tiny_mlp(), x, y, epochs=10, learning_rate=50, optimizer="sgd", loss_ceiling=chance_loss(3))
    assert result.diverged
    assert "far worse than guessing" in result.message


def test_chance_loss_is_a_multiple_of_ln_n():
    assert chance_loss(9) == pytest.approx(3 * math.log(9))
    assert chance_loss(2, factor=1) == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("epochs", "batch_size", "lr", "n", "cap", "words"),
    [
        (0, 8, 0.1, 100, None, "at least 1"),
        (-3, 8, 0.1, 100, None, "at least 1"),
        (2.5, 8, 0.1, 100, None, "whole number"),
        (500, 8, 0.1, 100, 200, "capped at 200"),
        (3, 0, 0.1, 100, None, "Batch size"),
        (3, 101, 0.1, 100, None, "larger than the training data"),
        (3, 8, 0.0, 100, None, "positive"),
        (3, 8, -0.5, 100, None, "positive"),
        (3, 8, float("nan"), 100, None, "positive"),
        (3, 8, "fast", 100, None, "must be a number"),
        (3, 8, 0.1, 0, None, "no training data"),
    ],
)
def test_bad_hyperparameters_are_refused_in_plain_words(epochs, batch_size, lr, n, cap, words):
    with pytest.raises(TrainingError, match=words):
        check_hyperparameters(epochs, batch_size, lr, n, cap)


def test_train_checks_before_touching_the_model():
    x, y = blobs(20)
    model = tiny_mlp()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(TrainingError, match="larger than the training data"):
        fit(model, x, y, batch_size=64)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_training_a_copy_leaves_the_original_untouched():
    x, y = blobs(60)
    original = tiny_mlp()
    before = [w.copy() for w in original.get_weights()]
    clone = copy_model(original)
    assert all(np.array_equal(a, b) for a, b in zip(before, clone.get_weights()))
    fit(clone, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, original.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(before, clone.get_weights()))


# ---------------------------------------------------------------- the curve up to a divergence


def exploding_run(**kwargs):
    """The NaN test's run: a linear model on scaled-up targets with SGD at 50 blows up within a few batches."""
    x, y = blobs(60)
    options = dict(
        epochs=20,
        batch_size=10,
        learning_rate=50,
        optimizer="sgd",
        loss="mse",
        metrics=["mae"],
    )
    options.update(kwargs)
    return train(tiny_mlp(activation="linear"), x * 100.0, np.eye(3, dtype=np.float32)[y] * 100.0, **options)


def test_a_diverged_run_keeps_every_batch_up_to_and_including_the_diverging_one():
    result = exploding_run(record_batches=True)
    where = result.divergence
    assert result.diverged and where is not None
    assert where["batch"] is not None and where["reason"] in ("nan", "inf")
    steps = [b["step"] for b in result.batch_history]
    assert steps == list(range(1, where["step"] + 1))  # every batch, none after the divergence
    assert result.steps_per_epoch == 6  # 60 samples, batch 10
    last = result.batch_history[-1]
    assert (last["epoch"], last["batch"]) == (where["epoch"], where["batch"])
    assert not math.isfinite(last["loss"]) and not math.isfinite(where["value"])
    assert all(math.isfinite(b["loss"]) for b in result.batch_history[:-1])
    assert where["step"] == (where["epoch"] - 1) * 6 + where["batch"]
    curve = result.loss_curve()
    assert curve["divergence"] == where and curve["batch_logs"] == result.batch_history
    assert [e["epoch"] for e in curve["epoch_logs"]] == list(range(1, result.epochs_run + 1))
    assert [e["loss"] for e in curve["epoch_logs"]] == result.history.get("loss", [])


def test_a_divergence_caught_at_the_end_of_an_epoch_records_that_epoch():
    result = exploding_run()  # no batch watching: the check runs once per epoch
    where = result.divergence
    assert result.diverged and where["batch"] is None and result.batch_history == []
    assert where["epoch"] == result.epochs_run + 1  # the diverging epoch is not in the (finite) history
    assert where["metric"] in where["logs"] and not math.isfinite(where["logs"][where["metric"]])
    assert all(math.isfinite(v) for v in result.history.get("loss", []))


def test_a_ceiling_divergence_records_the_ceiling_and_the_finite_value():
    x, y = blobs(90)
    result = fit(
        tiny_mlp(), x, y, epochs=10, learning_rate=50, optimizer="sgd", loss_ceiling=chance_loss(3), record_batches=True
    )
    where = result.divergence
    assert result.diverged and where["reason"] == "ceiling"
    assert where["ceiling"] == pytest.approx(chance_loss(3)) and where["value"] > where["ceiling"]
    assert result.batch_history[-1]["loss"] == where["value"]


def test_a_healthy_run_records_every_batch_and_no_divergence():
    x, y = blobs(60)
    result = fit(tiny_mlp(), x, y, record_batches=True)
    assert result.ok and result.divergence is None
    assert [b["step"] for b in result.batch_history] == list(range(1, 3 * 6 + 1))
    assert result.loss_curve()["divergence"] is None


def test_the_batch_record_is_thinned_past_its_cap_but_keeps_the_latest(monkeypatch):
    from core.engine import training

    monkeypatch.setattr(training, "MAX_BATCH_RECORDS", 10)
    x, y = blobs(60)
    result = fit(tiny_mlp(), x, y, epochs=5, record_batches=True)
    steps = [b["step"] for b in result.batch_history]
    assert len(steps) <= 10 and steps[-1] == 5 * 6 and steps == sorted(steps) and steps[0] == 1


def test_the_divergence_figure_plots_only_finite_values_and_writes_nan_or_inf_as_text():
    import plotly.io as pio

    result = exploding_run(record_batches=True)
    fig = training_figures.divergence_curve(result.loss_curve())
    traces = {t.name: t for t in fig.data}
    marker = traces["diverged here"]
    label = training_figures.divergence_label(result.divergence["value"])
    assert label in ("nan", "inf", "-inf") and marker.text[0] == f"loss = {label}"
    finite = [b["loss"] for b in result.batch_history[:-1]]
    assert list(traces["training (every batch)"].y) == pytest.approx(finite)
    assert marker.y[0] > max(finite)  # drawn just above the highest finite loss
    assert marker.x[0] == pytest.approx(result.divergence["step"] / result.steps_per_epoch)
    assert all(math.isfinite(v) for t in fig.data for v in t.y)
    pio.to_json(fig, validate=True)  # plotly accepts it as it is
