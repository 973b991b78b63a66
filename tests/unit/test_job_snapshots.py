"""core.engine.jobs' typed snapshots: JobSnapshot and QueueEstimate filled from a real queue with thread workers and
a fake clock, frozen, JSON-friendly, and never changed by what the job does afterwards."""

import dataclasses
import json
import threading

import pytest

from core.engine import jobs

WAIT = 30  # seconds at most for a trivial job


def until(condition) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError("timed out")


def reporting(release: threading.Event, started: threading.Event):
    """Two epochs of two steps: reports the first epoch, then waits for `release` before the second."""

    def work(job):
        job.plan(epochs=2, steps_per_epoch=2)
        job.on_batch_end(0, 0, {"loss": 1.2})
        job.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
        started.set()
        assert release.wait(WAIT)
        job.on_epoch_end(1, {"loss": 0.5, "accuracy": 0.75})
        return {"version_id": "v1", "accuracy": 0.75}

    return work


def blocked(release: threading.Event):
    def work(job):
        assert release.wait(WAIT)
        return "ok"

    return work


def test_a_running_jobs_snapshot_has_its_reports_typed():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    release, started = threading.Event(), threading.Event()
    job = queue.submit("s", "Retrain colors: 2 epochs", reporting(release, started))
    assert started.wait(WAIT)
    snap = queue.snapshot("s")
    assert isinstance(snap, jobs.JobSnapshot)
    assert (snap.id, snap.title, snap.kind, snap.status) == (job.id, job.title, "Retrain colors", "running")
    assert snap.active and not snap.cancel_requested and snap.message == ""
    assert (snap.epochs, snap.steps_per_epoch, snap.steps_done, snap.epoch) == (2, 2, 2, 2)
    assert snap.progress == pytest.approx(0.5)
    assert snap.eta_seconds is not None and snap.eta_seconds >= 0 and snap.elapsed_seconds >= 0
    assert snap.epoch_logs == ({"epoch": 1, "loss": 1.0, "accuracy": 0.5},)
    assert [b["step"] for b in snap.batch_logs] == [1]
    assert snap.result is None and snap.curve is None and snap.notes == ()
    assert snap.estimate is None  # only a waiting job gets one: a running panel does not read the memory limit
    release.set()
    assert queue.wait(job, WAIT)
    # The copy the page drew from does not move on with the job.
    assert snap.status == "running" and len(snap.epoch_logs) == 1
    done = queue.snapshot("s")
    assert done.status == "done" and not done.active and done.progress == 1.0
    assert done.result == {"version_id": "v1", "accuracy": 0.75}  # the payload as the work returned it
    assert len(done.epoch_logs) == 2


def test_a_queued_jobs_snapshot_carries_its_place_and_wait():
    clock = [1000.0]
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread", clock=lambda: clock[0])
    queue.record("k", 20.0)
    release = threading.Event()
    first = queue.submit("a", "T", blocked(release), kind="k")
    until(lambda: first.status == "running")
    clock[0] += 5.0  # it has run 5 s of its typical 20
    queue.submit("b", "T", blocked(release), kind="k")
    queue.submit("c", "T", blocked(release), kind="k")
    b, c = queue.snapshot("b"), queue.snapshot("c")
    assert b.status == c.status == "queued" and b.active and b.epoch == 0
    assert b.estimate == jobs.QueueEstimate(position=1, wait_seconds=15.0, running=1, waiting=2, limit=1)
    assert (c.estimate.position, c.estimate.wait_seconds) == (2, pytest.approx(35.0))
    assert queue.snapshot("nobody") is None
    queue.cancel("c")
    release.set()
    assert all(queue.wait(queue.job_for(k), WAIT) for k in "abc")
    cancelled = queue.snapshot("c")
    assert cancelled.status == "cancelled" and "queue" in cancelled.message and cancelled.estimate is None


def test_a_failed_jobs_snapshot_says_why():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")

    def refused(job):
        raise ValueError("The batch size (64) is larger than the training data (10 samples).")

    job = queue.submit("s", "T", refused)
    assert queue.wait(job, WAIT)
    snap = queue.snapshot("s")
    assert snap.status == "failed" and "batch size" in snap.message and snap.result is None


def test_snapshots_are_frozen_and_json_friendly():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    job = queue.submit("s", "T", lambda job: {"answer": 42})
    assert queue.wait(job, WAIT)
    snap = queue.snapshot("s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.status = "running"
    with pytest.raises(dataclasses.FrozenInstanceError):
        jobs.QueueEstimate().position = 3
    as_json = json.loads(json.dumps(dataclasses.asdict(snap)))
    assert as_json["status"] == "done" and as_json["result"] == {"answer": 42} and as_json["estimate"] is None


def test_a_job_keeps_its_request_as_plain_values_for_a_page_that_reloads():
    from core.engine.retrain_request import RetrainRequest, plain_request

    req = RetrainRequest("shapes", 3, 8, 0.005, "adam", 0.2, 1, text="x" * 10_000, text_name="mine.txt")
    plain = plain_request(req)
    assert plain["family"] == "shapes" and plain["epochs"] == 3 and plain["text_name"] == "mine.txt"
    assert plain["text"] == ""  # the upload itself stays out of the queue's memory
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    job = queue.submit("me", "Retrain shapes: 3 epoch(s)", lambda j: None, request=plain)
    plain["epochs"] = 99  # the caller's dict changing later changes nothing the queue keeps
    snap = queue.snapshot("me")
    assert snap.request["epochs"] == 3 and json.loads(json.dumps(snap.request)) == snap.request
    snap.request["family"] = "colors"  # nor does a view changing its copy
    assert queue.snapshot("me").request["family"] == "shapes"
    assert queue.wait(job, WAIT)
    assert queue.submit("you", "no request", lambda j: None).snapshot().request is None
