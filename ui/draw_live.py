"""The Draw page's answer in the browser: the shipped shapes CNN in TensorFlow.js (static/draw/live.js), mounted as a
v2 component beside the canvas. It answers on mouse-up without a round trip; the server answers only until it does,
or when it cannot (TensorFlow.js does not load, or the active model is a user's own version).

Why static serving and not inline: a v2 component's inline JS travels in its element on every rerun (every stroke),
and tf.min.js is 1.4 MB; served from static/ it is fetched once and cached. `python scripts/build_static.py` rebuilds
static/ (tf.min.js from node_modules, the shipped model through core.store.export).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import streamlit as st

from ui.presenter import MIN_TEXT_PX, presenting

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"  # served at app/static/ (server.enableStaticServing)
STATIC_URL = "app/static"  # relative to the page, so it holds under a server.baseUrlPath too
MODULE = "draw/live.js"
TFJS = "tfjs/tf.min.js"
SHAPES_MODEL = "models/shapes/model.json"
BROWSER = "browser"
SERVER = "server"

_JS = """
export default function (component) {
  const { data, setStateValue } = component;
  import(new URL(data.module, document.baseURI).href)
    .then((live) => live.render(component))
    .catch((err) => {
      const engine = "failed: " + String((err && err.message) || err).slice(0, 160);
      if (data.engine !== engine) setStateValue("engine", engine);
    });
}
"""
_CSS = """
:host { display: block; }
.draw-live { font-family: inherit; color: rgb(49, 51, 63); font-size: 1rem; }
.draw-live h3.empty { font-size: 1.75rem; font-weight: 600; margin: 0 0 0.5rem; line-height: 1.2; }
.draw-live .answer { font-size: 1rem; margin-bottom: 0.5rem; }
.draw-live .answer .top { font-size: 1.6em; }
.draw-live .caption { color: rgba(49, 51, 63, 0.6); font-size: 0.875rem; margin: 0 0 0.5rem; }
.draw-live .warning { background: rgba(255, 189, 69, 0.2); color: rgb(146, 108, 5); border-radius: 0.5rem;
  padding: 0.75rem 1rem; margin: 0.25rem 0 0.75rem; }
.draw-live .bars { display: grid; gap: 0.3rem; margin: 0.5rem 0 0.75rem; }
.draw-live .bars-title { font-size: 0.875rem; font-weight: 600; margin-bottom: 0.15rem; }
.draw-live .bar { display: grid; grid-template-columns: minmax(7.5rem, max-content) 1fr 3.6rem; gap: 0.5rem;
  align-items: center; font-size: 0.95rem; }
.draw-live .bar .name { white-space: nowrap; }
/* A narrow column (presenter mode's type at 150% zoom): each bar's name and number on one line, its track below,
   rather than a row wider than the column. */
.draw-live { container-type: inline-size; }
@container (max-width: 16em) {
  .draw-live .bar { grid-template-columns: 1fr max-content; row-gap: 0.1rem; }
  .draw-live .bar .track { grid-column: 1 / -1; grid-row: 2; height: 0.6rem; }
}
.draw-live .track { background: rgba(49, 51, 63, 0.08); border-radius: 0.25rem; height: 1.1rem; overflow: hidden; }
.draw-live .fill { display: block; height: 100%; background: #83c9ff; border-radius: 0.25rem; }
.draw-live .bar.win .fill { background: #0068c9; }
.draw-live .bar.win .name, .draw-live .bar.win .value { font-weight: 600; }
.draw-live .value { text-align: right; font-variant-numeric: tabular-nums; }
.draw-live figure.input { margin: 0.25rem 0 0; display: flex; gap: 0.75rem; align-items: center; }
.draw-live figure.input canvas { width: 84px; height: 84px; image-rendering: pixelated; border-radius: 0.25rem; }
.draw-live figcaption { color: rgba(49, 51, 63, 0.6); font-size: 0.875rem; }
.draw-live.present .answer { font-size: max(1rem, MIN_PX); }
.draw-live.present .bar { font-size: max(0.95rem, MIN_PX); }
.draw-live.present .caption, .draw-live.present .bars-title, .draw-live.present figcaption {
  font-size: max(0.875rem, MIN_PX); }
""".replace("MIN_PX", f"{MIN_TEXT_PX}px")
_live = st.components.v2.component("mlx.draw_live", html="", js=_JS, css=_CSS, isolate_styles=True)


@functools.cache
def static_version() -> str:
    """A short digest of the served files, appended to their URLs: a browser keeps no stale copy after a deploy."""
    digest = hashlib.sha1()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(relative: str) -> str:
    return f"{STATIC_URL}/{relative}?v={static_version()}"


def engine_of(result) -> str:
    """BROWSER when the component reported that its model answers, else SERVER (no report yet, a failure, or any
    value a forged client sends)."""
    return BROWSER if getattr(result, "engine", None) == BROWSER else SERVER


def reported_engine(key: str) -> str:
    """The component's `engine` state as the browser last sent it ("" before it has; a page change resets it)."""
    try:
        state = st.session_state.get(key)
    except Exception:  # a state Streamlit cannot present is no report
        return ""
    value = state.get("engine") if isinstance(state, dict) else None
    return value if isinstance(value, str) else ""


def live_answer(
    *,
    key: str,
    box: str,
    canvas_px: int,
    class_names: list[str],
    shown_names: list[str],
    other: str,
    none_of_these: str,
    min_confidence: float,
    canvas_round: int,
    shipped: bool,
) -> str:
    """Mount the in-browser answer for the canvas inside `fitted_canvas(box, canvas_px)`; returns BROWSER when the
    browser answers (the caller then leaves the answer to it), else SERVER.

    Only the shipped model has a browser copy: for a user's own version the component stays empty and the server
    answers. `canvas_round` changes when the page gives a new canvas, so the component answers for it at once."""
    result = _live(
        key=key,
        data={
            "module": static_url(MODULE),
            "tfjs": static_url(TFJS),
            "model": static_url(SHAPES_MODEL) if shipped else None,
            "box": box,
            "size": int(canvas_px),
            "class_names": [str(n) for n in class_names],
            "shown_names": [str(n) for n in shown_names],
            "other": other,
            "none_of_these": none_of_these,
            "min_confidence": float(min_confidence),
            "round": int(canvas_round),
            "engine": reported_engine(key),  # what the server already knows, so the browser reports only news
            "presenter": presenting(),  # presenter mode: no text under the projector's floor (class "present")
        },
        default={"engine": ""},
        on_engine_change=lambda: None,
    )
    return engine_of(result) if shipped else SERVER
