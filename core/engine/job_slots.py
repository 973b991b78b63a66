"""How many trainings may run at once on this machine (cores and free memory), and how long a queued one waits:
pure arithmetic the embedded queue (core.engine.jobs) and the Redis queue (core.engine.rq_queue) share."""

from __future__ import annotations

import heapq
import math
import os

from core.settings import Settings

# Trainings at once per CPU core when MLX_MAX_CONCURRENT_TRAININGS is not set. Measured on the 2-core server with
# quick retrains (bench/classroom.py, /tmp-only throughput runs): a worker spends its first seconds single-threaded
# (Python start, TensorFlow import, data preparation), so two per core keep both cores busy; more only add memory.
TRAININGS_PER_CORE = 2


def memory_slots(available_mb: float, reserve_mb: float, per_training_mb: float, running_rss_mb: list[float]) -> int:
    """How many trainings memory allows: the running ones, plus as many more as fit into what is available now once
    `reserve_mb` is kept for the pages and each running worker has grown to `per_training_mb` (a worker starts small:
    counting only its present size would let a burst of starts overshoot)."""
    growth = sum(max(0.0, per_training_mb - rss) for rss in running_rss_mb)
    room = available_mb - reserve_mb - growth
    return len(running_rss_mb) + max(0, int(room // max(1.0, per_training_mb)))


def cpu_slots(settings: Settings, worker: str | None = None) -> int:
    """The cap from the settings: MLX_MAX_CONCURRENT_TRAININGS when set; otherwise TRAININGS_PER_CORE per core for
    process workers, and 1 for thread workers (they share the server's interpreter with every page)."""
    if "max_concurrent_trainings" in settings.model_fields_set:
        return max(1, int(settings.max_concurrent_trainings))
    if (worker or settings.training_worker) == "thread":
        return 1
    return TRAININGS_PER_CORE * len(os.sched_getaffinity(0))


def estimate_wait(slot_free_in: list[float | None], ahead: list[float | None]) -> float | None:
    """Seconds until a queued job starts: `slot_free_in` says when each training slot frees up (0: free now) and
    `ahead` how long each job queued before this one takes, in queue order (each starts on the first free slot).
    None when a figure it needs is unknown (None)."""
    if not slot_free_in:
        return None
    free = [math.inf if t is None else max(0.0, float(t)) for t in slot_free_in]
    heapq.heapify(free)
    for seconds in ahead:
        start = heapq.heappop(free)
        heapq.heappush(free, start + (math.inf if seconds is None else max(0.0, float(seconds))))
    return None if math.isinf(free[0]) else free[0]
