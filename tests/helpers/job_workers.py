"""Work functions for the process-mode job tests (tests/integration/test_jobs_process.py).

A worker process rebuilds its work function from a JSON work spec (core.engine.job_codec), so these are registered
top-level functions of a module the worker may import (tests set MLX_JOB_MODULES to name it).
They import no TensorFlow, so a worker running one starts in a fraction of a second (a warm worker imports Keras
before its first job: core.engine.job_workers.warm_worker).
"""

import os
import signal
import sys
import time

from core.engine import job_codec

LIMIT = 60.0  # seconds a worker waits for a cancel before giving up, so a broken test cannot leave it running


def keras_was_loaded(job) -> dict:
    """Whether the worker had imported Keras before this job came (core.engine.job_workers._preload), and its pid."""
    return {"pid": os.getpid(), "keras": "keras" in sys.modules}


def report_and_identify(job) -> dict:
    """Report a plan, two batches and an epoch, then say which process ran and at what niceness."""
    job.plan(epochs=2, steps_per_epoch=3)
    job.on_batch_end(0, 0, {"loss": 2.0})
    job.on_batch_end(0, 2, {"loss": 1.5})
    job.on_epoch_end(0, {"loss": 1.5, "val_loss": 1.7})
    return {"pid": os.getpid(), "ppid": os.getppid(), "nice": os.nice(0)}


def train_until_cancelled(job) -> str | None:
    """An endless 'training' that reports an epoch every 50 ms and ends cancelled when asked to stop."""
    job.plan(epochs=10_000, steps_per_epoch=1)
    deadline = time.monotonic() + LIMIT
    epoch = 0
    while time.monotonic() < deadline:
        if job.should_stop():
            job.finish("cancelled", "Stopped on request. Nothing was saved.")
            return None
        job.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
        epoch += 1
        time.sleep(0.05)
    return "never cancelled"


def ignore_cancel(job) -> str:
    """A worker stuck where no cancel can reach it (like one long batch)."""
    job.plan(epochs=1, steps_per_epoch=1)
    job.on_batch_end(0, 0, {"loss": 1.0})
    time.sleep(LIMIT)
    return "finished anyway"


def refuse_with_plain_message(job):
    raise ValueError("The batch size (64) is larger than the training data (10 samples).")


def crash_with_a_bug(job):
    raise KeyError("a missing key")


def die_mid_training(job):
    """Report one epoch, then die the way an out-of-memory kill does: SIGKILL, no result sent."""
    job.plan(epochs=3, steps_per_epoch=1)
    job.on_epoch_end(0, {"loss": 1.0})
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(LIMIT)


def return_unpicklable(job):
    return lambda: "a lambda cannot cross back to the server as JSON"


def return_value(value, job):
    """Use as functools.partial(return_value, value)."""
    return value


def read_environment(name: str, job) -> str | None:
    """Use as functools.partial(read_environment, name): the worker's value of an environment variable."""
    return os.environ.get(name)


def module_loaded(name: str, job) -> bool:
    """Use as functools.partial(module_loaded, name): was `name` imported in the worker before this job asked?"""
    return name in sys.modules


job_codec.allow(
    module_loaded,
    report_and_identify,
    train_until_cancelled,
    ignore_cancel,
    refuse_with_plain_message,
    crash_with_a_bug,
    die_mid_training,
    return_unpicklable,
    return_value,
    read_environment,
    keras_was_loaded,
)
