"""Unit: the Teach experiments by the project's method (core.families.teach.experiments): transfer by default, with
the nearest-neighbour baseline beside every point, the features taken once per experiment, the from-scratch CNN as
the expert option; the experiment job's result says which; the figures of the experiments and of the head."""

from __future__ import annotations

import numpy as np
import pytest

from core.families.teach import experiments as tx
from core.families.teach import figures as teach_fig
from core.families.teach import projects as teach_store
from core.families.teach import transfer
from core.families.teach.data import TeachError
from core.families.teach.model import TeachConfig, split_data

OWNER = "owner-exp"


def _ring(radius: float, dy: int) -> np.ndarray:
    yy, xx = np.mgrid[:28, :28]
    return np.clip(1.5 - np.abs(np.hypot(yy - 14 - dy, xx - 14) - radius), 0, 1).astype(np.float32)


def _bar(row: int) -> np.ndarray:
    img = np.zeros((28, 28), np.float32)
    img[row : row + 2, 4:24] = 1.0
    return img


@pytest.fixture
def drawings() -> dict:
    """Rings against bars, 12 of each, a quarter held out: separable for any sensible extractor."""
    x = np.stack([_ring(r, dy) for r in (6, 8, 10) for dy in (-2, -1, 1, 2)] + [_bar(r) for r in range(6, 18)])
    y = np.array([0] * 12 + [1] * 12)
    split = split_data(x, y, TeachConfig(seed=0, validation_fraction=0.25))
    return {**split, "class_names": ["ring", "bar"], "kind": "drawing"}


def test_the_samples_curve_trains_heads_by_default_with_the_baseline_beside_each_point(drawings):
    rows = tx.samples_curve(TeachConfig(kind="drawing"), drawings, counts=(1, 4), seeds=(0, 1, 2, 3))
    assert [r["count"] for r in rows] == [1, 4] and [r["n_train"] for r in rows] == [2, 8]
    for row in rows:
        assert len(row["runs"]) == 4 and all("baseline_accuracy" in run for run in row["runs"])
        assert row["baseline_min"] <= row["baseline_mean"] <= row["baseline_max"] <= 1.0
        assert row["accuracy_min"] <= row["accuracy_mean"] <= row["accuracy_max"] <= 1.0
    assert rows[-1]["accuracy_mean"] >= 0.8  # 4 rings and 4 bars: nearly every held-out one is named right


def test_features_are_taken_once_per_experiment(drawings, monkeypatch):
    calls = []
    real = transfer.extract_features
    monkeypatch.setattr(transfer, "extract_features", lambda kind, x, *a: calls.append(len(x)) or real(kind, x, *a))
    prepared = tx.prepare(drawings, "transfer")
    assert len(calls) == 2  # the training samples (with their augmented copies) and the held-out ones
    assert tx.prepare(prepared, "transfer") is prepared
    tx.samples_curve(TeachConfig(kind="drawing"), prepared, counts=(1, 2, 4), seeds=range(5))
    assert len(calls) == 2  # 15 heads trained, no feature taken again
    copies = prepared["features_copies"]
    assert copies.shape[1:] == (len(drawings["y_train"]), transfer.DRAWING_FEATURES)
    np.testing.assert_allclose(copies[0], real("drawing", drawings["x_train"]), atol=1e-5)


def test_a_head_on_prepared_features_is_the_head_the_project_trains(drawings):
    """The experiment's shortcut (features once, then heads) gives what Train gives: transfer.fit on the same
    samples with the same seed, measured on the same held-out samples."""
    run = tx.teach_run(TeachConfig(kind="drawing"), drawings, seed=3)
    model = transfer.fit("drawing", drawings["x_train"], drawings["y_train"], 2, transfer.head_config("drawing", 3))
    report = transfer.evaluate("drawing", model, drawings["x_val"], drawings["y_val"], drawings["class_names"])
    assert run["accuracy"] == pytest.approx(report["accuracy"])
    assert run["mean_confidence"] == pytest.approx(report["mean_confidence"], abs=1e-4)


def test_the_expert_option_trains_the_cnn_and_its_baseline_reads_the_model_inputs(drawings):
    cfg = TeachConfig(kind="drawing", epochs=1, batch_size=8, augment=False)
    rows = tx.samples_curve(cfg, drawings, counts=(2,), seeds=(0,), method="scratch")
    prepared = tx.prepare(drawings, "scratch")
    assert prepared["baseline_train"].shape == (len(drawings["y_train"]), 28 * 28)
    assert "features_copies" not in prepared
    assert 0.0 <= rows[0]["accuracy_mean"] <= 1.0 and 0.0 <= rows[0]["baseline_mean"] <= 1.0
    assert rows[0]["runs"][0]["baseline_accuracy"] == rows[0]["baseline_mean"]


def test_the_variance_curve_and_a_seed_run_by_transfer(drawings):
    rows = tx.variance_curve(TeachConfig(kind="drawing"), drawings, counts=(2, 4, 99), seeds=(0, 1))
    assert sorted((r["subset"], r["count"]) for r in rows) == [("high", 2), ("high", 4), ("low", 2), ("low", 4)]
    assert all("baseline_mean" in r and r["spread"] >= 0 for r in rows)
    run = tx.teach_run(TeachConfig(kind="drawing"), drawings, seed=0)
    assert run["seed"] == 0 and set(run["per_class"]) == {"ring", "bar"}


def test_unknown_methods_and_no_held_out_samples_are_refused_plainly(drawings):
    with pytest.raises(TeachError, match="Unknown training method"):
        tx.samples_curve(TeachConfig(kind="drawing"), drawings, counts=(1,), method="magic")
    with pytest.raises(TeachError, match="held-out samples"):
        tx.samples_curve(TeachConfig(kind="drawing"), {**drawings, "y_val": np.zeros(0, int)}, counts=(1,))


def _canvas(white_on_black: np.ndarray) -> np.ndarray:
    """A 28x28 drawing as the canvas sends it: (H, W, 4) RGBA, black strokes on white."""
    grey = (255 - 255 * white_on_black).astype(np.uint8)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


class RecordingJob:
    def __init__(self):
        self.planned, self.steps, self.finished = None, [], None

    def plan(self, epochs, steps):
        self.planned = (epochs, steps)

    def should_stop(self):
        return False

    def on_epoch_end(self, epoch, logs):
        self.steps.append(epoch)

    def finish(self, status, message="", curve=None):
        self.finished = status


def test_the_experiment_job_trains_by_the_method_it_was_given_and_says_so(user_data):
    p = teach_store.create_project(OWNER, "shapes", "drawing", ["ring", "bar"])
    for i in range(8):
        teach_store.add_sample(OWNER, "shapes", "ring", _canvas(_ring(6 + i % 3, i % 3 - 1)))
        teach_store.add_sample(OWNER, "shapes", "bar", _canvas(_bar(6 + i)))
    job = RecordingJob()
    result = teach_store.run_experiment("samples", "drawing", str(p.path), 1, 8, 0.001, 6, job)
    assert result["method"] == "transfer" and result["baseline"] == tx.BASELINE_NAMES["transfer"]
    assert job.planned == (len(result["rows"]), 1) and job.steps == list(range(len(result["rows"])))
    assert all(len(r["runs"]) == 6 and "baseline_mean" in r for r in result["rows"])
    scratch = teach_store.run_experiment("seeds", "drawing", str(p.path), 1, 8, 0.001, 1, RecordingJob(),
                                         method="scratch")  # fmt: skip
    assert scratch["method"] == "scratch" and scratch["rows"]["n_runs"] == 1
    assert scratch["baseline"] == tx.BASELINE_NAMES["scratch"]
    with pytest.raises(TeachError, match="Unknown training method"):
        teach_store.run_experiment("seeds", "drawing", str(p.path), 1, 8, 0.001, 2, RecordingJob(), method="x")


def test_the_samples_figure_draws_the_baseline_next_to_the_accuracy():
    rows = [
        {"count": c, "accuracy_mean": a, "accuracy_min": a - 0.1, "accuracy_max": a, "confidence_mean": 0.9,
         "baseline_mean": a - 0.2, "baseline_min": a - 0.3, "baseline_max": a - 0.1}
        for c, a in ((1, 0.5), (4, 0.8))
    ]  # fmt: skip
    fig = teach_fig.samples_curve_figure(rows, "by transfer", tx.BASELINE_NAMES["transfer"])
    baseline = [t for t in fig.data if t.name and t.name.startswith("baseline")]
    assert len(baseline) == 1 and list(baseline[0].y) == pytest.approx([0.3, 0.6])
    assert "same features" in baseline[0].name and fig.layout.title.text == "by transfer"
    old = [{k: v for k, v in r.items() if not k.startswith("baseline")} for r in rows]  # a result from before
    assert not [t for t in teach_fig.samples_curve_figure(old).data if t.name and t.name.startswith("baseline")]


def test_the_head_weights_are_what_the_head_computes(tmp_path):
    """softmax(features @ kernel + bias) from head_weights is the head's own answer, so the panel's heatmap and
    its "from features to an answer" line show the real arithmetic."""
    rng = np.random.default_rng(0)
    f = np.abs(rng.normal(size=(30, 6))).astype(np.float32) * 5
    y = (f[:, 0] > f[:, 1]).astype(int) + (f[:, 2] > 6)
    head = transfer.train_head(f, y, 3, transfer.TransferConfig(epochs=50))
    kernel, bias = transfer.head_weights(head)
    assert kernel.shape == (6, 3) and bias.shape == (3,)
    scores = f @ kernel + bias
    probs = np.exp(scores - scores.max(1, keepdims=True))
    np.testing.assert_allclose(probs / probs.sum(1, keepdims=True), np.asarray(head(f)), atol=1e-5)
    heat = teach_fig.head_weights_figure(kernel, ["a", "b", "c"])
    assert np.asarray(heat.data[0].z).shape == (3, 6) and heat.data[0].zmin == -heat.data[0].zmax
    top = teach_fig.top_features(kernel, ["a", "b", "c"], n=2)
    assert top["a"][0] == int(np.argmax(kernel[:, 0])) and len(top["c"]) == 2
    with pytest.raises(ValueError, match="kernel"):
        teach_fig.head_weights_figure(kernel, ["a", "b"])
    hidden = transfer.train_head(f, y, 3, transfer.TransferConfig(epochs=5, hidden=4))
    with pytest.raises(TeachError, match="single-layer"):
        transfer.head_weights(hidden)


def test_one_samples_feature_vector_figure_counts_its_zeros():
    fig = teach_fig.feature_vector_figure(np.array([0.0, 1.5, 0.0, 2.0]), "one")
    assert list(fig.data[0].y) == [0.0, 1.5, 0.0, 2.0] and "2 of them zero" in fig.layout.xaxis.title.text


def test_the_whole_drawing_models_head_weights_turn_the_backbone_features_into_its_answer(drawings):
    """The panel's arithmetic on a whole drawing model (the backbone's layers + the head): the backbone's features
    times head_weights, through a softmax, is what the model answers for the raw drawing."""
    model = transfer.fit("drawing", drawings["x_train"], drawings["y_train"], 2, transfer.head_config("drawing"))
    kernel, bias = transfer.head_weights(model)
    assert kernel.shape == (transfer.DRAWING_FEATURES, 2)
    scores = transfer.extract_features("drawing", drawings["x_val"]) @ kernel + bias
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, transfer.predict_proba("drawing", model, drawings["x_val"]), atol=1e-5)
