"""Background training jobs: one worker thread per job, at most N running on the server at once (later ones wait in
a first-come queue), progress events with an ETA, cancel, and results. Jobs live in a module-level registry keyed
by a session id, so a person can leave the page and come back. No UI here: the page only reads `Job.snapshot()`."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.settings import get_settings

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "diverged")
KEEP_FINISHED_SECONDS = 6 * 3600  # a finished job's results stay this long for a session that comes back


class JobError(ValueError):
    """A job request that cannot be accepted (e.g. a second training from the same session)."""


@dataclass
class Job:
    """One training job. The worker writes to it; the page reads `snapshot()`; `cancel()` may come from anywhere."""

    session_id: str
    title: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "queued"
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

    def hooks(self, batch_every: int | None = None) -> dict:
        """The keyword arguments for core.training.train; batch reports only when `batch_every` is given."""
        hooks = {"on_epoch_end": self.on_epoch_end, "should_stop": self.should_stop}
        if batch_every:
            hooks.update(on_batch_end=self.on_batch_end, batch_every=int(batch_every))
        return hooks

    def finish(self, status: str, message: str = "") -> None:
        """Let the work function end as 'cancelled' or 'diverged' (with a message) instead of 'done'."""
        if status not in FINISHED:
            raise ValueError(f"Unknown job status {status!r}.")
        with self._lock:
            self.status, self.message = status, message

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

    def snapshot(self) -> dict:
        """A consistent copy of everything a view needs (the lists are copied under the lock)."""
        with self._lock:
            return {
                "id": self.id,
                "title": self.title,
                "status": self.status,
                "message": self.message,
                "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch,
                "steps_done": self.steps_done,
                "progress": self.progress(),
                "eta_seconds": self.eta_seconds(),
                "elapsed_seconds": (self.finished or time.time()) - (self.started or time.time()),
                "epoch_logs": list(self.epoch_logs),
                "batch_logs": list(self.batch_logs),
                "cancel_requested": self.cancel_requested,
                "notes": list(self.notes),
            }


class JobQueue:
    """Runs each job in its own thread; a job waits until it is first in line and fewer than `limit()` run."""

    def __init__(self, limit: Callable[[], int] | None = None):
        # The limit is re-read while waiting, so an environment change reaches queued jobs too.
        self._limit = limit or (lambda: get_settings().max_concurrent_trainings)
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._running: dict[str, Job] = {}
        self._by_session: dict[str, Job] = {}

    def submit(self, session_id: str, title: str, work: Callable[[Job], Any]) -> Job:
        """Queue `work(job)` for `session_id`; refuses a second active job from the same session."""
        if not session_id:
            raise JobError("A training needs a session id.")
        with self._cond:
            current = self._by_session.get(session_id)
            if current is not None and current.active:
                raise JobError(
                    "A training is already running for you: wait for it to finish or cancel it before starting "
                    "another one."
                )
            self._forget_old()
            job = Job(session_id=session_id, title=title)
            self._waiting.append(job)
            self._by_session[session_id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"train-{job.id}", daemon=True).start()
        return job

    def _can_start(self, job: Job) -> bool:
        return self._waiting and self._waiting[0] is job and len(self._running) < max(1, int(self._limit()))

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        with self._cond:
            while not self._can_start(job) and not job.cancel_requested:
                self._cond.wait(timeout=0.5)
            self._waiting.remove(job)
            if job.cancel_requested:
                job.status, job.message, job.finished = (
                    "cancelled",
                    "Cancelled while waiting in the queue.",
                    time.time(),
                )
                self._cond.notify_all()
                return
            self._running[job.id] = job
            job.status, job.started = "running", time.time()
        try:
            value = work(job)
        except ValueError as exc:  # core's plain-message errors: the user can act on these
            job.status, job.message = "failed", str(exc)
        except Exception as exc:  # anything else is a bug, but it must not take the server thread down silently
            traceback.print_exc()
            job.status, job.message = "failed", f"Training failed unexpectedly ({type(exc).__name__}: {exc})."
        else:
            with job._lock:
                job.result = value
                if job.status == "running":
                    job.status = "done"
        finally:
            job.finished = time.time()
            with self._cond:
                self._running.pop(job.id, None)
                self._cond.notify_all()

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_FINISHED_SECONDS
        for sid, job in list(self._by_session.items()):
            if not job.active and (job.finished or job.created) < cutoff:
                del self._by_session[sid]

    def job_for(self, session_id: str) -> Job | None:
        """The session's latest job (running, queued, or finished and not yet forgotten)."""
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

    def forget(self, session_id: str) -> None:
        """Drop a finished job's results (a queued or running job cannot be forgotten, only cancelled)."""
        with self._cond:
            job = self._by_session.get(session_id)
            if job is not None and not job.active:
                del self._by_session[session_id]

    def position(self, job: Job) -> int:
        """1 for the next job to start, 2 for the one after, ...; 0 when the job is not waiting."""
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    def overview(self) -> dict:
        with self._cond:
            return {"running": len(self._running), "waiting": len(self._waiting), "limit": max(1, int(self._limit()))}

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until `job` has finished (for the CLI and tests); False on timeout."""
        deadline = None if timeout is None else time.time() + timeout
        with self._cond:
            while job.active:
                left = None if deadline is None else deadline - time.time()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(timeout=0.5 if left is None else min(0.5, left))
        return True


QUEUE = JobQueue()  # the server's one queue: every session's jobs, shared through this module-level registry
