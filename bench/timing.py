"""Timing helpers for the benchmarks: warm-up, then per-call wall times and percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_calls(fn: Callable[[], object], repeats: int = 200, warmup: int = 10) -> np.ndarray:
    """Milliseconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1000.0
    return out


def percentiles(ms: np.ndarray, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(float(np.percentile(ms, 50)), 3),
        f"{prefix}_p95_ms": round(float(np.percentile(ms, 95)), 3),
    }
