"""core.engine.jobs' queue arithmetic: the wait estimate from measured durations (a fake clock, thread workers and trivial
work functions), the memory and CPU rules that decide how many trainings run at once, and the default job kind."""

import dataclasses
import threading
from types import SimpleNamespace

import pytest

from core.engine import job_slots, jobs
from core.settings import get_settings

WAIT = 30  # seconds at most for a trivial job


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def until(condition) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError("timed out")


def taking(clock: Clock, seconds: float):
    """A work function that 'takes' `seconds` on the fake clock."""

    def work(job):
        clock.advance(seconds)
        return seconds

    return work


def blocked(release: threading.Event):
    def work(job):
        assert release.wait(WAIT)

    return work


# ---------------------------------------------------------------- the pure arithmetic


def test_a_free_slot_means_no_wait_and_no_slot_means_unknown():
    assert job_slots.estimate_wait([0.0], []) == 0.0
    assert job_slots.estimate_wait([0.0, 12.0], [30.0]) == 12.0  # the job ahead takes the free slot
    assert job_slots.estimate_wait([], []) is None


def test_jobs_ahead_take_the_first_free_slot_in_queue_order():
    # Slots free at 5 s and 10 s; three jobs of 8 s ahead start at 5, 10 and 13; ours at 18 (when the second ends).
    assert job_slots.estimate_wait([5.0, 10.0], [8.0, 8.0, 8.0]) == pytest.approx(18.0)
    # One slot: the wait is the sum of what is ahead.
    assert job_slots.estimate_wait([4.0], [10.0, 20.0]) == pytest.approx(34.0)
    assert job_slots.estimate_wait([-3.0], []) == 0.0  # a slot overdue is free now, not in the past


def test_an_unmeasured_duration_makes_the_wait_unknown_only_when_it_matters():
    assert job_slots.estimate_wait([0.0], [None]) is None  # we start after a job nobody has timed
    assert job_slots.estimate_wait([0.0, 0.0], [None]) == 0.0  # the other slot is free anyway
    assert job_slots.estimate_wait([None], []) is None  # the only slot is held by a job of unknown length
    assert job_slots.estimate_wait([None, 4.0], [3.0]) == pytest.approx(7.0)  # unknown counts as later than the rest


def test_memory_slots_count_running_workers_at_full_size():
    assert job_slots.memory_slots(10_000, 2_000, 1_000, []) == 8
    # Two running: one still small (it will grow by 800 MB), one full; 7,200 MB left for 7 more.
    assert job_slots.memory_slots(10_000, 2_000, 1_000, [200, 1_000]) == 9
    assert job_slots.memory_slots(1_500, 2_000, 1_000, [500, 600]) == 2  # no room: only those already running
    assert job_slots.memory_slots(0, 0, 0, []) == 0  # a zero size does not divide by zero


def test_the_cpu_cap_is_the_setting_when_set_else_per_core(monkeypatch):
    monkeypatch.delenv("MLX_MAX_CONCURRENT_TRAININGS", raising=False)
    cores = len(job_slots.os.sched_getaffinity(0))
    assert job_slots.cpu_slots(get_settings(), "process") == job_slots.TRAININGS_PER_CORE * cores
    assert job_slots.cpu_slots(get_settings(), "thread") == 1  # trainings in the server's interpreter: one at a time
    monkeypatch.setenv("MLX_MAX_CONCURRENT_TRAININGS", "1")
    assert job_slots.cpu_slots(get_settings(), "process") == 1  # set explicitly, even to the old default, it is the cap


def test_the_default_limit_follows_the_available_memory(monkeypatch):
    monkeypatch.delenv("MLX_MAX_CONCURRENT_TRAININGS", raising=False)
    monkeypatch.setenv("MLX_TRAINING_RSS_MB", "1000")
    monkeypatch.setenv("MLX_TRAINING_RESERVE_MB", "2000")
    queue = jobs.JobQueue(worker="process")
    monkeypatch.setattr(jobs.psutil, "virtual_memory", lambda: SimpleNamespace(available=4_500 * 2**20))
    assert queue.limit() == min(2, job_slots.cpu_slots(get_settings(), "process"))  # (4,500 - 2,000) // 1,000
    monkeypatch.setattr(jobs.psutil, "virtual_memory", lambda: SimpleNamespace(available=2_100 * 2**20))
    assert queue.limit() == 1  # no room for even one: the queue still moves, one at a time
    monkeypatch.setattr(jobs.psutil, "virtual_memory", lambda: SimpleNamespace(available=10**6 * 2**20))
    assert queue.limit() == job_slots.cpu_slots(get_settings(), "process")  # plenty of memory: the cores decide


def test_the_default_kind_is_the_title_before_its_colon():
    assert jobs.default_kind("Retrain colors: 20 epoch(s), batch 64, adam 0.03") == "Retrain colors"
    assert jobs.default_kind("Teach") == "Teach"
    assert jobs.default_kind(": odd") == ": odd"
    queue = jobs.JobQueue(limit=lambda: 1)
    job = queue.submit("a", "Retrain shapes: 1 epoch(s)", lambda job: None)
    assert job.kind == "Retrain shapes" and job.snapshot().kind == "Retrain shapes"
    other = queue.submit("b", "Retrain shapes: 1 epoch(s)", lambda job: None, kind="shapes quick")
    assert other.kind == "shapes quick"
    assert queue.wait(job, WAIT) and queue.wait(other, WAIT)


# ---------------------------------------------------------------- the queue's record and estimate


def test_finished_jobs_record_their_duration_per_kind_and_failures_do_not():
    clock = Clock()
    queue = jobs.JobQueue(limit=lambda: 1, clock=clock)
    assert queue.typical_seconds("k") is None
    for i, seconds in enumerate((10.0, 30.0, 20.0)):
        job = queue.submit(f"s{i}", "T", taking(clock, seconds), kind="k")
        assert queue.wait(job, WAIT) and job.status == "done"
    assert queue.typical_seconds("k") == pytest.approx(20.0)  # the median, not the mean (20 either way here)
    assert queue.typical_seconds("other") is None

    def fail(job):
        clock.advance(500.0)
        raise ValueError("plain refusal")

    bad = queue.submit("s9", "T", fail, kind="k")
    assert queue.wait(bad, WAIT) and bad.status == "failed"
    assert queue.typical_seconds("k") == pytest.approx(20.0)  # a failed run says nothing about a full one


def test_the_record_keeps_only_the_recent_durations():
    queue = jobs.JobQueue(limit=lambda: 1)
    for _ in range(jobs.DURATIONS_KEPT):
        queue.record("k", 100.0)
    for _ in range(jobs.DURATIONS_KEPT):
        queue.record("k", 10.0)  # the server got faster (or emptier): the old runs no longer count
    assert queue.typical_seconds("k") == pytest.approx(10.0)


def test_the_wait_is_unknown_until_a_job_of_that_kind_has_finished():
    clock = Clock()
    queue = jobs.JobQueue(limit=lambda: 1, clock=clock)
    release = threading.Event()
    first = queue.submit("a", "T", blocked(release), kind="k")
    until(lambda: first.status == "running")
    second = queue.submit("b", "T", blocked(release), kind="k")
    est = queue.estimate(second)
    assert est.position == 1 and est.wait_seconds is None
    assert (est.running, est.waiting, est.limit) == (1, 1, 1)
    release.set()
    assert queue.wait(first, WAIT) and queue.wait(second, WAIT)


def test_the_wait_adds_the_running_jobs_rest_and_the_typical_time_of_those_ahead():
    clock = Clock()
    queue = jobs.JobQueue(limit=lambda: 1, clock=clock)
    queue.record("k", 10.0)
    queue.record("slow", 60.0)
    release = threading.Event()
    running = queue.submit("a", "T", blocked(release), kind="k")
    until(lambda: running.status == "running")
    clock.advance(3.0)  # it has run 3 s of its typical 10
    b = queue.submit("b", "T", blocked(release), kind="slow")
    c = queue.submit("c", "T", blocked(release), kind="k")
    assert dataclasses.asdict(queue.estimate(running)) == {
        "position": 0,
        "wait_seconds": 0.0,
        "remaining_seconds": pytest.approx(7.0),
        "running": 1,
        "waiting": 2,
        "limit": 1,
    }
    assert (queue.estimate(b).position, queue.estimate(b).wait_seconds) == (1, pytest.approx(7.0))
    assert (queue.estimate(c).position, queue.estimate(c).wait_seconds) == (2, pytest.approx(67.0))
    # The running job's own progress ETA wins when it says it needs longer than its kind usually does.
    running.eta_seconds = lambda: 25.0
    assert queue.estimate(b).wait_seconds == pytest.approx(25.0)
    assert queue.estimate(c).wait_seconds == pytest.approx(85.0)
    clock.advance(100.0)  # overdue with no ETA: its slot counts as about to free up, never as negative
    running.eta_seconds = lambda: None
    assert queue.estimate(b).wait_seconds == 0.0
    release.set()
    assert all(queue.wait(j, WAIT) for j in (running, b, c))
    assert queue.estimate(c).position == 0 and queue.estimate(c).remaining_seconds == 0.0


def test_free_slots_mean_no_wait_and_several_jobs_start_at_once():
    clock = Clock()
    queue = jobs.JobQueue(limit=lambda: 3, clock=clock)
    release = threading.Event()
    started = [queue.submit(f"s{i}", "T", blocked(release), kind="k") for i in range(3)]
    until(lambda: all(j.status == "running" for j in started))  # three at once: no one waited for a slot
    queue.record("k", 9.0)
    clock.advance(1.0)
    fourth = queue.submit("s3", "T", blocked(release), kind="k")
    fifth = queue.submit("s4", "T", blocked(release), kind="k")
    assert queue.estimate(fourth).wait_seconds == pytest.approx(8.0)  # the first of three to end
    assert queue.estimate(fifth).wait_seconds == pytest.approx(8.0)  # all three end together
    release.set()
    assert all(queue.wait(j, WAIT) for j in [*started, fourth, fifth])


def test_a_lowered_limit_makes_the_extra_running_jobs_end_first():
    clock = Clock()
    limit = [2]
    queue = jobs.JobQueue(limit=lambda: limit[0], clock=clock)
    queue.record("short", 5.0)
    queue.record("long", 50.0)
    release = threading.Event()
    a = queue.submit("a", "T", blocked(release), kind="short")
    b = queue.submit("b", "T", blocked(release), kind="long")
    until(lambda: a.status == b.status == "running")
    limit[0] = 1  # e.g. memory got short: both must end before a third starts
    c = queue.submit("c", "T", blocked(release), kind="short")
    assert queue.estimate(c).wait_seconds == pytest.approx(50.0)
    limit[0] = 2
    assert queue.estimate(c).wait_seconds == pytest.approx(5.0)
    release.set()
    assert all(queue.wait(j, WAIT) for j in (a, b, c))


def test_one_active_job_per_owner_whatever_the_key():
    queue = jobs.JobQueue(worker="thread")
    release = threading.Event()
    work = lambda job: release.wait(10)  # noqa: E731  (a thread worker runs closures)
    first = queue.submit("u1", "Retrain colors: 20 epoch(s)", work)
    with pytest.raises(jobs.JobError, match=r"already running for you \(Retrain colors"):
        queue.submit("teach-u1", "Teach image: 50 epoch(s)", work, owner="u1")  # the same user's Teach training
    other = queue.submit("teach-u2", "Teach image: 50 epoch(s)", work, owner="u2")  # another user is not held up
    release.set()
    assert queue.wait(first, 10) and queue.wait(other, 10)
    again = queue.submit("spread-u1", "colors: 3 quick trainings", lambda job: None, owner="u1")  # free again
    assert queue.wait(again, 10) and again.status == "done"
