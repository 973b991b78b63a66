"""Background training jobs: as many at once as the machine's cores and memory allow (later ones wait in a
first-come queue, with a wait estimated from measured durations), each in a low-priority worker process (kept warm
for the next job a while) or a server thread, with progress, an ETA, cancel and results. Jobs are keyed by a user's
identity, so a person can leave the page and come back. No UI here: pages read typed, frozen copies
(`JobQueue.snapshot()` -> JobSnapshot, with a QueueEstimate while the job waits)."""

from __future__ import annotations

import math
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any

import psutil

from core.engine import job_codec, job_records
from core.engine.job_slots import cpu_slots, estimate_wait, memory_slots
from core.engine.job_workers import (
    ACTIVE,
    JobStatus,
    _check_status,
    _Reporting,
    _rss_mb,
    _unexpected,
    idle_workers,
    run_in_process,
)
from core.settings import get_settings

KEEP_FINISHED_SECONDS = 6 * 3600  # a finished job's results stay this long for a session that comes back
# The worker processes' timings (CANCEL_GRACE_SECONDS, WORKER_IDLE_SECONDS, ...) live in core.engine.job_workers.
DURATIONS_KEPT = 20  # finished durations remembered per kind: a steady median that still follows the server's load


class JobError(ValueError):
    """A job request that cannot be accepted (e.g. a second training from the same session)."""


def _copy_curve(curve: dict | None) -> dict | None:
    """A copy a view may keep: its lists and records are new objects, so a later change cannot reach them."""
    if curve is None:
        return None
    return {
        k: ([dict(r) for r in v] if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in curve.items()
    }


@dataclass(frozen=True)
class QueueEstimate:
    """Where a job stands in the queue at one moment (`JobQueue.estimate`): plain numbers, JSON-friendly."""

    position: int = 0  # 1 for the next job to start, 2 for the one after, ...; 0 when the job is not waiting
    wait_seconds: float | None = 0.0  # until it starts: 0 once it runs; None while a duration it needs is unmeasured
    remaining_seconds: float | None = None  # once it runs (None: unknown yet); 0 once it has finished
    running: int = 0  # the queue's jobs running now...
    waiting: int = 0  # ...waiting now...
    limit: int = 1  # ...and how many may run at once


@dataclass(frozen=True)
class JobSnapshot:
    """One job as a view sees it at one moment: copied under the job's lock, so it never changes afterwards.

    Every field but `result` holds plain values (str, int, float, None, tuples, dicts of those): JSON-friendly.
    `result` is the work function's return value as it is (e.g. a retrain outcome), None until the job is done."""

    id: str
    title: str
    kind: str
    status: JobStatus
    message: str  # why it ended when it failed, was cancelled or diverged ("" otherwise)
    epochs: int  # 0 until the work has declared its amount (`Job.plan`)
    steps_per_epoch: int
    steps_done: int
    progress: float  # 0..1
    eta_seconds: float | None  # seconds left from the pace so far; None before the first report or when not running
    elapsed_seconds: float
    epoch_logs: tuple[dict, ...]  # one dict per finished epoch: {"epoch": 1, "loss": ...}
    batch_logs: tuple[dict, ...]  # every reported batch: {"step": 40, "epoch": 1, "loss": ...}
    cancel_requested: bool
    notes: tuple[str, ...]  # things worth telling the user, e.g. that text was cut
    curve: dict | None  # a diverged run's loss up to the divergence
    result: Any = None
    estimate: QueueEstimate | None = None  # filled by `JobQueue.snapshot` while the job waits in the queue
    request: dict | None = None  # what the job was asked to do, as plain values (a retrain's family and settings)

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE

    @property
    def epoch(self) -> int:
        """The epoch under way (1-based; the last one once all are done); 0 before the work declared its amount."""
        if not self.epochs:
            return 0
        return min(self.epochs, self.steps_done // max(1, self.steps_per_epoch) + 1)


@dataclass(frozen=True)
class OwnerActivity:
    """What a class's teacher may see of one person's latest training (`JobQueue.activity_of`): where it stands, and
    nothing of its settings, logs, messages or results."""

    status: JobStatus
    progress: float  # 0..1 while running; 1.0 once done
    position: int  # 1 for the next job to start, ...; 0 when the job is not waiting


@dataclass
class Job(_Reporting):
    """One training job. The worker writes to it; the page reads `snapshot()`; `cancel()` may come from anywhere."""

    session_id: str  # the user's identity: one running or queued job per identity
    title: str
    kind: str = ""  # jobs of one kind take about as long as each other: the queue's wait estimate goes by it
    owner: str = ""  # whose job: one active job per owner, whatever its key
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: JobStatus = "queued"
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    epochs: int = 0
    steps_per_epoch: int = 0
    steps_done: int = 0
    epoch_logs: list[dict] = field(default_factory=list)  # one dict per finished epoch: {"epoch": 1, "loss": ...}
    batch_logs: list[dict] = field(default_factory=list)  # every reported batch: {"step": 40, "loss": ...}
    result: Any = None
    notes: list[str] = field(default_factory=list)  # things worth telling the user, e.g. that text was cut
    curve: dict | None = None  # a diverged run's loss up to the divergence (core.training.TrainResult.loss_curve)
    worker: str = ""  # "process" or "thread", fixed when submitted; "restarted": a record a dead server left
    pid: int | None = None  # the worker process's id, in process mode
    request: dict | None = None  # what it was asked to do (plain values): a page restores its form from it on a reload
    _train_started: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------ called by the work function (worker thread)

    def plan(self, epochs: int, steps_per_epoch: int) -> None:
        """Declare the amount of work, so progress and ETA can be computed; starts the ETA clock."""
        with self._lock:
            self.epochs, self.steps_per_epoch = int(epochs), max(1, int(steps_per_epoch))
            self.steps_done = 0
            self._train_started = time.time()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        with self._lock:
            self.epoch_logs.append({"epoch": epoch + 1, **logs})
            self.steps_done = (epoch + 1) * self.steps_per_epoch

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None:
        with self._lock:
            step = epoch * self.steps_per_epoch + batch + 1
            self.batch_logs.append({"step": step, "epoch": epoch + 1, **logs})
            self.steps_done = max(self.steps_done, step)

    def should_stop(self) -> bool:
        return self._cancel.is_set()

    def finish(self, status: str, message: str = "", curve: dict | None = None) -> None:
        """Let the work function end as 'cancelled' or 'diverged' (with a message) instead of 'done'; `curve` is
        what it recorded up to the divergence, kept for the view after the run ended."""
        _check_status(status)
        with self._lock:
            self.status, self.message = status, message
            if curve is not None:
                self.curve = curve

    # ------------------------------------------------------------ read by anyone

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def progress(self) -> float:
        total = self.epochs * self.steps_per_epoch
        return min(1.0, self.steps_done / total) if total else 0.0

    def eta_seconds(self) -> float | None:
        """Seconds left, from the average pace so far; None before the first report."""
        if self._train_started is None or not self.steps_done or self.status != "running":
            return None
        elapsed = time.time() - self._train_started
        total = self.epochs * self.steps_per_epoch
        return max(0.0, elapsed / self.steps_done * (total - self.steps_done))

    def snapshot(self) -> JobSnapshot:
        """A consistent, frozen copy of everything a view needs (the logs and the curve are copied under the lock)."""
        with self._lock:
            return JobSnapshot(
                id=self.id,
                title=self.title,
                kind=self.kind,
                status=self.status,
                message=self.message,
                epochs=self.epochs,
                steps_per_epoch=self.steps_per_epoch,
                steps_done=self.steps_done,
                progress=self.progress(),
                eta_seconds=self.eta_seconds(),
                elapsed_seconds=(self.finished or time.time()) - (self.started or time.time()),
                # A log record is never changed once appended: sharing the records is safe, and cheap at every poll.
                epoch_logs=tuple(self.epoch_logs),
                batch_logs=tuple(self.batch_logs),
                cancel_requested=self.cancel_requested,
                notes=tuple(self.notes),
                curve=_copy_curve(self.curve),
                result=self.result,
                request=dict(self.request) if self.request is not None else None,
            )


def default_kind(title: str) -> str:
    """The kind a job gets when none is given: its title up to the first colon ("Retrain colors: 20 epochs, ..." ->
    "Retrain colors"), so jobs of one model family share their measured durations."""
    return title.split(":", 1)[0].strip() or title


class JobQueue:
    """Runs each job in its own worker (process or thread); a job waits until it is first in line and fewer than
    `limit()` run.

    `worker` is "process", "thread", or None to read MLX_TRAINING_WORKER (get_settings().training_worker) when each
    job is submitted. In process mode the work function crosses as JSON (core.engine.job_codec), so it must be a
    registered top-level function, or a functools.partial of one over values the codec carries: `submit` raises
    TypeError for a lambda or a local closure instead of quietly running it in the server, which would undo the point
    of the mode.
    `limit` replaces the default rule (`cpu_slots` and `memory_slots`); `clock` is the time source of the start and
    end times and of the estimates (a fake one in tests).
    """

    def __init__(
        self,
        limit: Callable[[], int] | None = None,
        worker: str | None = None,
        clock: Callable[[], float] = time.time,
        records: bool = True,
    ):
        if worker not in (None, "process", "thread"):
            raise ValueError(f"Unknown worker {worker!r}: use 'process', 'thread' or None (the setting).")
        # The limit is re-read while waiting, so an environment change (or memory freed) reaches queued jobs too.
        self._limit = limit or self._default_limit
        self._worker = worker
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._running: dict[str, Job] = {}
        self._by_session: dict[str, Job] = {}
        self._durations: dict[str, deque[float]] = {}
        self._records = records  # each job's record on disk (core.engine.job_records), so a restart loses none
        self._recovered: set[str] = set()  # the record folders read at start (one per MLX_USER_DATA_DIR)
        self._disk = threading.Lock()

    def submit(
        self,
        session_id: str,
        title: str,
        work: Callable[[Job], Any],
        kind: str | None = None,
        owner: str = "",
        request: dict | None = None,
        notes: Sequence[str] = (),
        group: str | None = None,
    ) -> Job:
        """Queue `work(job)` under the key `session_id`; refuses a second active job of the same `owner` (the user's
        identity, default the key), so a user's Retrain, Teach and run-to-run jobs never run side by side.
        `kind` groups jobs that take about as long as each other (default: `default_kind(title)`); `request` is what
        the job was asked for, in plain values, for a page that rebuilds its form after a reload; `notes` are things
        to tell the user. `group` (a class, for the Redis queue's fairness) means nothing here: one process, one line."""
        if not session_id:
            raise JobError("A training needs a session id.")
        worker = self._worker or get_settings().training_worker
        payload = _encoded(work) if worker == "process" else None
        self._recover()
        with self._cond:
            owner = owner or session_id
            current = next((j for j in self._by_session.values() if j.active and j.owner == owner), None)
            if current is not None:
                raise JobError(
                    f"A training is already running for you ({current.title}): wait for it to finish or cancel it "
                    "before starting another one."
                )
            self._forget_old()
            job = Job(
                session_id=session_id,
                title=title,
                kind=kind or default_kind(title),
                worker=worker,
                owner=owner,
                request=dict(request) if request is not None else None,
                notes=list(notes),
            )
            self._waiting.append(job)
            previous = self._by_session.get(session_id)
            self._by_session[session_id] = job
        if previous is not None and previous.worker == "restarted":
            self._forget_record(previous.id)  # the panel now shows the new job, so the restart note is done
        self._save(job)
        threading.Thread(target=self._run, args=(job, work, payload), name=f"train-{job.id}", daemon=True).start()
        return job

    def limit(self) -> int:
        """How many jobs may run at once now (at least 1, so the queue always moves)."""
        return max(1, int(self._limit()))

    def _default_limit(self) -> int:
        settings = get_settings()
        rss = []
        for job in list(self._running.values()):
            if job.pid is None:
                continue  # a thread job's memory is already in the server's
            try:
                rss.append(psutil.Process(job.pid).memory_info().rss / 2**20)
            except psutil.Error:
                rss.append(0.0)  # starting or just gone: count it at full size
        # An idle warm worker's memory is what the next job will use: count it as available.
        available = psutil.virtual_memory().available / 2**20 + _rss_mb(idle_workers())
        by_memory = memory_slots(available, settings.training_reserve_mb, settings.training_rss_mb, rss)
        return min(cpu_slots(settings, self._worker), by_memory)

    def _can_start(self, job: Job) -> bool:
        # The limit is read for the first in line only, so 30 waiting jobs cost one look at memory, not 30.
        return bool(self._waiting) and self._waiting[0] is job and len(self._running) < self.limit()

    def _run(self, job: Job, work: Callable[[Job], Any], payload: dict | None) -> None:
        with self._cond:
            while not self._can_start(job) and not job.cancel_requested:
                self._cond.wait(timeout=0.5)
            self._waiting.remove(job)
            if job.cancel_requested:
                job.status, job.message, job.finished = (
                    "cancelled",
                    "Cancelled while waiting in the queue.",
                    self._clock(),
                )
                self._cond.notify_all()
            else:
                self._running[job.id] = job
                job.status, job.started = "running", self._clock()
                self._cond.notify_all()  # the next in line may start too, if the limit allows
        self._save(job)
        if job.status == "cancelled":
            return
        outcome: tuple[str, Any] = ("failed", "Training failed unexpectedly.")
        try:
            outcome = _run_in_thread(job, work) if payload is None else run_in_process(job, payload)
        except Exception as exc:  # e.g. the process could not be started: the job fails, the queue goes on
            traceback.print_exc()
            outcome = ("failed", _unexpected(exc))
        finally:
            kind, value = outcome
            with job._lock:
                if kind == "result":
                    job.result = value
                    if job.status == "running":  # the work may have ended it as cancelled or diverged
                        job.status = "done"
                else:
                    job.status, job.message = kind, value
                job.finished = self._clock()
            self._save(job)
            with self._cond:
                self._running.pop(job.id, None)
                if job.status == "done":  # cancelled, failed and diverged runs say nothing about a full run's length
                    self.record(job.kind, job.finished - job.started)
                self._cond.notify_all()

    def _save(self, job: Job) -> None:
        """Write the job's record (core.engine.job_records); a record that cannot be written never fails the job."""
        if not self._records:
            return
        with self._disk:  # one write at a time, each of the state at its turn: a late write is never a stale one
            with job._lock:
                record = job_records.record_of(job)
            try:
                job_records.write(record)  # outside the job's lock: a page's poll never waits for the disk
            except OSError:
                traceback.print_exc()

    def _forget_record(self, job_id: str) -> None:
        if self._records:
            try:
                job_records.forget(job_id)
            except OSError:
                traceback.print_exc()

    def _recover(self) -> None:
        """Once per record folder: show each job a dead server left queued or running as failed with a plain message
        (core.engine.job_records.recover), under its key, unless this queue already has a job there."""
        if not self._records:
            return
        folder = job_records.records_dir()
        with self._cond:
            if str(folder) in self._recovered:
                return
            self._recovered.add(str(folder))
        try:
            found = job_records.recover(KEEP_FINISHED_SECONDS, folder)
        except OSError:
            traceback.print_exc()
            return
        with self._cond:
            for record in found:
                if record["session_id"] in self._by_session:
                    continue
                fields = {name: record[name] for name in ("id", "title", "kind", "owner", "status", "message")}
                times = {name: record[name] for name in ("created", "started", "finished")}
                self._by_session[record["session_id"]] = Job(
                    session_id=record["session_id"], **fields, **times, request=record["request"], worker="restarted"
                )

    def record(self, kind: str, seconds: float) -> None:
        """Remember that a job of `kind` took `seconds` from start to end (done by the queue for every finished job)."""
        with self._cond:
            self._durations.setdefault(kind, deque(maxlen=DURATIONS_KEPT)).append(float(seconds))

    def typical_seconds(self, kind: str) -> float | None:
        """The median measured duration of recent jobs of `kind`; None before one has finished."""
        with self._cond:
            seen = self._durations.get(kind)
            return median(seen) if seen else None

    def _remaining(self, job: Job, now: float) -> float | None:
        """Seconds a running job still needs: the larger of its progress ETA (which leaves out start-up and the
        scoring after training) and its kind's typical duration minus the time it has run; None if neither is known."""
        typical = self.typical_seconds(job.kind)
        guesses = [job.eta_seconds()]
        if typical is not None and job.started is not None:
            guesses.append(typical - (now - job.started))
        known = [g for g in guesses if g is not None]
        return max(0.0, *known) if known else None

    def estimate(self, job: Job) -> QueueEstimate:
        """Where `job` stands: its `position` (as `position()`), `wait_seconds` until it starts (0 once it runs; None
        while a duration it depends on has never been measured), `remaining_seconds` once it runs, and the queue's
        `running`, `waiting` and `limit`. Assumes the jobs ahead take their kind's typical time."""
        with self._cond:
            now, limit = self._clock(), self.limit()
            running = list(self._running.values())
            ahead = self._waiting[: self._waiting.index(job)] if job in self._waiting else None
            waiting = len(self._waiting)
        queue = QueueEstimate(running=len(running), waiting=waiting, limit=limit)
        if job.status == "running":
            return replace(queue, remaining_seconds=self._remaining(job, now))
        if not job.active:
            return replace(queue, remaining_seconds=0.0)
        if ahead is None:
            return queue
        # Slots free up as running jobs end; with more running than the limit (it fell), the extra ones must
        # end before anyone starts, so only the last `limit` of them to end open a slot.
        ends = sorted((self._remaining(j, now) for j in running), key=lambda t: math.inf if t is None else t)
        slots = ends[max(0, len(ends) - limit) :] + [0.0] * max(0, limit - len(ends))
        wait = estimate_wait(slots, [self.typical_seconds(j.kind) for j in ahead])
        return replace(queue, position=len(ahead) + 1, wait_seconds=wait)

    def snapshot(self, session_id: str) -> JobSnapshot | None:
        """The session's latest job as a view sees it (None: no job, or forgotten); while it waits in the queue, with
        its `estimate` (only then: an estimate reads the memory limit, and a running job's panel does not need it)."""
        job = self.job_for(session_id)
        if job is None:
            return None
        snap = job.snapshot()
        return replace(snap, estimate=self.estimate(job)) if snap.status == "queued" else snap

    def activity_of(self, owner: str) -> OwnerActivity | None:
        """Where `owner`'s latest training stands (an active one first), read-only and without its details; None when
        they have none. A page shows it only for people whose status its user may see (a class's teacher, its
        members: core.store.access.class_roster decides who)."""
        if not owner:
            return None
        with self._cond:
            mine = [j for j in self._by_session.values() if j.owner == owner]
            if not mine:
                return None
            job = max(mine, key=lambda j: (j.active, j.created))
            position = self._waiting.index(job) + 1 if job in self._waiting else 0
        with job._lock:
            progress = 1.0 if job.status == "done" else job.progress()
            return OwnerActivity(job.status, progress, position)

    def _forget_old(self) -> None:
        cutoff = self._clock() - KEEP_FINISHED_SECONDS
        for sid, job in list(self._by_session.items()):
            if not job.active and (job.finished or job.created) < cutoff:
                del self._by_session[sid]
                self._forget_record(job.id)

    def job_for(self, session_id: str) -> Job | None:
        """The session's latest job (running, queued, or finished and not yet forgotten)."""
        self._recover()
        with self._cond:
            return self._by_session.get(session_id)

    def cancel(self, session_id: str) -> bool:
        job = self.job_for(session_id)
        if job is None or not job.active:
            return False
        job.cancel()
        with self._cond:
            self._cond.notify_all()
        return True

    def position(self, job: Job) -> int:
        """1 for the next job to start, 2 for the one after, ...; 0 when the job is not waiting."""
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def overview(self) -> dict:
        with self._cond:
            return {"running": len(self._running), "waiting": len(self._waiting), "limit": self.limit()}

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until `job` has finished (for the CLI and tests); False on timeout."""
        deadline = None if timeout is None else time.time() + timeout
        with self._cond:
            # Until the queue is done with it, not only until its status says finished: a worker process reports
            # "cancelled" before the queue has reaped it, and the one-job-per-identity rule holds until then too.
            while job.active or job.id in self._running:
                left = None if deadline is None else deadline - time.time()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(timeout=0.5 if left is None else min(0.5, left))
        return True


def _encoded(work: Callable[[Job], Any]) -> dict:
    """The work as a JSON work spec (core.engine.job_codec): a registered top-level function, or a partial of one."""
    try:
        return job_codec.work_spec(work)
    except TypeError as exc:
        raise TypeError(
            f"A training job that runs in a worker process needs a work function the job codec can send as JSON (a "
            f"registered top-level function or a functools.partial of one over plain values, arrays and registered "
            f"dataclasses), not {work!r}: {exc}"
        ) from None


def _run_in_thread(job: Job, work: Callable[[Job], Any]) -> tuple[str, Any]:
    """Run the work here; returns ("result", value) or (status, message)."""
    try:
        return "result", work(job)
    except ValueError as exc:  # core's plain-message errors: the user can act on these
        return "failed", str(exc)
    except Exception as exc:  # anything else is a bug, but it must not take the server thread down silently
        traceback.print_exc()
        return "failed", _unexpected(exc)


QUEUE = JobQueue()  # the server's one queue: every session's jobs, shared through this module-level registry


def finish_if_stopped(job, result) -> bool:
    """End `job` when its training did not finish normally (None: cancelled before it started); True if it did.

    A diverged run keeps its loss curve, so the page can draw the loss up to the divergence."""
    if result is not None and result.ok:
        return False
    if result is None:
        job.finish("cancelled", "Cancelled before training started. Nothing was saved.")
    elif result.diverged:
        job.finish("diverged", result.message, result.loss_curve())
    else:
        job.finish("cancelled", result.message)
    return True
