"""The Colors page's in-browser view: the colour network's forward pass in JavaScript, so the bars follow the sliders
while they are dragged (TensorFlow Playground runs its network in the page the same way). Only numbers go in."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from core.families.colors.model import check_rgb

# The forward pass, exactly as core.colors' Keras model computes it: Rescaling (x * scale + offset), Dense + sigmoid,
# Dense, then a softmax with the largest logit subtracted first (so exp never overflows). Kept as one function in a
# string so a test can run this very text under Node and compare it with Keras.
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
LIVE_VIEW_HEIGHT = 430  # pixels: three sliders, the swatch, the hidden strip and nine bars


def script_json(value) -> str:
    """JSON safe inside a <script> element: no NaN/Infinity, and <, >, & and the JS line separators escaped, so no
    string can close the script or open a tag."""
    text = json.dumps(value, allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029")


def live_view_html(weights: dict, rgb: Sequence[int], class_names: Sequence[str], bar_colors: Sequence[str]) -> str:
    """A self-contained page (no network, no external script): three RGB range inputs, a swatch, the hidden units
    and the softmax bars, recomputed in the browser on every `input` event, i.e. while a slider is dragged.

    `weights` is core.colors.forward_weights(model); `bar_colors` are '#rrggbb' strings, one per class."""
    missing = [k for k in _WEIGHT_KEYS if k not in weights]
    if missing:
        raise ValueError(f"The live view's weights lack {', '.join(missing)}.")
    start = list(check_rgb(rgb))
    names = [str(n) for n in class_names]
    shades = [str(c) for c in bar_colors]
    if len(names) != len(weights["logits_bias"]) or len(shades) != len(names):
        raise ValueError(
            f"The live view needs one name and one colour per output ({len(weights['logits_bias'])}); "
            f"got {len(names)} names and {len(shades)} colours."
        )
    if not all(_HEX.fullmatch(c) for c in shades):
        raise ValueError("The live view's bar colours must be #rrggbb hex colours.")
    data = script_json(
        {"weights": {k: weights[k] for k in _WEIGHT_KEYS}, "names": names, "colors": shades, "start": start}
    )
    return _PAGE.replace("/*FORWARD*/", FORWARD_JS).replace("/*DATA*/", data)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<style>
  body { margin: 0; font-family: "Source Sans Pro", system-ui, sans-serif; font-size: 14px; color: #222; }
  .live { background: #fafafa; border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; }
  .row { display: flex; align-items: center; gap: 8px; margin: 2px 0; }
  .row label { width: 14px; font-weight: 600; }
  .row input { flex: 1; }
  .row output { width: 32px; text-align: right; font-variant-numeric: tabular-nums; }
  .head { display: flex; align-items: center; gap: 12px; margin: 8px 0; }
  .swatch { width: 48px; height: 48px; border-radius: 8px; border: 1px solid #999; }
  .top { font-size: 1.4em; font-weight: 700; }
  .units { display: flex; gap: 1px; margin: 4px 0 8px; }
  .unit { flex: 1; height: 14px; border: 1px solid #ccc; }
  .bar { display: flex; align-items: center; gap: 6px; height: 22px; }
  .bar .name { width: 84px; text-align: right; }
  .bar .track { flex: 1; background: #eee; height: 16px; border-radius: 3px; overflow: hidden; }
  .bar .fill { height: 100%; }
  .bar .value { width: 44px; font-variant-numeric: tabular-nums; }
  .note { color: #666; font-size: 12px; }
</style></head>
<body><div class="live">
  <div class="row"><label for="r">R</label><input type="range" id="r" min="0" max="255" step="1"
    aria-label="live R"><output id="r-out"></output></div>
  <div class="row"><label for="g">G</label><input type="range" id="g" min="0" max="255" step="1"
    aria-label="live G"><output id="g-out"></output></div>
  <div class="row"><label for="b">B</label><input type="range" id="b" min="0" max="255" step="1"
    aria-label="live B"><output id="b-out"></output></div>
  <div class="head"><div class="swatch" id="swatch"></div>
    <div><div class="top" id="top" data-testid="live-top"></div><div class="note" id="detail"></div></div></div>
  <div class="note">the hidden units (sigmoid: white 0, dark 1)</div>
  <div class="units" id="units"></div>
  <div id="bars"></div>
</div>
<script>
/*FORWARD*/
const DATA = /*DATA*/;
const sliders = ["r", "g", "b"].map((id) => document.getElementById(id));
const bars = DATA.names.map((name, k) => {
  const row = document.createElement("div");
  row.className = "bar";
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = name;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.background = DATA.colors[k];
  track.appendChild(fill);
  const value = document.createElement("span");
  value.className = "value";
  row.append(label, track, value);
  document.getElementById("bars").appendChild(row);
  return { fill: fill, value: value, label: label };
});
const units = DATA.weights.hidden_bias.map(() => {
  const cell = document.createElement("div");
  cell.className = "unit";
  document.getElementById("units").appendChild(cell);
  return cell;
});
function render() {
  const rgb = sliders.map((s) => Number(s.value));
  sliders.forEach((s, i) => { document.getElementById(s.id + "-out").textContent = rgb[i]; });
  const out = forwardColor(DATA.weights, rgb);
  let top = 0;
  out.probs.forEach((p, k) => { if (p > out.probs[top]) top = k; });
  bars.forEach((bar, k) => {
    bar.fill.style.width = (100 * out.probs[k]).toFixed(1) + "%";
    bar.value.textContent = out.probs[k].toFixed(3);
    bar.label.style.fontWeight = k === top ? "700" : "400";
  });
  units.forEach((cell, j) => {
    const shade = Math.round(255 * (1 - out.hidden[j]));
    cell.style.background = "rgb(" + shade + "," + shade + "," + shade + ")";
    cell.title = "unit " + j + ": " + out.hidden[j].toFixed(3);
  });
  document.getElementById("swatch").style.background = "rgb(" + rgb.join(",") + ")";
  document.getElementById("top").textContent = DATA.names[top];
  document.getElementById("detail").textContent =
    (100 * out.probs[top]).toFixed(1) + "% · RGB (" + rgb.join(", ") + ")";
}
sliders.forEach((s, i) => {
  s.value = DATA.start[i];
  s.addEventListener("input", render);  // every step of a drag, not only on release
});
render();
</script></body></html>
"""
