"""The worker-process side of the training queues (core.engine.jobs, core.engine.rq_worker): a niced `python -c` child
per training, kept warm for the next job a while (or, `keep_warm`, for good), talking to its parent over two pipes; and
what a work function sees inside it. The queue decides when a job runs; this module only runs it and relays reports."""

from __future__ import annotations

import gc
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Literal

import psutil

from core.engine import job_codec, warm
from core.settings import ENV_PREFIX, REPO_ROOT, get_settings

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "diverged"]  # a plain string across the pipes
ACTIVE: tuple[JobStatus, ...] = ("queued", "running")
FINISHED: tuple[JobStatus, ...] = ("done", "failed", "cancelled", "diverged")
CANCEL_GRACE_SECONDS = 30.0  # a worker process that has not honoured a cancel by then is terminated
POLL_SECONDS = 0.2  # how often the parent thread looks for a cancel while no report arrives
# A worker process that finished a job waits this long for the next one before it exits. Importing TensorFlow is
# ~3.4 s of CPU of a quick colour retrain's ~7.6 (measured): a class's trainings that reuse a worker need ~45% less.
# None: an idle worker waits for its next job until it is retired (an RQ worker's own, see `keep_warm`).
WORKER_IDLE_SECONDS: float | None = 30.0
# Then a fresh process, so whatever a run leaves behind in memory cannot pile up: after this many jobs, or once it
# holds this much more memory than after its first job. A fresh process costs a TensorFlow import and the first
# job's tracing (~5 s of CPU); a warm one grows ~4 MB per quick training (measured: 813 -> 895 MB over 22 jobs).
WORKER_MAX_JOBS = 50
WORKER_MAX_GROWTH_MB = 400.0
_PRELOAD: tuple[str, ...] = ()  # modules every new worker imports at once, before its first job (`keep_warm`)


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


def _unexpected(exc: BaseException) -> str:
    return f"Training failed unexpectedly ({type(exc).__name__}: {exc})."


class _WorkerJob(_Reporting):
    """The Job as a work function sees it inside a worker process: each report becomes a message to the parent
    thread, which applies it to the real Job. The parent cancels by closing the control pipe, so a server that dies
    cancels its workers the same way (their next `should_stop()` sees the end of the pipe)."""

    def __init__(self, reports: Connection, control: Connection):
        self._reports, self._control = reports, control
        self._stop = False

    def _send(self, *message) -> None:
        try:
            send_json(self._reports, list(message))
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
    """The worker process: lower its priority, then, job after job, receive the work, run it and send back ("result",
    value) or ("failed", message). It exits when the parent closes the control pipe (a cancel, retirement, or the
    server's death). Started by `_Worker` as `python -c _WORKER_BOOT ...`. Ctrl+C in a terminal reaches the whole
    process group: the parent decides (an RQ worker lets the job finish), so SIGINT is ignored here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice > 0:
        os.nice(nice)  # first, before the imports and the training: the server's pages must win the CPU
    control, reports = Connection(control_fd, writable=False), Connection(reports_fd, readable=False)
    warm.enable()  # one job at a time here: what a job loads and compiles is kept for the next (core.engine.warm)
    jobs_done = 0
    try:
        while True:
            try:
                message = recv_json(control)
            except (EOFError, OSError):
                return
            _use_environment(message["env"])
            sys.path[:] = message["sys_path"]  # import the work function the way the server does (app folder, tests)
            if "preload" in message:
                preload(message["preload"])
                # What the imports made lives as long as the process: out of the collector's sight, each job's
                # gc.collect (_forget_models) walks only what the jobs made (~0.2 s less per job with TensorFlow).
                gc.freeze()
                continue
            if not _run_one(message["work"], reports, control, jobs_done):
                return
            jobs_done += 1
            _forget_models()
    finally:
        reports.close()


def preload(modules: Sequence[str]) -> None:
    """Import what the next job will need (TensorFlow, above all) while no job waits for it. A module that cannot be
    imported is one plain line on stderr: the worker goes on, and a job that needs it fails with its own message."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            print(
                f"warning: MLX_WORKER_PRELOAD names {name}, which could not be imported ({type(exc).__name__}: "
                f"{exc}); the training process goes on without it.",
                file=sys.stderr,
                flush=True,
            )
    if "core.engine.registry" in modules:  # the families' packages too: found and imported once
        try:
            importlib.import_module("core.engine.registry").names()
        except Exception:
            traceback.print_exc()


def _run_one(work: dict, reports: Connection, control: Connection, jobs_done: int = 0) -> bool:
    """Run one job (its work spec, core.engine.job_codec) in the worker and send its outcome; False when nobody is
    listening any more. First it says which process runs the job and whether TensorFlow was already loaded in it."""
    job = _WorkerJob(reports, control)
    loaded = "tensorflow" in sys.modules
    job._send("started", {"pid": os.getpid(), "jobs_done": jobs_done, "tensorflow_loaded": loaded})
    try:
        value = job_codec.work_from(work)(job)
    except ValueError as exc:
        outcome = ("failed", str(exc))
    except Exception as exc:
        traceback.print_exc()
        outcome = ("failed", _unexpected(exc))
    else:
        outcome = ("result", value)
    try:
        send_json(reports, list(outcome))
    except OSError:
        return False
    except Exception as exc:  # the codec cannot carry the value: a bug in the work function, said plainly
        traceback.print_exc()
        job._send("failed", _unexpected(exc))
    return True


def send_json(conn: Connection, message: Any) -> None:
    """One message through a pipe as JSON (core.engine.job_codec): never a pickle."""
    conn.send_bytes(job_codec.dumps(message).encode("utf-8"))


def recv_json(conn: Connection) -> Any:
    return job_codec.loads(conn.recv_bytes())


def _use_environment(env: dict[str, str]) -> None:
    """The server's MLX_* settings as they were when the job was submitted (a reused worker started earlier)."""
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX) and n not in env]:
        del os.environ[name]
    os.environ.update(env)


def _forget_models() -> None:
    """Between two jobs in one worker: the job's model copies go back to the warm pool (core.engine.warm, bounded)
    and what else it made is collected, so a reused worker does not grow. No keras.backend.clear_session(): it would
    also empty TensorFlow's kernel cache, which the next job would build again."""
    warm.release_models()
    gc.collect()


# The worker's command line: put this checkout first on sys.path (whatever the server's working folder), then run.
_WORKER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from core.engine.job_workers import _worker_main; "
    "_worker_main(*map(int, sys.argv[2:]))"
)


class _Worker:
    """A worker process and our ends of its two pipes. It runs jobs one after another; between them it waits in
    `_IDLE`."""

    def __init__(self, nice: int, preload: Sequence[str] = ()):
        control_r, control_w = os.pipe()
        reports_r, reports_w = os.pipe()
        self.control = Connection(control_w, readable=False)
        self.reports = Connection(reports_r, writable=False)
        self.nice, self.jobs_done = nice, 0
        self.first_rss_mb = 0.0  # its memory after its first job (_give_back)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER_BOOT,
                    str(REPO_ROOT),
                    str(control_r),
                    str(reports_w),
                    str(nice),
                ],
                pass_fds=(control_r, reports_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            self.control.close()
            self.reports.close()
            raise
        finally:
            os.close(control_r)  # the worker holds these ends now; ours would hide its exit from us
            os.close(reports_w)
        if preload:
            try:
                send_json(self.control, {**_context(), "preload": list(preload)})
            except OSError:
                pass  # it died at once: the next job finds it gone and says how

    def retire(self, wait: float) -> int:
        """Close its pipes (it exits at its next read, or its next should_stop) and reap it; returns its exit code."""
        self.control.close()
        self.reports.close()
        return _reap(self.proc, wait)


_POOL = threading.Lock()
_IDLE: list[_Worker] = []


def _alive(worker: _Worker) -> bool:
    """Whether the worker process still runs. Popen.poll() alone says None while another thread is inside wait() on
    it, even after the process died; /proc says "Z" (a zombie) or nothing at once."""
    if worker.proc.poll() is not None:
        return False
    try:
        with open(f"/proc/{worker.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return not os.path.isdir("/proc/self")  # no /proc here (not Linux): trust poll()


def _take_worker(nice: int) -> _Worker:
    """The most recently used idle worker at this niceness, or a new one."""
    stale = []
    with _POOL:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.nice == nice and _alive(worker):
                break
            stale.append(worker)
        else:
            worker = None
    for old in stale:
        old.retire(wait=5)
    return worker or _Worker(nice, _PRELOAD)


def _give_back(worker: _Worker) -> None:
    """Park a worker that finished a job cleanly, or retire it once it has done WORKER_MAX_JOBS or grown by
    WORKER_MAX_GROWTH_MB since its first job."""
    worker.jobs_done += 1
    rss = _rss_mb([worker.proc.pid])
    if worker.jobs_done == 1:
        worker.first_rss_mb = rss
    if worker.jobs_done >= WORKER_MAX_JOBS or rss - worker.first_rss_mb > WORKER_MAX_GROWTH_MB:
        worker.retire(wait=CANCEL_GRACE_SECONDS)
        return
    _park(worker)


def _park(worker: _Worker) -> None:
    """Make `worker` the next job's; it is retired if no job takes it within WORKER_IDLE_SECONDS (None: never)."""
    stamp = worker.jobs_done
    with _POOL:
        _IDLE.append(worker)
    if WORKER_IDLE_SECONDS is None:
        return

    def expire() -> None:
        with _POOL:
            if worker not in _IDLE or worker.jobs_done != stamp:
                return  # taken (and maybe parked again) since
            _IDLE.remove(worker)
        worker.retire(wait=CANCEL_GRACE_SECONDS)

    timer = threading.Timer(WORKER_IDLE_SECONDS, expire)
    timer.daemon = True
    timer.start()


WARM_IDLE_SECONDS = 300.0  # a worker started before any job (a Retrain page opened) waits this long for one
# What a worker started ahead (warm_worker) imports while the person fills in the form: Keras (TensorFlow, ~3.4 s of
# CPU on an idle machine, far more on a busy one), the training engine and the families' packages.
WARM_PRELOAD = ("keras", "core.engine.training", "core.engine.registry")
WARM_WORKERS = 1  # at most this many idle workers are started ahead: a class opening the page at once starts one


def warm_worker() -> bool:
    """Start a training worker ahead of a job, so that the next Start finds TensorFlow already imported (its first
    progress report then comes after the data preparation alone). Nothing is started when the server trains in
    threads or WARM_WORKERS idle workers are already waiting. Returns whether one was started."""
    settings = get_settings()
    if settings.training_worker != "process":
        return False
    with _POOL:
        if sum(w.proc.poll() is None for w in _IDLE) >= WARM_WORKERS:
            return False
        worker = _Worker(settings.training_nice, WARM_PRELOAD)
        _IDLE.append(worker)

    def expire() -> None:
        with _POOL:
            if worker not in _IDLE or worker.jobs_done:
                return  # taken since
            _IDLE.remove(worker)
        worker.retire(wait=CANCEL_GRACE_SECONDS)

    timer = threading.Timer(WARM_IDLE_SECONDS, expire)
    timer.daemon = True
    timer.start()
    return True


def _rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss / 2**20
        except psutil.Error:
            pass  # gone since
    return total


def idle_workers() -> list[int]:
    """The process ids of the idle workers (for tests and the bench)."""
    with _POOL:
        return [w.proc.pid for w in _IDLE]


def keep_warm(preload: Sequence[str], idle_seconds: float | None = None) -> None:
    """For a process whose purpose is training (an RQ worker): idle workers wait `idle_seconds` (None: until retired)
    and every new one imports `preload` as soon as it starts, so even its first job finds TensorFlow loaded."""
    global WORKER_IDLE_SECONDS, _PRELOAD
    WORKER_IDLE_SECONDS, _PRELOAD = idle_seconds, tuple(preload)


def ensure_warm() -> int:
    """Start a worker and park it idle (it preloads while nobody waits) unless one at today's niceness is idle and
    alive already; returns its process id. Called when an RQ worker starts and after each of its jobs, so a worker
    that was cancelled, killed or worn out is replaced before the next job comes."""
    nice = get_settings().training_nice
    with _POOL:
        dead = [w for w in _IDLE if not _alive(w)]
        for worker in dead:
            _IDLE.remove(worker)
        ready = [w for w in _IDLE if w.nice == nice]
    for worker in dead:
        worker.retire(wait=0)  # reaped
    if ready:
        return ready[-1].proc.pid
    worker = _Worker(nice, _PRELOAD)
    _park(worker)
    return worker.proc.pid


def retire_idle_workers(wait: float = CANCEL_GRACE_SECONDS) -> None:
    """Stop every idle worker now and reap it, terminated if it has not exited within `wait` s (one still preloading
    reads the end of its pipe only then) (tests; a server that needs the memory back; an RQ worker quitting)."""
    with _POOL:
        idle = list(_IDLE)
        _IDLE.clear()
    for worker in idle:
        worker.retire(wait=wait)


def run_in_process(job, payload: dict) -> tuple[str, Any]:
    """Run the work (a JSON work spec, core.engine.job_codec.work_spec) in a niced worker process (an idle one, or a new one); apply its reports to `job` as
    they come; then park the worker for the next job, or reap it.

    Why not multiprocessing's spawn: it re-runs the parent's `__main__` in the child, and inside Streamlit that is
    the fake module of whichever page script ran last (Streamlit swaps `sys.modules["__main__"]` on every run), so
    each worker would execute a page. Fork is no option either: the server has TensorFlow's and Streamlit's
    threads running, which a fork would copy mid-state. So: a plain `python -c` child, talking over two pipes with
    multiprocessing's Connection (length-prefixed bytes, each message JSON of core.engine.job_codec). Reports come back on one; the other carries the work
    and, when closed, the cancel. The worker's exit, however it happens, reads as end-of-file on the reports pipe.
    A worker is reused only after a job that ended by itself: a cancelled, killed or overdue one is never reused.
    """
    settings = get_settings()
    worker = _take_worker(settings.training_nice)
    job.pid = worker.proc.pid
    outcome, code, overdue, cancelled_at = None, None, False, None
    try:
        try:
            send_json(worker.control, {**_context(), "work": payload})
        except OSError:
            pass  # it died before reading its work: the end-of-file below says how
        while outcome is None:
            if job.cancel_requested and cancelled_at is None:
                worker.control.close()  # the worker's should_stop() now answers True
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
                if not worker.reports.poll(POLL_SECONDS):
                    continue
                kind, *args = recv_json(worker.reports)
            except (EOFError, OSError):
                break  # the worker exited without a result: said below, with its exit code
            if kind in ("result", "failed"):
                outcome = (kind, args[0])
            elif kind == "started":
                if hasattr(job, "process_started"):  # a job that records which process ran it, and how warm
                    job.process_started(args[0])
            else:
                getattr(job, kind)(*args)  # plan, on_epoch_end, on_batch_end or finish
    finally:
        if outcome is not None and cancelled_at is None and worker.proc.poll() is None:
            _give_back(worker)
        else:
            code = worker.retire(wait=0 if overdue else CANCEL_GRACE_SECONDS)
    if outcome is None:
        outcome = ("failed", f"The training process stopped unexpectedly ({_exit_reason(code)}). Nothing was saved.")
    return outcome


def _context() -> dict:
    """What a worker needs to import and run code as its parent does now: the MLX_* settings and sys.path."""
    env = {name: value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    return {"env": env, "sys_path": list(sys.path)}


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
