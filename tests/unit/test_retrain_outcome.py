"""Typed retrain results (core.engine.retrain_outcome, core.metrics.Report, core.engine.seed_spread.SeedSpread): a real
tiny retrain fills every field, the misclassified cells agree with the confusion matrix, the types pickle by reference
(a worker process sends them to the page), and versions saved before the types existed still list."""

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.engine import retrain
from core.engine.retrain_outcome import Misclassified, RetrainOutcome, RunSettings, TextSample
from core.engine.seed_spread import Recipe, SeedSpread, SpreadRun
from core.metrics import Report, classification_report, report_of
from core.store import access, blobs
from core.store import models as store
from tests.helpers.jobs import request, run_job, user_colors


def an_outcome(**changes) -> RetrainOutcome:
    """An outcome built by hand: two classes, one misclassified image and one text mistake."""
    fields = dict(
        family="shapes",
        class_names=("circle", "square"),
        history={"loss": [1.0, 0.5]},
        seconds=1.5,
        epochs_run=2,
        after=report_of([0, 0, 1], [0, 1, 1], ["circle", "square"]),
        before=None,
        base="shipped model",
        fresh=False,
        settings=RunSettings(epochs=2, batch_size=8, learning_rate=0.01, optimizer="adam", seed=3),
        notes=("a note",),
        misclassified=(
            Misclassified(0, 1, (np.full((28, 28), 7, np.uint8),)),
            Misclassified(1, 0, (TextSample("to be or", "n", "t"),)),
        ),
        version_id="20260101-000000-run",
        version_path="/somewhere/20260101-000000-run",
    )
    fields.update(changes)
    return RetrainOutcome(**fields)


def check_cells_match_the_confusion(outcome: RetrainOutcome, cap: int) -> int:
    """Every non-empty off-diagonal cell has one Misclassified with min(count, cap) samples, and no other cell has
    one; returns how many misclassified validation samples there were."""
    confusion = outcome.after.confusion
    wrong = {(t, p): n for t, row in enumerate(confusion) for p, n in enumerate(row) if t != p and n}
    cells = [(c.true, c.predicted) for c in outcome.misclassified]
    assert cells == sorted(wrong)  # one per non-empty cell, in (true, predicted) order
    for (t, p), n in wrong.items():
        assert len(outcome.cell_samples(t, p)) == min(n, cap)
    for t in range(len(confusion)):
        assert outcome.cell_samples(t, t) == ()  # the diagonal is never "misclassified"
    return sum(wrong.values())


# ---------------------------------------------------------------- a real tiny retrain (thread worker)


def test_a_real_tiny_retrain_returns_an_outcome_with_every_field_filled():
    from core.families.colors import model as colors

    job = run_job(request(), user_colors())
    assert job.status == "done" and job.worker == "thread", job.message
    outcome = job.result
    assert isinstance(outcome, RetrainOutcome)
    assert outcome.family == "colors" and outcome.class_names == tuple(colors.CLASS_NAMES)
    assert outcome.epochs_run == 2 and len(outcome.history["loss"]) == 2 and outcome.seconds >= 0
    assert isinstance(outcome.after, Report) and isinstance(outcome.before, Report)
    assert outcome.after.n == outcome.before.n > 0 and 0 <= outcome.after.accuracy <= 1
    assert outcome.after.labels == list(colors.CLASS_NAMES) and set(outcome.after.per_class) == set(colors.CLASS_NAMES)
    assert outcome.base == "shipped model" and outcome.fresh is False and isinstance(outcome.notes, tuple)
    assert outcome.settings == RunSettings(epochs=2, batch_size=16, learning_rate=0.2, optimizer="sgd", seed=5)
    assert outcome.version_id and store.version_path("colors", outcome.version_id) == Path(outcome.version_path)
    # The saved metadata keeps the keys every reader of versions uses (versions saved before the types had them too).
    meta = store.load_metadata(outcome.version_path)
    assert meta["metrics"]["val_accuracy"] == outcome.after.accuracy and meta["metrics"]["val_n"] == outcome.after.n
    assert meta["metrics"]["before_val_accuracy"] == outcome.before.accuracy
    assert meta["retrained_from"] == "shipped model" and meta["studio"]["seed"] == 5
    wrong = check_cells_match_the_confusion(outcome, retrain.MAX_EXAMPLES)
    assert sum(len(c.samples) for c in outcome.misclassified) == wrong  # 9 classes, few errors: none capped
    assert all(s.startswith("#") for c in outcome.misclassified for s in c.samples)
    record = outcome.run_record()
    assert (record.family, record.version_id, record.accuracy) == ("colors", outcome.version_id, outcome.after.accuracy)
    assert (record.epochs, record.batch_size, record.learning_rate, record.seed) == (2, 16, 0.2, 5)


def test_misclassified_cells_are_capped_at_max_examples(monkeypatch):
    monkeypatch.setattr(retrain, "MAX_EXAMPLES", 1)  # the job runs in a thread: it reads this module's cap
    # A fresh model after one slow epoch guesses few classes: several validation colours share a wrong cell.
    job = run_job(request(fresh=True, epochs=1, learning_rate=0.001), user_colors(per_class=12))
    assert job.status == "done", job.message
    wrong = check_cells_match_the_confusion(job.result, 1)
    assert len(job.result.misclassified) < wrong  # some cell held more than the cap


# ---------------------------------------------------------------- the types on their own


def test_cell_examples_keeps_the_first_samples_of_each_cell_in_order():
    y_true = np.array([0] * 30 + [2, 2, 1])
    y_pred = np.array([1] * 30 + [0, 2, 1])
    cells = retrain.cell_examples(y_true, y_pred, lambda i: i)
    assert [(c.true, c.predicted) for c in cells] == [(0, 1), (2, 0)]
    assert cells[0].samples == tuple(range(retrain.MAX_EXAMPLES)) and cells[1].samples == (30,)
    assert retrain.cell_examples([1, 2], [1, 2], lambda i: i) == ()


def test_outcomes_and_spreads_pickle_by_reference_as_a_worker_process_sends_them():
    outcome = an_outcome()
    data = pickle.dumps(outcome)
    assert b"core.engine.retrain_outcome" in data and b"core.metrics" in data  # by reference, not by value
    back = pickle.loads(data)
    assert back.after == outcome.after and back.settings == outcome.settings and back.notes == outcome.notes
    assert np.array_equal(back.cell_samples(0, 1)[0], outcome.cell_samples(0, 1)[0])
    assert back.cell_samples(1, 0) == (TextSample("to be or", "n", "t"),) and back.cell_samples(0, 0) == ()
    spread = SeedSpread(
        "colors", Recipe(3, 64, 0.03), (SpreadRun(0, 0.5, 1.0), SpreadRun(1, 0.7, 1.2)), 0.6, 0.5, 0.7, 0.1
    )
    assert pickle.loads(pickle.dumps(spread)) == spread


def test_a_spread_reads_as_the_dict_its_figure_draws_from():
    spread = SeedSpread(
        "colors", Recipe(3, 64, 0.03), (SpreadRun(0, 0.5, 1.0), SpreadRun(1, 0.7, 1.2)), 0.6, 0.5, 0.7, 0.1
    )
    assert spread.n_runs == 2 and spread.accuracies == [0.5, 0.7]
    shown = spread.to_dict()
    assert shown["runs"] == [{"seed": 0, "accuracy": 0.5, "seconds": 1.0}, {"seed": 1, "accuracy": 0.7, "seconds": 1.2}]
    assert (shown["n_runs"], shown["mean"], shown["min"], shown["max"]) == (2, 0.6, 0.5, 0.7)
    assert shown["recipe"] == {"epochs": 3, "batch_size": 64, "learning_rate": 0.03}


def test_a_report_is_the_classification_report_typed_and_lists_its_errors_largest_first():
    y_true, y_pred, names = [0, 0, 0, 1, 1, 2], [1, 1, 0, 2, 1, 2], ["a", "b", "c"]
    report = report_of(y_true, y_pred, names)
    assert report.to_dict() == classification_report(y_true, y_pred, names)
    assert report.n == 6 and report.accuracy == pytest.approx(0.5)
    assert report.errors() == [(0, 1, 2), (1, 2, 1)]
    empty = report_of([], [], names)
    assert empty.accuracy is None and empty.errors() == []


def test_a_run_record_is_plain_values_and_nan_without_validation_samples():
    record = an_outcome(after=report_of([], [], ["circle", "square"])).run_record()
    assert record.family == "shapes" and record.version_id == "20260101-000000-run" and math.isnan(record.accuracy)
    assert (record.epochs, record.batch_size, record.learning_rate, record.seed, record.seconds) == (2, 8, 0.01, 3, 1.5)
    assert an_outcome().run_record().accuracy == pytest.approx(2 / 3)


def test_a_version_saved_before_the_typed_outcome_still_lists_with_its_scores():
    """Metadata exactly as save_run wrote it before outcomes were typed: the versions lists read it the same."""
    folder = store.version_path("colors", "20250101-000000-old")
    meta = {
        "family": "colors",
        "owner": "u" + "1" * 20,
        "class_names": ["red", "green"],
        "metrics": {"val_accuracy": 0.75, "val_n": 40, "before_val_accuracy": 0.5},
        "retrained_from": "shipped model",
        "studio": {"epochs": 2, "batch_size": 16, "seed": 5, "train_seconds": 1.0},
        "history": {"loss": [1.0, 0.8]},
    }
    model_json = {
        "format": "layers-model",
        "modelTopology": {},
        "weightsManifest": [{"paths": [store.SHARD_NAME], "weights": []}],
        "userDefinedMetadata": meta,
    }
    store.write_model_folder(folder, model_json, b"")
    blobs.put_folder("colors", folder.name, folder)  # saved before the typed outcome: its rows as they were stored
    [seen] = access.versions(meta["owner"], "colors")
    assert (seen.val_accuracy, seen.before_val_accuracy, seen.retrained_from, seen.mine) == (
        0.75,
        0.5,
        "shipped model",
        True,
    )
