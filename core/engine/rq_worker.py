"""Trainings as RQ jobs on Redis: the worker side. `python -m core worker` runs `FairWorker` on any machine (it reads
MLX_REDIS_URL): it listens on every class's queue, round-robin, and runs each job in its own process, as RQ's
SimpleWorker does (no horse forked per job). The job function, `run_payload`, hands the JSON work spec to a warm
training process of core.engine.job_workers that keeps TensorFlow loaded from one job to the next; so TensorFlow is
never imported by the worker itself, and a training starts without importing it again. Reports go into job.meta; a
cancel reaches the training through a Redis key; a thread keeps the job's heartbeat key alive."""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

import redis
from rq import Queue, get_current_job
from rq.job import Job as RQJob
from rq.worker import DequeueStrategy, SimpleWorker

from core.engine import job_codec, job_workers, rq_queue
from core.engine.job_workers import _check_status, _unexpected
from core.engine.jobs import JobError
from core.settings import get_settings

RUN_PATH = "core.engine.rq_worker.run_payload"
SAVE_EVERY_SECONDS = 0.5  # batch reports reach Redis at most this often (epochs, plans and the end at once)
STOP_POLL_SECONDS = 0.25  # a running job looks for its cancel key this often
DEQUEUE_SECONDS = 5  # a waiting worker looks for new class queues this often
QUIT_SECONDS = 5  # a quitting worker's idle training process has this long to exit by itself (then SIGTERM)
MONITOR_SECONDS = 2  # while a job runs, its worker renews the job's heartbeat this often (ALIVE_SECONDS lets 4 go by)
_RELAYS: dict[str, _RelayJob] = {}  # the running job of this worker (by id), for RQ's stop-job command


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


class _RelayJob:
    """The Job as core.engine.job_workers.run_in_process sees it in the worker: the training process's reports go into
    the RQ job's meta (batches at most every SAVE_EVERY_SECONDS), and a cancel is read from Redis (its stop key) or
    set by RQ's stop-job command."""

    def __init__(self, rq_job: RQJob):
        self._job, self._meta, self._conn = rq_job, rq_job.meta, rq_job.connection
        self._saved = self._polled = 0.0
        self.stop = threading.Event()
        self.status, self.message = "done", ""

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved >= SAVE_EVERY_SECONDS:
            self._saved = now
            try:
                self._job.save_meta()
            except redis.exceptions.RedisError:  # Redis away for a moment: the training goes on, a later save says it
                traceback.print_exc()

    @property
    def pid(self) -> int | None:
        return self._meta.get("pid")

    @pid.setter
    def pid(self, pid: int) -> None:
        self._meta["pid"] = int(pid)
        self._save(force=True)

    def process_started(self, info: dict) -> None:
        """The training process took the job: which one, after how many jobs, and whether TensorFlow was loaded."""
        self._meta.update(pid=int(info["pid"]), warm=bool(info["tensorflow_loaded"]), jobs_before=info["jobs_done"])
        self._meta["process_started"] = time.time()
        self._save(force=True)

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

    @property
    def cancel_requested(self) -> bool:
        """Asked by run_in_process between reports: True once the job's stop key exists (or RQ's stop-job command
        came), so it closes the training process's control pipe and the training stops at its next batch."""
        if not self.stop.is_set() and time.monotonic() - self._polled >= STOP_POLL_SECONDS:
            self._polled = time.monotonic()
            try:
                if self._conn.exists(rq_queue.stop_key(self._job.id)):
                    self.stop.set()
            except redis.exceptions.RedisError:
                traceback.print_exc()  # asked again at the next poll
        if self.stop.is_set() and not self._meta.get("cancel_requested"):
            self._meta["cancel_requested"] = True
            self._save(force=True)
        return self.stop.is_set()

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
    """The body of every training job, in the worker: run the work spec in a warm training process with reports into
    job.meta, and return the outcome as JSON: {"status", "message", "result"} (a plain failure is an outcome, not a
    crash). The spec stays data here: its function is imported and its arguments built only in the training process."""
    rq_job = get_current_job()
    conn = rq_job.connection
    job = _RelayJob(rq_job)
    _RELAYS[rq_job.id] = job
    rq_job.meta.update(started=time.time())
    rq_job.save_meta()
    outcome: dict[str, Any]
    try:
        try:
            kind, value = job_workers.run_in_process(job, job_codec.loads(payload)["work"])
            if kind == "result":
                outcome = {"status": job.status, "message": job.message, "result": value}
            else:  # failed, or cancelled by force; a training process that died says how
                outcome = {"status": kind, "message": value, "result": None}
        except ValueError as exc:  # a payload that is not one of ours
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
        _RELAYS.pop(rq_job.id, None)
        conn.srem(rq_queue.ACTIVE_KEY, rq_job.id)
        rq_queue.release(conn, str(rq_job.meta.get("owner", "")), rq_job.id)
        conn.delete(rq_queue.alive_key(rq_job.id), rq_queue.stop_key(rq_job.id))


class FairWorker(SimpleWorker):
    """An RQ worker over every class's queue (new ones are picked up while it waits), dequeuing round-robin so each
    class in turn gets the next free worker; it sweeps abandoned jobs as it goes. Each job runs in this process (no
    horse), and its training in the one warm training process this worker keeps (core.engine.job_workers)."""

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

    def _alive(self, job: RQJob, renew: bool = False) -> None:
        """The job's heartbeat key (the sweep's evidence that its worker lives); `renew` never brings back a key the
        job's end has deleted."""
        ms = int(rq_queue.ALIVE_SECONDS * 1000)
        self.connection.set(rq_queue.alive_key(job.id), self.pid, px=ms, xx=renew)

    def _beat(self, job: RQJob, done: threading.Event) -> None:
        """Every MONITOR_SECONDS until the job ends: the job's heartbeat key and RQ's worker heartbeat. A thread of this
        process, which never imports TensorFlow, so a training busy in its own process never delays it."""
        while not done.wait(MONITOR_SECONDS):
            try:
                self._alive(job, renew=True)
                SimpleWorker.heartbeat(self)
            except redis.exceptions.RedisError:
                traceback.print_exc()  # the next beat tries again; the sweep allows ALIVE_SECONDS

    def execute_job(self, job: RQJob, queue: Queue):
        self._alive(job)
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, done), name="mlx-heartbeat", daemon=True)
        beat.start()
        try:
            return super().execute_job(job, queue)
        finally:
            done.set()
            beat.join()
            self._stopped_job_id = None
            try:  # a training process cancelled, killed or worn out: its successor warms up now (unless we quit)
                if not self._stop_requested:
                    job_workers.ensure_warm()
            except OSError:
                traceback.print_exc()  # the next job starts one itself

    def kill_horse(self, sig=None) -> None:
        """RQ's stop-job command ends here (command.handle_stop_job_command, after it set `_stopped_job_id`): there is
        no horse, so the running job's training process is told to stop instead."""
        relay = _RELAYS.get(self._stopped_job_id or "")
        if relay is not None:
            relay.stop.set()

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
    """`python -m core worker`: work until stopped (or, with `burst`, until the queues are empty). A training process
    starts at once and imports MLX_WORKER_PRELOAD (TensorFlow), so the first job finds it warm too; it is kept for as
    long as the worker runs."""
    settings = get_settings()
    url = url or settings.redis_url
    if not url:
        raise JobError("Set MLX_REDIS_URL (e.g. redis://localhost:6379/0) to run a training worker.")
    conn = rq_queue.connect(url)
    worker = FairWorker(conn, name=name)
    rq_queue.sweep(conn)
    job_workers.keep_warm([m.strip() for m in settings.worker_preload.split(",") if m.strip()], idle_seconds=None)
    warm = job_workers.ensure_warm()
    try:
        worked = worker.work(burst=burst, dequeue_strategy=DequeueStrategy.ROUND_ROBIN, logging_level="INFO")
    finally:
        job_workers.retire_idle_workers(wait=QUIT_SECONDS)
    return {"worker": worker.name, "worked": bool(worked), "first_training_process": warm}
