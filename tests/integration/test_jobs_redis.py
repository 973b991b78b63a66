"""Trainings as RQ jobs on a real redis-server (tests/helpers/redis_server.py; never a fake): a tiny training runs
through a real `python -m core worker` subprocess, in its warm training process, and its progress and result reach
the snapshot; the next job takes the same warm process; cancel (Cancel, RQ's stop command, the stop key); one active
training per identity across two app processes' queues; a worker or its training process killed mid-training; a
Redis restart; Redis down; fairness between classes."""

import functools
import os
import signal
import subprocess
import threading

import psutil
import pytest
from rq import Queue
from rq.command import send_stop_job_command
from rq.job import Job as RQJob

from core.engine import jobs, queues, retrain, rq_queue
from core.engine.retrain_outcome import RetrainOutcome
from core.store import models as store
from tests.helpers import job_workers
from tests.helpers.jobs import request, user_colors
from tests.helpers.redis_server import RedisServer, start_worker

WAIT = 300  # seconds at most: a training process imports TensorFlow on a busy 2-core machine
HELPERS = {"MLX_JOB_MODULES": "tests.helpers.job_workers"}  # the workers may run these test work functions


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = RedisServer(tmp_path / "redis").start()
    monkeypatch.setenv("MLX_REDIS_URL", srv.url)
    monkeypatch.setenv("MLX_JOB_MODULES", HELPERS["MLX_JOB_MODULES"])
    monkeypatch.setenv("MLX_WORKER_PRELOAD", "")  # these work functions need no TensorFlow: a test that does says so
    yield srv
    srv.stop()


@pytest.fixture
def workers():
    """Workers a test starts; each is stopped (SIGTERM, then SIGKILL) and reaped at the end."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(condition, seconds: float = WAIT) -> None:
    deadline = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        deadline.wait(0.1)
    raise AssertionError("timed out")


def burst(srv: RedisServer) -> str:
    """Run a worker until the queues are empty; returns its output."""
    proc = start_worker(srv.url)
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, out
    return out


def rq_job(srv: RedisServer, job_id: str) -> RQJob:
    return RQJob.fetch(job_id, connection=srv.client(), serializer=rq_queue.SERIALIZER)


def exited(pid: int) -> bool:
    """True once the process is gone or a zombie (dead; its parent, gone too, cannot reap it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_tiny_retrain_runs_in_a_worker_and_its_progress_and_result_reach_the_snapshot(
    server, workers, user_data, monkeypatch
):
    monkeypatch.setenv("MLX_WORKER_PRELOAD", "keras")  # as `python -m core worker` does by default
    queue = queues.get_queue()
    assert isinstance(queue, rq_queue.RedisQueue) and queues.get_queue() is queue
    job = retrain.start_retrain(request(), user_colors(), "session-a")
    snap = queue.snapshot("session-a")
    assert snap.status == "queued" and snap.estimate.position == 1 and snap.request["family"] == "colors"
    # Not a burst worker: one would quit (and retire its training process) once the queue is empty, racing the checks
    # below on that process; this one waits for the next job, as `python -m core worker` does.
    proc = start_worker(server.url, burst=False)
    workers.append(proc)
    assert queue.wait(job, WAIT)
    snap = queue.snapshot("session-a")
    assert snap.status == "done", snap.message
    assert [e["epoch"] for e in snap.epoch_logs] == [1, 2] and snap.progress == 1.0  # progress went through job.meta
    assert isinstance(snap.result, RetrainOutcome) and snap.result.after.n > 0  # the result crossed as JSON
    version = store.version_path("colors", snap.result.version_id)
    assert version.is_relative_to(user_data) and store.load_model(version).metadata["owner"] == "session-a"
    assert queue.typical_seconds(snap.kind) > 0  # its duration was measured, for the next wait estimate
    # TensorFlow only ever ran in the worker's training process (started and warmed before the job came, so the job
    # found TensorFlow loaded): the worker process itself never loaded it.
    maps = open(f"/proc/{proc.pid}/maps").read()
    assert "tensorflow" not in maps and "keras" not in maps
    meta = rq_job(server, job.id).meta
    assert meta["pid"] != proc.pid and psutil.Process(meta["pid"]).ppid() == proc.pid
    assert meta["warm"] is True and meta["jobs_before"] == 0
    assert "tensorflow" in open(f"/proc/{meta['pid']}/maps").read()  # still loaded, waiting for the next job


def test_the_next_job_on_a_worker_takes_its_warm_training_process_and_starts_at_once(server, workers, user_data):
    queue = queues.get_queue()  # MLX_WORKER_PRELOAD is empty here: the first job imports TensorFlow itself
    proc = start_worker(server.url, burst=False)
    workers.append(proc)
    metas = []
    for session in ("session-a", "session-b"):
        job = retrain.start_retrain(request(owner=session), user_colors(), session)
        assert queue.wait(job, WAIT) and job.status == "done", job.message
        metas.append(rq_job(server, job.id).meta)
    first, second = metas
    assert second["pid"] == first["pid"] != proc.pid  # one training process served both
    assert (first["warm"], first["jobs_before"]) == (False, 0)  # it imported TensorFlow for the first job
    assert (second["warm"], second["jobs_before"]) == (True, 1)  # ... and had it loaded for the second
    # From taking the job to its first report: the second skips TensorFlow's import (seconds of CPU).
    startup = [m["train_started"] - m["process_started"] for m in metas]
    assert startup[1] < startup[0], startup


def test_cancel_stops_a_running_job_and_leaves_a_queued_one(server, workers):
    queue = rq_queue.RedisQueue()
    running = queue.submit("a", "A", job_workers.train_until_cancelled)
    waiting = queue.submit("b", "B", job_workers.train_until_cancelled)
    assert queue.cancel("b") and queue.wait(waiting, 30)
    assert queue.snapshot("b").status == "cancelled" and queue.snapshot("b").message == rq_queue.CANCELLED_QUEUED
    workers.append(start_worker(server.url, burst=False))
    # Well past the heartbeat key's lifetime: the worker's thread renews it, so no sweep takes the job for dead.
    wait_until(lambda: queue.snapshot("a").elapsed_seconds > rq_queue.ALIVE_SECONDS + 3)
    assert queue.sweep(force=True) == 0 and server.client().exists(rq_queue.alive_key(running.id))
    assert queue.snapshot("a").status == "running" and queue.overview()["running"] == 1
    assert queue.cancel("a") and queue.snapshot("a").cancel_requested  # the page says "cancelling" at once
    assert queue.wait(running, 60)
    snap = queue.snapshot("a")
    assert snap.status == "cancelled" and snap.message == "Stopped on request. Nothing was saved."
    assert snap.cancel_requested and not server.client().exists(rq_queue.stop_key(running.id))
    again = queue.submit("a", "A again", functools.partial(job_workers.return_value, 7))  # the owner may start again
    assert queue.wait(again, WAIT) and again.status == "done" and again.result == 7


@pytest.mark.parametrize("channel", ["rq stop command", "stop key"])
def test_either_cancel_channel_alone_stops_the_training(server, workers, channel):
    """RQ's stop command reaches the worker at once (pubsub); the stop key, which the worker polls, does even when
    that message is lost."""
    queue = rq_queue.RedisQueue()
    job = queue.submit("a", "A", job_workers.train_until_cancelled)
    workers.append(start_worker(server.url, burst=False))
    wait_until(lambda: len(queue.snapshot("a").epoch_logs) >= 1)
    pid = rq_job(server, job.id).meta["pid"]
    if channel == "stop key":
        server.client().set(rq_queue.stop_key(job.id), 1)
    else:
        send_stop_job_command(server.client(), job.id, serializer=rq_queue.SERIALIZER)
    assert queue.wait(job, 60)
    snap = queue.snapshot("a")
    assert snap.status == "cancelled" and snap.cancel_requested, snap.message
    wait_until(lambda: exited(pid), 60)  # a cancelled training process is never reused


def test_one_active_training_per_identity_across_two_app_processes(server):
    first, second = rq_queue.RedisQueue(), rq_queue.RedisQueue()  # two app processes' queues
    job = first.submit("tab-1", "Retrain colors", job_workers.train_until_cancelled, owner="alice")
    with pytest.raises(jobs.JobError, match="already running for you \\(Retrain colors\\)"):
        second.submit("tab-2", "Teach image", job_workers.train_until_cancelled, owner="alice")
    other = second.submit("tab-3", "B", job_workers.train_until_cancelled, owner="bob")  # someone else: fine
    assert second.snapshot("tab-1").id == job.id  # the other process sees alice's job under its key
    assert second.cancel("tab-1") and first.snapshot("tab-1").status == "cancelled"
    again = second.submit("tab-2", "Teach image", job_workers.train_until_cancelled, owner="alice")
    assert again.status == "queued" and other.status == "queued"


def test_a_worker_killed_mid_training_fails_the_job_and_its_owner_can_start_again(server, workers):
    queue = rq_queue.RedisQueue()
    job = queue.submit("a", "A", job_workers.train_until_cancelled)
    proc = start_worker(server.url, burst=False)
    workers.append(proc)
    wait_until(lambda: len(queue.snapshot("a").epoch_logs) >= 1)
    training = rq_job(server, job.id).meta["pid"]
    os.kill(proc.pid, signal.SIGKILL)  # the worker dies; its training process sees its pipe closed and stops
    proc.wait()
    wait_until(lambda: exited(training), 60)  # it does not train on for nobody (its LIMIT is 60 s)
    assert queue.wait(job, 120)  # swept once its heartbeat has expired
    snap = queue.snapshot("a")
    assert snap.status == "failed" and snap.message == rq_queue.WORKER_DIED
    assert "nothing was saved" in snap.message and len(snap.epoch_logs) >= 1  # what it reported stays
    again = queue.submit("a", "A again", functools.partial(job_workers.return_value, "fine"))
    burst(server)
    assert queue.wait(again, 30) and again.status == "done" and again.result == "fine"


def test_a_killed_training_process_fails_the_job_plainly_and_a_new_one_takes_the_next(server):
    queue = rq_queue.RedisQueue()
    job = queue.submit("a", "A", job_workers.die_mid_training)
    nxt = queue.submit("b", "B", job_workers.report_and_identify)
    burst(server)
    assert queue.wait(job, 60) and queue.wait(nxt, 60)
    snap = queue.snapshot("a")
    assert snap.status == "failed" and len(snap.epoch_logs) == 1
    assert snap.message.startswith("The training process stopped unexpectedly (exit code -9: it was stopped by SIGKILL")
    assert snap.message.endswith("Nothing was saved.")
    dead = rq_job(server, job.id).meta["pid"]
    assert nxt.status == "done" and nxt.result["pid"] == rq_job(server, nxt.id).meta["pid"] != dead
    assert queue.submit("a", "A again", functools.partial(job_workers.return_value, 1)).status == "queued"


def test_plain_errors_and_bugs_in_the_work_end_as_failed_messages(server):
    queue = rq_queue.RedisQueue()
    plain = queue.submit("a", "A", job_workers.refuse_with_plain_message)
    bug = queue.submit("b", "B", job_workers.crash_with_a_bug)
    odd = queue.submit("c", "C", job_workers.return_unpicklable)
    with pytest.raises(TypeError, match="not a registered job function"):
        queue.submit("d", "D", lambda job: 1)
    burst(server)
    assert queue.snapshot("a").message == "The batch size (64) is larger than the training data (10 samples)."
    assert queue.snapshot("b").message == "Training failed unexpectedly (KeyError: 'a missing key')."
    assert queue.snapshot("c").status == "failed" and "unexpectedly" in queue.snapshot("c").message
    assert {queue.snapshot(s).status for s in "abc"} == {"failed"} and bug.status == plain.status == "failed"
    assert odd.status == "failed"


def test_a_redis_restart_keeps_a_queued_job(server):
    queue = rq_queue.RedisQueue()
    job = queue.submit("a", "A", functools.partial(job_workers.return_value, "after the restart"))
    server.stop()
    server.start()  # the same port and folder: its append-only file
    assert queue.snapshot("a").status == "queued"
    burst(server)
    assert queue.wait(job, 30) and job.result == "after the restart"


def test_redis_down_is_a_plain_error_and_predictions_still_work(server):
    queue = rq_queue.RedisQueue()
    server.stop()
    with pytest.raises(jobs.JobError, match="Trainings are unavailable right now"):
        retrain.start_retrain(request(), user_colors(), "session-a", queue=queue)
    assert queue.snapshot("session-a") is None and queue.cancel("session-a") is False  # the page still draws
    from core.families.colors import model as colors

    shipped = store.load_model(store.shipped_model_dir("colors"))
    assert colors.predict_proba(shipped.model, [[250, 10, 10]]).shape == (1, len(colors.CLASS_NAMES))


def test_classes_take_turns_and_a_job_naming_anything_else_is_refused(server):
    queue = rq_queue.RedisQueue()
    ids = {}
    for owner in ("a1", "a2", "a3"):
        ids[owner] = queue.submit(owner, owner, functools.partial(job_workers.return_value, owner), group="CLASSA").id
    ids["b1"] = queue.submit("b1", "b1", functools.partial(job_workers.return_value, "b1"), group="CLASSB").id
    assert queue.position(queue.job_for("b1")) == 2  # after a1, before a2: the classes take turns
    assert queue.snapshot("b1").estimate.position == 2 and queue.snapshot("a3").estimate.position == 4
    foreign = Queue(rq_queue.queue_name(""), connection=server.client(), serializer=rq_queue.SERIALIZER)
    evil = foreign.enqueue("os.getpid")  # written straight into Redis: no worker may import it
    burst(server)
    started = sorted(ids, key=lambda owner: rq_job(server, ids[owner]).meta["started"])
    assert started[:2] in (["a1", "b1"], ["b1", "a1"]) and started[2:] == ["a2", "a3"]
    assert all(queue.snapshot(owner).result == owner for owner in ids)
    evil = RQJob.fetch(evil.id, connection=server.client(), serializer=rq_queue.SERIALIZER)
    assert evil.get_status() == "failed" and "refused" in (evil.latest_result().exc_string or "")
