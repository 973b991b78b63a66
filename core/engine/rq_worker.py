"""Trainings as RQ jobs on Redis: the worker side. `python -m core worker` runs `FairWorker` on any machine (it reads
MLX_REDIS_URL): it listens on every class's queue, round-robin, and forks a work horse per job; TensorFlow is
imported only in the horse (the parent never decodes a payload). `run_payload` is the one function a job may name:
it decodes the JSON work spec (core.engine.job_codec), reports progress into job.meta and frees its owner's
one-training slot when it ends; the worker keeps the job's heartbeat key alive while the horse runs."""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from rq import Queue, get_current_job
from rq.job import Job as RQJob
from rq.worker import DequeueStrategy, Worker

from core.engine import job_codec, rq_queue
from core.engine.job_workers import _check_status, _Reporting, _unexpected
from core.engine.jobs import JobError
from core.settings import get_settings

RUN_PATH = "core.engine.rq_worker.run_payload"
SAVE_EVERY_SECONDS = 0.5  # batch reports reach Redis at most this often (epochs, plans and the end at once)
DEQUEUE_SECONDS = 5  # a waiting worker looks for new class queues this often
MONITOR_SECONDS = 2  # while a horse runs, its worker renews the job's heartbeat this often (ALIVE_SECONDS lets 4 go by)


class TrainingJob(RQJob):
    """RQ's Job, except that a job may name only `run_payload`, and no callbacks: nothing in Redis can make a worker
    import anything else."""

    @property
    def func(self):
        if self.func_name != RUN_PATH:
            raise job_codec.JobPayloadError(f"This job names {self.func_name!r}, which is not a training: refused.")
        return run_payload

    @property
    def success_callback(self):
        return None

    @property
    def failure_callback(self):
        return None

    @property
    def stopped_callback(self):
        return None


class _HorseJob(_Reporting):
    """The Job as a work function sees it inside an RQ work horse: reports go into the RQ job's meta."""

    def __init__(self, rq_job: RQJob):
        self._job, self._meta = rq_job, rq_job.meta
        self._saved = 0.0
        self._parent = os.getppid()
        self.status, self.message = "done", ""

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved >= SAVE_EVERY_SECONDS:
            self._saved = now
            self._job.save_meta()

    def plan(self, epochs: int, steps_per_epoch: int) -> None:
        self._meta.update(epochs=int(epochs), steps_per_epoch=max(1, int(steps_per_epoch)), steps_done=0)
        self._meta["train_started"] = time.time()
        self._save(force=True)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._meta.setdefault("epoch_logs", []).append({"epoch": epoch + 1, **_plain(logs)})
        self._meta["steps_done"] = (epoch + 1) * int(self._meta.get("steps_per_epoch", 1))
        self._save(force=True)

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None:
        step = epoch * int(self._meta.get("steps_per_epoch", 1)) + batch + 1
        self._meta.setdefault("batch_logs", []).append({"step": step, "epoch": epoch + 1, **_plain(logs)})
        self._meta["steps_done"] = max(int(self._meta.get("steps_done", 0)), step)
        self._save()

    def should_stop(self) -> bool:
        """A cancel stops the horse itself (RQ's stop-job command); this is for a horse whose worker died: the sweep
        has failed its job, so it stops at the next batch and `run_payload` exits without a result."""
        return self.orphaned()

    def orphaned(self) -> bool:
        return os.getppid() != self._parent

    def finish(self, status: str, message: str = "", curve: dict | None = None) -> None:
        _check_status(status)
        self.status, self.message = status, message
        if curve is not None:
            self._meta["curve"] = _plain(curve)
        self._save(force=True)


def _plain(values: Any) -> Any:
    """Report values as plain JSON numbers (Keras logs may hold NumPy scalars)."""
    if isinstance(values, dict):
        return {str(k): _plain(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [_plain(v) for v in values]
    if hasattr(values, "item") and callable(values.item):
        return values.item()
    return values


def run_payload(payload: str) -> str:
    """The body of every training job, in the work horse: decode the work spec, run it with reports into job.meta,
    and return the outcome as JSON: {"status", "message", "result"} (a plain failure is an outcome, not a crash)."""
    rq_job = get_current_job()
    conn = rq_job.connection
    nice = get_settings().training_nice
    if nice > 0:
        os.nice(nice)  # first, before the imports and the training: pages on the same machine must win the CPU
    job = _HorseJob(rq_job)
    rq_job.meta.update(started=time.time(), pid=os.getpid())
    rq_job.save_meta()
    outcome: dict[str, Any]
    try:
        try:
            work = job_codec.work_from(job_codec.loads(payload)["work"])
            value = work(job)
            if job.orphaned():
                os._exit(1)  # its worker died and the sweep failed the job: a result now would contradict that
            outcome = {"status": job.status, "message": job.message, "result": value}
        except ValueError as exc:  # core's plain-message errors, and a refused payload
            outcome = {"status": "failed", "message": str(exc), "result": None}
        except Exception as exc:
            traceback.print_exc()
            outcome = {"status": "failed", "message": _unexpected(exc), "result": None}
        try:
            text = job_codec.dumps(outcome)
        except Exception as exc:  # the codec cannot carry the value: a bug in the work function, said plainly
            traceback.print_exc()
            outcome = {"status": "failed", "message": _unexpected(exc), "result": None}
            text = job_codec.dumps(outcome)
        finished = time.time()
        rq_job.meta["finished"] = finished
        rq_job.save_meta()
        if outcome["status"] == "done":
            rq_queue.record_duration(conn, str(rq_job.meta.get("kind", "")), finished - rq_job.meta["started"])
        return text
    finally:
        conn.srem(rq_queue.ACTIVE_KEY, rq_job.id)
        rq_queue.release(conn, str(rq_job.meta.get("owner", "")), rq_job.id)
        conn.delete(rq_queue.alive_key(rq_job.id))


class FairWorker(Worker):
    """An RQ worker over every class's queue (new ones are picked up while it waits), dequeuing round-robin so each
    class in turn gets the next free worker; it sweeps abandoned jobs as it goes."""

    def __init__(self, connection, **kwargs):
        kwargs.setdefault("job_monitoring_interval", MONITOR_SECONDS)
        kwargs.setdefault("serializer", rq_queue.SERIALIZER)
        kwargs.setdefault("job_class", TrainingJob)
        self._last_sweep = 0.0
        super().__init__(self._queue_names(connection), connection=connection, **kwargs)

    @staticmethod
    def _queue_names(connection) -> list[str]:
        names = {n.decode() if isinstance(n, bytes) else n for n in connection.smembers(rq_queue.QUEUES_KEY)}
        return sorted(names | {rq_queue.queue_name("")})

    @property
    def dequeue_timeout(self) -> int:
        return DEQUEUE_SECONDS

    def _alive(self, job: RQJob) -> None:
        self.connection.set(rq_queue.alive_key(job.id), self.pid, px=int(rq_queue.ALIVE_SECONDS * 1000))

    def execute_job(self, job: RQJob, queue: Queue):
        self._alive(job)  # the job's heartbeat comes from this process, which never imports TensorFlow: a horse
        return super().execute_job(job, queue)  # busy importing it (holding the GIL) still counts as alive

    def maintain_heartbeats(self, job: RQJob):
        """Every MONITOR_SECONDS while the horse runs: RQ's heartbeats, and the job's own (the sweep's evidence)."""
        self._alive(job)
        return super().maintain_heartbeats(job)

    def heartbeat(self, *args, **kwargs):
        """RQ calls this before each wait for a job: pick up new class queues and sweep abandoned jobs too."""
        result = super().heartbeat(*args, **kwargs)
        known = set(self.queue_names())
        for name in self._queue_names(self.connection):
            if name not in known:
                queue = Queue(name, connection=self.connection, serializer=self.serializer, job_class=self.job_class)
                self.queues.append(queue)
                self._ordered_queues.append(queue)
        if time.monotonic() - self._last_sweep >= rq_queue.SWEEP_EVERY_SECONDS:
            self._last_sweep = time.monotonic()
            rq_queue.sweep(self.connection)
        return result


def main(burst: bool = False, name: str | None = None, url: str | None = None) -> dict:
    """`python -m core worker`: work until stopped (or, with `burst`, until the queues are empty)."""
    url = url or get_settings().redis_url
    if not url:
        raise JobError("Set MLX_REDIS_URL (e.g. redis://localhost:6379/0) to run a training worker.")
    conn = rq_queue.connect(url)
    worker = FairWorker(conn, name=name)
    rq_queue.sweep(conn)
    worked = worker.work(burst=burst, dequeue_strategy=DequeueStrategy.ROUND_ROBIN, logging_level="INFO")
    return {"worker": worker.name, "worked": bool(worked)}
