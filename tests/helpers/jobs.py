"""Retrain jobs on tiny data: a few labelled colours per family, a retrain request with small settings, and a job run
to its end on a queue of its own."""

import numpy as np

from core.engine import jobs, retrain

WAIT = 120  # seconds a test waits for a job at most; jobs here take a few seconds


def user_colors(per_class: int = 4) -> retrain.UserData:
    """A few labelled colours per family around the family's obvious colour."""
    from core.families.colors import model as colors

    rng = np.random.default_rng(0)
    rows = []
    for family, rgb in colors.OBVIOUS_COLORS.items():
        for _ in range(per_class):
            r, g, b = np.clip(np.array(rgb) + rng.integers(-20, 21, 3), 0, 255)
            rows.append((int(r), int(g), int(b), family))
    return retrain.UserData(colors=rows)


def request(**changes) -> retrain.RetrainRequest:
    base = dict(
        family="colors",
        epochs=2,
        batch_size=16,
        learning_rate=0.2,
        optimizer="sgd",
        validation_fraction=0.3,
        seed=5,
        use_builtin=False,
        use_user_samples=True,
        version_name="test run",
        owner="session-a",
    )
    base.update(changes)
    return retrain.RetrainRequest(**base)


def run_job(req, user, session="session-a"):
    queue = jobs.JobQueue(limit=lambda: 1)
    job = retrain.start_retrain(req, user, session, queue=queue)
    assert queue.wait(job, WAIT)
    return job
