"""Background training jobs: at most N running on the server at once (later ones wait in a first-come queue),
each in its own low-priority worker process (or, MLX_TRAINING_WORKER=thread, a thread of the server), with progress
events and an ETA, cancel, and results. Jobs live in a module-level registry keyed by a session id, so a person can
leave the page and come back. No UI here: the page only reads `Job.snapshot()`."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from core.settings import REPO_ROOT, get_settings

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "diverged")
KEEP_FINISHED_SECONDS = 6 * 3600  # a finished job's results stay this long for a session that comes back
CANCEL_GRACE_SECONDS = 30.0  # a worker process that has not honoured a cancel by then is terminated
POLL_SECONDS = 0.2  # how often the parent thread looks for a cancel while no report arrives


class JobError(ValueError):
    """A job request that cannot be accepted (e.g. a second training from the same session)."""


class _Reporting:
    """What a work function may call besides the reports themselves; shared by Job and the worker's proxy."""

    def hooks(self, batch_every: int | None = None) -> dict:
        """The keyword arguments for core.training.train; batch reports only when `batch_every` is given."""
        hooks = {"on_epoch_end": self.on_epoch_end, "should_stop": self.should_stop}
        if batch_every:
            hooks.update(on_batch_end=self.on_batch_end, batch_every=int(batch_every))
        return hooks


def _check_status(status: str) -> None:
    if status not in FINISHED:
        raise ValueError(f"Unknown job status {status!r}.")


def _copy_curve(curve: dict | None) -> dict | None:
    """A copy a view may keep: its lists and records are new objects, so a later change cannot reach them."""
    if curve is None:
        return None
    return {
        k: ([dict(r) for r in v] if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in curve.items()
    }


def _unexpected(exc: BaseException) -> str:
    return f"Training failed unexpectedly ({type(exc).__name__}: {exc})."


@dataclass
class Job(_Reporting):
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
    curve: dict | None = None  # a diverged run's loss up to the divergence (core.training.TrainResult.loss_curve)
    worker: str = ""  # "process" or "thread", fixed when the job is submitted
    pid: int | None = None  # the worker process's id, in process mode
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
                "curve": _copy_curve(self.curve),
            }


class _WorkerJob(_Reporting):
    """The Job as a work function sees it inside a worker process: each report becomes a message to the parent
    thread, which applies it to the real Job. The parent cancels by closing the control pipe, so a server that dies
    cancels its workers the same way (their next `should_stop()` sees the end of the pipe)."""

    def __init__(self, reports: Connection, control: Connection):
        self._reports, self._control = reports, control
        self._stop = False

    def _send(self, *message) -> None:
        try:
            self._reports.send(message)
        except OSError:  # the server is gone: stop at the next check and save nothing
            self._stop = True

    def plan(self, epochs: int, steps_per_epoch: int) -> None:
        self._send("plan", int(epochs), int(steps_per_epoch))

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._send("on_epoch_end", epoch, dict(logs))

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None:
        self._send("on_batch_end", epoch, batch, dict(logs))

    def should_stop(self) -> bool:
        # poll() is true once the parent has closed its end (cancel, or the server died); one cheap syscall a batch.
        self._stop = self._stop or self._control.poll()
        return self._stop

    def finish(self, status: str, message: str = "", curve: dict | None = None) -> None:
        _check_status(status)
        self._send("finish", status, message, curve)


def _worker_main(control_fd: int, reports_fd: int, nice: int) -> None:
    """The worker process: lower its priority, receive the work, run it, send back ("result", value) or ("failed",
    message). Started by `_run_in_process` as `python -c _WORKER_BOOT ...`."""
    if nice > 0:
        os.nice(nice)  # first, before the imports and the training: the server's pages must win the CPU
    control, reports = Connection(control_fd, writable=False), Connection(reports_fd, readable=False)
    job = _WorkerJob(reports, control)
    try:
        sys_path, payload = control.recv()
        sys.path[:] = sys_path  # import the work function the way the server does (its app folder, tests, ...)
        value = pickle.loads(payload)(job)
    except ValueError as exc:
        outcome = ("failed", str(exc))
    except Exception as exc:
        traceback.print_exc()
        outcome = ("failed", _unexpected(exc))
    else:
        outcome = ("result", value)
    try:
        reports.send(outcome)
    except OSError:
        pass  # nobody is listening any more
    except Exception as exc:  # the value could not be pickled: a bug in the work function, said plainly
        traceback.print_exc()
        job._send("failed", _unexpected(exc))
    finally:
        reports.close()


# The worker's command line: put this checkout first on sys.path (whatever the server's working folder), then run.
_WORKER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from core.jobs import _worker_main; "
    "_worker_main(*map(int, sys.argv[2:]))"
)


class JobQueue:
    """Runs each job in its own worker (process or thread); a job waits until it is first in line and fewer than
    `limit()` run.

    `worker` is "process", "thread", or None to read MLX_TRAINING_WORKER (get_settings().training_worker) when each
    job is submitted. In process mode the work function is pickled by reference, so it must be importable (a
    top-level function, or a functools.partial of one over picklable arguments): `submit` raises TypeError for a
    lambda or a local closure instead of quietly running it in the server, which would undo the point of the mode.
    """

    def __init__(self, limit: Callable[[], int] | None = None, worker: str | None = None):
        if worker not in (None, "process", "thread"):
            raise ValueError(f"Unknown worker {worker!r}: use 'process', 'thread' or None (the setting).")
        # The limit is re-read while waiting, so an environment change reaches queued jobs too.
        self._limit = limit or (lambda: get_settings().max_concurrent_trainings)
        self._worker = worker
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._running: dict[str, Job] = {}
        self._by_session: dict[str, Job] = {}

    def submit(self, session_id: str, title: str, work: Callable[[Job], Any]) -> Job:
        """Queue `work(job)` for `session_id`; refuses a second active job from the same session."""
        if not session_id:
            raise JobError("A training needs a session id.")
        worker = self._worker or get_settings().training_worker
        payload = _pickled(work) if worker == "process" else None
        with self._cond:
            current = self._by_session.get(session_id)
            if current is not None and current.active:
                raise JobError(
                    "A training is already running for you: wait for it to finish or cancel it before starting "
                    "another one."
                )
            self._forget_old()
            job = Job(session_id=session_id, title=title, worker=worker)
            self._waiting.append(job)
            self._by_session[session_id] = job
        threading.Thread(target=self._run, args=(job, work, payload), name=f"train-{job.id}", daemon=True).start()
        return job

    def _can_start(self, job: Job) -> bool:
        return self._waiting and self._waiting[0] is job and len(self._running) < max(1, int(self._limit()))

    def _run(self, job: Job, work: Callable[[Job], Any], payload: bytes | None) -> None:
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
        outcome: tuple[str, Any] = ("failed", "Training failed unexpectedly.")
        try:
            outcome = _run_in_thread(job, work) if payload is None else _run_in_process(job, payload)
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


def _pickled(work: Callable[[Job], Any]) -> bytes:
    try:
        return pickle.dumps(work)
    except Exception as exc:  # PicklingError, AttributeError ("Can't pickle local object"), TypeError
        raise TypeError(
            f"A training job that runs in a worker process needs a picklable work function (a top-level function "
            f"or a functools.partial of one), not {work!r}: {exc}"
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


def _run_in_process(job: Job, payload: bytes) -> tuple[str, Any]:
    """Run the pickled work in a new, niced Python process; apply its reports to `job` as they come; reap it.

    Why not multiprocessing's spawn: it re-runs the parent's `__main__` in the child, and inside Streamlit that is
    the fake module of whichever page script ran last (Streamlit swaps `sys.modules["__main__"]` on every run), so
    each worker would execute a page. Fork is no option either: the server has TensorFlow's and Streamlit's
    threads running, which a fork would copy mid-state. So: a plain `python -c` child, talking over two pipes with
    multiprocessing's Connection (length-prefixed pickles). Reports come back on one; the other carries the work
    and, when closed, the cancel. The worker's exit, however it happens, reads as end-of-file on the reports pipe.
    """
    control_r, control_w = os.pipe()
    reports_r, reports_w = os.pipe()
    control, reports = Connection(control_w, readable=False), Connection(reports_r, writable=False)
    outcome, code, overdue, proc = None, None, False, None
    try:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_BOOT, str(REPO_ROOT), str(control_r), str(reports_w)]
                + [str(get_settings().training_nice)],
                pass_fds=(control_r, reports_w),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(control_r)  # the worker holds these ends now; ours would hide its exit from us
            os.close(reports_w)
        job.pid = proc.pid
        try:
            control.send((sys.path, payload))
        except OSError:
            pass  # it died before reading its work: the end-of-file below says how
        cancelled_at = None
        while outcome is None:
            if job.cancel_requested and cancelled_at is None:
                control.close()  # the worker's should_stop() now answers True
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                overdue = True
                outcome = (
                    "cancelled",
                    f"Cancelled: the training did not stop within {CANCEL_GRACE_SECONDS:g} s, so its process was "
                    "stopped. Nothing was saved.",
                )
                break
            try:
                if not reports.poll(POLL_SECONDS):
                    continue
                kind, *args = reports.recv()
            except (EOFError, OSError):
                break  # the worker exited without a result: said below, with its exit code
            if kind in ("result", "failed"):
                outcome = (kind, args[0])
            else:
                getattr(job, kind)(*args)  # plan, on_epoch_end, on_batch_end or finish
    finally:
        control.close()
        reports.close()
        if proc is not None:
            code = _reap(proc, wait=0 if overdue else CANCEL_GRACE_SECONDS)
    if outcome is None:
        outcome = ("failed", f"The training process stopped unexpectedly ({_exit_reason(code)}). Nothing was saved.")
    return outcome


def _reap(proc: subprocess.Popen, wait: float) -> int:
    """Wait up to `wait` s for the worker to exit, then terminate it; waited for either way, so no zombie is left.
    Returns its exit code (negative: the signal that stopped it)."""
    try:
        return proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _exit_reason(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = ", which often means the server ran out of memory" if name == "SIGKILL" else ""
    return f"exit code {code}: it was stopped by {name}{hint}"


QUEUE = JobQueue()  # the server's one queue: every session's jobs, shared through this module-level registry
