"""core.engine.jobs in process mode: each job trains in a spawned, niced worker process (reused, while idle, by the next
job), and the parent thread turns the worker's reports, result, errors, cancel and death into the same Job the page
reads in thread mode."""

import functools
import os
import signal
import sys
import threading
import types

import pytest

from core.engine import job_workers as worker_processes
from core.engine import jobs, retrain
from core.engine.retrain_outcome import Misclassified, RetrainOutcome
from core.metrics import Report
from core.store import models as store
from tests.helpers import job_workers
from tests.helpers.jobs import request, user_colors

WAIT = 120  # seconds at most; a worker without TensorFlow starts in well under a second


@pytest.fixture(autouse=True)
def no_idle_workers(monkeypatch):
    """Each test starts and ends without idle workers, so a worker of one test never serves the next; the workers may
    import this test's work functions (tests.helpers.job_workers: outside `core`, so named in MLX_JOB_MODULES)."""
    monkeypatch.setenv("MLX_JOB_MODULES", "tests.helpers.job_workers")
    worker_processes.retire_idle_workers()
    yield
    worker_processes.retire_idle_workers()


def process_queue() -> jobs.JobQueue:
    return jobs.JobQueue(limit=lambda: 1, worker="process")


def wait_until(condition, seconds: float = WAIT) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        threading.Event().wait(0.05)
    raise AssertionError("timed out")


def assert_reaped(pid: int) -> None:
    """The worker was joined: it is neither running nor a zombie waiting for us."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_reports_and_the_result_come_back_from_another_niced_process():
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.report_and_identify)
    assert queue.wait(job, WAIT)
    assert job.status == "done", job.message
    snap = job.snapshot()
    assert (snap.epochs, snap.steps_per_epoch, snap.steps_done) == (2, 3, 3)
    assert snap.progress == pytest.approx(0.5)
    assert list(snap.epoch_logs) == [{"epoch": 1, "loss": 1.5, "val_loss": 1.7}]
    assert [b["step"] for b in snap.batch_logs] == [1, 3]
    worker = job.result
    assert worker["pid"] != os.getpid() and worker["ppid"] == os.getpid() and job.pid == worker["pid"]
    assert worker["nice"] == min(19, os.nice(0) + 10)  # the shipped MLX_TRAINING_NICE
    assert job.worker == "process"
    assert worker_processes.idle_workers() == [worker["pid"]]  # waiting for the next job
    worker_processes.retire_idle_workers()
    assert_reaped(worker["pid"])


def test_the_niceness_and_the_mode_come_from_the_settings(monkeypatch):
    threaded = jobs.JobQueue(limit=lambda: 1)  # conftest runs tests with MLX_TRAINING_WORKER=thread
    job = threaded.submit("a", "A", job_workers.report_and_identify)
    assert threaded.wait(job, WAIT) and job.worker == "thread" and job.result["pid"] == os.getpid()
    monkeypatch.setenv("MLX_TRAINING_WORKER", "process")
    monkeypatch.setenv("MLX_TRAINING_NICE", "3")
    job = threaded.submit("b", "B", job_workers.report_and_identify)  # the same queue reads the setting per job
    assert threaded.wait(job, WAIT) and job.status == "done", job.message
    assert job.worker == "process" and job.result["pid"] != os.getpid()
    assert job.result["nice"] == min(19, os.nice(0) + 3)


def test_the_worker_never_runs_the_servers_main_script(monkeypatch, tmp_path):
    """Streamlit swaps sys.modules["__main__"] for the page script it runs; multiprocessing's spawn would re-run that
    script in every worker. The worker must start clean instead."""
    marker = tmp_path / "page-ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.report_and_identify)
    assert queue.wait(job, WAIT) and job.status == "done", job.message
    assert not marker.exists()


def test_a_work_function_that_cannot_cross_as_json_is_refused_before_queueing():
    queue = process_queue()
    with pytest.raises(TypeError, match="the job codec can send as JSON"):
        queue.submit("s", "S", lambda job: 1)

    def local(job):
        return 1

    with pytest.raises(TypeError, match="the job codec can send as JSON"):
        queue.submit("s", "S", local)
    with pytest.raises(TypeError, match="the job codec can send as JSON"):  # a top-level one, but not registered
        queue.submit("s", "S", functools.partial(os.getenv, "HOME"))
    with pytest.raises(TypeError, match="the job codec can send as JSON"):  # registered, but over an object
        queue.submit("s", "S", functools.partial(job_workers.return_value, object()))
    assert queue.job_for("s") is None
    job = queue.submit("s", "S", functools.partial(job_workers.return_value, 7))  # a partial of a top-level one is fine
    assert queue.wait(job, WAIT) and job.result == 7


def test_cancel_reaches_the_worker_and_the_job_ends_cancelled():
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.train_until_cancelled)
    wait_until(lambda: len(job.snapshot().epoch_logs) >= 2)
    assert queue.cancel("a")
    assert queue.wait(job, WAIT)
    assert job.status == "cancelled" and job.message == "Stopped on request. Nothing was saved."
    assert job.result is None
    assert_reaped(job.pid)


def test_ctrl_c_in_the_terminal_leaves_the_training_to_its_parent():
    """SIGINT reaches a terminal's whole process group; the worker ignores it (its parent decides, and an RQ worker
    lets the job finish), so only Cancel ends the job, as cancelled."""
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.train_until_cancelled)
    wait_until(lambda: len(job.snapshot().epoch_logs) >= 1)
    os.kill(job.pid, signal.SIGINT)
    seen = len(job.snapshot().epoch_logs)
    wait_until(lambda: len(job.snapshot().epoch_logs) >= seen + 2)  # still training
    assert queue.cancel("a") and queue.wait(job, WAIT)
    assert job.status == "cancelled" and job.message == "Stopped on request. Nothing was saved."


def test_a_worker_that_ignores_cancel_is_stopped_after_the_grace_period(monkeypatch):
    monkeypatch.setattr(worker_processes, "CANCEL_GRACE_SECONDS", 1.0)
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.ignore_cancel)
    wait_until(lambda: job.snapshot().batch_logs)
    queue.cancel("a")
    assert queue.wait(job, 30)  # far less than the worker's own 60 s sleep
    assert job.status == "cancelled" and "did not stop within 1 s" in job.message
    assert job.result is None
    assert_reaped(job.pid)


def test_cancel_while_queued_never_starts_a_process():
    queue = process_queue()
    first = queue.submit("a", "A", job_workers.train_until_cancelled)
    second = queue.submit("b", "B", job_workers.report_and_identify)
    assert queue.cancel("b") and queue.wait(second, WAIT)
    assert second.status == "cancelled" and "queue" in second.message and second.pid is None
    queue.cancel("a")
    assert queue.wait(first, WAIT) and first.status == "cancelled"


def test_errors_in_the_worker_become_the_same_failed_messages_as_in_a_thread(capfd):
    queue = process_queue()
    plain = queue.submit("a", "A", job_workers.refuse_with_plain_message)
    assert queue.wait(plain, WAIT)
    assert plain.status == "failed"
    assert plain.message == "The batch size (64) is larger than the training data (10 samples)."
    bug = queue.submit("b", "B", job_workers.crash_with_a_bug)
    assert queue.wait(bug, WAIT)
    assert bug.status == "failed" and bug.message == "Training failed unexpectedly (KeyError: 'a missing key')."
    err = capfd.readouterr().err
    assert "Traceback" in err and "KeyError: 'a missing key'" in err  # the worker's traceback reaches stderr
    odd = queue.submit("c", "C", job_workers.return_unpicklable)
    assert queue.wait(odd, WAIT)
    assert odd.status == "failed" and "unexpectedly" in odd.message


def test_a_killed_worker_fails_the_job_plainly_and_the_queue_goes_on():
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.die_mid_training)
    assert queue.wait(job, WAIT)
    assert job.status == "failed"
    assert job.message.startswith("The training process stopped unexpectedly (exit code -9")
    assert job.message.endswith("Nothing was saved.")
    assert len(job.snapshot().epoch_logs) == 1  # what it reported before dying still arrived
    assert_reaped(job.pid)
    assert queue.overview()["running"] == 0
    after = queue.submit("b", "B", functools.partial(job_workers.return_value, "still working"))
    assert queue.wait(after, WAIT) and after.status == "done" and after.result == "still working"


def test_a_real_retrain_runs_in_a_worker_process_and_its_version_loads(user_data):
    from core.families.colors import model as colors

    queue = process_queue()
    job = retrain.start_retrain(request(), user_colors(), "session-a", queue=queue)
    assert queue.wait(job, WAIT)
    assert job.status == "done", job.message
    assert job.pid is not None and job.pid != os.getpid()
    assert [e["epoch"] for e in job.snapshot().epoch_logs] == [1, 2]  # the worker's epochs reached the page
    # The typed outcome came through the pipe whole (its registered dataclasses cross as JSON).
    assert isinstance(job.result, RetrainOutcome) and isinstance(job.result.after, Report)
    assert job.result.after.n > 0 and all(isinstance(c, Misclassified) for c in job.result.misclassified)
    version = store.version_path("colors", job.result.version_id)
    assert version.is_relative_to(user_data)  # the worker got this test's MLX_USER_DATA_DIR
    loaded = store.load_model(version)
    assert loaded.metadata["owner"] == "session-a"
    assert colors.predict_proba(loaded.model, [[250, 10, 10]]).shape == (1, len(colors.CLASS_NAMES))
    again = retrain.start_retrain(request(seed=6), user_colors(), "session-b", queue=queue)
    assert queue.wait(again, WAIT) and again.status == "done", again.message
    assert again.pid == job.pid  # the warm worker (TensorFlow already imported) took the second training
    worker_processes.retire_idle_workers()
    assert_reaped(job.pid)


def test_a_warm_worker_takes_the_next_job_with_the_settings_of_now(monkeypatch, tmp_path):
    queue = process_queue()
    first = queue.submit("a", "A", job_workers.report_and_identify)
    assert queue.wait(first, WAIT) and first.status == "done"
    monkeypatch.setenv("MLX_USER_DATA_DIR", str(tmp_path / "elsewhere"))
    second = queue.submit("b", "B", functools.partial(job_workers.read_environment, "MLX_USER_DATA_DIR"))
    assert queue.wait(second, WAIT) and second.status == "done", second.message
    assert second.pid == first.pid and second.result == str(tmp_path / "elsewhere")
    monkeypatch.setenv("MLX_TRAINING_NICE", "3")  # a different niceness needs a different process
    third = queue.submit("c", "C", job_workers.report_and_identify)
    assert queue.wait(third, WAIT) and third.pid != first.pid
    assert third.result["nice"] == min(19, os.nice(0) + 3)


def test_a_worker_warmed_before_any_job_has_keras_loaded_and_takes_the_next_job(monkeypatch):
    """What opening the Retrain page does: one worker started ahead, TensorFlow imported while the form is filled
    in; a second call starts no other; the next job runs in it."""
    monkeypatch.setenv("MLX_TRAINING_WORKER", "process")
    assert worker_processes.warm_worker()
    (pid,) = worker_processes.idle_workers()
    assert not worker_processes.warm_worker()  # at most WARM_WORKERS idle ones: a class opening the page starts one
    assert worker_processes.idle_workers() == [pid]
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.keras_was_loaded)
    assert queue.wait(job, WAIT) and job.status == "done", job.message
    assert job.result == {"pid": pid, "keras": True}
    monkeypatch.setenv("MLX_TRAINING_WORKER", "thread")
    worker_processes.retire_idle_workers()
    assert not worker_processes.warm_worker()  # a server that trains in threads starts no process


def test_an_idle_worker_exits_after_a_while_and_a_worn_one_at_once(monkeypatch):
    monkeypatch.setattr(worker_processes, "WORKER_IDLE_SECONDS", 0.3)
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.report_and_identify)
    assert queue.wait(job, WAIT) and job.pid in worker_processes.idle_workers()
    wait_until(lambda: not worker_processes.idle_workers(), 10)
    wait_until(lambda: _reaped(job.pid), 10)
    monkeypatch.setattr(worker_processes, "WORKER_IDLE_SECONDS", 60.0)
    monkeypatch.setattr(worker_processes, "WORKER_MAX_JOBS", 2)
    pids = []
    for session in "bcd":
        done = queue.submit(session, session, job_workers.report_and_identify)
        assert queue.wait(done, WAIT) and done.status == "done"
        pids.append(done.pid)
    assert pids[0] == pids[1] != pids[2]  # two jobs, then a fresh process
    assert_reaped(pids[0])


def test_a_worker_that_died_while_idle_is_replaced():
    queue = process_queue()
    job = queue.submit("a", "A", job_workers.report_and_identify)
    assert queue.wait(job, WAIT)
    os.kill(job.pid, signal.SIGKILL)  # e.g. the kernel's out-of-memory killer chose it
    wait_until(lambda: _exited(job.pid))
    after = queue.submit("b", "B", job_workers.report_and_identify)
    assert queue.wait(after, WAIT) and after.status == "done", after.message
    assert after.pid != job.pid


def test_a_kept_warm_worker_preloads_before_its_first_job_and_is_replaced_once_gone(monkeypatch):
    """What an RQ worker does with the pool (core.engine.rq_worker): one worker, started ahead and preloading."""
    monkeypatch.setattr(worker_processes, "WORKER_IDLE_SECONDS", worker_processes.WORKER_IDLE_SECONDS)  # restored
    monkeypatch.setattr(worker_processes, "_PRELOAD", ())
    worker_processes.keep_warm(["colorsys", "no_such_module_for_the_worker"], idle_seconds=None)
    pid = worker_processes.ensure_warm()
    assert worker_processes.ensure_warm() == pid and worker_processes.idle_workers() == [pid]  # one is enough
    queue = process_queue()
    job = queue.submit("a", "A", functools.partial(job_workers.module_loaded, "colorsys"))
    assert queue.wait(job, WAIT) and job.status == "done", job.message
    assert job.pid == pid and job.result is True  # imported before the job (a missing module stopped nothing)
    assert worker_processes.idle_workers() == [pid]  # parked for the next job
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _exited(pid))
    fresh = worker_processes.ensure_warm()
    assert fresh != pid and worker_processes.idle_workers() == [fresh]
    assert_reaped(pid)


def _exited(pid: int) -> bool:
    """True once the process is gone or a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False
