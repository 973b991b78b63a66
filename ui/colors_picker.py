"""The Colors page's one set of colour controls: a colour picker and R/G/B sliders in one st.components.v2 component
that runs the colour network in the browser (core.families.colors.live.FORWARD_JS), so the headline and the bars follow
every step of a drag; on release it sends the colour to the server, and the rest of the page follows."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.families.colors import live as colors_live
from ui.presenter import MIN_TEXT_PX, presenting

PICK_KEY = "colors.pick"  # the component's key: its state is {"pick": {"rgb": [r, g, b], "at": <ms>}} after a release
LOSER_GREY = "#c4c7cc"  # every bar but the winner's
LOGITS_EVENT = "mlx-colour-logits"  # a window event with each drag step's logits, for the three-ways view

# One row per class (name, track, value), the names set only as text: the picker's bars and the three-ways view's
# panels (ui.colors_softmax) are laid out by this one function.
BARS_JS = r"""
function layoutBars(bars, names) {
  if (bars.children.length === names.length) return;
  bars.replaceChildren();
  names.forEach((name) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.setAttribute("role", "listitem");
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    row.querySelector(".name").textContent = name;
    bars.appendChild(row);
  });
}
"""

_PICKER_JS = (
    colors_live.FORWARD_JS
    + r"""
const CHANNELS = ["R", "G", "B"];

function hex(rgb) {
  return "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
}

function fromHex(text) {
  return [1, 3, 5].map((i) => parseInt(text.slice(i, i + 2), 16));
}

function build(root) {
  const box = document.createElement("div");
  box.className = "colour-live";
  box.innerHTML = `
    <div class="controls">
      <label class="picker">Colour <input type="color" aria-label="Colour"></label>
      <div class="sliders"></div>
    </div>
    <div class="answer">
      <div class="head"><div class="swatch"></div>
        <div><b class="top" data-testid="top-family"></b><div class="detail"></div></div></div>
      <div class="bars" role="list" aria-label="Softmax over the families"></div>
      <div class="note"></div>
    </div>`;
  const sliders = box.querySelector(".sliders");
  for (const name of CHANNELS) {
    const row = document.createElement("label");
    row.className = "channel";
    row.innerHTML = `<span class="name"></span><input type="range" min="0" max="255" step="1"><output></output>`;
    row.querySelector(".name").textContent = name;
    row.querySelector("input").setAttribute("aria-label", name);
    sliders.appendChild(row);
  }
  root.appendChild(box);
  return box;
}

BARS_JS

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const box = parentElement.querySelector(".colour-live") || build(parentElement);
  const picker = box.querySelector("input[type=color]");
  const ranges = [...box.querySelectorAll("input[type=range]")];
  const state = box.__state || (box.__state = { rgb: null, serverRgb: null });
  state.data = data;
  box.classList.toggle("present", data.presenter === true);  // presenter mode's floor (the CSS below)
  layoutBars(box.querySelector(".bars"), data.names);

  function render(rgb, fromServer) {
    const t0 = performance.now();
    // In the browser when it can (every step of a drag); the server's own answer before the first step, or for a
    // model whose shape FORWARD_JS does not run.
    const live = data.weights && !fromServer ? forwardColor(data.weights, rgb) : null;
    const probs = live ? live.probs : data.probs;
    if (live) window.dispatchEvent(new CustomEvent("LOGITS_EVENT", { detail: { rgb: rgb, logits: live.logits } }));
    let top = 0;
    probs.forEach((p, k) => { if (p > probs[top]) top = k; });
    [...box.querySelectorAll(".bar")].forEach((row, k) => {
      const fill = row.querySelector(".fill");
      fill.style.width = (100 * probs[k]).toFixed(1) + "%";
      fill.style.background = k === top ? data.colors[k] : "LOSER_GREY";
      row.querySelector(".value").textContent = (100 * probs[k]).toFixed(1) + "%";
      row.classList.toggle("winner", k === top);
    });
    box.querySelector(".swatch").style.background = hex(rgb);
    box.querySelector(".top").textContent = data.names[top];
    box.querySelector(".detail").textContent =
      (100 * probs[top]).toFixed(1) + "% · RGB (" + rgb.join(", ") + ")";
    ranges.forEach((r, i) => { r.nextElementSibling.textContent = rgb[i]; });
    box.dataset.rgb = rgb.join(",");
    box.dataset.probs = JSON.stringify(probs);  // the unrounded numbers, for a test to compare with Keras
    box.dataset.renderMs = (performance.now() - t0).toFixed(3);
    state.rgb = rgb;
  }

  function setControls(rgb) {
    ranges.forEach((r, i) => { r.value = rgb[i]; });
    picker.value = hex(rgb);
  }

  function send() {
    setStateValue("pick", { rgb: state.rgb, at: Date.now() });  // "at": a release on the same colour still counts
  }

  if (!box.__wired) {
    box.__wired = true;
    ranges.forEach((r) => {
      r.addEventListener("input", () => {  // every step of a drag, not only the release
        const rgb = ranges.map((x) => Number(x.value));
        picker.value = hex(rgb);
        render(rgb, false);
      });
      r.addEventListener("change", send);  // the release (or a key press): the server follows once
    });
    picker.addEventListener("input", () => {
      const rgb = fromHex(picker.value);
      ranges.forEach((r, i) => { r.value = rgb[i]; });
      render(rgb, false);
    });
    picker.addEventListener("change", send);
  }
  // A colour from the server (the first run, a typed colour): shown with the server's probabilities. The echo of
  // this browser's own release changes nothing the person sees.
  const serverRgb = data.rgb.join(",");
  if (serverRgb !== state.serverRgb) {
    state.serverRgb = serverRgb;
    if (!state.rgb || state.rgb.join(",") !== serverRgb) {
      setControls(data.rgb);
      render(data.rgb, true);
    }
  }
  box.querySelector(".note").textContent = data.weights
    ? "Computed in your browser while you drag; the rest of the page follows when you let go."
    : "This model runs on the server only: the bars follow when you let go.";
}
""".replace("LOSER_GREY", LOSER_GREY)
    .replace("LOGITS_EVENT", LOGITS_EVENT)
    .replace("BARS_JS", BARS_JS)
)

# Sizes in em: the shadow root inherits the page's font size, so presenter mode's larger type grows it too. Presenter
# mode also arrives as data (class "present"): then no text is under the projector's floor, whatever size the element
# around the component happens to pass down.
_PICKER_CSS = """
.colour-live { display: flex; flex-wrap: wrap; gap: 1.2em 2em; font-family: inherit; color: inherit; }
.controls { flex: 1 1 14em; min-width: 12em; max-width: 22em; }
.answer { flex: 2 1 20em; min-width: 14em; }
.picker { display: flex; align-items: center; gap: 0.6em; margin-bottom: 0.4em; }
.picker input { width: 3em; height: 2em; padding: 0; border: 1px solid #999; border-radius: 0.3em; cursor: pointer; }
.channel { display: flex; align-items: center; gap: 0.5em; margin: 0.2em 0; }
.channel .name { width: 1em; font-weight: 600; }
.channel input { flex: 1; min-width: 6em; accent-color: #ff4b4b; }
.channel output { width: 2.2em; text-align: right; font-variant-numeric: tabular-nums; }
.head { display: flex; align-items: center; gap: 0.75em; margin-bottom: 0.5em; }
.swatch { width: 3.5em; height: 3.5em; flex: none; border-radius: 0.5em; border: 1px solid #999; }
.top { font-size: 1.6em; }
.detail, .note { opacity: 0.75; font-size: 0.85em; }
.bar { display: flex; align-items: center; gap: 0.4em; height: 1.45em; }
.bar .name { width: 6.2em; flex: none; text-align: right; white-space: nowrap; }
.bar .track { flex: 1; height: 1em; background: rgba(128, 128, 128, 0.15); border-radius: 0.2em; overflow: hidden; }
.bar .fill { display: block; height: 100%; }
.bar.winner .name { font-weight: 700; }
.bar .value { width: 3.4em; flex: none; text-align: right; font-variant-numeric: tabular-nums; }
.colour-live.present { font-size: max(1em, MIN_PX); }
.colour-live.present .detail, .colour-live.present .note { font-size: max(0.85em, MIN_PX); }
""".replace("MIN_PX", f"{MIN_TEXT_PX}px")

_picker = st.components.v2.component("mlx.colour_picker", html="", js=_PICKER_JS, css=_PICKER_CSS, isolate_styles=True)


def colour_picker(data: dict, on_pick: Callable[[tuple[int, int, int]], None]) -> None:
    """The picker, the sliders, the headline and the bars, given colors_live.live_data(...). `on_pick(rgb)` runs
    (before the rerun it causes) when the person lets go of a control; the value is unchecked browser input, so
    on_pick checks it. The component is told whether presenter mode is on, and sizes its text for a projector."""

    def picked() -> None:
        value = st.session_state.get(PICK_KEY)
        pick = value.get("pick") if hasattr(value, "get") else None
        rgb = pick.get("rgb") if hasattr(pick, "get") else None
        on_pick(rgb)

    _picker(data={**data, "presenter": presenting()}, key=PICK_KEY, on_pick_change=picked)
