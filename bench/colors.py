"""Warm colour prediction latency: our predict path (a direct call) against `model.predict`, same model, same run."""

from __future__ import annotations

import numpy as np

from bench.timing import percentiles, time_calls


def run() -> dict:
    from core.families.colors import model as colors

    model = colors.load_shipped().model
    rgb = np.array([51, 102, 204], dtype=np.float32)
    ours = time_calls(lambda: colors.predict_logits_proba(model, rgb))
    baseline = time_calls(lambda: model.predict(rgb[None], verbose=0), repeats=100)
    out = {**percentiles(ours, "color_predict"), **percentiles(baseline, "color_model_predict")}
    out["color_predict_speedup_vs_predict"] = round(float(np.percentile(baseline, 50) / np.percentile(ours, 50)), 2)
    return out
