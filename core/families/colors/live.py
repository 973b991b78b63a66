"""The Colors page's in-browser forward pass: the colour network in plain JavaScript, so the headline and the bars follow
the picker while it is dragged (TensorFlow Playground runs its network in the page the same way), and the numbers the
page's picker is given (live_data). Only numbers go in."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from core.families.colors.model import check_rgb

# The forward pass, exactly as core.colors' Keras model computes it: Rescaling (x * scale + offset), Dense + sigmoid,
# Dense, then a softmax with the largest logit subtracted first (so exp never overflows). Written by hand rather than
# with TensorFlow.js: the network is two small dense layers (3 x 32 + 32 x 9 weights), a few hundred multiply-adds a
# drag step, where TF.js would be ~1 MB of script to load and a WebGL/wasm backend to start for the same numbers.
# Kept as one function in a string so a test can run this very text under Node and compare it with Keras.
FORWARD_JS = r"""
function forwardColor(w, rgb) {
  const x = rgb.map((v) => v * w.scale + w.offset);
  const hidden = w.hidden_bias.map((bias, j) => {
    let s = bias;
    for (let i = 0; i < x.length; i++) s += x[i] * w.hidden_kernel[i][j];
    return 1 / (1 + Math.exp(-s));
  });
  const logits = w.logits_bias.map((bias, k) => {
    let s = bias;
    for (let j = 0; j < hidden.length; j++) s += hidden[j] * w.logits_kernel[j][k];
    return s;
  });
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - top));
  const total = e.reduce((a, b) => a + b, 0);
  return { hidden: hidden, logits: logits, probs: e.map((v) => v / total) };
}
"""

_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_WEIGHT_KEYS = ("scale", "offset", "hidden_kernel", "hidden_bias", "logits_kernel", "logits_bias")


def live_data(
    weights: dict | None,
    rgb: Sequence[int],
    class_names: Sequence[str],
    bar_colors: Sequence[str],
    probabilities: Sequence[float],
) -> dict:
    """What the Colors page's picker (ui.colors_picker) is given: the colour to show, the class names, one '#rrggbb'
    per class (the winning bar's paint), the server's own probabilities for that colour (shown until the first
    drag, and the whole answer when `weights` is None: a model the browser cannot run) and `weights`, which is
    core.families.colors.model.forward_weights(model): the numbers FORWARD_JS runs. Only finite numbers go in;
    anything else raises ValueError in plain words."""
    start = list(check_rgb(rgb))
    names = [str(n) for n in class_names]
    shades = [str(c) for c in bar_colors]
    probs = [float(p) for p in probabilities]
    if weights is not None:
        missing = [k for k in _WEIGHT_KEYS if k not in weights]
        if missing:
            raise ValueError(f"The live view's weights lack {', '.join(missing)}.")
        if len(weights["logits_bias"]) != len(names):
            raise ValueError(
                f"The live view needs one name per output ({len(weights['logits_bias'])}); got {len(names)} names."
            )
        weights = {k: weights[k] for k in _WEIGHT_KEYS}
    if len(shades) != len(names) or len(probs) != len(names):
        raise ValueError(
            f"The live view needs one colour and one probability per class ({len(names)}); got {len(shades)} "
            f"colours and {len(probs)} probabilities."
        )
    if not all(_HEX.fullmatch(c) for c in shades):
        raise ValueError("The live view's bar colours must be #rrggbb hex colours.")
    data = {"rgb": start, "names": names, "colors": shades, "probs": probs, "weights": weights}
    json.dumps(data, allow_nan=False)  # raises ValueError on NaN or infinity anywhere: never sent to a browser
    return data
