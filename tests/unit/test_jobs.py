"""core.engine.jobs (the queue, workers, cancel, progress) and core.retrain (a retrain job end to end, on tiny data)."""

import hashlib
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from core.engine import checks as retrain_checks
from core.engine import job_workers, jobs, retrain
from core.engine.training import TrainingError
from core.families.colors import retrain as colors_retrain
from core.store import access
from core.store import models as store
from core.store import topology as store_topology
from tests.helpers.jobs import WAIT, request, run_job, user_colors


def blocking_work(release: threading.Event, log: list):
    def work(job):
        log.append(("start", job.session_id))
        assert release.wait(WAIT)
        log.append(("end", job.session_id))
        return job.session_id

    return work


# ---------------------------------------------------------------- the queue


def test_queue_runs_at_most_the_limit_and_later_jobs_wait_in_order():
    queue = jobs.JobQueue(limit=lambda: 1)
    release, log = threading.Event(), []
    a = queue.submit("session-a", "A", blocking_work(release, log))
    b = queue.submit("session-b", "B", blocking_work(release, log))
    c = queue.submit("session-c", "C", blocking_work(release, log))
    for _ in range(100):
        if a.status == "running":
            break
        threading.Event().wait(0.05)
    assert a.status == "running"
    assert (b.status, c.status) == ("queued", "queued")
    assert (queue.position(a), queue.position(b), queue.position(c)) == (0, 1, 2)
    assert queue.overview() == {"running": 1, "waiting": 2, "limit": 1}
    release.set()
    assert all(queue.wait(j, WAIT) for j in (a, b, c))
    assert [j.status for j in (a, b, c)] == ["done"] * 3
    assert [s for kind, s in log if kind == "start"] == ["session-a", "session-b", "session-c"]
    assert a.finished <= b.started <= c.started  # one at a time, first come first served
    assert c.result == "session-c"


def test_a_higher_limit_lets_two_jobs_run_together():
    queue = jobs.JobQueue(limit=lambda: 2)
    release, log = threading.Event(), []
    a = queue.submit("a", "A", blocking_work(release, log))
    b = queue.submit("b", "B", blocking_work(release, log))
    for _ in range(100):
        if a.status == b.status == "running":
            break
        threading.Event().wait(0.05)
    assert a.status == b.status == "running"
    release.set()
    assert queue.wait(a, WAIT) and queue.wait(b, WAIT)


def test_the_limit_comes_from_the_settings(monkeypatch):
    monkeypatch.setattr(jobs.psutil, "virtual_memory", lambda: SimpleNamespace(available=64 * 2**30))
    monkeypatch.setenv("MLX_MAX_CONCURRENT_TRAININGS", "3")
    assert jobs.JobQueue().overview()["limit"] == 3
    # Memory for one only: the setting is a cap, not a promise.
    monkeypatch.setenv("MLX_TRAINING_RSS_MB", str(40 * 1024))
    assert jobs.JobQueue().overview()["limit"] == 1


def test_two_trainings_from_one_session_are_refused():
    queue = jobs.JobQueue(limit=lambda: 1)
    release, log = threading.Event(), []
    first = queue.submit("same", "first", blocking_work(release, log))
    with pytest.raises(jobs.JobError, match="already running"):
        queue.submit("same", "second", blocking_work(release, log))
    release.set()
    assert queue.wait(first, WAIT)
    again = queue.submit("same", "after the first finished", lambda job: 42)  # allowed once the first is done
    assert queue.wait(again, WAIT) and again.result == 42


def test_cancel_while_queued_never_runs_the_work():
    queue = jobs.JobQueue(limit=lambda: 1)
    release, log = threading.Event(), []
    a = queue.submit("a", "A", blocking_work(release, log))
    b = queue.submit("b", "B", blocking_work(release, log))
    assert queue.cancel("b")
    assert queue.wait(b, WAIT)
    assert b.status == "cancelled" and "queue" in b.message
    release.set()
    assert queue.wait(a, WAIT)
    assert ("start", "b") not in log


def test_errors_become_a_failed_status_with_a_message():
    queue = jobs.JobQueue(limit=lambda: 1)

    def plain(job):
        raise TrainingError("The batch size (64) is larger than the training data (10 samples).")

    def bug(job):
        raise KeyError("oops")

    a = queue.submit("a", "A", plain)
    assert queue.wait(a, WAIT) and a.status == "failed" and "batch size" in a.message
    b = queue.submit("b", "B", bug)
    assert queue.wait(b, WAIT) and b.status == "failed" and "unexpectedly" in b.message
    c = queue.submit("c", "C", lambda job: 1)  # the queue still works after failures
    assert queue.wait(c, WAIT) and c.status == "done"


def test_progress_and_eta_follow_the_reports():
    job = jobs.Job("s", "t")
    job.status = "running"
    job.plan(epochs=2, steps_per_epoch=10)
    assert job.progress() == 0 and job.eta_seconds() is None
    job.on_batch_end(0, 4, {"loss": 1.0})
    assert job.progress() == pytest.approx(0.25)
    assert job.eta_seconds() is not None and job.eta_seconds() >= 0
    job.on_epoch_end(0, {"loss": 0.9, "val_loss": 1.1})
    snap = job.snapshot()
    assert snap.progress == pytest.approx(0.5)
    assert list(snap.epoch_logs) == [{"epoch": 1, "loss": 0.9, "val_loss": 1.1}]
    assert snap.batch_logs[0]["step"] == 5


# ---------------------------------------------------------------- retrain jobs on tiny data


def folder_digest(path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_a_retrain_saves_a_new_version_and_never_touches_the_shipped_model(user_data):
    from core.families.colors import model as colors

    shipped = store.shipped_model_dir("colors")
    digest = folder_digest(shipped)
    cached = colors.load_shipped().model  # stands in for the st.cache_resource copy every session shares
    weights = [w.copy() for w in cached.get_weights()]
    job = run_job(request(), user_colors())
    assert job.status == "done", job.message
    outcome = job.result
    version = store.version_path("colors", outcome.version_id)
    assert version.is_dir() and version.is_relative_to(user_data)
    assert folder_digest(shipped) == digest
    assert all(np.array_equal(a, b) for a, b in zip(weights, cached.get_weights()))
    meta = store.load_metadata(version)
    assert meta["owner"] == "session-a" and meta["class_names"] == list(colors.CLASS_NAMES)
    assert len(meta["history"]["loss"]) == 2
    assert outcome.before is not None and outcome.after.n == outcome.before.n
    # A second run never overwrites the first.
    second = run_job(request(), user_colors())
    assert second.result.version_id != outcome.version_id
    assert len(store.list_versions("colors")) == 2


def test_the_confusion_matrix_matches_one_counted_by_hand():
    from core.families.colors import model as colors
    from core.families.colors.config import ColorConfig

    req = request(epochs=3)
    user = user_colors()
    job = run_job(req, user)
    assert job.status == "done", job.message
    cfg = ColorConfig(validation_fraction=req.validation_fraction, seed=req.seed)
    data = colors_retrain._custom_color_data(cfg, user.colors)  # the same split the job used
    model = store.load_model(job.result.version_path).model
    predicted = colors.predict_proba(model, data["x_val"]).argmax(axis=1)
    counted = [[0] * 9 for _ in range(9)]
    for t, p in zip(data["y_val"], predicted):
        counted[int(t)][int(p)] += 1
    assert job.result.after.confusion == counted
    wrong = sum(counted[t][p] for t in range(9) for p in range(9) if t != p)
    assert sum(len(cell.samples) for cell in job.result.misclassified) == wrong
    for cell in job.result.misclassified:
        t, p, swatches = cell.true, cell.predicted, cell.samples
        assert counted[t][p] == len(swatches) and all(s.startswith("#") for s in swatches)


def test_one_sessions_retrain_leaves_another_sessions_jobs_and_model_alone():
    from core.families.colors import model as colors

    queue = jobs.JobQueue(limit=lambda: 1)
    other = colors.load_shipped().model
    before = [w.copy() for w in other.get_weights()]
    job = retrain.start_retrain(request(), user_colors(), "session-a", queue=queue)
    assert queue.wait(job, WAIT) and job.status == "done"
    assert queue.job_for("session-b") is None
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))
    # Session B cannot delete session A's version.
    with pytest.raises(store_topology.StoreError, match="someone else's"):
        access.delete_version("session-b", "colors", job.result.version_id)
    access.delete_version("session-a", "colors", job.result.version_id)
    assert store.list_versions("colors") == []


def test_divergence_saves_nothing():
    job = run_job(request(learning_rate=50.0, epochs=5), user_colors())
    assert job.status == "diverged"
    assert "learning rate is too high" in job.message
    assert store.list_versions("colors") == []


def test_cancel_during_training_saves_nothing():
    queue = jobs.JobQueue(limit=lambda: 1)
    job = retrain.start_retrain(request(epochs=150, batch_size=4), user_colors(), "session-a", queue=queue)
    for _ in range(600):
        if job.snapshot().epoch_logs:
            break
        threading.Event().wait(0.05)
    queue.cancel("session-a")
    assert queue.wait(job, WAIT)
    assert job.status == "cancelled" and "Nothing was saved" in job.message
    assert len(job.epoch_logs) < 150
    assert store.list_versions("colors") == []


# ---------------------------------------------------------------- bad input, checked before anything queues


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"epochs": 0}, "at least 1"),
        ({"epochs": -2}, "at least 1"),
        ({"epochs": 10_000}, "capped"),
        ({"learning_rate": 0.0}, "positive"),
        ({"learning_rate": -1.0}, "positive"),
        ({"learning_rate": float("nan")}, "positive"),
        ({"validation_fraction": 0.0}, "above 0 and below 1"),
        ({"validation_fraction": 1.0}, "above 0 and below 1"),
        ({"batch_size": 0}, "Batch size"),
        ({"optimizer": "rmsprop"}, "SGD or Adam"),
        ({"seed": -1}, "seed"),
        ({"family": "../etc"}, "Unknown model"),
    ],
)
def test_bad_settings_are_refused_before_queueing(changes, words):
    queue = jobs.JobQueue(limit=lambda: 1)
    with pytest.raises(TrainingError, match=words):
        retrain.start_retrain(request(**changes), user_colors(), "s", queue=queue)
    assert queue.job_for("s") is None


def test_text_epochs_have_their_own_cap(monkeypatch):
    monkeypatch.setenv("MLX_MAX_TEXT_EPOCHS", "2")
    with pytest.raises(TrainingError, match="capped at 2"):
        retrain_checks.check_request(request(family="text", epochs=3, optimizer="adam"))


def test_an_empty_custom_dataset_is_refused():
    with pytest.raises(TrainingError, match="dataset is empty"):
        retrain_checks.check_dataset(request(), retrain.UserData())
    with pytest.raises(TrainingError, match="dataset is empty"):
        retrain_checks.check_dataset(request(family="text", use_builtin=False), retrain.UserData())


def test_a_class_with_a_single_sample_is_refused():
    user = retrain.UserData(colors=[(250, 0, 0, "red"), (240, 10, 0, "red"), (0, 0, 250, "blue")])
    with pytest.raises(TrainingError, match="'blue'.*single sample"):
        retrain_checks.check_dataset(request(), user)
    # With the built-in data, a single label of a built-in family is fine: that family has plenty of samples.
    assert retrain_checks.check_dataset(request(use_builtin=True), user) == []


def test_a_new_shape_class_with_one_drawing_is_refused():
    user = retrain.UserData(drawings=[(np.zeros((28, 28), np.uint8), "heart")])
    with pytest.raises(TrainingError, match="'heart'.*single sample"):
        retrain_checks.check_dataset(request(family="shapes", use_builtin=True, samples_per_class=5), user)


def test_a_batch_larger_than_the_data_is_refused_before_queueing():
    queue = jobs.JobQueue(limit=lambda: 1)
    with pytest.raises(TrainingError, match="larger than the training data"):
        retrain.start_retrain(request(batch_size=500), user_colors(), "s", queue=queue)
    assert queue.job_for("s") is None
    assert store.list_versions("colors") == []


def test_a_batch_larger_than_the_data_still_fails_a_job_that_skipped_the_start_checks():
    """The worker checks again (the CLI and tests call run_retrain directly), before planning any epoch."""
    job = jobs.Job(session_id="s", title="t")
    with pytest.raises(TrainingError, match="larger than the training data"):
        retrain.run_retrain(request(batch_size=500), user_colors(), job)
    assert job.epochs == 0 and job.epoch_logs == []
    assert store.list_versions("colors") == []


def test_an_upload_over_the_cap_is_refused():
    from core.families.text import model as text

    with pytest.raises(ValueError, match="capped at 0.01 MB"):
        text.check_corpus_upload(b"a" * 20_000, max_mb=0.01)


def test_defaults_are_the_shipped_models_settings_within_the_caps(monkeypatch):
    meta = store.load_metadata(store.shipped_model_dir("colors"))
    d = retrain_checks.default_settings("colors", meta)
    cfg = meta["config"]
    assert (d["batch_size"], d["learning_rate"], d["optimizer"]) == (
        cfg["batch_size"],
        cfg["learning_rate"],
        cfg["optimizer"],
    )
    monkeypatch.setenv("MLX_MAX_EPOCHS", "7")
    assert retrain_checks.default_settings("colors", meta)["epochs"] == min(cfg["epochs"], 7)


# ---------------------------------------------------------------- the loss curve of a diverged run


def test_a_diverged_job_keeps_its_loss_curve_up_to_the_divergence_point():
    """A real tiny run: the user's colours only, batch 16 (2 batches an epoch), SGD at a learning rate of 50."""
    import math

    job = run_job(request(learning_rate=50.0, epochs=5), user_colors())
    assert job.status == "diverged" and job.result is None
    curve = job.snapshot().curve
    where = curve["divergence"]
    assert where is not None and where["batch"] is not None  # colours record every batch, so it is caught there
    batches = curve["batch_logs"]
    assert len(batches) >= 2  # the points before the divergence, then the divergence itself
    assert [b["step"] for b in batches] == list(range(1, where["step"] + 1))
    last, before = batches[-1], batches[:-1]
    assert last["step"] == where["step"]
    assert last["loss"] == where["value"] or (math.isnan(last["loss"]) and math.isnan(where["value"]))
    assert all(math.isfinite(b["loss"]) for b in before)
    if where["reason"] == "ceiling":  # a finite loss above the ceiling; the run started below it
        assert where["value"] > where["ceiling"] > before[0]["loss"]
    else:
        assert not math.isfinite(where["value"])
    assert curve["steps_per_epoch"] == job.snapshot().steps_per_epoch
    # Finished epochs (if any) are the ones reported live, and the message names the same epoch.
    assert [e["epoch"] for e in curve["epoch_logs"]] == [e["epoch"] for e in job.snapshot().epoch_logs]
    assert f"epoch {where['epoch']}" in job.message


def test_the_snapshot_curve_is_a_copy_and_a_worker_process_sends_it_with_the_finish():
    from multiprocessing import Pipe

    curve = {
        "epoch_logs": [{"epoch": 1, "loss": 2.0}],
        "batch_logs": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": float("inf")}],
        "steps_per_epoch": 1,
        "divergence": {"epoch": 2, "batch": 1, "step": 2, "value": float("inf"), "reason": "inf"},
    }
    reader, writer = Pipe(duplex=False)
    control_reader, _control_writer = Pipe(duplex=False)
    job_workers._WorkerJob(writer, control_reader).finish("diverged", "The loss became inf.", curve)
    kind, *args = job_workers.recv_json(reader)  # JSON over the pipe, never a pickle
    job = jobs.Job(session_id="s", title="t", status="running")
    getattr(job, kind)(*args)  # as the parent thread applies a worker's report
    snap = job.snapshot()
    assert snap.status == "diverged" and snap.curve == curve
    snap.curve["batch_logs"].append({"step": 3})
    assert len(job.snapshot().curve["batch_logs"]) == 2
    # A cancel carries no curve.
    other = jobs.Job(session_id="s", title="t", status="running")
    other.finish("cancelled", "Cancelled.")
    assert other.snapshot().curve is None
