"""AppTest: the one job panel (ui.job_panel) of Retrain, Teach and the run-to-run spread, over a real queue with
thread workers: queue place and wait, progress, Cancel, a plain line when the job failed or was cancelled, and the
poll rate (every 3 s while queued, every second while running)."""

import threading

from core.engine import jobs
from ui import job_panel as panel
from ui.job_panel import PanelText

WAIT = 30  # seconds at most for a trivial job
TEXT = PanelText(key="test", name="The runs", cancel="Cancel the runs", heading="Training now", unit="Run")


def until(condition) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError("timed out")


def page(queue, key, text, show_ended=True):
    """The page under test: the panel drawn from the snapshot the page run took, as the real pages do."""
    from ui.job_panel import job_panel

    job_panel(queue, key, queue.snapshot(key), text, show_ended)


def panel_test(queue, key: str, show_ended: bool = True):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(page, args=(queue, key, TEXT, show_ended), default_timeout=30).run()


def progress_texts(at) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def test_a_queued_job_shows_its_place_and_wait_and_cancel_takes_it_out():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    queue.record("k", 30.0)
    release = threading.Event()
    first = queue.submit("a", "First", lambda job: release.wait(WAIT), kind="k")
    until(lambda: first.status == "running")
    queue.submit("b", "Second: 3 runs", lambda job: None, kind="k")
    at = panel_test(queue, "b")
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Training now"]
    assert [c.value for c in at.caption] == ["Second: 3 runs"]
    assert "you are number **1**" in at.info[0].value and "your turn in about" in at.info[0].value
    at.button(key="test.cancel").click().run()
    assert not at.exception
    job = queue.job_for("b")
    assert queue.wait(job, WAIT) and job.status == "cancelled"
    at.run()
    assert [w.value for w in at.warning] == ["Cancelled while waiting in the queue."]
    assert not at.button and not at.subheader  # nothing of the live panel is left
    release.set()
    assert queue.wait(first, WAIT)


def test_a_running_job_shows_its_progress_in_its_own_unit():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    release, reported = threading.Event(), threading.Event()

    def work(job):
        job.plan(3, 1)
        job.on_epoch_end(0, {"val_accuracy": 0.5})
        reported.set()
        assert release.wait(WAIT)

    job = queue.submit("s", "Spread", work)
    assert reported.wait(WAIT)
    at = panel_test(queue, "s")
    assert not at.exception
    assert progress_texts(at) and progress_texts(at)[0].startswith("Run 2 of 3 · 33%")
    assert at.button(key="test.cancel").label == "Cancel the runs"
    at.button(key="test.cancel").click().run()
    assert any("Cancelling" in w.value for w in at.warning)  # the button gives way while the cancel is under way
    release.set()
    assert queue.wait(job, WAIT)


def test_a_failed_job_is_one_plain_line_or_nothing_where_the_page_says_it():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")

    def refused(job):
        raise ValueError("The batch size (64) is larger than the training data (10 samples).")

    assert queue.wait(queue.submit("s", "T", refused), WAIT)
    at = panel_test(queue, "s")
    assert not at.exception
    assert [e.value for e in at.error] == ["The batch size (64) is larger than the training data (10 samples)."]
    assert not at.button and not at.get("progress")
    quiet = panel_test(queue, "s", show_ended=False)
    assert not quiet.exception and not quiet.error and not quiet.warning


def test_no_job_draws_nothing():
    at = panel_test(jobs.JobQueue(limit=lambda: 1, worker="thread"), "nobody")
    assert not at.exception
    assert not (at.caption or at.info or at.warning or at.error or at.button or at.get("progress"))


def test_the_panel_polls_every_3_s_while_queued_and_every_second_while_running():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    release = threading.Event()
    first = queue.submit("a", "A", lambda job: release.wait(WAIT))
    until(lambda: first.status == "running")
    queue.submit("b", "B", lambda job: None)
    assert panel.poll_seconds(queue.snapshot("a")) == panel.RUNNING_POLL_SECONDS == 1.0
    assert panel.poll_seconds(queue.snapshot("b")) == panel.QUEUED_POLL_SECONDS == 3.0
    release.set()
    assert queue.wait(first, WAIT) and queue.wait(queue.job_for("b"), WAIT)
    assert panel.poll_seconds(queue.snapshot("a")) is None and panel.poll_seconds(None) is None
