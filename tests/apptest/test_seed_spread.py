"""Run-to-run variance (core.seed_spread): N quick trainings of one family through the registry, as a queue job with
progress and cancel, and the Retrain studio's section that starts it and plots the spread."""

from __future__ import annotations

import time

import pytest

from core.engine import jobs, seed_spread
from core.engine import registry as families
from core.engine.training import TrainingError
from tests.helpers.apptest import app_test_as
from tests.helpers.toy_family import family as toy_family


@pytest.fixture
def toy(tmp_path):
    from core.__main__ import main

    shipped = tmp_path / "shipped_toy"
    families.register(toy_family(models_dir=shipped))
    assert main(["train", "toy", "--out", str(shipped), "--epochs", "1"]) == 0
    yield "toy"
    families.unregister("toy")


def test_n_runs_differ_only_by_seed_and_report_every_accuracy(toy, capsys):
    queue = jobs.JobQueue(worker="thread")
    job = seed_spread.start_spread(toy, 3, "u" + "3" * 20, queue)
    assert queue.wait(job, 120) and job.status == "done", job.snapshot()
    result = job.result
    assert result.n_runs == 3 and [r.seed for r in result.runs] == [0, 1, 2]
    assert result.min <= result.mean <= result.max and 0 <= result.min <= 1
    assert result.recipe.epochs == seed_spread.quick_config(toy).epochs
    assert len(job.snapshot().epoch_logs) == 3 and job.snapshot().progress == 1.0  # one step per run


def test_bad_run_counts_and_unknown_families_are_plain_errors():
    for n in (1, seed_spread.MAX_RUNS + 1):
        with pytest.raises(TrainingError, match="Choose 2 to"):
            seed_spread.start_spread("colors", n, "u" + "3" * 20, jobs.JobQueue(worker="thread"))
    with pytest.raises(ValueError, match="Unknown model"):
        seed_spread.start_spread("nope", 3, "u" + "3" * 20, jobs.JobQueue(worker="thread"))


def test_a_cancel_keeps_nothing(toy):
    queue = jobs.JobQueue(worker="thread")
    job = seed_spread.start_spread(toy, 10, "u" + "3" * 20, queue)
    job.cancel()
    assert queue.wait(job, 120)
    assert job.status == "cancelled" and job.result is None


def test_the_studio_runs_the_spread_and_plots_it():
    owner = "u" + "4" * 20
    at = app_test_as("pages/4_Retrain.py", owner).run()
    at.number_input(key="retrain.spread_n.colors").set_value(2)
    at.button(key="retrain.spread.colors").click().run()
    assert not at.exception and not at.error
    job = jobs.QUEUE.job_for(f"spread-{owner}")
    assert job is not None and jobs.QUEUE.wait(job, 180) and job.status == "done", job.snapshot()
    deadline = time.time() + 30
    while time.time() < deadline and not any("over 2 runs" in m.value for m in at.markdown):
        at.run()
    assert any("Validation accuracy from" in m.value and "over 2 runs" in m.value for m in at.markdown)
