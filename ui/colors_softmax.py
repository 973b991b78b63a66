"""The Colors page's "same logits, three ways" view as one st.components.v2 component: softmax, divide-by-sum and a
softmax with temperature, with its own temperature slider, computed in the browser. It follows the picker while it is
dragged (the picker announces each step's logits on the window) and the server's logits after each release."""

from __future__ import annotations

import streamlit as st

from core.families.colors import live as colors_live
from ui.colors_picker import BARS_JS, LOGITS_EVENT, LOSER_GREY
from ui.presenter import MIN_TEXT_PX, presenting

_SOFTMAX_JS = (
    colors_live.SOFTMAX_JS
    + BARS_JS
    + r"""
const PANELS = [
  ["logits", "logits"],
  ["softmax", "softmax(logits)"],
  ["sum", "logits / sum(logits)"],
  ["temp", "softmax(logits / T)"],
];
let current = null; // the mounted view's update(logits), for the picker's events
window.addEventListener("LOGITS_EVENT", (e) => {
  if (current) current(e.detail.logits);
});

function build(root) {
  const box = document.createElement("div");
  box.className = "three-ways";
  box.innerHTML = `
    <label class="temp">Softmax temperature <span class="t"></span>
      <input type="range" min="0" step="0.05" aria-label="Softmax temperature"></label>
    <p class="hint">Divide the logits by T before the softmax. T → 0 is argmax; a large T flattens.</p>
    <div class="panels"></div>
    <ul class="warnings"></ul>`;
  const panels = box.querySelector(".panels");
  for (const [kind, title] of PANELS) {
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.dataset.kind = kind;
    panel.innerHTML = `<div class="title"></div><div class="rows" role="list"></div>`;
    panel.querySelector(".title").textContent = title;
    panel.querySelector(".rows").setAttribute("aria-label", title);
    panels.appendChild(panel);
  }
  root.appendChild(box);
  return box;
}

function fill(panel, values, names, colors, note, raw) {
  const rows = panel.querySelector(".rows");
  layoutBars(rows, names);
  panel.dataset.values = values ? JSON.stringify(values) : "";
  panel.querySelector(".title").dataset.note = note || "";
  // The axis runs from min(0, smallest) to max(1, largest): divide-by-sum can go below 0 or past 1. Raw logits
  // (any real numbers) get their own span, zero included.
  const lo = values ? Math.min(0, ...values) : 0;
  const hi = values ? Math.max(raw ? 0 : 1, ...values) : 1;
  let top = 0;
  if (values) values.forEach((v, k) => { if (v > values[top]) top = k; });
  [...rows.children].forEach((row, k) => {
    const bar = row.querySelector(".fill");
    const value = row.querySelector(".value");
    if (!values) {
      bar.style.width = "0";
      value.textContent = "—";
      return;
    }
    const v = values[k];
    const from = (Math.min(0, v) - lo) / (hi - lo);
    bar.style.marginLeft = (100 * from).toFixed(2) + "%";
    bar.style.width = ((100 * Math.abs(v)) / (hi - lo)).toFixed(2) + "%";
    bar.style.background = k === top ? colors[k] : "LOSER_GREY";
    value.textContent = raw ? v.toFixed(2) : v.toFixed(3);
    row.classList.toggle("winner", k === top);
    row.classList.toggle("negative", v < 0);
  });
}

export default function (component) {
  const { data, parentElement } = component;
  const box = parentElement.querySelector(".three-ways") || build(parentElement);
  const slider = box.querySelector("input[type=range]");
  const state = box.__state || (box.__state = { t: 1, logits: null });
  slider.max = String(data.t_max);
  box.classList.toggle("present", data.presenter === true); // presenter mode's floor (the CSS below)

  function update(logits) {
    state.logits = logits;
    const T = state.t;
    box.querySelector(".t").textContent = "T = " + T.toFixed(2);
    const panels = [...box.querySelectorAll(".panel")];
    const bySum = divideBySum(logits);
    fill(panels[0], logits, data.names, data.colors, "", true);
    fill(panels[1], softmaxT(logits, 1), data.names, data.colors);
    fill(panels[2], bySum.values, data.names, data.colors, bySum.warning);
    fill(panels[3], softmaxT(logits, T), data.names, data.colors);
    panels[3].querySelector(".title").textContent = "softmax(logits / " + T.toFixed(2) + ")";
    const lines = bySum.values === null ? [bySum.warning] : explainDivideBySum(logits);
    box.querySelector(".warnings").replaceChildren(
      ...lines.map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
    box.dataset.logits = JSON.stringify(logits);
  }

  if (!box.__wired) {
    box.__wired = true;
    slider.value = String(state.t);
    slider.addEventListener("input", () => {
      state.t = Number(slider.value);
      if (state.logits) update(state.logits);
    });
  }
  current = (logits) => {
    if (box.isConnected) update(logits);
  };
  update(data.logits); // the server's logits: the first run, and each release
}
""".replace("LOGITS_EVENT", LOGITS_EVENT).replace("LOSER_GREY", LOSER_GREY)
)

# Sizes in em: the shadow root inherits the page's font size, so presenter mode's larger type grows it too.
_SOFTMAX_CSS = """
.three-ways { font-family: inherit; color: inherit; }
.temp { display: flex; align-items: center; gap: 0.6em; flex-wrap: wrap; }
.temp input { flex: 1 1 12em; min-width: 8em; accent-color: #ff4b4b; }
.temp .t { font-variant-numeric: tabular-nums; min-width: 5.5em; }
.hint { opacity: 0.75; font-size: 0.85em; margin: 0.2em 0 0.8em; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(max(15em, 40%), 1fr)); gap: 1em 2em; }
.panel { min-width: 0; }
.panel .title { font-weight: 600; margin-bottom: 0.3em; font-family: ui-monospace, monospace; }
.bar { display: flex; align-items: center; gap: 0.4em; height: 1.45em; }
.bar .name { width: 6.2em; flex: none; text-align: right; white-space: nowrap; }
.bar .track { flex: 1; height: 1em; background: rgba(128, 128, 128, 0.15); border-radius: 0.2em; overflow: hidden; }
.bar .fill { display: block; height: 100%; }
.bar.winner .name { font-weight: 700; }
.bar.negative .value { color: #d33; }
.bar .value { width: 4.2em; flex: none; text-align: right; font-variant-numeric: tabular-nums; }
.warnings { margin: 0.8em 0 0; padding-left: 1.2em; color: #9a6700; }
.warnings li { margin: 0.3em 0; }
.three-ways.present { font-size: max(1em, MIN_PX); }
.three-ways.present .hint { font-size: max(0.85em, MIN_PX); }
""".replace("MIN_PX", f"{MIN_TEXT_PX}px")

_view = st.components.v2.component(
    "mlx.colour_three_ways", html="", js=_SOFTMAX_JS, css=_SOFTMAX_CSS, isolate_styles=True
)

THREE_WAYS_KEY = "colors.three_ways"


def three_ways_view(data: dict) -> None:
    """The view, given colors_live.softmax_data(...): it has no value to send back (its slider is the page's own).
    Told whether presenter mode is on, it sizes its text for a projector."""
    _view(data={**data, "presenter": presenting()}, key=THREE_WAYS_KEY)
