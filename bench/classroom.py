"""A class of 30 on the one server (`python -m bench --only class`): 30 paced sessions drawing and picking colours
against one session alone, then 30 students pressing Start on the Retrain page's quick preset within a minute while
other sessions keep predicting. Every session speaks Streamlit's protocol (bench/protocol.py), as in bench/app.py.

Trainings go through the page, as a student's click does: the session sets the form to the family's quick preset
(core.retrain_checks.quick_settings), presses "Start training", and then polls the training panel once a second,
as the browser's `run_every` fragment does, until the job has left it. So the figures include 30 polling panels.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from bench.app import ANSWER_MARKER, CANVAS_KEY, PACE_S, rss_mb
from bench.protocol import ProtocolError, Session, canvas_blank, canvas_circle
from bench.server import start_app, stop_app

LIVE_KEY = "draw.live"  # pages/2_Draw.py's in-browser answer (ui.draw_live)

SESSIONS = 30
BASELINE_SESSIONS = 8  # the one-session baseline: this many sessions, one after another, alternating the two pages
LOAD_ACTIONS = 6  # per session with 30 at once
JOIN_SPREAD_S = 15.0  # the 30 students open their page within this long (uniform); actions start once all are in
TRAIN_FAMILIES = ("colors", "shapes")  # the pages the class uses; text's quick retrain needs the corpus (see README)
TRAIN_SPREAD_S = 58.0  # the 30 presses are spread over this long: "within one minute"
TRAIN_DEADLINE_S = 600.0  # give up waiting for the trainings after this long
PREDICTORS_WHILE_TRAINING = 8  # other sessions drawing and picking colours while the class trains
POLL_S = 1.0  # the Retrain page's panel reruns every second while a job is active (pages/4_Retrain.py)


class Tally:
    """Latencies and errors of one phase (`joins`: how long each page took to open, measured apart)."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self.by_page: dict[str, list[float]] = {"draw": [], "colors": []}  # the same latencies, split by page
        self.joins: list[float] = []
        self.errors: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)
        log(f"error: {message}")

    def p95(self) -> float:
        return self.percentile(95)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.ms, q)) if self.ms else float("nan")


def log(message: str) -> None:
    print(f"[bench.class {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def draw_session(
    url: str, seed: int, actions: int, tally: Tally, until: asyncio.Event | None = None, joined=None
) -> None:
    """A person on the Draw page: 1-2 s drawing, send, look 1-2 s, clear; `actions` times, or until `until` is set.

    As a browser does: once the page is open, its TensorFlow.js copy of the model reports that it answers
    (ui.draw_live: the component's state `engine: browser`), and from then on a stroke sends the canvas and the
    server only keeps it. A stroke's time is from sending it until the server's run has finished."""
    rng = np.random.default_rng(seed)
    session = await _join(url, "Draw", seed, rng, tally, joined)
    if session is None:
        return
    if CANVAS_KEY not in session.widgets or LIVE_KEY not in session.widgets:
        tally.error(f"draw {seed}: the page opened without its canvas ({session.first_run.texts[:4]})")
        await session.close()
        return
    try:
        await session.set_json_widget(LIVE_KEY, {"engine": "browser"})
        i = 0
        while (until is None and i < actions) or (until is not None and not until.is_set()):
            await asyncio.sleep(rng.uniform(*PACE_S))
            result = await session.set_json_widget(CANVAS_KEY, canvas_circle(seed * 1000 + i))
            if any(ANSWER_MARKER in t for t in result.texts):
                tally.error(f"draw {seed} drawing {i}: the server answered although the browser does")
            tally.ms.append(result.seconds * 1000.0)
            tally.by_page["draw"].append(result.seconds * 1000.0)
            await asyncio.sleep(rng.uniform(*PACE_S))
            await session.set_json_widget(CANVAS_KEY, canvas_blank())
            i += 1
    except ProtocolError as exc:
        tally.error(f"draw {seed}: {exc}")
    finally:
        await session.close()


async def colour_session(
    url: str, seed: int, actions: int, tally: Tally, until: asyncio.Event | None = None, joined=None
) -> None:
    """A person on the Colors page: 1-2 s choosing, pick a colour, look 1-2 s at the softmax; repeat."""
    rng = np.random.default_rng(seed)
    session = await _join(url, "Colors", seed, rng, tally, joined)
    if session is None:
        return
    try:
        i = 0
        while (until is None and i < actions) or (until is not None and not until.is_set()):
            await asyncio.sleep(rng.uniform(*PACE_S))
            r, g, b = (int(v) for v in rng.integers(0, 256, 3))
            pick = {"pick": {"rgb": [r, g, b], "at": i}}  # what the picker sends on release (ui.colors_picker)
            result = await session.set_json_widget("colors.pick", pick, f"RGB ({r}, {g}, {b})")
            if result.marker_seconds is None:  # the marker is this colour's own answer, not the previous one
                tally.error(f"colours {seed} pick {i}: no answer for ({r}, {g}, {b}) ({result.texts[:2]})")
            else:
                tally.ms.append(result.marker_seconds * 1000.0)
                tally.by_page["colors"].append(result.marker_seconds * 1000.0)
            await asyncio.sleep(rng.uniform(*PACE_S))
            i += 1
    except ProtocolError as exc:
        tally.error(f"colours {seed}: {exc}")
    finally:
        await session.close()


def class_sessions(
    url: str, n: int, actions: int, tally: Tally, seed0: int, until: asyncio.Event | None = None, paced: bool = False
):
    """Half the sessions draw and half pick colours (the odd one draws). `paced`: the sessions join over
    JOIN_SPREAD_S and start acting together once every page is open, so the measured requests are a class at work,
    not 30 first page loads landing in the same second (those are measured apart, in `joins`)."""
    joined = asyncio.Barrier(n) if paced else None
    return [
        (draw_session if i % 2 == 0 else colour_session)(url, seed0 + i, actions, tally, until, joined)
        for i in range(n)
    ]


async def _join(url: str, page: str, seed: int, rng, tally: Tally, joined) -> Session | None:
    """Open the page (after a random wait when joining a paced class); with a barrier, wait for everyone."""
    session = None
    try:
        if joined is not None:
            await asyncio.sleep(rng.uniform(0.0, JOIN_SPREAD_S))
        started = time.perf_counter()
        session = await Session.open(url, page)
        tally.joins.append((time.perf_counter() - started) * 1000.0)
    except (ProtocolError, OSError) as exc:
        tally.error(f"{page} {seed}: could not open the page ({exc})")
    if joined is not None:
        await joined.wait()  # every session waits, even one that failed, so the others are not stuck
    return session


def quick_form(family: str) -> dict:
    """The Retrain form's values for the family's quick preset (user key -> value)."""
    from core.engine import registry as families
    from core.engine.checks import quick_settings
    from core.store import models as store

    quick = quick_settings(family, store.load_metadata(families.get(family).shipped_dir()))
    values = {
        f"retrain.{family}.epochs": int(quick["epochs"]),
        f"retrain.{family}.batch": int(quick["batch_size"]),
        f"retrain.{family}.lr": f"{quick['learning_rate']:g}",
    }
    if "samples_per_class" in families.get(family).quick:
        values[f"retrain.{family}.per_class"] = int(quick["samples_per_class"])
    return values


async def train_session(
    url: str, i: int, delay: float, t0: float, done_at: dict, tally: Tally, polls: Tally | None = None
) -> None:
    """A student who opens the Retrain page, picks a family, presses Start on the quick preset after `delay` s, and
    keeps the page open until the training panel is gone (the job ended)."""
    from core.engine import registry as families

    family = TRAIN_FAMILIES[i % len(TRAIN_FAMILIES)]
    entry = families.get(family)
    await asyncio.sleep(delay)
    try:
        session = await Session.open(url, "Retrain")
        if family != families.with_shipped_model()[0].name:  # a radio's value is its option as shown
            await session.set_widget("retrain.family", f"{entry.icon} {entry.label}")
        result = await session.submit_form("Start training", quick_form(family), "Training now")
        if result.marker_seconds is None:
            tally.error(f"trainer {i} ({family}): Start gave no training panel ({result.texts})")
            await session.close()
            return
        fragment = result.fragments["Training now"]
        while time.perf_counter() - t0 < TRAIN_DEADLINE_S:
            await asyncio.sleep(POLL_S)
            result = await session.rerun_fragment(fragment, "Training now")
            if polls is not None:
                polls.ms.append(result.seconds * 1000.0)
            if result.marker_seconds is None:
                done_at[i] = time.perf_counter() - t0
                failed = [t for t in result.texts if "failed" in t.lower() or "stopped" in t.lower()]
                if failed:
                    tally.error(f"trainer {i} ({family}): {failed[0][:200]}")
                break
            fragment = result.fragments.get("Training now", fragment)
        else:
            tally.error(f"trainer {i} ({family}): not done after {TRAIN_DEADLINE_S:.0f} s")
        await session.close()
    except ProtocolError as exc:
        tally.error(f"trainer {i} ({family}): {exc}")


def worker_rss(server: psutil.Process, peaks: dict[int, float]) -> int:
    """Record each training worker's RSS (MB) as its peak so far; returns how many are running now."""
    running = 0
    for child in server.children(recursive=True):
        try:
            if "_worker_main" not in " ".join(child.cmdline()):
                continue
            running += 1
            peaks[child.pid] = max(peaks.get(child.pid, 0.0), child.memory_info().rss / 2**20)
        except psutil.Error:
            pass
    return running


def versions_saved(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "models").glob("*/*/model.json"))


async def one_session_baseline(url: str) -> Tally:
    """One session at a time, each as long as a session of the loaded class (LOAD_ACTIONS actions), alternating the
    Draw and Colors pages: the same requests, alone. Each session lives as long as a loaded one, so both meet the
    server's websocket keep-alive ping (every 30 s; a request that meets it waits ~40 ms) equally rarely; a
    baseline of two long sessions met it on every 11th request, which set its p95 (42 ms against a 10 ms median)."""
    one = Tally()
    for k in range(BASELINE_SESSIONS):
        await (draw_session if k % 2 == 0 else colour_session)(url, 1 + k, LOAD_ACTIONS, one)
    return one


async def measure(url: str, server: psutil.Process, data_dir: Path) -> dict:
    out = await measure_load(url, server)
    out.update(await measure_training(url, server, data_dir))
    return out


async def measure_load(url: str, server: psutil.Process, suffix: str = "") -> dict:
    """One session's p95 against 30 paced sessions' p95, drawing and picking colours (figures named with `suffix`)."""
    out: dict = {}
    # Warm-up: one visit to each page, so the first measured request does not pay a model load.
    warm = Tally()
    await asyncio.gather(*class_sessions(url, 2, 1, warm, seed0=900))

    one = await one_session_baseline(url)
    log(f"one session: p95 {one.p95():.1f} ms over {len(one.ms)} requests")

    rss_before = rss_mb(server)
    many = Tally()
    await asyncio.gather(*class_sessions(url, SESSIONS, LOAD_ACTIONS, many, seed0=100, paced=True))
    out["class_rss_per_session_mb"] = round((rss_mb(server) - rss_before) / SESSIONS, 1)
    log(f"{SESSIONS} sessions: p95 {many.p95():.1f} ms over {len(many.ms)} requests")
    out["class_load_p95_ms_1_session"] = round(one.p95(), 1)
    out[f"class_load_p95_ms_{SESSIONS}"] = round(many.p95(), 1)
    out[f"class_load_p95_ratio_{SESSIONS}"] = round(many.p95() / one.p95(), 2)
    # The medians too: one session's p95 is set by its slowest two of 24 requests, and those are the ones that met
    # the server's websocket keep-alive ping (every 30 s per session; a request that meets it waits ~40 ms).
    out["class_load_p50_ms_1_session"] = round(one.percentile(50), 1)
    out[f"class_load_p50_ms_{SESSIONS}"] = round(many.percentile(50), 1)
    out["class_load_errors"] = len(one.errors) + len(many.errors)
    out["class_join_p95_ms"] = round(float(np.percentile(many.joins, 95)), 1) if many.joins else None
    out["class_load_error_list"] = (one.errors + many.errors)[:10]
    for page in ("draw", "colors"):  # which page's requests set the p95: a stroke is a widget update now
        for label, tally in (("1_session", one), (str(SESSIONS), many)):
            values = tally.by_page[page]
            out[f"class_load_p95_ms_{label}_{page}"] = round(float(np.percentile(values, 95)), 1) if values else None
    return {f"{key}{suffix}": value for key, value in out.items()}


async def measure_training(url: str, server: psutil.Process, data_dir: Path) -> dict:
    out: dict = {}

    # The class trains: 30 presses spread over a minute; 8 other sessions keep predicting until the last is done.
    trainers, predictors, polls, done_at = Tally(), Tally(), Tally(), {}
    stop = asyncio.Event()
    peaks: dict[int, float] = {}
    most_running = 0
    versions_before = versions_saved(data_dir)
    t0 = time.perf_counter()
    delays = np.linspace(0.0, TRAIN_SPREAD_S, SESSIONS)
    training = asyncio.gather(
        *(train_session(url, i, float(d), t0, done_at, trainers, polls) for i, d in enumerate(delays))
    )
    others = asyncio.gather(*class_sessions(url, PREDICTORS_WHILE_TRAINING, 0, predictors, seed0=500, until=stop))
    while not training.done():
        most_running = max(most_running, worker_rss(server, peaks))
        await asyncio.sleep(0.5)
    stop.set()
    await training
    await others
    saved = versions_saved(data_dir) - versions_before
    log(f"trainings: {saved} saved, {len(done_at)} seen done, at most {most_running} at once")
    out["class_trainings_all_done_s"] = round(max(done_at.values()), 1) if len(done_at) == SESSIONS else None
    out["class_trainings_done"] = saved
    out["class_trainings_errors"] = len(trainers.errors)
    out["class_trainings_error_list"] = trainers.errors[:10]
    out["class_trainings_most_running"] = most_running
    out["class_predict_p95_ms_during_training"] = round(predictors.p95(), 1)
    out["class_panel_poll_p95_ms"] = round(polls.p95(), 1)  # a training panel's once-a-second update
    out["class_predict_errors_during_training"] = len(predictors.errors)
    # Each worker's peak: what the queue must budget per training (core.settings training_rss_mb).
    out["rss_per_running_training_mb"] = round(float(np.median(list(peaks.values()))), 1) if peaks else None
    out["rss_per_running_training_max_mb"] = round(max(peaks.values()), 1) if peaks else None
    return out


def run() -> dict:
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        proc, url = start_app(data_dir)  # the shipped settings: process workers, the queue's own limit
        try:
            out = asyncio.run(measure(url, psutil.Process(proc.pid), data_dir))
        finally:
            stop_app(proc)
    # The same class on a server pinned to one core (`taskset -c 0`), standing for a slower machine.
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(Path(tmp), cpus="0")
        try:
            out.update(asyncio.run(measure_load(url, psutil.Process(proc.pid), suffix="_one_core")))
        finally:
            stop_app(proc)
    # The machine is shared: how busy it was (1-minute load average, 2 cores) at the start and at the end.
    out["class_load_average_at_start"] = load_at_start
    out["class_load_average_at_end"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
