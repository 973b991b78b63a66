"""Trainings as RQ jobs on Redis (MLX_REDIS_URL): the app side. `RedisQueue` has the embedded JobQueue's interface
(submit, snapshot, cancel, job_for, estimate, position, overview, wait), so pages do not change; payloads and results
are JSON (RQ's JSONSerializer around core.engine.job_codec), never pickle. One active training per identity across
every app process (a Redis key set NX), one RQ queue per class, picked round-robin by the workers (core.engine.
rq_worker), durations per kind kept in Redis for the wait estimate, and abandoned jobs swept to failed."""

from __future__ import annotations

import re
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from statistics import median
from typing import Any

import redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import Worker

from core.engine import job_codec
from core.engine.job_slots import estimate_wait
from core.engine.job_workers import JobStatus
from core.engine.jobs import (
    DURATIONS_KEPT,
    KEEP_FINISHED_SECONDS,
    JobError,
    JobSnapshot,
    OwnerActivity,
    QueueEstimate,
    _copy_curve,
    default_kind,
)
from core.settings import get_settings
from core.store import identity

PREFIX = "mlx:"  # every key of ours; RQ's own are rq:*
QUEUE_PREFIX = "mlx-"  # RQ queue names: one per class ("mlx-class-ABC123"), "mlx-everyone" for people in none
QUEUES_KEY = PREFIX + "queues"  # the set of queue names the workers listen on
ACTIVE_KEY = PREFIX + "jobs:active"  # job ids queued or running, for the sweep
JOB_TIMEOUT_SECONDS = 4 * 3600  # RQ's own limit on one job's run
ALIVE_SECONDS = (
    10.0  # a running job's heartbeat key lives this long; its worker renews it every ALIVE_SECONDS / 5 (a thread)
)
START_GRACE_SECONDS = 20.0  # a job just taken by a worker may have no heartbeat yet
SWEEP_EVERY_SECONDS = 2.0  # an app process sweeps abandoned jobs at most this often
UNAVAILABLE = (
    "Trainings are unavailable right now: the training service cannot be reached. Predictions and everything else "
    "still work; try again in a few minutes."
)
WORKER_DIED = (
    "The training's worker stopped unexpectedly (its machine or process died); nothing was saved. Start it again."
)
PROCESS_DIED = "The training process stopped unexpectedly; nothing was saved. Start it again."
STOPPED = "Cancelled. Nothing was saved."
CANCELLED_QUEUED = "Cancelled while waiting in the queue."
SERIALIZER = JSONSerializer
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def active_key(owner: str) -> str:
    return f"{PREFIX}active:{owner}"


def session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def latest_key(owner: str) -> str:
    """The owner's latest job, whatever its session key: what a class's teacher sees of it (activity_of)."""
    return f"{PREFIX}latest:{owner}"


def alive_key(job_id: str) -> str:
    return f"{PREFIX}alive:{job_id}"


def stop_key(job_id: str) -> str:
    """Set by Cancel; the worker running the job polls it (core.engine.rq_worker) and stops the training."""
    return f"{PREFIX}stop:{job_id}"


def durations_key(kind: str) -> str:
    return f"{PREFIX}durations:{kind}"


def queue_name(group: str) -> str:
    """The RQ queue of a class (its code), or of everyone in no class."""
    return QUEUE_PREFIX + ("class-" + _SAFE.sub("_", group)[:64] if group else "everyone")


def connect(url: str | None = None) -> redis.Redis:
    """A client for MLX_REDIS_URL with short timeouts, so a Redis that is down is a plain error within seconds."""
    return redis.Redis.from_url(url or get_settings().redis_url, socket_connect_timeout=3, socket_timeout=10)


def release(conn: redis.Redis, owner: str, job_id: str) -> None:
    """Free `owner`'s one-training slot if `job_id` still holds it (compare and delete, in one Redis call)."""
    conn.eval(_RELEASE, 1, active_key(owner), job_id)


def record_duration(conn: redis.Redis, kind: str, seconds: float) -> None:
    pipe = conn.pipeline()
    pipe.lpush(durations_key(kind), float(seconds))
    pipe.ltrim(durations_key(kind), 0, DURATIONS_KEPT - 1)
    pipe.execute()


def fair_order(queues: dict[str, list[str]]) -> list[str]:
    """The order round-robin workers take the waiting jobs in: the first of each queue (queues in the given order),
    then the second of each, and so on; so a class with 30 waiting jobs does not hold back a class with one."""
    order, depth = [], max((len(ids) for ids in queues.values()), default=0)
    for i in range(depth):
        order.extend(ids[i] for ids in queues.values() if i < len(ids))
    return order


def fail_abandoned(conn: redis.Redis, job: RQJob, message: str) -> None:
    """Mark a started job whose worker is gone as failed, with `message`, and free its owner's slot."""
    pipe = conn.pipeline()
    job.meta.update(message=message, finished=time.time())
    job.set_status(RQStatus.FAILED, pipeline=pipe)
    pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
    StartedJobRegistry(job.origin, connection=conn).remove_executions(job, pipeline=pipe)
    FailedJobRegistry(job.origin, connection=conn).add(
        job, ttl=KEEP_FINISHED_SECONDS, exc_string=message, pipeline=pipe
    )
    pipe.srem(ACTIVE_KEY, job.id)
    pipe.execute()
    release(conn, str(job.meta.get("owner", "")), job.id)


def sweep(conn: redis.Redis, now: float | None = None) -> int:
    """Fail every job that runs with no heartbeat (its worker or machine died) and forget finished ones; returns how
    many were failed. Run by app processes and workers alike; idempotent."""
    now = time.time() if now is None else now
    failed = 0
    for raw in conn.smembers(ACTIVE_KEY):
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            job = RQJob.fetch(job_id, connection=conn, serializer=SERIALIZER)
        except NoSuchJobError:
            conn.srem(ACTIVE_KEY, job_id)
            continue
        status = job.get_status(refresh=False)
        if status in (RQStatus.QUEUED, RQStatus.DEFERRED, RQStatus.SCHEDULED):
            continue
        if status == RQStatus.STARTED:
            started = float(job.meta.get("started") or _epoch(job.started_at) or now)
            if conn.exists(alive_key(job_id)) or now - started < START_GRACE_SECONDS:
                continue
            fail_abandoned(conn, job, WORKER_DIED)
            failed += 1
            continue
        conn.srem(ACTIVE_KEY, job_id)  # ended one way or another: its owner may start again
        release(conn, str(job.meta.get("owner", "")), job_id)
    return failed


def _epoch(moment) -> float | None:
    return moment.timestamp() if moment is not None else None


class RedisJob:
    """A handle on one RQ training: what `submit` and `job_for` return. Reads come from Redis each time."""

    def __init__(self, queue: RedisQueue, job_id: str, session_id: str = "", title: str = "", kind: str = ""):
        self._queue, self.id = queue, job_id
        self.session_id, self.title, self.kind = session_id, title, kind

    def snapshot(self) -> JobSnapshot:
        snap = self._queue._snapshot_of(self.id)
        if snap is None:
            raise JobError("This training's record is gone from the training service.")
        return snap

    @property
    def status(self) -> JobStatus:
        return self.snapshot().status

    @property
    def message(self) -> str:
        return self.snapshot().message

    @property
    def result(self) -> Any:
        return self.snapshot().result

    @property
    def active(self) -> bool:
        return self.snapshot().active

    @property
    def notes(self) -> tuple[str, ...]:
        return self.snapshot().notes

    def cancel(self) -> None:
        self._queue._cancel_job(self.id)


class RedisQueue:
    """The job queue on Redis. Every app process builds its own; they share everything through Redis."""

    def __init__(self, url: str | None = None, clock: Callable[[], float] = time.time):
        self.url = url or get_settings().redis_url
        self.conn = connect(self.url)
        self._clock = clock
        self._last_sweep = 0.0
        self._results: OrderedDict[str, Any] = OrderedDict()  # decoded results by job id (a poll re-reads none)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ submit

    def submit(
        self,
        session_id: str,
        title: str,
        work: Callable,
        kind: str | None = None,
        owner: str = "",
        request: dict | None = None,
        notes: Sequence[str] = (),
        group: str | None = None,
    ) -> RedisJob:
        """Queue `work` (sent as JSON, core.engine.job_codec) under `session_id`; JobError for a second active job of
        the same owner in any app process, or when Redis cannot be reached. `group` is the fairness group (default:
        the owner's class)."""
        if not session_id:
            raise JobError("A training needs a session id.")
        spec = job_codec.work_spec(work)  # TypeError for a lambda or an unregistered function, before anything queues
        owner = owner or session_id
        kind = kind or default_kind(title)
        job_id = uuid.uuid4().hex[:16]
        try:
            if group is None:
                group = _class_of(owner)
            self.sweep(force=True)
            self._claim(owner, job_id, title)
            try:
                name = queue_name(group)
                self.conn.sadd(QUEUES_KEY, name)
                meta = {
                    "owner": owner,
                    "session": session_id,
                    "title": title,
                    "kind": kind,
                    "group": group,
                    "request": dict(request) if request is not None else None,
                    "notes": list(notes),
                    "created": self._clock(),
                }
                payload = job_codec.dumps({"work": spec})
                self.conn.sadd(ACTIVE_KEY, job_id)
                Queue(name, connection=self.conn, serializer=SERIALIZER).enqueue(
                    "core.engine.rq_worker.run_payload",
                    payload,
                    job_id=job_id,
                    meta=meta,
                    description=title,
                    result_ttl=KEEP_FINISHED_SECONDS,
                    failure_ttl=KEEP_FINISHED_SECONDS,
                    job_timeout=JOB_TIMEOUT_SECONDS,
                )
                self.conn.set(session_key(session_id), job_id, ex=KEEP_FINISHED_SECONDS + JOB_TIMEOUT_SECONDS)
                self.conn.set(latest_key(owner), job_id, ex=KEEP_FINISHED_SECONDS + JOB_TIMEOUT_SECONDS)
            except BaseException:
                release(self.conn, owner, job_id)
                self.conn.srem(ACTIVE_KEY, job_id)
                raise
        except redis.exceptions.RedisError:
            traceback.print_exc()
            raise JobError(UNAVAILABLE) from None
        return RedisJob(self, job_id, session_id, title, kind)

    def _claim(self, owner: str, job_id: str, title: str) -> None:
        for _ in range(3):
            if self.conn.set(active_key(owner), job_id, nx=True, ex=KEEP_FINISHED_SECONDS + JOB_TIMEOUT_SECONDS):
                return
            holder = self.conn.get(active_key(owner))
            holder = holder.decode() if isinstance(holder, bytes) else holder
            snap = self._snapshot_of(holder) if holder else None
            if snap is not None and snap.active:
                raise JobError(
                    f"A training is already running for you ({snap.title}): wait for it to finish or cancel it "
                    "before starting another one."
                )
            if holder:
                release(self.conn, owner, holder)  # its job ended (or is gone): the slot is free
        raise JobError("Another training was being started for you at the same moment: try again.")

    # ------------------------------------------------------------ read

    def job_for(self, session_id: str) -> RedisJob | None:
        try:
            job_id = self.conn.get(session_key(session_id))
        except redis.exceptions.RedisError:
            return None
        if job_id is None:
            return None
        job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
        return RedisJob(self, job_id, session_id)

    def snapshot(self, session_id: str) -> JobSnapshot | None:
        """The session's latest job as a view sees it (None: no job, or Redis is down: the page still draws, and
        Start says why trainings are unavailable), with its estimate while it waits."""
        try:
            self.sweep()
            job = self.job_for(session_id)
            snap = self._snapshot_of(job.id) if job is not None else None
            if snap is not None and snap.status == "queued":
                snap = replace(snap, estimate=self.estimate(job))
            return snap
        except redis.exceptions.RedisError:
            traceback.print_exc()
            return None

    def activity_of(self, owner: str) -> OwnerActivity | None:
        """As JobQueue.activity_of, across every app process: where `owner`'s latest training stands, without its
        details; None when they have none (or Redis is down)."""
        if not owner:
            return None
        try:
            job_id = self.conn.get(latest_key(owner))
            if job_id is None:
                return None
            job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
            snap = self._snapshot_of(job_id)
            if snap is None:
                return None
            position = self.position(RedisJob(self, job_id)) if snap.status == "queued" else 0
        except redis.exceptions.RedisError:
            return None
        return OwnerActivity(snap.status, 1.0 if snap.status == "done" else snap.progress, position)

    def _snapshot_of(self, job_id: str) -> JobSnapshot | None:
        try:
            job = RQJob.fetch(job_id, connection=self.conn, serializer=SERIALIZER)
        except NoSuchJobError:
            return None
        meta, now = job.meta, self._clock()
        status, message, result, curve = self._outcome(job)
        epochs, spe, done = (
            int(meta.get("epochs", 0)),
            int(meta.get("steps_per_epoch", 0)),
            int(meta.get("steps_done", 0)),
        )
        total = epochs * spe
        started, finished = meta.get("started"), meta.get("finished")
        eta = None
        if status == "running" and meta.get("train_started") and done and total:
            eta = max(0.0, (now - float(meta["train_started"])) / done * (total - done))
        return JobSnapshot(
            id=job.id,
            title=str(meta.get("title", job.description or "")),
            kind=str(meta.get("kind", "")),
            status=status,
            message=message,
            epochs=epochs,
            steps_per_epoch=spe,
            steps_done=done,
            progress=min(1.0, done / total) if total else 0.0,
            eta_seconds=eta,
            elapsed_seconds=((finished or now) - (started or now)) if started else 0.0,
            epoch_logs=tuple(meta.get("epoch_logs", ())),
            batch_logs=tuple(meta.get("batch_logs", ())),
            cancel_requested=bool(meta.get("cancel_requested"))
            or (status == "running" and bool(self.conn.exists(stop_key(job.id)))),
            notes=tuple(meta.get("notes", ())),
            curve=_copy_curve(curve),
            result=result,
            request=meta.get("request"),
        )

    def _outcome(self, job: RQJob) -> tuple[JobStatus, str, Any, dict | None]:
        """(status, message, result, curve) from RQ's status and the job's own envelope."""
        status = job.get_status(refresh=False)
        meta = job.meta
        if status in (RQStatus.QUEUED, RQStatus.DEFERRED, RQStatus.SCHEDULED):
            return "queued", "", None, None
        if status == RQStatus.STARTED:
            return "running", "", None, meta.get("curve")
        if status == RQStatus.STOPPED:
            return "cancelled", STOPPED, None, meta.get("curve")
        if status == RQStatus.CANCELED:
            return "cancelled", CANCELLED_QUEUED, None, None
        if status == RQStatus.FINISHED:
            envelope = self._result(job)
            if envelope is not None:
                return envelope["status"], envelope["message"], envelope["result"], meta.get("curve")
        return "failed", str(meta.get("message") or PROCESS_DIED), None, meta.get("curve")

    def _result(self, job: RQJob) -> dict | None:
        with self._lock:
            if job.id in self._results:
                return self._results[job.id]
        text = job.return_value(refresh=False)
        if not isinstance(text, str):
            return None
        envelope = job_codec.loads(text)
        with self._lock:
            self._results[job.id] = envelope
            while len(self._results) > 64:
                self._results.popitem(last=False)
        return envelope

    # ------------------------------------------------------------ cancel

    def cancel(self, session_id: str) -> bool:
        job = self.job_for(session_id)
        if job is None:
            return False
        try:
            return self._cancel_job(job.id)
        except redis.exceptions.RedisError:
            traceback.print_exc()
            return False

    def _cancel_job(self, job_id: str) -> bool:
        """A queued job leaves its queue (RQ's cancel); a running one gets its stop key, which its worker polls, and
        RQ's stop command, which its worker hands on at once (core.engine.rq_worker): its training stops, cancelled."""
        try:
            job = RQJob.fetch(job_id, connection=self.conn, serializer=SERIALIZER)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status in (RQStatus.QUEUED, RQStatus.DEFERRED, RQStatus.SCHEDULED):
            job.cancel()
            self.conn.srem(ACTIVE_KEY, job_id)
            release(self.conn, str(job.meta.get("owner", "")), job_id)
            return True
        if status != RQStatus.STARTED:
            return False
        self.conn.set(stop_key(job_id), 1, ex=KEEP_FINISHED_SECONDS + JOB_TIMEOUT_SECONDS)
        try:
            send_stop_job_command(self.conn, job_id, serializer=SERIALIZER)
        except InvalidJobOperation:
            pass  # no worker named yet, or it has just ended: the stop key is enough
        return True

    # ------------------------------------------------------------ the queue's state

    def sweep(self, force: bool = False) -> int:
        now = time.monotonic()
        if not force and now - self._last_sweep < SWEEP_EVERY_SECONDS:
            return 0
        self._last_sweep = now
        return sweep(self.conn)

    def record(self, kind: str, seconds: float) -> None:
        record_duration(self.conn, kind, seconds)

    def typical_seconds(self, kind: str) -> float | None:
        seen = [float(x) for x in self.conn.lrange(durations_key(kind), 0, DURATIONS_KEPT - 1)]
        return median(seen) if seen else None

    def _waiting(self) -> dict[str, list[str]]:
        names = sorted(n.decode() if isinstance(n, bytes) else n for n in self.conn.smembers(QUEUES_KEY))
        return {n: Queue(n, connection=self.conn, serializer=SERIALIZER).get_job_ids() for n in names}

    def limit(self) -> int:
        """How many trainings run at once: the workers listening (each runs one job at a time); at least 1."""
        return max(1, Worker.count(connection=self.conn))

    def position(self, job: RedisJob) -> int:
        order = fair_order(self._waiting())
        return order.index(job.id) + 1 if job.id in order else 0

    def estimate(self, job: RedisJob) -> QueueEstimate:
        """As JobQueue.estimate, over every app process: the fair order of the waiting jobs, the workers as slots, and
        the durations measured per kind in Redis."""
        order = fair_order(self._waiting())
        running = [s for s in (self._snapshot_of(i) for i in self._running_ids()) if s is not None]
        limit = self.limit()
        queue = QueueEstimate(running=len(running), waiting=len(order), limit=limit)
        snap = self._snapshot_of(job.id)
        if snap is None or not snap.active:
            return replace(queue, remaining_seconds=0.0)
        if snap.status == "running":
            return replace(queue, remaining_seconds=self._remaining(snap))
        if job.id not in order:
            return queue
        ahead = order[: order.index(job.id)]
        ends = sorted((self._remaining(s) for s in running), key=lambda t: float("inf") if t is None else t)
        slots = ends[max(0, len(ends) - limit) :] + [0.0] * max(0, limit - len(ends))
        kinds = [RQJob.fetch(i, connection=self.conn, serializer=SERIALIZER).meta.get("kind", "") for i in ahead]
        wait = estimate_wait(slots, [self.typical_seconds(k) for k in kinds])
        if not Worker.count(connection=self.conn):
            wait = None  # no worker is listening yet: nobody can say when one will be
        return replace(queue, position=len(ahead) + 1, wait_seconds=wait)

    def _remaining(self, snap: JobSnapshot) -> float | None:
        typical = self.typical_seconds(snap.kind)
        guesses = [snap.eta_seconds]
        if typical is not None:
            guesses.append(typical - snap.elapsed_seconds)
        known = [g for g in guesses if g is not None]
        return max(0.0, *known) if known else None

    def _running_ids(self) -> list[str]:
        ids = []
        for raw in self.conn.smembers(ACTIVE_KEY):
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            if self.conn.exists(alive_key(job_id)):
                ids.append(job_id)
        return ids

    def overview(self) -> dict:
        return {"running": len(self._running_ids()), "waiting": len(fair_order(self._waiting())), "limit": self.limit()}

    def wait(self, job: RedisJob, timeout: float | None = None) -> bool:
        """Block until `job` has ended (for the CLI and tests); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.sweep()
            snap = self._snapshot_of(job.id)
            if snap is None or not snap.active:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            threading.Event().wait(0.2)


def _class_of(owner: str) -> str:
    """The owner's class code ("" none): the fairness group."""
    try:
        return identity.class_code(owner)
    except Exception:  # an unreadable profile puts the job in the everyone queue rather than refusing it
        return ""
