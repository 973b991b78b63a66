"""Warm drawing prediction latency: preprocess + our predict path (a traced direct call) for one canvas, against
the same preprocessing + `model.predict`, same model, same run."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from bench.timing import percentiles, time_calls
from core.inputs import canvas as shape_preprocess


def _canvas() -> np.ndarray:
    """A 320x320 RGBA canvas with a hand-sized circle, as the Draw page's canvas sends it."""
    img = Image.new("RGBA", (320, 320), (255, 255, 255, 255))
    ImageDraw.Draw(img).ellipse((60, 70, 250, 260), outline=(0, 0, 0, 255), width=10)
    return np.asarray(img)


def run() -> dict:
    from core.families.shapes import model as shapes

    model = shapes.load_shipped().model
    rgba = _canvas()

    def ours():
        return shapes.predict_proba(model, shape_preprocess.preprocess_canvas(rgba))

    def baseline():
        return model.predict(shape_preprocess.preprocess_canvas(rgba)[None].astype(np.float32), verbose=0)

    fast = time_calls(ours)
    slow = time_calls(baseline, repeats=100)
    out = {**percentiles(fast, "shape_predict"), **percentiles(slow, "shape_model_predict")}
    out["shape_predict_speedup_vs_predict"] = round(float(np.percentile(slow, 50) / np.percentile(fast, 50)), 2)
    out["shape_preprocess_p50_ms"] = percentiles(time_calls(lambda: shape_preprocess.preprocess_canvas(rgba)), "x")[
        "x_p50_ms"
    ]
    return out
