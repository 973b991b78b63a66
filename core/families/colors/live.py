"""The Colors page's in-browser forward pass: the colour network in plain JavaScript, so the headline and the bars follow
the picker while it is dragged (TensorFlow Playground runs its network in the page the same way), the three-ways view's
softmax / divide-by-sum / temperature maths, and the numbers each is given (live_data, softmax_data)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np

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


def forward(weights: dict, rgb: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """FORWARD_JS in NumPy, step for step (float64): (logits, probabilities) for one colour, given forward_weights.
    The server's answer on each pick is the browser's own arithmetic, without a TensorFlow call (bench --only class:
    a Keras call was a fifth of a pick's server time under load)."""
    x = np.asarray(rgb, dtype=np.float64) * weights["scale"] + weights["offset"]
    hidden = 1 / (1 + np.exp(-(np.asarray(weights["hidden_bias"]) + x @ np.asarray(weights["hidden_kernel"]))))
    logits = np.asarray(weights["logits_bias"]) + hidden @ np.asarray(weights["logits_kernel"])
    e = np.exp(logits - logits.max())
    return logits, e / e.sum()


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
    return _checked({"rgb": start, "names": names, "colors": shades, "probs": probs, "weights": weights}, "live view")


def _checked(data: dict, view: str) -> dict:
    """`data` as given, once its bar colours are #rrggbb and every number in it is finite (ValueError otherwise)."""
    if not all(_HEX.fullmatch(c) for c in data["colors"]):
        raise ValueError(f"The {view}'s bar colours must be #rrggbb hex colours.")
    json.dumps(data, allow_nan=False)  # raises ValueError on NaN or infinity anywhere: never sent to a browser
    return data


# The "same logits, three ways" view, in the page: softmax, divide-by-sum and a softmax with temperature, and the
# sentences on why divide-by-sum is no probability. Each mirrors core.maths.softmax, colors.model.divide_by_sum and
# colors.model.explain_divide_by_sum (a test runs this very text under Node against them), so the view follows the
# picker while it is dragged without a round trip, and a pick costs the server no chart (bench --only class).
SOFTMAX_JS = r"""
function softmaxT(z, T) {
  if (!(T >= 0) || !Number.isFinite(T)) throw new Error("The temperature must be 0 or a positive number.");
  const m = Math.max(...z);
  if (T === 0) {
    const top = z.map((v) => (v === m ? 1 : 0));
    const n = top.reduce((a, b) => a + b, 0);
    return top.map((v) => v / n);
  }
  const shift = Number.isFinite(m) ? m : 0;
  const e = z.map((v) => Math.exp((v - shift) / T));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function divideBySum(z) {
  const total = z.reduce((a, b) => a + b, 0);
  if (Math.abs(total) < 1e-12) return { values: null, warning: "The scores sum to zero, so dividing by the sum is undefined." };
  return { values: z.map((v) => v / total), warning: "" };
}

function explainDivideBySum(z) {
  const total = z.reduce((a, b) => a + b, 0);
  const out = [];
  const negative = z.filter((v) => v < 0).length;
  if (negative) {
    out.push(
      `${negative} of the ${z.length} logits are negative, so their shares are negative too: a 'probability' ` +
        "below zero. A logit is any real number; only exp() turns every one into something positive.",
    );
  }
  const big = Math.max(...z.map(Math.abs));
  if (Math.abs(total) < 1e-12) {
    out.push("The logits sum to zero, so dividing by the sum is undefined.");
  } else if (big > 1.5 * Math.abs(total)) {
    out.push(
      `Positive and negative logits nearly cancel: they sum to ${total.toFixed(2)}, less than the largest logit ` +
        `(${big.toFixed(2)}), so the shares explode past 1 (up to ${(big / Math.abs(total)).toFixed(1)}). ` +
        "Nudge the colour and the sum can cross zero, flipping every sign.",
    );
  }
  if (total < 0 && Math.abs(total) >= 1e-12) {
    out.push("The sum itself is negative, so the largest logit gets the most negative share: the order flips.");
  }
  return out;
}
"""

TEMPERATURE_MAX = 5.0  # the view's temperature slider: 0 (argmax) to 5 (nearly flat), in steps of 0.05


def softmax_data(logits: Sequence[float], class_names: Sequence[str], bar_colors: Sequence[str]) -> dict:
    """What the three-ways view (ui.colors_softmax) is given: the server's logits for the picked colour, the class
    names and one '#rrggbb' per class. Only finite numbers go in; anything else raises ValueError in plain words."""
    z = [float(v) for v in logits]
    names = [str(n) for n in class_names]
    shades = [str(c) for c in bar_colors]
    if len(z) != len(names) or len(shades) != len(names):
        raise ValueError(
            f"The three-ways view needs one logit and one colour per class ({len(names)}); got {len(z)} logits and "
            f"{len(shades)} colours."
        )
    return _checked({"logits": z, "names": names, "colors": shades, "t_max": TEMPERATURE_MAX}, "three-ways view")
