"""The Teach page's webcam and microphone in the browser (ui/capture.js, an st.components.v2 component): hold to record
a burst of photos or a recording, and the live preview's frames; what they send is checked by core.families.teach.burst
before anything is decoded, and stored through the same caps as an upload (projects.add_samples)."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import streamlit as st

from core.families.teach import burst
from core.families.teach import projects as teach_store
from core.families.teach.data import TeachError

_CSS = """
.cap { display: flex; flex-direction: column; gap: 0.5rem; font-family: "Source Sans Pro", "Source Sans 3", sans-serif; }
.cap video { width: 100%; max-width: 256px; aspect-ratio: 1 / 1; object-fit: cover; background: #000; border-radius: 0.5rem; }
.cap .row { display: flex; gap: 0.5rem; flex-wrap: wrap; }
.cap button {
  font: inherit; font-size: 1rem; line-height: 1.6; padding: 0.25rem 0.75rem; min-height: 2.5rem; cursor: pointer;
  border-radius: 0.5rem; border: 1px solid rgba(49, 51, 63, 0.2); background: #ffffff; color: rgb(49, 51, 63);
}
.cap button.hold { color: #ffffff; background: #ff4b4b; border-color: #ff4b4b; user-select: none; touch-action: none; }
.cap button.hold.on { background: #c92a2a; box-shadow: 0 0 0 3px rgba(255, 75, 75, 0.35); }
.cap button:disabled { opacity: 0.45; cursor: not-allowed; }
.cap .status { font-size: 0.875rem; color: rgba(49, 51, 63, 0.7); min-height: 1.3rem; }
"""
_capture = st.components.v2.component(
    "mlx.teach_capture",
    html="",
    js=Path(__file__).with_name("capture.js").read_text(encoding="utf-8"),
    css=_CSS,
    isolate_styles=True,
)


def _noop() -> None:
    return None


def burst_recorder(kind: str, target: str, key: str) -> dict | None:
    """The webcam (kind "image") or microphone ("sound") with a hold-to-record button; returns the burst sent in the
    run its release causes ({"id", "frames"}: data URLs, unchecked), else None."""
    image = kind == "image"
    data = {
        "mode": "burst",
        "kind": kind,
        "fps": burst.BURST_FPS,
        "side": burst.FRAME_SIDE,
        "max_frames": burst.MAX_BURST_FRAMES,
        "max_seconds": burst.MAX_CLIP_SECONDS,
        "start_label": "Start the webcam" if image else "Start the microphone",
        "stop_label": "Stop the webcam" if image else "Stop the microphone",
        "hold_label": f"Hold to record “{target}”",
        "ready": (
            f"Hold the button: {burst.BURST_FPS} photos a second while you hold it (at most {burst.MAX_BURST_FRAMES})."
            if image
            else f"Hold the button while you speak (at most {burst.MAX_CLIP_SECONDS} s); it is cut into 1-second samples."
        ),
        "hint": "Your browser asks once for the webcam." if image else "Your browser asks once for the microphone.",
    }
    result = _capture(data=data, key=key, on_burst_change=_noop)
    value = getattr(result, "burst", None)
    return value if isinstance(value, dict) else None


def add_burst(owner: str, project, target: str, value: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """Store a burst into `target`: (the new sample ids, the page's messages). A bad burst adds nothing; a bad frame
    is named by its number and the others are kept; a class that fills up keeps the first ones, and the messages say
    exactly how many."""
    try:
        items = burst.burst_items(value, project.kind)
        added = teach_store.add_samples(owner, project.name, target, items)
    except teach_store.PartlyAdded as exc:
        return exc.kept, [("error", f"The burst: {exc}")]
    except TeachError as exc:
        return [], [("error", f"The burst: {exc}")]
    what = "photo" if project.kind == "image" else "recording"
    messages = [
        ("error", f"{what.capitalize()} {n} of {len(items)}: {why} It was not added.") for n, why in added.refused
    ]
    if added.full:
        messages.append(
            (
                "error",
                f"The class “{target}” is full ({teach_store.MAX_SAMPLES_PER_CLASS} samples): the last {added.full} "
                "sample(s) of the burst were not added. Delete some samples first.",
            )
        )
    if added.ids:
        unit = "photo(s)" if project.kind == "image" else "one-second sample(s)"
        messages.insert(0, ("success", f"Added {len(added.ids)} {unit} to “{target}” from the burst."))
    return added.ids, messages


# ---------------------------------------------------------------- the live preview


def _classify_frame(state, outcome: dict, key: str) -> None:
    """The live frame's callback (before the fragment reruns): classify it and keep the answer in state.live, with
    the frame's number as `served`, which tells the component it may send the next one. One frame at a time: the
    component sends none while this one is unanswered, so a busy server drops frames in the browser, not here."""
    from core.families.teach import job as teach
    from ui.models import load_model_folder

    value = st.session_state.get(key)
    frame = value.get("frame") if hasattr(value, "get") else None
    live = state.live if isinstance(state.live, dict) and state.live.get("key") == key else {"key": key, "served": 0}
    started = time.perf_counter()
    try:
        seq, raw = burst.preview_bytes(frame, outcome["kind"])
    except TeachError as exc:  # answered all the same when its number can be read, so the next frame may come
        seq = frame.get("seq") if isinstance(frame, dict) else None
        served = seq if isinstance(seq, int) and not isinstance(seq, bool) else live.get("served", 0)
        state.live = {**live, "served": served, "error": str(exc)}
        return
    if frame.get("id") == live.get("id") and seq <= live.get("served", 0):
        return  # a frame already answered (a rerun that still held it)
    if time.monotonic() - live.get("at", 0.0) < burst.MIN_PREVIEW_GAP_S:  # faster than the component sends: forged
        state.live = {**live, "id": frame.get("id"), "served": seq}  # answered without classifying, so never queued
        return
    try:
        model = load_model_folder(outcome["version_path"]).model
        probs = teach.predict_sample(model, outcome["kind"], raw)
    except TeachError as exc:
        state.live = {**live, "id": frame.get("id"), "served": seq, "error": str(exc)}
        return
    state.live = {
        "key": key,
        "id": frame.get("id"),
        "served": seq,
        "probs": [float(p) for p in probs],
        "seconds": time.perf_counter() - started,
        "at": time.monotonic(),
        "error": None,
    }


def live_preview(state, outcome: dict, key: str) -> None:
    """The live preview of an image or sound model (inside the preview fragment): the component on the left, the
    model's answer to its newest frame on the right, redrawn as each frame is classified."""
    from core.figures import common as common_figures

    names = outcome["class_names"]
    live = state.live if isinstance(state.live, dict) and state.live.get("key") == key else None
    left, right = st.columns(2)
    with left:
        _capture(
            data={
                "mode": "live",
                "kind": outcome["kind"],
                "side": burst.PREVIEW_SIDE,
                "every_ms": burst.PREVIEW_EVERY_MS,
                "served": int(live["served"]) if live else 0,
                "hint": "The bars follow what the model sees or hears, about twice a second.",
            },
            key=key,
            on_frame_change=functools.partial(_classify_frame, state, outcome, key),
        )
    with right:
        if live is None or live.get("error") and "probs" not in live:
            if live is not None:
                st.warning(live["error"])
            else:
                st.caption("Start the live preview: the model's answer to each frame appears here.")
            return
        if live.get("error"):
            st.warning(live["error"])
        probs = live["probs"]
        top = max(range(len(probs)), key=probs.__getitem__)
        st.markdown(f"Live: **{names[top]}** ({probs[top]:.0%})")
        st.plotly_chart(
            common_figures.probability_bars(probs, names, "Live: softmax over your classes"), key=f"{key}.bars"
        )
        st.caption(f"Frame {live['served']}, classified in {live['seconds'] * 1000:.0f} ms on the server.")
