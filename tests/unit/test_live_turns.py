"""Live picks and strokes take turns (ui.common.taking_turns): at most MLX_LIVE_TURNS run at once, an error gives the
turn back, and a run that keeps its turn too long delays the others but never stops them."""

import threading
import time

import pytest

from core.settings import get_settings
from ui import common


def _concurrency(workers: int, hold_s: float = 0.02) -> int:
    """Run `workers` threads through one wrapped function at once; the most that were inside it together.

    The wait after which a run goes ahead anyway is made far longer than the test for the count: on a busy machine a
    thread could otherwise wait past it and be counted as one too many (the limit, not the clock, is under test)."""
    inside, most, lock = [0], [0], threading.Lock()
    saved, common.LIVE_TURN_WAIT_S = common.LIVE_TURN_WAIT_S, 60.0

    @common.taking_turns
    def live_run():
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(hold_s)
        with lock:
            inside[0] -= 1

    threads = [threading.Thread(target=live_run) for _ in range(workers)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join(60)
    finally:
        common.LIVE_TURN_WAIT_S = saved
    return most[0]


def test_one_live_run_at_a_time_by_default():
    assert get_settings().live_turns == 1
    assert _concurrency(6) == 1


def test_the_setting_allows_more_at_once(monkeypatch):
    monkeypatch.setenv("MLX_LIVE_TURNS", "3")
    assert _concurrency(6, hold_s=0.1) == 3


def test_an_error_gives_the_turn_back():
    @common.taking_turns
    def broken():
        raise RuntimeError("boom")

    for _ in range(3):  # with the turn kept, the second call would wait LIVE_TURN_WAIT_S
        with pytest.raises(RuntimeError):
            broken()
    assert _concurrency(2) == 1


def test_a_run_that_keeps_its_turn_too_long_does_not_stop_the_others(monkeypatch):
    monkeypatch.setattr(common, "LIVE_TURN_WAIT_S", 0.05)
    entered, release = threading.Event(), threading.Event()

    @common.taking_turns
    def stuck():
        entered.set()
        release.wait(30)

    @common.taking_turns
    def quick():
        return "done"

    holder = threading.Thread(target=stuck)
    holder.start()
    assert entered.wait(30)  # the stuck run holds the only turn
    assert quick() == "done"  # it went ahead after the wait, while the stuck run still held its turn
    assert not release.is_set() and holder.is_alive()
    release.set()
    holder.join(30)
    assert _concurrency(3) == 1  # and the stuck run's turn came back


@pytest.mark.parametrize("raw", ["0", "-1", "65", "many"])
def test_a_bad_live_turns_setting_is_explained(monkeypatch, raw):
    monkeypatch.setenv("MLX_LIVE_TURNS", raw)
    with pytest.raises(ValueError, match="MLX_LIVE_TURNS"):
        get_settings()
